"""Tests for the throwaway PostgreSQL server and its pytest fixtures."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
import pytest

if TYPE_CHECKING:
    from tests.pgserver import PostgresServer

# Registers the fixtures when the suite's conftest has not already done so. Import
# tests.pgserver lazily below: importing it here would defeat pytest's assertion rewriting.
pytest_plugins = ["tests.pgserver"]
pytestmark = pytest.mark.postgres


def _dsn(url: str) -> str:
    assert url.startswith("postgresql+asyncpg://postgres@127.0.0.1:")
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def test_select_one_through_fresh_database(pg_url: str) -> None:
    conn = await asyncpg.connect(_dsn(pg_url))
    try:
        assert await conn.fetchval("SELECT 1") == 1
        assert await conn.fetchval("SELECT current_database()") == pg_url.rsplit("/", 1)[1]
        assert await conn.fetchval("SHOW fsync") == "off"
    finally:
        await conn.close()


async def test_databases_are_isolated(postgres_server: PostgresServer) -> None:
    first = await postgres_server.acreate_database(postgres_server.unique_name("iso_a"))
    second = postgres_server.create_database(postgres_server.unique_name("iso_b"))
    assert first != second
    a = await asyncpg.connect(_dsn(first))
    b = await asyncpg.connect(_dsn(second))
    try:
        await a.execute("CREATE TABLE merchants (id int PRIMARY KEY)")
        await a.execute("INSERT INTO merchants VALUES (1)")
        assert await a.fetchval("SELECT count(*) FROM merchants") == 1
        exists = await b.fetchval("SELECT to_regclass('public.merchants') IS NOT NULL")
        assert exists is False
    finally:
        await a.close()
        await b.close()


def test_fixture_databases_are_unique(postgres_server: PostgresServer, pg_url: str) -> None:
    name = pg_url.rsplit("/", 1)[1]
    with pytest.raises(asyncpg.DuplicateDatabaseError):
        postgres_server.create_database(name)
    assert postgres_server.unique_name() != postgres_server.unique_name()


def test_rejects_unsafe_names(postgres_server: PostgresServer) -> None:
    with pytest.raises(ValueError, match="invalid database name"):
        postgres_server.create_database('x"; DROP DATABASE postgres; --')


@pytest.mark.slow
def test_standalone_server_start_stop_cleans_up(postgres_server: PostgresServer) -> None:
    from tests.pgserver import PostgresServer, PostgresServerError

    server = PostgresServer(postgres_server.binaries)
    with server:
        assert server.running
        tmpdir = server.tmpdir
        assert tmpdir is not None and tmpdir.exists()
        assert server.port != postgres_server.port
        url = server.create_database("standalone")
        assert url.endswith(f":{server.port}/standalone")
    assert not server.running
    assert not tmpdir.exists()
    with pytest.raises(PostgresServerError, match="not started"):
        server.url("x")
    server.stop()  # idempotent


@pytest.mark.parametrize(("ci", "outcome"), [("true", "fail"), ("", "skip"), ("false", "skip")])
def test_missing_binaries_skip_or_fail_loudly(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: str
) -> None:
    from tests import pgserver

    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if outcome == "fail" else pytest.skip.Exception
    with pytest.raises(expected, match=r"initdb/pg_ctl/postgres\) not found"):
        pgserver._missing()
