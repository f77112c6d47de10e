"""Start-up to ready: ``python -m bot run`` from spawn to its first getUpdates (issue 20).

The content check is cached first (``python -m bot content check``, as a deployment's earlier
start would have done); the bot then starts ``--starts`` times on one SQLite database (the
first start also creates the schema). Reported per start: wall seconds and the CPU seconds
the process used until then (from /proc: less dependent on a busy machine than wall time).

    python -m benchmarks.bench_startup [--starts 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_interview import REPO, TOKEN, Probe, cpu_seconds, load_average
from bot.botapi.fake import serve


async def run(starts: int) -> None:
    print(f"load average at start: {load_average()}")
    home = str(Path.home())
    fake = Probe()
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
            subprocess.run(  # noqa: ASYNC221 - once, before anything is measured
                [sys.executable, "-m", "bot", "content", "check"],
                env=env,
                cwd=tmp,
                capture_output=True,
                check=True,
            )
            for start in range(starts):
                fake.polled.clear()
                spawned = time.perf_counter()
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot",
                    "run",
                    env=env,
                    cwd=tmp,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
                await asyncio.wait_for(fake.polled.wait(), 300)
                wall, cpu = fake.first_poll - spawned, cpu_seconds(proc.pid)
                note = "(creates the schema)" if start == 0 else ""
                print(f"start {start + 1}: {wall:.2f} s to getUpdates, {cpu:.2f} s CPU", note)
                proc.send_signal(signal.SIGTERM)
                await proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=4)
    asyncio.run(run(parser.parse_args().starts))


if __name__ == "__main__":
    main()
