"""`plan --probe`: the settings a plan creates, changes or whose password moved are
probed, and the findings come with the plan in text, markdown and JSON."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.probe.conftest import (
    Probing,
    assert_no_mail_and_no_plaintext_auth,
    findings,
    probe_json,
)
from tests.support.smtp import SERVER_PASSWORD, SERVER_USERNAME, SIZE_LIMIT, SmtpSink


def test_findings_come_with_the_plan_in_every_format(
    probing: Probing, smtp_server: SmtpSink
) -> None:
    probing.write(probing.settings("primary", smtp_server, maxAttachmentSize=60000))

    text = probing.plan("--probe")
    markdown = probing.plan("--probe", "--format", "markdown")
    json_ = probing.plan("--probe", "--format", "json")

    assert [r.code for r in (text, markdown, json_)] == [1, 1, 1]
    assert text.stderr == (
        "Error: the probe found 1 error(s) (--probe-warn-only reports them without failing)\n"
    )
    plan_part, _, probe_part = text.stdout.partition("\n\nSmtpSettings/primary (")
    assert "  + SmtpSettings/primary" in plan_part and "Digest: sha256:" in plan_part
    assert "  error: size: maxAttachmentSize is 60000 bytes" in probe_part
    assert probe_part.endswith("Probe: 1 SmtpSettings, 1 error, 0 warnings.\n")
    assert markdown.stdout.startswith("### smtpcfg plan: 1 to create")
    assert "\n\n### smtpcfg probe: 1 SmtpSettings, 1 error, 0 warnings\n" in markdown.stdout
    assert "<summary><code>SmtpSettings/primary</code> (127.0.0.1:" in markdown.stdout
    assert "STARTTLS, startTlsOnly): 1 error</summary>" in markdown.stdout
    assert "| size | error | - |" in markdown.stdout
    assert "- **Error:** <code>SmtpSettings/primary</code> size: maxAttachmentSize" in (
        markdown.stdout
    )
    document = probe_json(json_, "plan.schema.json")
    assert document["summary"]["create"] == 1
    assert findings(document["probe"]) == {"primary": [("error", "size")]}
    assert_no_mail_and_no_plaintext_auth(smtp_server)


def test_a_probed_markdown_plan_keeps_under_max_chars_and_hides_the_store(
    probing: Probing, smtp_server: SmtpSink
) -> None:
    names = [f"settings-{i:02d}" for i in range(40)]
    probing.write(*(probing.settings(name, smtp_server) for name in names))
    capped = probing.plan("--probe", "--format", "markdown", "--max-chars", "6000", "--hide-store")
    whole = probing.plan("--probe", "--format", "markdown", "--max-chars", "0")

    assert capped.code == 0 and whole.code == 0, capped.output + whole.output
    assert len(whole.stdout) > 6000
    assert len(capped.stdout.rstrip("\n")) <= 6000
    assert capped.stdout.startswith("### smtpcfg plan: 40 to create")
    assert "left out to keep this comment under" in capped.stdout
    assert "### smtpcfg probe: 40 SmtpSettings, 0 errors, 0 warnings" in capped.stdout
    assert capped.stdout.count("<details>") < whole.stdout.count("<details>")
    assert "left out to keep this comment short; `smtpcfg probe` shows them all" in (capped.stdout)
    assert "sqlite:" not in capped.stdout and "sqlite:" in whole.stdout
    assert_no_mail_and_no_plaintext_auth(smtp_server)


def test_a_plan_whose_probe_fails_is_not_saved_unless_warn_only(
    probing: Probing, smtp_server: SmtpSink
) -> None:
    probing.write(probing.settings("primary", smtp_server, maxAttachmentSize=60000))
    saved = probing.manifests.parent / "plan.json"

    failing = probing.plan("--probe", "--out", saved)
    held_back = saved.exists()
    warned = probing.plan("--probe-warn-only", "--out", saved, "--detailed-exitcode")

    assert failing.code == 1 and not held_back
    assert failing.stderr.startswith("Error: the probe found 1 error(s); the plan was not saved")
    assert warned.code == 2, warned.output  # changes, and the error only reported
    assert "  error: size:" in warned.stdout
    assert f"Saved the plan to {saved}." in warned.stdout
    assert "probe" not in json.loads(saved.read_text())
    assert probing.run("apply", saved).code == 0


def test_only_created_changed_and_rotated_settings_are_probed(
    stored_probing: Probing, smtp_server_factory: Callable[..., SmtpSink]
) -> None:
    probing = stored_probing

    def server() -> SmtpSink:
        return smtp_server_factory(
            tls=True, username=SERVER_USERNAME, password=SERVER_PASSWORD, size_limit=SIZE_LIMIT
        )

    first, second, third, moved = server(), server(), server(), server()
    documents = [
        probing.settings("first", first),
        probing.settings("second", second),
        probing.settings("third", third),
    ]
    probing.write(*documents)
    created = probing.plan("--probe", "--format", "json")
    assert probing.run("apply", "-f", probing.manifests, "--auto-approve").code == 0
    in_sync = probing.plan("--probe")
    documents[0] = probing.settings("first", moved)
    probing.write(*documents)
    probing.set_password(SERVER_PASSWORD)  # a new version for every settings' reference
    changed = probing.plan("--probe", "--format", "json", "--detailed-exitcode")

    assert created.code == 0, created.output
    assert sorted(findings(json.loads(created.stdout)["probe"])) == ["first", "second", "third"]
    assert in_sync.code == 0, in_sync.output
    assert "No changes." in in_sync.stdout
    assert in_sync.stdout.endswith("Probe: no SmtpSettings to probe.\n")
    assert changed.code == 2, changed.output
    probed = json.loads(changed.stdout)["probe"]["settings"]
    assert [(entry["name"], entry["port"]) for entry in probed] == [
        ("first", moved.port),  # changed: probed as planned
        ("second", second.port),  # rotated in Vault: probed as stored
        ("third", third.port),
    ]
    assert len(first.sessions) == 1  # only when it was created
    assert [len(s.sessions) for s in (second, third, moved)] == [2, 2, 1]
    assert_no_mail_and_no_plaintext_auth(first, second, third, moved)


def test_without_probe_the_plan_contacts_no_smtp_server(
    probing: Probing, smtp_server: SmtpSink
) -> None:
    probing.write(probing.settings("primary", smtp_server))

    result = probing.run("plan", "-f", probing.manifests)

    assert result.code == 0 and "Probe:" not in result.stdout
    assert smtp_server.sessions == []
