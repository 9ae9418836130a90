"""A password's value appears nowhere smtpcfg writes: output, plans, store, audit, logs."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.support.cli import Cli, Result
from tests.support.manifests import settings, template, user, vault_password, write_manifests
from tests.support.openbao import OpenBao
from tests.support.stores import snapshot


def test_reconciler_never_writes_the_password(
    cli: Cli, tmp_path: Path, openbao: OpenBao, store_url: str
) -> None:
    password = f"leak-canary-{uuid.uuid4().hex}"
    path = openbao.fresh_path()
    openbao.write(path, {"password": password})
    documents = [
        user("ops"),
        settings(
            "primary",
            username="mailer",
            notifyUser="ops",
            password=vault_password(f"secret/{path}"),
        ),
        template("invoice", "primary", subject="Invoice ${invoice}"),
    ]
    write_manifests(tmp_path / "m.yaml", documents)
    env = openbao.env()
    results: list[Result] = [
        cli("validate", "-f", "m.yaml", env=env),
        cli("plan", "-f", "m.yaml", env=env),
        cli("plan", "-f", "m.yaml", "--format", "json", env=env),
        cli("plan", "-f", "m.yaml", "--format", "markdown", "--out", "plan.json", env=env),
        cli("apply", "plan.json", env=env),
    ]
    documents[1]["spec"]["port"] = 2525
    write_manifests(tmp_path / "m.yaml", documents)
    results += [
        cli("apply", "-f", "m.yaml", "--auto-approve", env=env),
        cli("get", env=env),
        cli("get", "-o", "yaml", env=env),
        cli("get", "smtpsettings", "primary", "-o", "json", env=env),
        cli("export", env=env),
        cli("export", "-o", "exported/", env=env),
        cli("history", env=env),
        cli("history", "-o", "json", env=env),
        cli("history", "-o", "csv", env=env),
        cli("history", "--resource", "SmtpSettings/primary", "--field", "spec.password", env=env),
        cli("history", "--resource", "smtpsettings", "-o", "json", env=env),
        cli("history", "--verify", "-o", "json", env=env),
        cli("plan", "-f", "m.yaml", "--format", "markdown", "--max-chars", "0", env=env),
        cli("plan", "-f", "m.yaml", "--format", "json", env={**env, "SMTPCFG_DEBUG": "1"}),
    ]
    # A failing plan's error output too.
    documents[1]["spec"]["password"]["vault"]["key"] = "missing"
    write_manifests(tmp_path / "m.yaml", documents)
    results.append(cli("plan", "-f", "m.yaml", env=env))
    assert results[-1].code == 1
    assert all(r.code == 0 for r in results[:-1]), [r.output for r in results if r.code]
    assert "Digest:" in results[1].stdout  # the runs did real work

    written = [r.output for r in results]
    files = [p for p in tmp_path.rglob("*") if p.is_file()] + [openbao.audit_log]
    assert any(p.name == "plan.json" for p in files)
    for output in written:
        assert password not in output
    for file in files:
        assert password.encode() not in file.read_bytes(), file
    # The store's own content, whichever backend holds it.
    assert password not in repr(snapshot(store_url))
