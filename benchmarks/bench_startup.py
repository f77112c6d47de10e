"""Start-up to ready: ``python -m bot run`` from spawn to its first getUpdates (issue 20).

The content check is cached first (``python -m bot content check``, as a deployment's earlier
start would have done); the bot then starts ``--starts`` times on one SQLite database (the
first start also creates the schema). Reported per start: wall seconds and the CPU seconds
the process used until then (from /proc: less dependent on a busy machine than wall time).

``--compare DIR`` alternates each start with the code in DIR (e.g. ``git archive main``
unpacked there), on the same database and fake Bot API, so that both see the same machine:
its speed moves by a third over minutes.

    python -m benchmarks.bench_startup [--starts 4] [--compare DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_interview import REPO, TOKEN, Probe, cpu_seconds, load_average
from bot.botapi.fake import serve


async def run(starts: int, compare: Path | None) -> None:
    print(f"load average at start: {load_average()}")
    home = str(Path.home())
    fake = Probe()
    trees = {"this": REPO} | ({"compare": compare} if compare else {})
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    async with await serve(fake) as server:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": home,  # the content check's cache (~/.cache)
                "PYTHONPATH": str(REPO),
                "PTB_TIMEDELTA": "1",
                "TELEGRAM_TOKEN": TOKEN,
                "TELEGRAM_BASE_URL": server.base_url,
                "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
                "LOG_LEVEL": "WARNING",
            }
            for tree in trees.values():
                subprocess.run(  # noqa: ASYNC221 - once, before anything is measured
                    [sys.executable, "-m", "bot", "content", "check"],
                    env=env | {"PYTHONPATH": str(tree)},
                    cwd=tmp,
                    capture_output=True,
                    check=True,
                )
            for start in range(starts):
                for name, tree in trees.items():
                    fake.polled.clear()
                    spawned = time.perf_counter()
                    proc = await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "bot",
                        "run",
                        env=env | {"PYTHONPATH": str(tree)},
                        cwd=tmp,
                        stdout=asyncio.subprocess.DEVNULL,
                        stderr=asyncio.subprocess.DEVNULL,
                    )
                    await asyncio.wait_for(fake.polled.wait(), 300)
                    wall, cpu = fake.first_poll - spawned, cpu_seconds(proc.pid)
                    times[name].append((wall, cpu))
                    note = "(creates the schema)" if start == 0 and name == "this" else ""
                    label = f" {name}" if compare else ""
                    print(
                        f"start {start + 1}{label}: {wall:.2f} s to getUpdates, {cpu:.2f} s CPU",
                        note,
                    )
                    proc.send_signal(signal.SIGTERM)
                    await proc.wait()
    print(f"load average at end: {load_average()}")
    if compare:
        for name, runs in times.items():
            walls, cpus = [w for w, _ in runs[1:]], [c for _, c in runs[1:]]
            if walls:
                print(
                    f"{name}, starts 2-{starts}: median {statistics.median(walls):.2f} s"
                    f" (max {max(walls):.2f}), CPU median {statistics.median(cpus):.2f} s"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=4)
    parser.add_argument("--compare", type=Path, help="alternate with the code in this folder")
    args = parser.parse_args()
    asyncio.run(run(args.starts, args.compare.resolve() if args.compare else None))


if __name__ == "__main__":
    main()
