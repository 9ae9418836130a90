"""A probe's output never holds the password: logins accepted and refused, every format."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from tests.delivery.test_leaks import forms_of
from tests.probe.conftest import Probing
from tests.support.cli import Result
from tests.support.smtp import SERVER_USERNAME, SmtpSink


def test_the_password_is_in_no_probe_output(
    probing: Probing, smtp_server_factory: Callable[..., SmtpSink], tmp_path: Path
) -> None:
    secret = f"{uuid.uuid4().hex}-pässwörd-ǂ"
    probing.set_password(secret)
    accepting = smtp_server_factory(
        tls=True, username=SERVER_USERNAME, password=secret, auth_required=True
    )
    refusing = smtp_server_factory(
        tls=True, username=SERVER_USERNAME, password="other", auth_required=True
    )
    probing.write(probing.settings("accepting", accepting), probing.settings("refusing", refusing))
    results: list[Result] = [
        probing.probe("-f", probing.manifests),
        probing.probe("-f", probing.manifests, "-o", "json"),
        probing.plan("--probe"),
        probing.plan("--probe", "--format", "markdown"),
        probing.plan("--probe-warn-only", "--format", "json", "--out", tmp_path / "plan.json"),
        probing.cli(
            "probe", "-f", probing.manifests, "--ca-file", probing.ca_file,
            env={**probing.env, "SMTPCFG_DEBUG": "1"},
        ),
    ]  # fmt: skip

    assert [r.code for r in results] == [1, 1, 1, 1, 0, 1]
    assert all("refused the login: 535" in r.stdout for r in results)
    assert [a.succeeded for s in accepting.sessions for a in s.auth] == [True] * 6
    written = "".join(r.stdout + r.stderr for r in results).encode()
    written += (tmp_path / "plan.json").read_bytes()
    for form in forms_of(secret):
        assert form not in written
