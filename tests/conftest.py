"""Fixtures shared by the whole suite. Real servers live in tests/support/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import Cli, clean_environment

pytest_plugins = ["tests.support.openbao", "tests.support.smtp"]


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A SQLite store in this test's own folder (created by the first apply)."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def cli(tmp_path: Path, store_url: str) -> Cli:
    """The real CLI, run in `tmp_path`, pointed at this test's store."""
    home = tmp_path / "home"
    home.mkdir()
    env = clean_environment(home)
    env["SMTPCFG_STORE"] = store_url
    return Cli(tmp_path, env)
