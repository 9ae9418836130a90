"""Run the real `smtpcfg` CLI as users and CI jobs do: in this process, or in a subprocess.

`cli(...)` runs the command in-process through click's test isolation: the same entry
point (`reconciler.cli.main.run`), its own working directory and environment, stdin,
stdout and stderr captured apart. An exception that escapes the CLI is printed to the
captured stderr as the interpreter would print it, with exit status 1, so a test that
looks for "Traceback" sees it exactly as in a subprocess.

`cli.subprocess(...)` starts `python -m reconciler`: for what only a process shows
(exit on a signal, start-up imports, a command that must not hang, a timeout).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
    """`cli("plan", "-f", path)` runs `smtpcfg plan -f path` in `cwd` with `env`."""

    def __init__(self, cwd: Path, env: Mapping[str, str]) -> None:
        self.cwd = cwd
        self.env = dict(env)

    def __call__(
        self, *args: str | Path, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> Result:
        from click.testing import CliRunner

        from reconciler.cli.main import run

        environment = {**self.env, **(env or {})}
        # Variables of this process the command must not see, as in a fresh process.
        unset: dict[str, str | None] = {key: None for key in os.environ if key not in environment}
        with (
            _inside(self.cwd),
            CliRunner().isolation(
                input=input if input is not None else "", env={**unset, **environment}
            ) as (stdout, stderr, _),
        ):
            try:
                code = run([str(arg) for arg in args])
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except Exception:  # shown as the interpreter would show it
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
        return Result(code, stdout.getvalue().decode(), stderr.getvalue().decode())

    def subprocess(
        self,
        *args: str | Path,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 120,
    ) -> Result:
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


@contextmanager
def _inside(folder: Path) -> Iterator[None]:
    """Run in `folder`, and leave the process's signal handlers as they were: `deliver`
    installs its own for SIGTERM and SIGINT."""
    saved_cwd = os.getcwd()
    saved_handlers = {
        number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)
    }
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        for number, handler in saved_handlers.items():
            signal.signal(number, handler)


def clean_environment(home: Path) -> dict[str, str]:
    """The parent's environment without CI and Vault variables that would leak into tests."""
    dropped = ("SMTPCFG_", "VAULT_", "GITHUB_", "CI_", "BUILD", "NO_COLOR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env["HOME"] = str(home)
    env["PYTHONWARNINGS"] = "error::DeprecationWarning"
    return env
