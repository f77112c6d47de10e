"""A throwaway real PostgreSQL server for tests and benchmarks, plus pytest fixtures.

Use it as a pytest plugin (``pytest_plugins = ["tests.pgserver"]``) to get the session-scoped
``postgres_server`` fixture and the function-scoped ``pg_url`` fixture (a fresh database per
test), or directly::

    with PostgresServer() as server:
        url = server.create_database("bench")

When the binaries cannot be found the fixtures skip the test with a visible reason, or fail it
when the environment variable ``CI`` is ``true``.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import itertools
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, TypeVar

import asyncpg
import pytest

__all__ = [
    "MISSING_MESSAGE",
    "PostgresBinaries",
    "PostgresServer",
    "PostgresServerError",
    "find_binaries",
    "pg_url",
    "postgres_server",
]

MISSING_MESSAGE = (
    "PostgreSQL binaries (initdb/pg_ctl/postgres) not found: PostgreSQL tests skipped"
)
_REQUIRED = ("initdb", "pg_ctl", "postgres")
_FALLBACK_USER = "pgtest"
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_T = TypeVar("_T")


class PostgresServerError(RuntimeError):
    """Raised when the throwaway server cannot be initialised, started or used."""


@dataclass(frozen=True)
class PostgresBinaries:
    """Absolute paths of the PostgreSQL server programs used by :class:`PostgresServer`."""

    bindir: Path
    initdb: Path
    pg_ctl: Path
    postgres: Path


def _complete_dir(directory: Path) -> PostgresBinaries | None:
    paths = [directory / name for name in _REQUIRED]
    if all(p.is_file() and os.access(p, os.X_OK) for p in paths):
        return PostgresBinaries(directory, *paths)
    return None


def _version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,)
    version = path.parent.name
    return tuple(int(part) for part in re.findall(r"\d+", version)) or (0,)


def find_binaries() -> PostgresBinaries | None:
    """Locate ``initdb``, ``pg_ctl`` and ``postgres`` from one installation.

    Looks on ``PATH`` first (following symlinks so ``pg_ctl`` finds its sibling ``postgres``),
    then at ``pg_config --bindir``, then at the newest ``/usr/lib/postgresql/*/bin``.

    Returns:
        The binaries, or ``None`` when no complete installation was found.
    """
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates += [Path(on_path).resolve().parent, Path(on_path).parent]
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out:
            candidates.append(Path(out))
    versioned = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versioned, key=_version_key, reverse=True)
    for directory in candidates:
        found = _complete_dir(directory)
        if found is not None:
            return found
    return None


def free_port() -> int:
    """A loopback TCP port nobody listens on (once this returns)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _unprivileged_user() -> pwd.struct_passwd:
    """Pick (or create) a non-root account that postgres will agree to run as."""
    wanted = os.environ.get("PGSERVER_USER")
    names = [wanted] if wanted else ["postgres", "nobody", _FALLBACK_USER]
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return entry
    useradd = shutil.which("useradd")
    if wanted or useradd is None:
        raise PostgresServerError(
            f"running as root and no unprivileged user found (tried {', '.join(names)})"
        )
    subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _FALLBACK_USER],
        capture_output=True,
        check=True,
        timeout=30,
    )
    return pwd.getpwnam(_FALLBACK_USER)


def _run_coroutine(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to completion from sync code, even when an event loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


class PostgresServer:
    """A private PostgreSQL cluster in a temporary directory on a free loopback port.

    The cluster trusts every local connection (user ``postgres``, no password) and runs with
    durability switched off, so it is fast and must never hold data worth keeping.
    """

    def __init__(self, binaries: PostgresBinaries | None = None) -> None:
        """Prepare a server; nothing starts until :meth:`start`.

        Args:
            binaries: The programs to use; found with :func:`find_binaries` when omitted.

        Raises:
            PostgresServerError: When no binaries are given and none can be found.
        """
        found = binaries or find_binaries()
        if found is None:
            raise PostgresServerError(MISSING_MESSAGE)
        self.binaries = found
        self.port: int | None = None
        self.tmpdir: Path | None = None
        self._run_as: pwd.struct_passwd | None = None
        self._names = itertools.count(1)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether :meth:`start` succeeded and :meth:`stop` has not run yet."""
        return self.port is not None

    @property
    def datadir(self) -> Path:
        """The cluster's data directory."""
        return self._tmp() / "data"

    def postmaster_pid(self) -> int:
        """The server's main process (benchmarks add up its processes' CPU time)."""
        return int((self.datadir / "postmaster.pid").read_text().split()[0])

    @property
    def logfile(self) -> Path:
        """The server log written by ``pg_ctl``."""
        return self._tmp() / "server.log"

    def _tmp(self) -> Path:
        if self.tmpdir is None:
            raise PostgresServerError("server not started")
        return self.tmpdir

    def _cmd(self, *args: str | Path) -> list[str]:
        argv = [str(a) for a in args]
        if self._run_as is None:
            return argv
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", self._run_as.pw_name, "--", *argv]
        su = shutil.which("su") or "su"
        return [su, self._run_as.pw_name, "-s", "/bin/sh", "-c", shlex.join(argv)]

    def _run(self, *args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        proc = subprocess.run(
            self._cmd(*args),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self._tmp(),
            env=env,
            check=False,
        )
        if proc.returncode != 0:
            log = ""
            if self.tmpdir is not None and self.logfile.exists():
                log = self.logfile.read_text(errors="replace")[-2000:]
            raise PostgresServerError(
                f"{Path(str(args[0])).name} failed ({proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}\n{log}".strip()
            )
        return proc

    def start(self) -> PostgresServer:
        """Create the cluster and start the server; returns ``self``.

        Raises:
            PostgresServerError: When ``initdb`` or ``pg_ctl start`` fails.
        """
        if self.running:
            return self
        self.tmpdir = Path(tempfile.mkdtemp(prefix="pgserver-"))
        atexit.register(self.stop)
        try:
            if os.geteuid() == 0:
                self._run_as = _unprivileged_user()
                os.chown(self.tmpdir, self._run_as.pw_uid, self._run_as.pw_gid)
            self._run(
                self.binaries.initdb,
                "-D",
                self.datadir,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--no-locale",
            )
            last_error: PostgresServerError | None = None
            for _attempt in range(3):  # the free port can be taken between probe and bind
                port = free_port()
                options = (
                    f"-p {port} -k {self.tmpdir} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
                )
                try:
                    self._run(
                        self.binaries.pg_ctl,
                        "-D",
                        self.datadir,
                        "-l",
                        self.logfile,
                        "-w",
                        "-t",
                        "60",
                        "-o",
                        options,
                        "start",
                    )
                except PostgresServerError as exc:
                    last_error = exc
                    continue
                self.port = port
                return self
            assert last_error is not None
            raise last_error
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (if started) and delete its directory; safe to call twice."""
        atexit.unregister(self.stop)
        tmpdir, self.tmpdir = self.tmpdir, None
        port, self.port = self.port, None
        if tmpdir is None:
            return
        try:
            if port is not None and (tmpdir / "data" / "postmaster.pid").exists():
                self.tmpdir = tmpdir
                try:
                    self._run(
                        self.binaries.pg_ctl,
                        "-D",
                        tmpdir / "data",
                        "-m",
                        "immediate",
                        "-w",
                        "-t",
                        "30",
                        "stop",
                        timeout=60,
                    )
                except (PostgresServerError, subprocess.SubprocessError, OSError):
                    pass
                finally:
                    self.tmpdir = None
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        """Start the server."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server and remove its files."""
        self.stop()

    # -- databases -----------------------------------------------------------------------

    def _port(self) -> int:
        if self.port is None:
            raise PostgresServerError("server not started")
        return self.port

    def url(self, name: str, driver: str = "postgresql+asyncpg") -> str:
        """Return the SQLAlchemy URL of database ``name`` (``driver`` ``postgresql`` = libpq)."""
        return f"{driver}://postgres@127.0.0.1:{self._port()}/{name}"

    def dsn(self, name: str = "postgres") -> str:
        """Return a plain ``postgresql://`` DSN for asyncpg or psql."""
        return self.url(name, driver="postgresql")

    def unique_name(self, prefix: str = "test") -> str:
        """Return a database name that has not been used on this server."""
        safe = re.sub(r"[^a-z0-9_]", "_", prefix.lower())[:30] or "db"
        return f"{safe}_{next(self._names)}_{uuid.uuid4().hex[:8]}"

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.dsn("postgres"), timeout=30)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    @staticmethod
    def _check_name(name: str) -> str:
        if not _NAME_RE.match(name):
            raise ValueError(f"invalid database name {name!r}: use [a-z_][a-z0-9_]*, max 63")
        return name

    async def acreate_database(self, name: str) -> str:
        """Create database ``name`` (async flavour) and return its asyncpg SQLAlchemy URL."""
        await self._admin(f'CREATE DATABASE "{self._check_name(name)}"')
        return self.url(name)

    def create_database(self, name: str) -> str:
        """Create database ``name`` and return ``postgresql+asyncpg://postgres@127.0.0.1:PORT/name``.

        Raises:
            ValueError: When ``name`` is not a plain lower-case identifier.
        """
        self._check_name(name)
        return _run_coroutine(lambda: self.acreate_database(name))

    async def adrop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting its sessions (async flavour)."""
        await self._admin(f'DROP DATABASE IF EXISTS "{self._check_name(name)}" WITH (FORCE)')

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting its sessions."""
        self._check_name(name)
        _run_coroutine(lambda: self.adrop_database(name))


# -- pytest plugin -------------------------------------------------------------------------


def _missing() -> NoReturn:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(MISSING_MESSAGE, pytrace=False)
    pytest.skip(MISSING_MESSAGE)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start one throwaway PostgreSQL server for the whole test session."""
    binaries = find_binaries()
    if binaries is None:
        _missing()
    with PostgresServer(binaries) as server:
        yield server


@pytest.fixture
def pg_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """Create a fresh, uniquely named database for one test and return its asyncpg URL."""
    name = postgres_server.unique_name(request.node.name[:20])
    url = postgres_server.create_database(name)
    yield url
    # Best effort: the whole cluster is deleted at the end of the session anyway.
    with contextlib.suppress(Exception):
        postgres_server.drop_database(name)
