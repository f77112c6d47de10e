"""Throughput of the real bot mid-interview vs a bare python-telegram-bot echo bot.

50 simulated merchants each type 10 interview answers (500 messages). The bot under test
runs as its own process (`python -m bot run`, SQLite file) and long-polls the fake Bot API
this process serves on loopback HTTP, as it would poll Telegram; in the same run the same
load goes to a bare PTB echo bot process (benchmarks/echo_bot.py) polling the same way.
The same load also goes to that echo bot on the migration bot's own Bot API transport
(aiohttp, bot.botapi.transport), so the cost of the bot's own work shows like for like.
Reported: messages/s of each, the ratios, p50/p99 handling latency (from the update being
queued at the fake to the bot's first reply to it arriving there) and CPU per message.

    python -m benchmarks.bench_interview [--merchants 50] [--rounds 5] [--db postgres [--socket]]

``--socket``: the bot reaches PostgreSQL over its Unix socket instead of TCP on loopback (a
server on the same machine, as README's DATABASE_URL describes). ``--base DIR``: the bot of
another checkout (``git worktree add --detach DIR <commit>``) runs as a fourth bot in every
round, from the same virtual environment: an A/B in one run, on the same machine state.

Each run also says how long updates waited at the fake for a getUpdates to take them (a bot
that asks for the next batch late leaves them waiting, and itself idle).

Also reported: CPU per message of the bot against the bare echo bot's (both from /proc),
p99 latency, each process's start-up time (spawned to first getUpdates, the content check
cached), and, from one more run of the bot with counting hooks (benchmarks/counted_bot.py),
its database round trips per message by kind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("PTB_TIMEDELTA", "1")

from benchmarks.wire import CONNECT
from bot.botapi.fake import FakeTelegram, serve

if TYPE_CHECKING:
    from tests.pgserver import PostgresServer

TOKEN = "123456789:AAHbenchmarkTokenOnly_0123456789abcd"
REPO = Path(__file__).resolve().parent.parent
# Ten typed answers that walk one merchant through the interview.
ANSWERS = (
    "Shopify",
    "UK, Germany",
    "Registered company",
    "local",
    "1–50 products",
    "We ship ourselves",
    "shop tab, ads",
    "Not started",
    "Ann & Co",
    "2027-03-31",
)


class Probe(FakeTelegram):
    """The fake Bot API that also notes when the bot answered each chat."""

    def __init__(self) -> None:
        super().__init__(token=TOKEN)
        self.replies: dict[int, asyncio.Event] = {}
        self.polled = asyncio.Event()  # set by the first getUpdates (the bot is ready)
        self.first_poll = 0.0
        self.queued: dict[int, float] = {}  # update id -> when it was queued
        self.waits: list[float] = []  # seconds each update waited for a getUpdates to take it

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        queued = super().push_update(update)
        self.queued[int(queued["update_id"])] = time.perf_counter()
        return queued

    async def _get_updates(self, params: dict[str, Any]) -> Any:
        updates = await super()._get_updates(params)
        now = time.perf_counter()
        for update in updates:
            queued = self.queued.pop(int(update["update_id"]), None)
            if queued is not None:
                self.waits.append(now - queued)
        return updates

    async def handle(
        self, token: str, method: str, params: Mapping[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if method.lower() == "getupdates" and not self.polled.is_set():
            self.first_poll = time.perf_counter()
            self.polled.set()
        status, body = await super().handle(token, method, params)
        if method.lower() in ("sendmessage", "editmessagetext") and status == 200:
            chat = int(str(params.get("chat_id")))
            event = self.replies.get(chat)
            if event is not None:
                event.set()
        return status, body


async def merchant(
    fake: Probe, chat: int, texts: tuple[str, ...], quiet: float, latencies: list[float]
) -> None:
    event = fake.replies.setdefault(chat, asyncio.Event())
    for text in texts:
        event.clear()
        sent = time.perf_counter()
        fake.push_update(fake.text_update(chat, text))
        await event.wait()
        # The bot may send more than one message for an update (profile + plan at the end):
        # wait until it has been quiet briefly, and count latency to the first reply.
        latencies.append(time.perf_counter() - sent)
        while True:
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), quiet)
            except TimeoutError:
                break


async def start_process(
    args: list[str], env: dict[str, str], cwd: str
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    if proc.returncode not in (0, -signal.SIGTERM):
        raise RuntimeError(f"bot exited {proc.returncode}: {err.decode()[-2000:]}")


async def load(
    fake: Probe, merchants: int, texts: tuple[str, ...], base: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(merchant(fake, base + i, texts, 0.003, latencies) for i in range(merchants))
    )
    return time.perf_counter() - started, latencies


async def measure(
    fake: Probe,
    args: list[str],
    env: dict[str, str],
    cwd: str,
    merchants: int,
    base: int,
    warmup: tuple[str, ...],
    counts: Path | None = None,
    postmaster: int | None = None,
) -> Measured:
    fake.polled.clear()
    spawned = time.perf_counter()
    proc = await start_process(args, env, cwd)
    try:
        await asyncio.wait_for(fake.polled.wait(), 120)
        startup = fake.first_poll - spawned
        startup_cpu = cpu_seconds(proc.pid)  # the same, as CPU time (less load-dependent)
        # Warm up (and, for the migration bot, bring every merchant into the interview).
        await asyncio.wait_for(load(fake, merchants, warmup, base), 120)
        before = await snapshot(proc, counts) if counts is not None else {}
        cpu_before, own_before = cpu_seconds(proc.pid), time.process_time()
        server_before = server_seconds(postmaster) if postmaster else 0.0
        fake.waits.clear()
        elapsed, latencies = await asyncio.wait_for(load(fake, merchants, ANSWERS, base), 600)
        waited = statistics.mean(fake.waits) if fake.waits else 0.0
        n = merchants * len(ANSWERS)
        cpu = (cpu_seconds(proc.pid) - cpu_before) / n
        harness = (time.process_time() - own_before) / n
        server = (server_seconds(postmaster) - server_before) / n if postmaster else 0.0
        trips: dict[str, float] = {}
        if counts is not None:
            after = await snapshot(proc, counts)
            trips = {k: (after.get(k, 0) - before.get(k, 0)) / n for k in after}
        return Measured(
            n / elapsed, latencies, cpu, harness, startup, startup_cpu, trips, server, waited
        )
    finally:
        await stop_process(proc)


async def snapshot(proc: asyncio.subprocess.Process, path: Path) -> dict[str, int]:
    """The counted bot's round-trip counts so far (it writes them on SIGUSR1)."""
    path.unlink(missing_ok=True)  # noqa: ASYNC240 - a tiny local file
    proc.send_signal(signal.SIGUSR1)
    for _ in range(500):
        if path.exists():  # noqa: ASYNC240
            return dict(json.loads(path.read_text()))  # noqa: ASYNC240
        await asyncio.sleep(0.01)
    raise RuntimeError("the counted bot wrote no counts")


