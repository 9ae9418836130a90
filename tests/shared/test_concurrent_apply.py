"""Two pipelines applying at once: the store ends in one of their states, never a mix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.cli import Cli
from tests.support.manifests import settings, user, write_manifests


def _state(cli: Cli) -> dict[str, int]:
    items = json.loads(cli("get", "smtpsettings", "-o", "json").stdout)["items"]
    return {item["metadata"]["name"]: item["spec"]["port"] for item in items}


def test_concurrent_applies_never_interleave(cli: Cli, tmp_path: Path) -> None:
    # Both sets rewrite every resource, so any interleaving would show as a mix of ports.
    names = [f"s{i:03d}" for i in range(150)]
    desired = {
        "a": {name: 2500 for name in names},
        "b": {name: 2600 for name in names[:100]},  # b also deletes the last 50
    }
    for label, ports in desired.items():
        write_manifests(
            tmp_path / f"{label}.yaml",
            [user("ops"), *(settings(n, port=p) for n, p in ports.items())],
        )
    seed = [user("ops"), *(settings(n, port=25) for n in names)]
    write_manifests(tmp_path / "seed.yaml", seed)
    for _ in range(3):
        assert cli("apply", "-f", "seed.yaml", "--auto-approve", "--force").code == 0
        before = len(json.loads(cli("history", "-o", "json").stdout))
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "reconciler",
                    "apply",
                    "-f",
                    f"{label}.yaml",
                    "--auto-approve",
                    "--force",
                    "--actor",
                    label,
                ],
                cwd=tmp_path,
                env=cli.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for label in desired
        ]
        outcomes = {
            label: (*p.communicate(timeout=120), p.returncode)
            for label, p in zip(desired, processes, strict=True)
        }
        winners = [label for label, (_, _, code) in outcomes.items() if code == 0]
        for _, stderr, code in outcomes.values():
            if code != 0:
                assert "make a new plan" in stderr or "lock" in stderr, stderr
        assert winners, outcomes
        # The audit log holds exactly the applies that succeeded, and the last one of
        # them is the state the store is in.
        history = json.loads(cli("history", "-o", "json").stdout)[before:]
        assert sorted(entry["actor"] for entry in history) == sorted(winners)
        assert _state(cli) == desired[history[-1]["actor"]]
