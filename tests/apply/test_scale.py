"""10,000 resources through plan and apply: proves nothing is quadratic (not timed here;
bench/ measures speed)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import Cli
from tests.support.manifests import settings, user, write_manifests

N = 5_000  # settings, and as many users: 10,000 resources


def _write_folder(folder: Path, port: int) -> None:
    for part in range(10):
        documents = []
        for i in range(part * N // 10, (part + 1) * N // 10):
            documents.append(user(f"user-{i}"))
            documents.append(
                settings(f"smtp-{i}", notifyUser=f"user-{i}", port=port if i % 10 == 0 else 587)
            )
        write_manifests(folder / f"part-{part}.yaml", documents)


def test_ten_thousand_resources_plan_and_apply(cli: Cli, tmp_path: Path) -> None:
    _write_folder(tmp_path / "m", port=587)
    applied = cli("apply", "-f", "m", "--auto-approve")
    assert applied.code == 0, applied.stderr
    assert f"Apply complete: {2 * N} created" in applied.stdout
    _write_folder(tmp_path / "m", port=2525)
    planned = cli("plan", "-f", "m", "--format", "json")
    assert planned.code == 0, planned.stderr
    assert json.loads(planned.stdout)["summary"] == {
        "create": 0,
        "update": N // 10,
        "replace": 0,
        "delete": 0,
    }
    assert cli("apply", "-f", "m", "--auto-approve").code == 0
    assert cli("plan", "-f", "m", "--detailed-exitcode").code == 0
