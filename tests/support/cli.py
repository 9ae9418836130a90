"""Run the real `smtpcfg` CLI in a subprocess, as users and CI jobs do."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Cli:
    """`cli("plan", "-f", path)` runs `python -m reconciler plan -f path` in `cwd`."""

    def __init__(self, cwd: Path, env: Mapping[str, str]) -> None:
        self.cwd = cwd
        self.env = dict(env)

    def __call__(self, *args: str | Path, input: str | None = None,
                 env: Mapping[str, str] | None = None, timeout: float = 120) -> Result:
        completed = subprocess.run(
            [sys.executable, "-m", "reconciler", *map(str, args)],
            cwd=self.cwd,
            env={**self.env, **(env or {})},
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Result(completed.returncode, completed.stdout, completed.stderr)


def clean_environment(home: Path) -> dict[str, str]:
    """The parent's environment without CI and Vault variables that would leak into tests."""
    dropped = ("SMTPCFG_", "VAULT_", "GITHUB_", "CI_", "BUILD", "NO_COLOR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env["HOME"] = str(home)
    env["PYTHONWARNINGS"] = "error::DeprecationWarning"
    return env
