"""Database round trips per interactive update, counted (issue 20): a change that adds one
fails here. Not a timing test: it counts what goes over the wire to PostgreSQL (and the
statements SQLite runs) for one typed interview answer and one button press, through the
whole path an update takes in production (inbox accept, the turn, and the batched inbox
done, counted per batch)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import select

from benchmarks.bench_interview import ANSWERS
from benchmarks.wire import PING, counting
from bot.botapi.fake import FakeTelegram
from bot.context import BotApp
from bot.storage import direct
from bot.storage.db import POOL_SIZE, Database
from bot.storage.models import Inbox, InboxStatus, Merchant
from bot.updates import UpdateRunner
from tests.conftest import Clock


async def through_inbox(runner: UpdateRunner, payload: dict[str, Any]) -> None:
    [fresh] = await runner.accept([payload])
    assert await runner.handle(fresh)


# Round trips for one update through the whole path (inbox accept, the turn), once caches
# are warm. Lower these when a change saves one; never raise them.
# PostgreSQL: INSERT inbox (autocommit), SELECT merchant (no lock, no transaction), and one
# statement writing the changed columns on condition of the row's version, with the turn's
# events (bot.storage.merchant_row): 3. There were 17 at first (3 pool pings, 3 BEGIN/COMMIT
# pairs, the advisory lock, one INSERT per event, an UPDATE inbox per update), 6 until the
# seventh session (BEGIN, SELECT ... FOR UPDATE, INSERT event, UPDATE merchant, COMMIT).
# SQLite: BEGIN IMMEDIATE and the statement for the inbox, BEGIN IMMEDIATE, SELECT, UPDATE
# and INSERT for the turn (no network: these are statements, not round trips).
TYPED = {"sqlite": 6, "postgres": 3}
PRESS = {"sqlite": 6, "postgres": 3}
# Recording handled updates done (bot.updates: DONE_DELAY, DONE_BATCH): one statement per
# batch, whatever its size; counted here per batch, for a batch of the two updates above
# (in production a batch holds every update handled within DONE_DELAY, so per update it
# costs a fraction of a round trip). PostgreSQL: UPDATE inbox (autocommit); SQLite: BEGIN
# IMMEDIATE and the UPDATE.
DONE = {"sqlite": 2, "postgres": 1}


async def press_first_button(runner: UpdateRunner, fake: FakeTelegram, chat: int) -> None:
    last = next(m for m in reversed(fake.messages(chat)) if m.button_labels)
    rows = (last.reply_markup or {})["inline_keyboard"]
    data = next(b["callback_data"] for row in rows for b in row if "callback_data" in b)
    await through_inbox(runner, fake.callback_update(chat, last.message_id, str(data)))


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_round_trips_per_typed_answer_and_button_press(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    runner = UpdateRunner(app, clock=clock, done_delay=3600)  # done only when flushed here
    chat = 77
    await through_inbox(runner, fake.text_update(chat, "/start"))
    await through_inbox(runner, fake.text_update(chat, "Shopify"))  # warm every cache
    await through_inbox(runner, fake.text_update(chat, "UK"))
    await runner.flush()
    with counting(db) as typed:
        await through_inbox(runner, fake.text_update(chat, "Registered company"))
    with counting(db) as pressed:
        await press_first_button(runner, fake, chat)
    with counting(db) as recorded:
        await runner.flush()
    kind = "postgres" if db.is_postgres else "sqlite"
    shown = "\n  ".join(
        ["typed answer:", *typed.log, "button press:", *pressed.log, "done:", *recorded.log]
    )
    assert PING not in typed.log + pressed.log + recorded.log, shown  # no pre-ping
    assert len(typed.log) <= TYPED[kind], shown
    assert len(pressed.log) <= PRESS[kind], shown
    assert len(recorded.log) <= DONE[kind], shown
    assert sum(s.startswith("UPDATE inbox") for s in recorded.log) == 1, shown
    async with db.session() as session:
        rows = (await session.exec(select(Inbox))).all()
        assert rows and all(row.status == InboxStatus.DONE for row in rows)


async def drop_connections(db: Database) -> None:
    """What a restart does to the pool: the server closes every connection of this database
    (the pool keeps them, not knowing). Done from outside the bot's pool."""
    outside = create_async_engine(db.url, poolclass=NullPool)
    async with outside.connect() as conn:
        dropped = await conn.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    await outside.dispose()
    assert dropped and dropped >= 1


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_database_restart_between_updates_loses_nothing(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    """No pre-ping: every pooled connection the server dropped fails its first statement;
    that work is retried at once on a new connection, the merchant sees nothing of it."""
    runner = UpdateRunner(app, clock=clock)
    chat = 78
    await through_inbox(runner, fake.text_update(chat, "/start"))
    await through_inbox(runner, fake.text_update(chat, "Shopify"))
    await drop_connections(db)
    answer = fake.text_update(chat, "UK")
    [fresh] = await runner.accept([answer])  # the accept is retried on a new connection
    await drop_connections(db)  # and again, before the turn
    assert await runner.handle(fresh)
    await runner.flush()
    assert fake.messages(chat)[-1].button_labels  # the next question
    async with db.session() as session:
        row = await session.get(Inbox, answer["update_id"])
        assert row is not None and row.status == InboxStatus.DONE
        merchant = await session.get(Merchant, chat)
        assert merchant is not None and merchant.answers.get("market") == ["uk"]
    assert not [m for m in fake.messages(chat) if "sorry" in (m.text or "").lower()]


# The benchmark's walk: ten typed answers through the interview, among them the market
# (which proposes a time zone and replans alerts) and the last answer (which looks up the
# latest step link).
WALK = ANSWERS


@pytest.mark.slow
async def test_the_merchant_is_updated_at_most_once_per_typed_answer(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    """One UPDATE merchant per turn (issue 20): a read in the middle of a turn must not
    write the merchant early, to write it again at commit."""
    runner = UpdateRunner(app, clock=clock)
    chat = 79
    await through_inbox(runner, fake.text_update(chat, "/start"))
    updates: dict[str, int] = {}
    for answer in WALK:
        with counting(db) as wire:
            await through_inbox(runner, fake.text_update(chat, answer))
        updates[answer] = sum(s.startswith("UPDATE merchant") for s in wire.log)
    assert all(n <= 1 for n in updates.values()), str(updates)
    assert len(updates) == len(WALK)
    assert fake.messages(chat)[-1].text  # the walk got to its end


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_no_typed_answer_needs_an_orm_session(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A turn is a Core transaction; its ORM session is made only when something asks for it
    (issue 20: a session costs about a third of a short transaction's CPU, 1-2 ms). None of
    the benchmark's ten answers makes one: the market and the go-live date plan the alerts
    again, the last answer reads the plan's marks and the latest step link, all by Core."""
    made: list[str] = []
    real = Database.bound_session

    def counted(conn: Any) -> Any:
        made.append(current)
        return real(conn)

    monkeypatch.setattr(Database, "bound_session", staticmethod(counted))
    runner = UpdateRunner(app, clock=clock)
    chat = 80
    current = "/start"
    await through_inbox(runner, fake.text_update(chat, current))
    assert made == ["/start"]  # first contact: the new merchant is inserted by the ORM
    made.clear()
    for current in WALK:
        await through_inbox(runner, fake.text_update(chat, current))
    assert made == [], made
    assert fake.messages(chat)[-1].text  # the walk got to its end


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_answers_of_a_merchant_without_reminders_leave_the_outbox_alone(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    """The market and the go-live date plan a merchant's reminders again; a merchant who
    has not turned reminders on has none to plan (every way of turning them off cancels the
    pending ones, and the dispatcher drops any it finds off at send time), so those answers
    cost no transaction and no outbox statement (issue 20: on PostgreSQL BEGIN, SELECT
    outbox and COMMIT, three round trips, on two of the benchmark's ten answers)."""
    runner = UpdateRunner(app, clock=clock)
    chat = 81
    await through_inbox(runner, fake.text_update(chat, "/start"))
    touched: dict[str, list[str]] = {}
    for answer in WALK:
        with counting(db) as wire:
            await through_inbox(runner, fake.text_update(chat, answer))
        touched[answer] = [s for s in wire.log if "outbox" in s or s == "BEGIN"]
    if db.is_postgres:
        assert all(not log for log in touched.values()), str(touched)
    else:  # SQLite: the inbox's and the turn's BEGIN IMMEDIATE only
        assert all(all(s == "BEGIN" for s in log) for log in touched.values()), touched
    assert fake.messages(chat)[-1].text  # the walk got to its end


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_burst_of_turns_reuses_the_connections_the_last_burst_opened(
    db: Database,
) -> None:
    """Connections the pool opened for a burst of concurrent turns are kept for the next
    one (issue 20): opening one costs the bot about 3.5 ms of CPU and the server a new
    process, and the pool used to close every one beyond ten as it came back, to open them
    again at the next burst (0.04-0.09 per typed answer under `bench_interview`)."""
    opened: list[int] = []

    def connected(*_: Any) -> None:
        opened.append(1)

    async def burst(busy: int) -> None:
        """``busy`` turns, each holding its connection until all of them hold one."""
        inside = 0
        all_in = asyncio.Event()

        async def turn() -> None:
            nonlocal inside
            async with db.unit() as unit:
                await unit.connection.exec_driver_sql("SELECT 1")
                inside += 1
                if inside == busy:
                    all_in.set()
                await asyncio.wait_for(all_in.wait(), 30)

        await asyncio.gather(*(turn() for _ in range(busy)))

    await burst(POOL_SIZE)  # every connection the pool may keep
    event.listen(db.engine.sync_engine.pool, "connect", connected)
    try:
        await burst(POOL_SIZE)
        assert opened == [], f"the second burst opened {len(opened)} connection(s)"
    finally:
        event.remove(db.engine.sync_engine.pool, "connect", connected)


@contextmanager
def statement_texts(db: Database) -> Iterator[list[str]]:
    """Every statement's full text sent while the block runs (SQLAlchemy's and the driver's
    own, bot.storage.direct)."""
    sent: list[str] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", executed)
    direct.listen(sent.append)
    try:
        yield sent
    finally:
        direct.unlisten(sent.append)
        event.remove(engine, "before_cursor_execute", executed)


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_a_statement_text_does_not_depend_on_what_changed_or_how_many_arrived(
    app: BotApp, fake: FakeTelegram, db: Database, clock: Clock
) -> None:
    """asyncpg prepares every statement text once per connection of the pool, a round trip
    and a parse by the server each (issue 20: 0.69 per typed answer under bench_interview
    when the merchant's write was one text per set of changed columns and the inbox's one
    text per batch size). The merchant's write is one text per number of events on
    PostgreSQL, and updates are accepted into the inbox by one text whatever the batch."""
    runner = UpdateRunner(app, clock=clock)
    with statement_texts(db) as sent:
        for size in (1, 2, 3, 5):
            batch = [fake.text_update(1000 * size + i, "/start") for i in range(size)]
            assert len(await runner.accept(batch)) == size
    accepts = {s for s in sent if s.lstrip().upper().startswith("INSERT INTO INBOX")}
    assert len(accepts) == 1, accepts
    if not db.is_postgres:
        return
    chat = 82
    await through_inbox(runner, fake.text_update(chat, "/start"))
    with statement_texts(db) as sent:
        for answer in WALK:
            await through_inbox(runner, fake.text_update(chat, answer))
    writes = {s for s in sent if "UPDATE merchant" in s}
    events = {s.count("INSERT INTO event") + s.count("UNION ALL") for s in writes}
    assert len(writes) <= len(events), "\n\n".join(sorted(writes))
    assert fake.messages(chat)[-1].text  # the walk got to its end


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_quiet_bot_keeps_using_its_warmest_connection(db: Database) -> None:
    """The pool lends the connection given back last (LIFO): after a burst opened several,
    the work that follows runs on one, whose statements asyncpg has prepared already (a
    pool lending in turn would prepare every statement on every connection)."""

    async def hold() -> None:
        async with db.unit() as unit:
            await unit.connection.execute(text("SELECT 1"))
            await asyncio.sleep(0.05)

    await asyncio.gather(*(hold() for _ in range(5)))
    backends = set()
    for _ in range(10):
        async with db.unit() as unit:
            backends.add(await unit.connection.scalar(text("SELECT pg_backend_pid()")))
    assert len(backends) == 1, backends
