"""Fixtures shared by the whole suite. Real servers live in tests/support/.

Every test that takes `store_url` (directly, or through `cli`) runs twice: against a
SQLite file and against its own schema in the PostgreSQL server at 127.0.0.1:5432. The
store is initialised (as `smtpcfg init` does), so a test may start with `apply`; tests of
a missing store use an uninitialised URL of their own (`sqlite_url`, `postgres_schema`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import Cli, clean_environment
from tests.support.stores import initialised, postgres_schema, sqlite_url

pytest_plugins = ["tests.support.openbao", "tests.support.smtp", "tests.support.oauth2"]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """This test's own initialised store: a SQLite file, or a schema."""
    if request.param == "sqlite":
        yield initialised(sqlite_url(tmp_path))
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def cli(tmp_path: Path, store_url: str) -> Cli:
    """The real CLI, run in `tmp_path`, pointed at this test's store."""
    home = tmp_path / "home"
    home.mkdir()
    env = clean_environment(home)
    env["SMTPCFG_STORE"] = store_url
    return Cli(tmp_path, env)


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Cli:
    """The CLI on a SQLite store only, for what is particular to the embedded file."""
    home = tmp_path / "home"
    home.mkdir()
    env = clean_environment(home)
    env["SMTPCFG_STORE"] = initialised(sqlite_url(tmp_path))
    return Cli(tmp_path, env)


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL where nothing exists yet: no SQLite file (nor its folder), no
    PostgreSQL schema. For tests of `init`, of missing stores, of old schemas."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "stores")
        return
    with postgres_schema(initialise=False, create=False) as url:
        yield url


@pytest.fixture
def bare_cli(tmp_path: Path) -> Cli:
    """The real CLI, run in `tmp_path`, with no store configured at all."""
    home = tmp_path / "home"
    home.mkdir()
    return Cli(tmp_path, clean_environment(home))
