"""Every bench case, run through the same code as `make bench` with tiny N and one run.

Only that each case ran and printed its JSON lines is checked: timings depend on the
machine, so they never decide a test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIELDS = {"case", "n", "seconds", "baseline_seconds", "ratio", "target", "met", "runs"}


def run_bench(*args: str) -> list[dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTPCFG_", "VAULT_", "BAO_"))}
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    lines = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    for line in lines:
        assert line.keys() >= FIELDS, line
        assert line["seconds"] > 0 and line["baseline_seconds"] > 0
    assert "case" in completed.stdout.splitlines()[-len(lines) - 2]  # the table's header
    return lines


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("startup", ["startup-version", "startup-validate"]),
        ("plan", ["plan", "plan"]),
        ("vault", ["vault-plan", "vault-pool"]),
        ("delivery", ["delivery"]),
    ],
)
def test_case_prints_its_json_lines(case: str, expected: list[str]) -> None:
    assert [line["case"] for line in run_bench(case)] == expected


def test_apply_on_sqlite() -> None:
    # PostgreSQL is left out: the smoke run must not depend on a server being there.
    lines = run_bench("apply", "--store", "sqlite")
    assert [line["case"] for line in lines] == ["apply-create-sqlite", "apply-update-sqlite"]
    assert lines[0]["n"] == 40 and lines[1]["n"] == 4


def test_validate_imports_no_heavy_module() -> None:
    (validate,) = [line for line in run_bench("startup") if line["case"] == "startup-validate"]
    assert validate["heavy_imports"] == []
