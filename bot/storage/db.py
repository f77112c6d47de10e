"""The database: one engine, its session factory and units of work, and migrations at start.

SQLite data at rest: a database file the bot creates is ``0600`` and folders it creates for
it ``0700`` (SQLite gives the WAL and shared-memory files the database file's mode);
``secure_delete`` is on, so deleted rows are overwritten with zeros; and a transaction that
erased personal data (:func:`request_checkpoint`) is followed by ``wal_checkpoint(TRUNCATE)``,
so the erased rows' old page images do not stay behind in the WAL.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import os
import re

try:
    import fcntl
except ImportError:  # not on Windows: no lock there
    fcntl = None  # type: ignore[assignment]
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator, Mapping
from contextlib import (
    AbstractAsyncContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
)
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import ClauseElement, Executable
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import ConfigError
from bot.storage import direct, sqlite_inline

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
_M = TypeVar("_M")
_R = TypeVar("_R")
# Statement parameters: one row, or several (executemany).
Params = dict[str, Any] | list[dict[str, Any]]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_CHECKPOINT = "wal_checkpoint_after_commit"
# Arbitrary constant key for the advisory lock that serialises migrations across instances.
MIGRATION_LOCK_KEY = 7_320_112_023
# libpq's sslmode values; asyncpg takes the same names as its ``ssl=`` argument.
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# `revision = "0009"` / `down_revision = "0012"` lines of a migration file (see script_head).
_REVISION_LINE = re.compile(r"^(down_)?revision\b[^=\n]*=(.*)$", re.MULTILINE)


def _normalise_url(url: str) -> str:
    """Accept the plain URLs platforms hand out and pick the async drivers we ship."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://"):
        url = "sqlite+aiosqlite://" + url.removeprefix("sqlite://")
    return url


#: The URL parameters understood on PostgreSQL: libpq's, as hosted PostgreSQL hands them out
#: (Neon: ``?sslmode=require&channel_binding=require``), moved to what asyncpg's connect()
#: takes. Any other is refused by name: asyncpg would fail at the first connection with
#: "unexpected keyword argument".
POSTGRES_PARAMETERS = ("sslmode", "connect_timeout", "application_name", "channel_binding")
#: Understood by SQLAlchemy's asyncpg dialect itself, left in the URL: a Unix socket's
#: directory (``?host=/var/run/postgresql``) and its port.
SOCKET_PARAMETERS = ("host", "port")


def _asyncpg_args(url: URL) -> tuple[URL, dict[str, Any]]:
    """libpq's URL parameters as asyncpg's connect arguments (the URL without them)."""
    query = {k: v for k, v in url.query.items() if k not in SOCKET_PARAMETERS}
    for name, value in query.items():
        if name not in POSTGRES_PARAMETERS:
            raise ConfigError(
                f"DATABASE_URL is invalid: unsupported parameter ?{name}= (PostgreSQL URLs"
                f" take {', '.join((*POSTGRES_PARAMETERS, *SOCKET_PARAMETERS))})"
            )
        if isinstance(value, tuple):
            raise ConfigError(f"DATABASE_URL is invalid: ?{name}= is given more than once")
    args: dict[str, Any] = {}
    mode = query.get("sslmode")  # each value is one string: repeated ones refused above
    if mode is not None:
        if mode not in SSLMODES:
            raise ConfigError(
                f"DATABASE_URL is invalid: sslmode must be one of {', '.join(SSLMODES)}"
            )
        args["ssl"] = mode
    timeout = query.get("connect_timeout")
    if timeout is not None:
        try:
            seconds = float(str(timeout))
        except ValueError:
            seconds = -1.0
        if not 1 <= seconds <= 3600:
            raise ConfigError("DATABASE_URL is invalid: connect_timeout must be seconds (1-3600)")
        args["timeout"] = seconds
    app_name = query.get("application_name")
    if app_name is not None:
        args["server_settings"] = {"application_name": str(app_name)}
    # channel_binding: asyncpg authenticates with SCRAM without channel binding; TLS (sslmode)
    # still protects the connection. Accepted so the URL a host hands out works as it is.
    return url.difference_update_query(list(query)), args


