"""`smtpcfg probe` through the real CLI, against real SMTP servers and OpenBao."""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Callable
from pathlib import Path

import trustme

from tests.probe.conftest import (
    Probing,
    assert_no_mail_and_no_plaintext_auth,
    findings,
    probe_json,
)
from tests.support.smtp import SERVER_PASSWORD, SERVER_USERNAME, SIZE_LIMIT, SmtpSink


def test_probe_of_manifests_shows_each_step_and_fails_on_an_error(
    probing: Probing, smtp_server: SmtpSink
) -> None:
    probing.write(
        probing.settings("fits", smtp_server, maxAttachmentSize="40KB"),
        probing.settings("too-big", smtp_server, maxAttachmentSize=60000),
    )

    text = probing.probe("-f", probing.manifests)
    json_ = probing.probe("-f", probing.manifests, "-o", "json")

    assert text.code == 1
    assert text.stderr == "Error: the probe found 1 error(s)\n"
    lines = text.stdout.splitlines()
    assert lines[0] == f"SmtpSettings/fits (127.0.0.1:{smtp_server.port}, STARTTLS, startTlsOnly)"
    assert lines[1].split() == ["STEP", "RESULT", "TIME", "DETAIL"]
    assert [line.split()[0] for line in lines[2:11]] == [
        "dns", "tcp", "greeting", "tls", "certificate", "ehlo", "size", "auth", "quit",
    ]  # fmt: skip
    assert all(line.split()[1] == "ok" for line in lines[2:11])
    assert "  error: size: maxAttachmentSize is 60000 bytes, 82106 bytes as base64" in text.stdout
    assert text.stdout.endswith("Probe: 2 SmtpSettings, 1 error, 0 warnings.\n")
    assert json_.code == 1
    report = probe_json(json_)
    assert findings(report) == {"fits": [], "too-big": [("error", "size")]}
    assert report["summary"] == {"probed": 2, "errors": 1, "warnings": 0}
    step = report["settings"][0]["steps"][0]
    assert step["step"] == "dns" and step["seconds"] >= 0
    assert len(smtp_server.sessions) == 4
    assert_no_mail_and_no_plaintext_auth(smtp_server)


def test_probe_selects_settings_by_name_and_names_the_missing(
    probing: Probing, smtp_server: SmtpSink, plain_smtp_server: SmtpSink
) -> None:
    probing.write(
        probing.settings("good", smtp_server), probing.settings("plain", plain_smtp_server)
    )

    selected = probing.probe("-f", probing.manifests, "--settings", "good", "-o", "json")
    missing = probing.probe("-f", probing.manifests, "--settings", "good", "--settings", "nope")

    assert selected.code == 0, selected.output
    assert [entry["name"] for entry in probe_json(selected)["settings"]] == ["good"]
    assert plain_smtp_server.sessions == []
    assert missing.code == 1
    assert missing.stderr == "Error: SmtpSettings/nope not found in the manifests\n"


def test_probe_of_stored_settings(stored_probing: Probing, smtp_server: SmtpSink) -> None:
    probing = stored_probing
    probing.write(probing.settings("primary", smtp_server, maxAttachmentSize="40KB"))
    assert probing.run("apply", "-f", probing.manifests, "--auto-approve").code == 0

    every = probing.probe("-o", "json")
    named = probing.probe("--settings", "primary")
    missing = probing.probe("--settings", "other")

    assert every.code == 0, every.output
    assert findings(probe_json(every)) == {"primary": []}
    assert named.code == 0 and "Probe: 1 SmtpSettings, 0 errors, 0 warnings." in named.stdout
    assert missing.code == 1
    assert missing.stderr.startswith("Error: SmtpSettings/other not found in sqlite:///") or (
        missing.stderr.startswith("Error: SmtpSettings/other not found in postgresql://")
    )
    assert len(smtp_server.sessions) == 2
    assert_no_mail_and_no_plaintext_auth(smtp_server)


