"""The command line itself: help texts, usage errors, the console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import Cli


@pytest.mark.parametrize(
    "command",
    ["init", "validate", "plan", "apply", "get", "export", "history", "completion", "dev-sink"],
)
def test_every_command_has_help_with_an_example(cli: Cli, command: str) -> None:
    result = cli(command, "--help")
    assert result.code == 0
    assert "Example" in result.stdout and f"smtpcfg {command}" in result.stdout


def test_usage_errors_exit_1_not_2(cli: Cli) -> None:
    for args in (["plan"], ["apply"], ["apply", "x.json", "-f", "m.yaml"], ["nonsense"]):
        result = cli(*args)
        assert result.code == 1, (args, result.output)
        assert "Traceback" not in result.stderr


def test_console_script_and_version() -> None:
    script = Path(sys.executable).parent / "smtpcfg"
    result = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("smtpcfg, version ")