def _check_port(url: URL) -> None:
    try:
        port = url.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError("DATABASE_URL is invalid: the port must be a number from 1 to 65535")


#: PostgreSQL connections a process keeps at most. A turn holds its connection only from its
#: first statement to its commit (replies go after), and one process runs one turn's Python
#: at a time, so ten serve fifty merchants typing at once: with 30, each statement text was
#: prepared on up to 30 connections (0.37 preparations per typed answer in bench_interview
#: against 0.16 with 10) and the server ran 30 backends on two CPUs (its CPU per message
#: 0.46 -> 0.36 ms, benchmarks/README.md). Several instances: keep their sum under the
#: server's ``max_connections`` (100 by default), counting ``remind`` and the console (README).
POOL_SIZE = 10


class Database:
    """Owns the engine; every AsyncSession is made here: by ``session()``, or for a unit of
    work's connection by ``bound_session()`` (``unit()``)."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        url = _normalise_url(url)
        try:
            parsed = make_url(url)
        except ValueError:  # a port that is no number: "host:abc", "[::1/db"
            raise ConfigError(
                "DATABASE_URL is invalid: the port must be a number from 1 to 65535"
            ) from None
        except ArgumentError:
            raise ConfigError(
                "DATABASE_URL is invalid: expected sqlite+aiosqlite:///path.db"
                " or postgresql+asyncpg://user:pass@host/db"
            ) from None
        self.dialect = parsed.get_backend_name()
        if self.dialect not in {"sqlite", "postgresql"}:
            raise ConfigError(f"DATABASE_URL is invalid: unsupported database {self.dialect!r}")
        kwargs: dict[str, Any] = {"echo": echo}
        self.connect_args: dict[str, Any] = {}
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:" and not database.startswith("file:"):
                _create_private(Path(database).expanduser())
            # sqlite3 in the event loop instead of a thread hop per statement (see module).
            uri = parsed.query.get("uri") in ("true", "1")
            kwargs["async_creator"] = sqlite_inline.connector(database or ":memory:", uri=uri)
        else:
            _check_port(parsed)
            parsed, self.connect_args = _asyncpg_args(parsed)
            # No pool pre-ping: it is one more round trip on every checkout (3 per update).
            # A pooled connection the server dropped (a restart) fails its first statement
            # instead; SQLAlchemy then discards every connection made before it, and the work
            # is retried once at once (execute() below; UpdateRunner for the handling).
            # Up to POOL_SIZE connections, opened as concurrent work needs them and kept: a
            # pool of 10 with 20 more "overflow" closed every connection beyond ten as it came
            # back, to open it again at the next burst (3.5 ms of the bot's CPU each, and a
            # new server process: 0.04-0.09 per typed answer under bench_interview). Lent
            # last-in first-out: the work after a burst runs on the connection that has its
            # statements prepared already (asyncpg prepares each text once per connection).
            kwargs.update(
                pool_size=POOL_SIZE,
                max_overflow=0,
                pool_use_lifo=True,
                connect_args=self.connect_args,
            )
        self.url = parsed
        self.engine: AsyncEngine = create_async_engine(parsed, **kwargs)
        # Single statements outside a unit of work run without BEGIN/COMMIT on PostgreSQL:
        # one round trip instead of three (one statement is atomic on its own).
        self._autocommit = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.dialect == "postgresql"
            else None
        )
        # SQLite takes one writer at a time: one lock per process keeps writers in line,
        # BEGIN IMMEDIATE (below) and busy_timeout keep other processes in line.
        self._sqlite_write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_on_connect)
            event.listen(self.engine.sync_engine, "begin", _sqlite_on_begin)

    @property
    def is_postgres(self) -> bool:
        """Whether several instances may share this database."""
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def session(self, *, lock_chat: int | None = None) -> AsyncIterator[AsyncSession]:
        """One short transaction: commit on success, roll back on error.

        ``lock_chat`` serialises work on one chat across processes (a transaction-scoped
        advisory lock on PostgreSQL; SQLite has one writer at a time anyway).
        """
        async with self._one_writer(), self._open(lock_chat) as session:
            yield session

    def _one_writer(self) -> AbstractAsyncContextManager[Any]:
        """SQLite: wait for this process's one writer at a time; PostgreSQL: nothing."""
        return self._sqlite_write_lock or nullcontext()

    @asynccontextmanager
    async def _open(self, lock_chat: int | None) -> AsyncIterator[AsyncSession]:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            try:
                if lock_chat is not None and self.is_postgres:
                    await session.exec(  # type: ignore[call-overload]
                        text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=lock_chat)
                    )
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            if session.info.get(_CHECKPOINT) and self.dialect == "sqlite":
                await self._checkpoint()

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Unit]:
        """One update's transaction, on a Core connection (commit on success, roll back on
        error). The ORM session on it (:attr:`Unit.session`) is made only when something
        asks for it: a typed answer's turn (Core statements only) then costs about a third
        less CPU than through a session (issue 20).

        On PostgreSQL the transaction really begins (BEGIN is sent) only with the first
        statement SQLAlchemy runs in it: statements run by the driver before that
        (:meth:`Unit.driver`) run on their own (autocommit), and a unit that ran only such
        statements sends neither BEGIN nor COMMIT (bot.storage.merchant_row). SQLite begins
        at once (``BEGIN IMMEDIATE``: the write lock for the whole unit)."""
        async with self._one_writer(), self._unit() as unit:
            yield unit

    @asynccontextmanager
    async def _unit(self) -> AsyncIterator[Unit]:
        conn = await self.engine.connect()
        try:
            await conn.begin()
            unit = Unit(conn, self.bound_session)
            try:
                yield unit
                await unit.flush()
                await conn.commit()
            except BaseException:
                await conn.rollback()
                raise
            finally:
                await unit.close()
        finally:
            await _close(conn)
        if unit.checkpoint and self.dialect == "sqlite":
            await self._checkpoint()

    @staticmethod
    def bound_session(conn: AsyncConnection) -> AsyncSession:
        """An ORM session in ``conn``'s transaction: it flushes into it, and never commits
        or ends it (the unit of work does)."""
        return AsyncSession(
            bind=conn, expire_on_commit=False, join_transaction_mode="rollback_only"
        )

    async def execute(
        self, statement: Executable, parameters: Params | None = None
    ) -> list[tuple[Any, ...]]:
        """Run one statement as its own transaction and return its rows (if any).

        On PostgreSQL it is one round trip (autocommit). A pooled connection that the
        database dropped since its last use (a restart) is retried once on a fresh one, so
        use it only for statements that may run twice (inserts guarded by a key, updates
        setting values).
        """
        try:
            return await self._execute_once(statement, parameters)
        except DBAPIError as exc:
            if not lost_connection(exc):
                raise
            log.info("database connection was dropped (restart?): retrying on a new one")
            return await self._execute_once(statement, parameters)

    async def _execute_once(
        self, statement: Executable, parameters: Params | None
    ) -> list[tuple[Any, ...]]:
        if self._autocommit is not None:
            conn = await self._autocommit.connect()
            try:
                result = await conn.execute(statement, parameters)
                return [tuple(row) for row in result] if result.returns_rows else []
            finally:
                await _close(conn)
        # SQLite: a Core transaction under the one-writer lock. An ORM session (as a turn
        # opens) would cost about twice the CPU for a single statement (issue 20).
        async with self._one_writer():
            conn = await self.engine.connect()
            try:
                result = await conn.execute(statement, parameters)
                rows = [tuple(row) for row in result] if result.returns_rows else []
                await conn.commit()
                return rows
            except BaseException:
                await conn.rollback()
                raise
            finally:
                await _close(conn)

    async def run(
        self, key: Hashable, build: Callable[[], ClauseElement], parameters: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """Run one statement on its own, as :meth:`execute` does (and retried as it is), but
        by the driver (:mod:`bot.storage.direct`): for a statement that runs for every update
        (the inbox's), whose SQLAlchemy execution (a transaction, the execution context, the
        result) cost more CPU than the statement (0.5 against 0.25 ms on SQLite, 0.85
        against 0.57 ms on PostgreSQL, benchmarks/README.md). ``key`` names the statement,
        ``build`` makes it the first time (:func:`direct.prepared`). The statement runs
        outside any transaction (one statement is atomic on its own); on SQLite under this
        process's one writer."""
        statement = direct.prepared(self.engine.dialect, key, build)
        try:
            return await self._run_once(statement, parameters)
        except DBAPIError as exc:
            if not lost_connection(exc):
                raise
            log.info("database connection was dropped (restart?): retrying on a new one")
            return await self._run_once(statement, parameters)

    async def _run_once(
        self, statement: direct.Prepared, parameters: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        async with self._one_writer():
            conn = await self.engine.connect()
            try:
                return await (await direct.driver(conn)).fetch(statement, parameters)
            finally:
                await _close(conn)

    async def _checkpoint(self) -> None:
        """Move the WAL into the database file and truncate it (under the write lock)."""
        async with self.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            cursor = raw.cursor()  # autocommit: outside any transaction
            await cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy, _frames, _done = await cursor.fetchone()
        if busy:
            log.warning(
                "SQLite checkpoint after erasing was blocked by a reader; erased rows "
                "stay in the WAL until the next checkpoint"
            )

    async def ping(self) -> bool:
        """True when the database answers a trivial query.

        It goes through the one session factory, so on SQLite it queues behind this
        process's writer instead of racing it for the file lock.
        """
        try:
            async with self.session() as session:
                await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        except Exception:
            return False
        return True

    async def upgrade(self) -> None:
        """Apply alembic migrations up to head (safe to run from several instances at once).

        A database already at head (every start but the first after a release) is recognised
        by one SELECT and left alone without importing alembic: the import alone (alembic
        pulls in mako, and pygments when installed) was ~0.2-0.4 s of CPU at every start
        (issue 20). Anything else (a new, older or unknown database) goes to alembic.
        """
        if await self._at_head():
            return
        async with self.engine.connect() as conn:
            if self.is_postgres:
                await conn.execute(text(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
            try:
                await conn.run_sync(_run_upgrade)
                await conn.commit()
            finally:
                if self.is_postgres:
                    await conn.execute(text(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                    await conn.commit()

    async def _at_head(self) -> bool:
        """Whether alembic_version holds exactly the shipped head (False if in doubt)."""
        head = script_head()
        if head is None:
            return False
        # Connection errors propagate, as they would from alembic; a missing table does not.
        async with self.engine.connect() as conn:
            try:
                rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
            except DBAPIError:  # no alembic_version yet: a new database
                return False
        return [row[0] for row in rows] == [head]

    async def migration_state(self) -> tuple[str | None, str | None]:
        """(the database's alembic revision, the newest shipped one)."""
        # Imported here, not at the top: only doctor and `db current` need them, and
        # start-up skips alembic when the database is at head (see upgrade()).
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        async with self.engine.connect() as conn:
            current = await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
        return current, head

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


async def _close(conn: AsyncConnection) -> None:
    """Give the connection back to the pool. ``async with engine.connect()`` does the same
    in a task of its own (so that a cancellation cannot interrupt it), which is two more
    turns of the event loop: a third of an empty unit of work's CPU (0.20 against 0.14 ms,
    benchmarks/README.md). The bot's units end committed or rolled back, so giving the
    connection back sends nothing to the database and has nothing to await."""
    await conn.close()


def lost_connection(exc: BaseException | None) -> bool:
    """Whether ``exc`` is a database connection that was dropped (worth one retry at once)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


#: First contact: the row to lock does not exist yet, so the transaction locks its key.
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:k)")


class Unit:
    """An open transaction (:meth:`Database.unit`): its Core connection, and an ORM session
    joined to the same transaction, made the first time it is asked for."""

    def __init__(
        self, connection: AsyncConnection, make_session: Callable[[AsyncConnection], AsyncSession]
    ) -> None:
        self.connection = connection
        self._make_session = make_session
        self._session: AsyncSession | None = None
        self._driver: direct.Driver | None = None

    async def begin_now(self) -> None:
        """Make sure the transaction has begun at the database, so that statements run
        directly from here on (:meth:`driver`) are part of it. SQLite began at once; on
        PostgreSQL BEGIN goes with the first statement SQLAlchemy runs, so one is run (a
        round trip, for the rare turn that writes before its end)."""
        if self.connection.dialect.name == "postgresql":
            await self.connection.exec_driver_sql("SELECT 1")

    async def driver(self) -> direct.Driver:
        """The driver's connection under :attr:`connection`, for the statements run directly
        (bot.storage.direct); in whatever transaction the connection is in."""
        if self._driver is None:
            self._driver = await direct.driver(self.connection)
        return self._driver

    @property
    def session(self) -> AsyncSession:
        """The ORM session in this transaction (flushed before it commits; it never commits
        or ends the transaction itself)."""
        if self._session is None:
            self._session = self._make_session(self.connection)
        return self._session

    @property
    def checkpoint(self) -> bool:
        """Whether a WAL checkpoint was asked for (:func:`request_checkpoint`)."""
        return self._session is not None and bool(self._session.info.get(_CHECKPOINT))

    async def flush(self) -> None:
        """Send what the session holds (nothing to do if no session was made)."""
        if self._session is not None:
            await self._session.flush()

    async def close(self) -> None:
        """Let go of the session (after the transaction ended)."""
        if self._session is not None:
            await self._session.close()


async def read_locked(
    conn: AsyncConnection,
    read: Callable[[bool], Awaitable[_R | None]],
    *,
    lock_key: int,
) -> _R | None:
    """``read(False)``, the read of one row; if there is no row yet on PostgreSQL (a first
    contact), the transaction takes the advisory lock ``lock_key`` and reads again,
    ``read(True)``: a row that does not exist cannot be locked, so two first contacts at once
    create it once.

    The turn reads without a lock and checks the row's version when it writes
    (bot.storage.merchant_row); :func:`get_locked` reads ``SELECT ... FOR UPDATE`` both
    times, which waits for another transaction holding the row and then returns it as that
    one committed it.
    """
    row = await read(False)
    if row is None and conn.dialect.name == "postgresql":
        await conn.execute(_ADVISORY_LOCK, {"k": lock_key})
        row = await read(True)
    return row


async def get_locked(
    session: AsyncSession, model: type[_M], key: int, *, lock_key: int
) -> _M | None:
    """The ORM row with this primary key, locked until the transaction ends (PostgreSQL; a
    first contact as :func:`read_locked` says)."""

    async def read(_again: bool) -> _M | None:
        return await session.get(model, key, with_for_update=True)

    return await read_locked(await session.connection(), read, lock_key=lock_key)


def request_checkpoint(session: AsyncSession) -> None:
    """Ask for a WAL checkpoint once this session commits (SQLite; after erasing data)."""
    session.info[_CHECKPOINT] = True


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite DATABASE_URL names (None for PostgreSQL, memory or a URI)."""
    try:
        parsed = make_url(_normalise_url(url))
    except (ArgumentError, ValueError):  # refused with its reason by Database()
        return None
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _in_memory(url: str) -> bool:
    try:
        parsed = make_url(_normalise_url(url))
    except (ArgumentError, ValueError):  # refused with its reason by Database()
        return False
    memory = parsed.database in (None, "", ":memory:") or "mode=memory" in str(parsed)
    return parsed.get_backend_name() == "sqlite" and memory


@contextmanager
def sole_process(url: str) -> Iterator[None]:
    """Hold a SQLite database file for this process alone while the block runs.

    SQLite serves one bot process per file (one poller, one dispatcher with the whole send
    budget): a second long-running process on the same file is refused with a ConfigError
    naming the file, and the first goes on. An in-memory database is refused too (it would
    lose everything at the first stop). The lock is the kernel's (``flock``) on the
    database file itself, so a killed process leaves none behind. The descriptor stays open
    until the block ends, after the process's own connections are closed (closing a
    descriptor of the file drops SQLite's own POSIX locks on it). PostgreSQL: no lock.
    """
    if _in_memory(url):
        raise ConfigError(
            "DATABASE_URL is invalid: an in-memory SQLite database loses every merchant when"
            " the process stops; name a file, e.g. sqlite+aiosqlite:///./data/bot.db"
        )
    path = sqlite_file(url)
    if path is None or fcntl is None:
        yield
        return
    _create_private(path)
    fd = os.open(path, os.O_RDONLY)  # flock needs no write access
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another bot process is using the SQLite database {path} (SQLite serves one"
                " `run`, `serve` or `remind` per file): stop it first, or give several"
                " processes a PostgreSQL DATABASE_URL"
            ) from None
        yield
    finally:
        os.close(fd)


def _create_private(path: Path) -> None:
    """Create missing folders 0700 and a missing database file 0600 (existing ones stay).

    Raises:
        ConfigError: Naming DATABASE_URL and the path, when the file cannot be made there.
    """
    if path.is_dir():
        raise ConfigError(
            f"DATABASE_URL is invalid: {path} is a folder; name a file in it,"
            f" e.g. sqlite+aiosqlite:///{path / 'bot.db'}"
        )
    try:
        missing = []
        folder = path.parent
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            folder.mkdir(mode=0o700, exist_ok=True)
            folder.chmod(0o700)  # whatever the umask
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        os.close(fd)  # an empty file is an empty SQLite database
        path.chmod(0o600)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"DATABASE_URL is invalid: cannot create the SQLite database {path} ({reason});"
            " name a file in a folder this user can write"
        ) from None


def script_head() -> str | None:
    """The newest shipped migration, read from the files' revision lines without alembic.

    None when the files do not form one chain with one head (alembic then decides).
    ``tests/test_migrations.py`` checks it against alembic's own answer.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for down, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            try:
                parsed = ast.literal_eval(value.strip())
            except (ValueError, SyntaxError):
                return None
            if not down and isinstance(parsed, str):
                revisions.add(parsed)
            elif down and isinstance(parsed, str):
                parents.add(parsed)
            elif down and isinstance(parsed, tuple | list):
                parents.update(str(item) for item in parsed)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def alembic_config() -> Config:
    """The alembic configuration for the migrations shipped in bot/migrations."""
    from alembic.config import Config  # see upgrade(): not imported when at head

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def _run_upgrade(connection: Connection) -> None:
    from alembic import command  # see upgrade(): not imported when at head

    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_on_begin); wait for other writers.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={sqlite_inline.BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not just freed
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # Straight on the sqlite3 connection: through ``exec_driver_sql`` this was a whole
    # SQLAlchemy execution (cursor, context, events: ~0.1 ms, two or three per update).
    driver = conn.connection.driver_connection
    if isinstance(driver, sqlite_inline.InlineConnection):
        driver.begin_immediate()
    else:  # pragma: no cover - every SQLite engine here is made with sqlite_inline.connector
        conn.exec_driver_sql("BEGIN IMMEDIATE")
