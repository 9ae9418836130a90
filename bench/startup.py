"""Start-up: `smtpcfg --version` and `smtpcfg validate -f examples/smtp.yaml` against a
bare `python -c pass`, each a fresh process, as a user at a shell runs them.

Target: validate costs at most 0.25 s more than bare Python, and imports neither hvac
(nor requests) nor a database driver (sqlite3, psycopg): it needs none of them. The
imports are read from a run with `PYTHONPROFILEIMPORTTIME=1`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from bench.common import REPO, Result, clean_env, emit, interleaved_medians, smtpcfg_argv

TARGET_EXTRA_SECONDS = 0.25
EXAMPLE = REPO / "examples" / "smtp.yaml"
#: Top-level modules `validate` of a valid manifest must not import.
HEAVY = (
    "jsonschema",
    "referencing",
    "hvac",
    "requests",
    "urllib3",
    "sqlite3",
    "_sqlite3",
    "psycopg",
    "psycopg_binary",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options of its own."""


def run(args: argparse.Namespace) -> list[Result]:
    runs = args.runs or (2 if args.smoke else 15)
    env = clean_env(Path(os.environ.get("HOME", "/")))
    commands = {
        "python": [sys.executable, "-c", "pass"],
        "version": [*smtpcfg_argv(), "--version"],
        "validate": [*smtpcfg_argv(), "validate", "-f", str(EXAMPLE)],
    }

    def runner(argv: list[str]) -> object:
        return lambda: subprocess.run(
            argv, env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL
        )

    medians = interleaved_medians({name: runner(argv) for name, argv in commands.items()}, runs)
    heavy = heavy_imports(commands["validate"], env)
    bare = medians["python"]
    results = []
    for name in ("version", "validate"):
        extra = medians[name] - bare
        is_validate = name == "validate"
        results.append(
            emit(
                Result(
                    case=f"startup-{name}",
                    n=1,
                    seconds=medians[name],
                    baseline_seconds=bare,
                    ratio=medians[name] / bare,
                    target=(
                        f"<= bare + {TARGET_EXTRA_SECONDS:g} s, no hvac/db driver"
                        if is_validate
                        else "(none)"
                    ),
                    met=(extra <= TARGET_EXTRA_SECONDS and not heavy) if is_validate else None,
                    runs=runs,
                    extra={
                        "extra_seconds": round(extra, 4),
                        "baseline": "python -c pass",
                        **({"heavy_imports": heavy} if is_validate else {}),
                    },
                )
            )
        )
    return results


def heavy_imports(argv: list[str], env: dict[str, str]) -> list[str]:
    """Which of HEAVY the command imports (top-level package names)."""
    completed = subprocess.run(
        argv,
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        check=True,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    found = set()
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        module = line.rsplit("|", 1)[1].strip()
        if module.split(".")[0] in HEAVY:
            found.add(module.split(".")[0])
    return sorted(found)
