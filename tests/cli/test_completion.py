"""`smtpcfg completion SHELL` prints click's script, and the bash one really completes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import Cli


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _smtpcfg_completion smtpcfg"),
        ("zsh", "#compdef smtpcfg"),
        ("fish", "complete --no-files --command smtpcfg"),
    ],
)
def test_each_shell_gets_its_script(bare_cli: Cli, shell: str, marker: str) -> None:
    result = bare_cli("completion", shell)
    assert result.code == 0, result.output
    assert marker in result.stdout
    assert "_SMTPCFG_COMPLETE" in result.stdout


def test_an_unknown_shell_is_a_usage_error(bare_cli: Cli) -> None:
    result = bare_cli("completion", "tcsh")
    assert result.code == 1
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in result.stderr


def _complete_in_bash(tmp_path: Path, *words: str) -> list[str]:
    """What bash offers for the last of `words`, through the sourced script: the real
    `smtpcfg` console script answers (COMP_WORDS, COMP_CWORD, _SMTPCFG_COMPLETE)."""
    script = _bash_script(tmp_path)
    quoted = " ".join(f"'{word}'" for word in words)
    program = (
        f"source {script}; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; "
        '_smtpcfg_completion smtpcfg; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    completed = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        env={"PATH": path, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return completed.stdout.split()


def _bash_script(tmp_path: Path) -> Path:
    script = tmp_path / "smtpcfg.bash"
    if not script.exists():
        smtpcfg = Path(sys.executable).parent / "smtpcfg"
        output = subprocess.run(
            [str(smtpcfg), "completion", "bash"], capture_output=True, text=True, check=True
        ).stdout
        script.write_text(output)
    return script


def test_bash_completes_commands_and_options(tmp_path: Path) -> None:
    assert _complete_in_bash(tmp_path, "smtpcfg", "val") == ["validate"]
    assert _complete_in_bash(tmp_path, "smtpcfg", "plan", "--detailed") == ["--detailed-exitcode"]
    every = _complete_in_bash(tmp_path, "smtpcfg", "")
    assert {"init", "validate", "plan", "apply", "completion", "deliver"} <= set(every)
    assert _complete_in_bash(tmp_path, "smtpcfg", "completion", "") == ["bash", "zsh", "fish"]