def test_a_store_without_settings_has_nothing_to_probe(probing: Probing) -> None:
    result = probing.probe()

    assert (result.code, result.stdout) == (0, "Probe: no SmtpSettings to probe.\n")


def test_expiry_days_sets_when_a_certificate_warns(
    probing: Probing, smtp_ca: trustme.CA, smtp_server_factory: Callable[..., SmtpSink]
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=5, hours=1)
    smtp_ca.issue_cert("localhost", "127.0.0.1", not_after=soon).configure_cert(context)
    server = smtp_server_factory(
        tls=context, username=SERVER_USERNAME, password=SERVER_PASSWORD, size_limit=SIZE_LIMIT
    )
    probing.write(probing.settings("primary", server))

    default = probing.probe("-f", probing.manifests)
    relaxed = probing.probe("-f", probing.manifests, "--expiry-days", "3")

    assert default.code == 0, default.output  # a warning alone does not fail
    assert "  warning: certificate: the certificate of" in default.stdout
    assert "expires in 5 days" in default.stdout
    assert "Probe: 1 SmtpSettings, 0 errors, 1 warning." in default.stdout
    assert relaxed.code == 0 and "warning:" not in relaxed.stdout


def test_unreachable_and_unresolvable_servers_are_errors(probing: Probing) -> None:
    from tests.support.smtp import free_port

    probing.write(
        probing.settings("nowhere", None, host="no-such-host.invalid"),
        probing.settings("closed", None, port=free_port()),
    )

    result = probing.probe("-f", probing.manifests, "-o", "json")

    assert result.code == 1
    assert findings(probe_json(result)) == {
        "closed": [("error", "tcp")],
        "nowhere": [("error", "dns")],
    }


def test_a_ca_file_that_is_not_pem_is_one_clear_error(probing: Probing, tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    probing.write(probing.settings("primary", None))

    result = probing.run("probe", "-f", probing.manifests, "--ca-file", bad)

    assert result.code == 1
    assert result.stderr.startswith(f"Error: cannot load CA file {bad}:")
    assert len(result.stderr.splitlines()) == 1


def test_a_password_vault_cannot_give_fails_the_login_step_only(
    probing: Probing, smtp_server: SmtpSink
) -> None:
    documents = [probing.settings("primary", smtp_server)]
    documents[0]["spec"]["password"]["vault"]["key"] = "missing"
    probing.write(*documents)

    result = probing.probe("-f", probing.manifests, "-o", "json")

    assert result.code == 1
    [entry] = probe_json(result)["settings"]
    assert [(f["level"], f["step"]) for f in entry["findings"]] == [("error", "auth")]
    [auth] = [step for step in entry["steps"] if step["step"] == "auth"]
    assert auth["detail"].startswith(
        f"the password could not be read: vault secret/{probing.vault_path}#missing:"
    )
    [session] = smtp_server.sessions
    assert "AUTH" not in session.verbs and "STARTTLS" in session.verbs


def test_port_465_is_probed_with_tls_from_the_first_byte(
    probing: Probing, smtp_server_factory: Callable[..., SmtpSink]
) -> None:
    # Port 465 itself, as users configure it: binding it needs root (or
    # CAP_NET_BIND_SERVICE), which the test machine has.
    server = smtp_server_factory(
        tls=True,
        implicit_tls=True,
        port=465,
        username=SERVER_USERNAME,
        password=SERVER_PASSWORD,
        size_limit=SIZE_LIMIT,
    )
    probing.write(probing.settings("ssl", server, maxAttachmentSize="40KB"))

    result = probing.probe("-f", probing.manifests, "-o", "json")

    assert result.code == 0, result.output
    [entry] = probe_json(result)["settings"]
    assert (entry["port"], entry["tls"], entry["findings"]) == (465, "implicit", [])
    [tls] = [step for step in entry["steps"] if step["step"] == "tls"]
    assert tls["detail"].startswith("implicit TLS (port 465): TLSv1.")
    [session] = server.sessions
    assert all(command.tls for command in session.commands)
    assert_no_mail_and_no_plaintext_auth(server)
