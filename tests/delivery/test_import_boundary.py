"""The runner reads the store, never manifests: a real `deliver` loads no manifest or plan code.

Which packages may import which is declared as import-linter contracts in pyproject.toml
and checked by `make test`; this test checks what a running runner actually loads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.delivery.conftest import Delivery
from tests.support.smtp import SmtpSink

FORBIDDEN = ("reconciler.manifests", "reconciler.plan")

# Writes the names of all modules loaded by the time the process exits to argv[1].
REPORT_MODULES = """
import atexit, json, sys
report = sys.argv.pop(1)
atexit.register(lambda: open(report, "w").write(json.dumps(sorted(sys.modules))))
"""


def loaded_modules(code: str, report: Path, *args: str, env: dict[str, str]) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-c", REPORT_MODULES + code, str(report), *args],
        env=env,
        cwd=report.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    modules: list[str] = json.loads(report.read_text())
    return modules


def forbidden(modules: list[str]) -> list[str]:
    return [m for m in modules if m.startswith(FORBIDDEN)]


def test_deliver_sends_without_loading_manifest_or_plan_code(
    delivery: Delivery, smtp_server: SmtpSink, tmp_path: Path
) -> None:
    job = delivery.add_invoice()

    modules = loaded_modules(
        "from reconciler.cli.main import main; main()",
        tmp_path / "modules.json",
        *delivery.deliver_args("--once"),
        env={**delivery.cli.env, **delivery.vault_env},
    )

    assert delivery.show(job)["status"] == "sent"
    assert len(smtp_server.messages) == 1
    assert "reconciler.delivery.sender" in modules
    assert forbidden(modules) == []
    # Password logins never pay for the OAuth2 library.
    assert [m for m in modules if m.startswith(("authlib", "joserfc"))] == []
    # prometheus_client only with --metrics-addr: the runner stays as light without it.
    assert not [m for m in modules if m.startswith("prometheus_client")]
    assert "reconciler.delivery.metrics" not in modules