@dataclass
class Measured:
    rate: float  # messages per second
    latencies: list[float]  # seconds, one per message
    cpu: float  # CPU seconds per message in the bot process
    harness: float  # CPU seconds per message in this process (client + fake Bot API)
    startup: float  # seconds from spawning the process to its first getUpdates
    startup_cpu: float  # CPU seconds the process used until then
    trips: dict[str, float]  # database round trips per message, by kind (counted run only)
    server: float = 0.0  # CPU seconds per message of the PostgreSQL server (its processes)
    waited: float = 0.0  # mean seconds an update waited at the fake for a getUpdates


# The bots measured in each run: a bare PTB echo bot as installed (the baseline the target is
# set against), the same echo bot on the migration bot's transport (so the cost of the bot's
# own work shows like for like), and the migration bot itself.
BOTS = (
    ("echo, PTB default (httpx)", ["-m", "benchmarks.echo_bot"], ("hello",)),
    ("echo, aiohttp transport", ["-m", "benchmarks.echo_bot", "--transport", "aiohttp"], ("hi",)),
    ("migration bot", ["-m", "bot", "run"], ("/start",)),
)
# The migration bot once more, with its database round trips counted (benchmarks/counted_bot).
COUNTED = (("migration bot, counted", ["-m", "benchmarks.counted_bot", "run"], ("/start",)),)


#: The migration bot of another checkout (``--base DIR``): run from DIR, in the same rounds.
BASE = "migration bot at --base"


async def run(
    merchants: int,
    rounds: int,
    database: str = "sqlite",
    socket: bool = False,
    base_dir: Path | None = None,
) -> None:
    print(f"machine: {os.cpu_count()} CPUs, {cpu_model()}, Python {platform.python_version()}")
    print(f"load average at start: {load_average()}")
    print(
        f"load: {merchants} merchants x {len(ANSWERS)} typed answers"
        f" = {merchants * len(ANSWERS)} messages per run\n"
    )
    runs: list[list[Measured]] = []
    named = BOTS if base_dir is None else (*BOTS, (BASE, BOTS[2][1], BOTS[2][2]))
    server_pg = None
    if database == "postgres":
        from tests.pgserver import PostgresServer

        server_pg = PostgresServer().start()
    print(f"database: {database}{' over its Unix socket' if socket else ''}")
    for round_no in range(rounds + 1):
        counted = round_no == rounds  # one more run, counting round trips
        with tempfile.TemporaryDirectory() as tmp:
            db_url = database_url(server_pg, tmp, f"bench{round_no}", socket)
            # The --base bot gets its own database: its migrations may stop before head's.
            base_url = database_url(server_pg, tmp, f"base{round_no}", socket) if base_dir else ""
            fake = Probe()
            async with await serve(fake) as server:
                env = {
                    "PATH": os.environ.get("PATH", ""),
                    "PYTHONPATH": str(REPO),
                    "PTB_TIMEDELTA": "1",
                    "TELEGRAM_TOKEN": TOKEN,
                    "TELEGRAM_BASE_URL": server.base_url,
                    "DATABASE_URL": db_url,
                    "LOG_LEVEL": "WARNING",
                    # The echo bot has no send budget: give the bot's the paid ceiling
                    # (1000 msg/s) so both are measured on their own work. On PostgreSQL
                    # the budget is shared through the database: slots are leased 200 at
                    # a time then, about one lease per 200 replies.
                    "SEND_RATE": "1000",
                    "ALLOW_PAID_BROADCAST": "true",
                    # Passing content checks are remembered in ~/.cache (check_content
                    # fills it first: the start-up figures are with the check cached).
                    "HOME": str(Path.home()),
                }
                if round_no == 0:
                    await check_content(env, tmp)
                bots = COUNTED if counted else named
                row = []
                for i, (name, args, warmup) in enumerate(bots):
                    base = 10_000 * (i + 1) + round_no * 1000
                    counts = Path(tmp) / "counts.json" if counted else None
                    if counts is not None:
                        env["BENCH_COUNTS"] = str(counts)
                    postmaster = server_pg.postmaster_pid() if server_pg is not None else None
                    own = (
                        env
                        if name != BASE
                        else {**env, "PYTHONPATH": str(base_dir), "DATABASE_URL": base_url}
                    )
                    row.append(
                        await measure(
                            fake, args, own, tmp, merchants, base, warmup, counts, postmaster
                        )
                    )
        if counted:
            report_trips(row[0], database)
            continue
        runs.append(row)
        echo, echo_same, bot = row[:3]
        rates = (f"{name} {m.rate:6.1f} msg/s" for (name, _, _), m in zip(named, row, strict=True))
        print(
            f"run {round_no + 1}: "
            + "   ".join(rates)
            + f"   ratio {bot.rate / echo.rate:.2f}"
            + f" (same transport {bot.rate / echo_same.rate:.2f})"
            + f"   CPU/msg bot {bot.cpu * 1000:.2f} ms, echo {echo.cpu * 1000:.2f} ms"
            + f" (ratio {bot.cpu / echo.cpu:.2f})"
            + (f" + PostgreSQL {bot.server * 1000:.2f} ms" if server_pg is not None else "")
            + f"   p99 bot {pct(bot.latencies, 99):.0f} ms, echo {pct(echo.latencies, 99):.0f}"
            + f"   start-up bot {bot.startup:.2f} s ({bot.startup_cpu:.2f} s CPU),"
            + f" echo {echo.startup:.2f} s ({echo.startup_cpu:.2f} s CPU)"
            + f"   waited at the fake: bot {bot.waited * 1000:.1f} ms,"
            + f" echo {echo.waited * 1000:.1f} ms"
            + (based(row[3], server_pg is not None) if len(row) > 3 else "")
        )

    if server_pg is not None:
        server_pg.stop()

    print()
    print(
        "| bot | msg/s (median of runs) | p50 ms | p99 ms | CPU ms per message (median)"
        " | start-up to first getUpdates, s (median) | start-up CPU s (median) |"
    )
    print("|---|---|---|---|---|---|---|")
    for i, (name, _, _) in enumerate(named):
        column = [r[i] for r in runs]
        lat = [x for m in column for x in m.latencies]
        print(
            f"| {name} | {statistics.median(m.rate for m in column):.1f} |"
            f" {pct(lat, 50):.1f} | {pct(lat, 99):.1f} |"
            f" {statistics.median(m.cpu for m in column) * 1000:.2f} |"
            f" {statistics.median(m.startup for m in column):.2f} |"
            f" {statistics.median(m.startup_cpu for m in column):.2f} |"
        )
    print()
    per_run("throughput bot / bare PTB echo bot", [r[2].rate / r[0].rate for r in runs], ">= 1.2")
    per_run("CPU per message bot / bare PTB echo bot", [r[2].cpu / r[0].cpu for r in runs], "<= 1")
    same = [r[2].rate / r[1].rate for r in runs]
    per_run("throughput bot / echo bot on the same transport", same)
    if base_dir is not None:
        per_run(f"throughput bot / bot at {base_dir}", [r[2].rate / r[3].rate for r in runs])
        per_run(f"CPU per message bot / bot at {base_dir}", [r[2].cpu / r[3].cpu for r in runs])
    harness = statistics.median(r[2].harness for r in runs) * 1000
    print(f"harness CPU per message while driving the bot: {harness:.2f} ms")
    if server_pg is not None:
        pg_cpu = statistics.median(r[2].server for r in runs) * 1000
        print(f"PostgreSQL server CPU per message of the bot (median): {pg_cpu:.2f} ms")


def database_url(server: PostgresServer | None, tmp: str, name: str, socket: bool) -> str:
    """A new database for one bot's run: a file in ``tmp``, or one on the PostgreSQL server
    (over its Unix socket with ``--socket``)."""
    if server is None:
        return f"sqlite+aiosqlite:///{tmp}/{name}.db"
    url = server.create_database(name)
    if socket:
        url = f"postgresql+asyncpg://postgres@/{name}?host={server.tmpdir}&port={server.port}"
    return url


def per_run(what: str, ratios: list[float], target: str = "") -> None:
    """One ratio's value in every run, its median and (if there is one) its target."""
    aim = f", target {target}" if target else ""
    print(
        f"{what}, per run: {', '.join(f'{x:.2f}' for x in ratios)}"
        f"  (median {statistics.median(ratios):.2f}{aim})"
    )


def based(base: Measured, postgres: bool) -> str:
    """The --base bot's figures in a run's line."""
    server = f", PostgreSQL {base.server * 1000:.2f} ms" if postgres else ""
    return (
        f"   base: CPU/msg {base.cpu * 1000:.2f} ms{server}, p99 {pct(base.latencies, 99):.0f} ms"
    )


def pct(values: list[float], q: int) -> float:
    """The q-th percentile in milliseconds."""
    return statistics.quantiles(values, n=100)[q - 1] * 1000


async def check_content(env: dict[str, str], cwd: str) -> None:
    """``python -m bot content check`` once, so every start finds the check cached."""
    proc = await start_process(["-m", "bot", "content", "check"], env, cwd)
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"content check failed: {err.decode()[-2000:]}")


def report_trips(counted: Measured, database: str) -> None:
    """Database round trips per message, by kind, from the counted run."""
    what = "round trips" if database == "postgres" else "statements"
    print(f"\n{what} per typed answer ({database}, counted run, {counted.rate:.0f} msg/s):")
    trips = {name: per for name, per in counted.trips.items() if name != CONNECT}
    for name, per in sorted(trips.items(), key=lambda kv: -kv[1]):
        if per >= 0.005:
            print(f"  {per:5.2f}  {name}")
    print(f"  {sum(trips.values()):5.2f}  in all")
    # Not a round trip: a connection the pool opened during the load (a server process).
    print(f"  new connections per typed answer: {counted.trips.get(CONNECT, 0.0):.3f}")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (how busy the shared machine was)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (and its threads) has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_seconds(postmaster: int) -> float:
    """CPU time of a PostgreSQL server: the postmaster, its live processes (backends,
    background workers) and those that have exited (reaped by the postmaster)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process exited meanwhile
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == postmaster:  # its own time and its reaped children's
            total += sum(int(f) for f in fields[11:15])
        elif ppid == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--merchants", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--socket", action="store_true", help="PostgreSQL over its Unix socket")
    parser.add_argument(
        "--base",
        type=Path,
        metavar="DIR",
        help="also run the bot of another checkout (e.g. a git worktree) in every round",
    )
    args = parser.parse_args()
    if args.socket and args.db != "postgres":
        parser.error("--socket is for --db postgres")
    if args.base is not None and not (args.base / "bot" / "__main__.py").is_file():
        parser.error(f"--base {args.base}: no bot/__main__.py there (a checkout of this project)")
    asyncio.run(run(args.merchants, args.rounds, args.db, args.socket, args.base))


if __name__ == "__main__":
    main()
