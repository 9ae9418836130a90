"""`smtpcfg history` answers an auditor's questions: filters, formats and each apply's
context, after real applies by the CLI, on both backends."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from reconciler.cli.history_output import describe_change
from reconciler.store.audit_query import HistoryQuery, ResourceFilter, answer
from reconciler.store.base import AuditEntry
from tests.support.cli import Cli
from tests.support.manifests import example_set, settings, user, vault_password, write_manifests
from tests.support.openbao import OpenBao
from tests.support.stores import execute

GITHUB = {
    "GITHUB_SERVER_URL": "https://github.example",
    "GITHUB_REPOSITORY": "acme/smtp",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_SHA": "c0ffee",
    "GITHUB_ACTOR": "ci-bot",
}


@pytest.fixture
def applied(cli: Cli, tmp_path: Path) -> Cli:
    """Three applies: alice creates; a saved plan changes the port, applied from GitHub
    Actions by ci-bot and approved by reviewer; carol adds a user from GitLab CI."""
    write_manifests(tmp_path / "m.yaml", example_set())
    assert cli("apply", "-f", "m.yaml", "--auto-approve", "--actor", "alice").code == 0
    write_manifests(tmp_path / "m.yaml", example_set(port=2525))
    assert cli("plan", "-f", "m.yaml", "--out", "p.json", "--source", "git:plan1").code == 0
    result = cli("apply", "p.json", "--approved-by", "reviewer", env=GITHUB)
    assert result.code == 0, result.output
    write_manifests(tmp_path / "m.yaml", [*example_set(port=2525), user("bob")])
    env = {"SMTPCFG_APPROVED_BY": "lead", "CI_PIPELINE_URL": "https://gitlab.example/p/1"}
    assert cli("apply", "-f", "m.yaml", "--auto-approve", "--actor", "carol", env=env).code == 0
    return cli


def test_the_audit_question_in_one_command(applied: Cli) -> None:
    result = applied("history", "--resource", "smtpsettings/primary", "--field", "spec.port")
    assert result.code == 0, result.output
    header, *lines = result.stdout.splitlines()
    assert header.split() == [
        "REVISION",
        "WHEN",
        "WHO",
        "RESOURCE",
        "FIELD",
        "CHANGE",
        "SOURCE",
        "PLAN",
    ]
    assert len(lines) == 2
    assert lines[0].split()[0] == "1" and "alice" in lines[0] and "+ 587" in lines[0]
    second = lines[1]
    assert second.split()[:1] == ["2"] and "ci-bot" in second
    assert "SmtpSettings/primary  spec.port  587 → 2525  git:plan1  sha256:" in second


def test_each_record_holds_where_the_apply_came_from(applied: Cli) -> None:
    records = json.loads(applied("history", "-o", "json").stdout)
    plan_apply = records[1]
    assert plan_apply["source"] == "git:plan1"  # the commit the plan was made from
    assert plan_apply["applyCommit"] == "git:c0ffee"  # the apply's own
    assert plan_apply["ciRun"] == "https://github.example/acme/smtp/actions/runs/4242"
    assert plan_apply["approvedBy"] == "reviewer"
    assert plan_apply["actor"] == "ci-bot"
    assert records[2]["approvedBy"] == "lead"
    assert records[2]["ciRun"] == "https://gitlab.example/p/1"
    assert records[0]["approvedBy"] is None and records[0]["ciRun"] is None
    table = applied("history").stdout
    assert "reviewer" in table and "https://github.example/acme/smtp/actions/runs/4242" in table
    assert "git:c0ffee" in table


def test_gitlab_pipeline_url_is_made_from_its_parts(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", [user("ann")])
    env = {"CI_SERVER_URL": "https://gl.example/", "CI_PROJECT_PATH": "g/p", "CI_PIPELINE_ID": "9"}
    assert cli("apply", "-f", "m.yaml", "--auto-approve", env=env).code == 0
    record = json.loads(cli("history", "-o", "json").stdout)[0]
    assert record["ciRun"] == "https://gl.example/g/p/-/pipelines/9"


def test_filters_by_resource_kind_alias_field_prefix_and_actor(applied: Cli) -> None:
    def revisions(*args: str) -> list[int]:
        result = applied("history", *args, "-o", "json")
        assert result.code == 0, result.output
        return [record["revision"] for record in json.loads(result.stdout)]

    assert revisions("--resource", "User/bob") == [3]
    assert revisions("--resource", "users") == [1, 3]
    assert revisions("--resource", "User/bob", "--resource", "EmailTemplate/invoice") == [1, 3]
    assert revisions("--field", "spec.from") == [1]
    assert revisions("--field", "spec.port") == [1, 2]
    assert revisions("--actor", "carol") == [3]
    assert revisions("--actor", "carol", "--actor", "alice") == [1, 3]
    assert revisions("--actor", "nobody") == []
    narrowed = json.loads(
        applied(
            "history", "--resource", "SmtpSettings/primary", "--field", "spec.port", "-o", "json"
        ).stdout
    )
    assert narrowed[0]["changes"] == [
        {
            "action": "create",
            "kind": "SmtpSettings",
            "name": "primary",
            "fields": [{"path": "spec.port", "after": 587}],
        }
    ]


def test_filters_by_time_and_scope(applied: Cli, tmp_path: Path, store_url: str) -> None:
    execute(
        store_url,
        ["UPDATE audit_log SET applied_at = ? WHERE revision = 1"],
        ["2026-01-10T12:00:00.000000Z"],
    )

    def revisions(*args: str) -> list[int]:
        result = applied("history", *args, "-o", "json")
        assert result.code == 0, result.output
        return [record["revision"] for record in json.loads(result.stdout)]

    assert revisions("--since", "1h") == [2, 3]
    assert revisions("--until", "2026-01-10") == [1]  # a date takes in the whole day
    assert revisions("--until", "2026-01-09") == []
    assert revisions("--since", "2026-01-10T12:00:00Z", "--until", "2026-01-10T12:00:00Z") == [1]
    assert revisions("--since", "2026-01-10T13:00+01:00", "--until", "30d") == [1]
    assert revisions("--since", "2026-01-11") == [2, 3]
    assert revisions("--until", "2026-01-10T12:00:00") == [1]  # no zone: UTC
    write_manifests(tmp_path / "other.yaml", [user("zed")])
    assert applied("apply", "-f", "other.yaml", "--auto-approve", "--scope", "team-b").code == 0
    assert revisions("--scope", "team-b") == [4]
    assert revisions("--scope", "team-b", "--resource", "User/bob") == []
    bad = applied("history", "--since", "last tuesday")
    assert bad.code == 1 and "'last tuesday' is not a time" in bad.stderr


def test_bad_resource_filters_are_usage_errors(applied: Cli) -> None:
    for value in ("Gadget/x", "User/"):
        result = applied("history", "--resource", value)
        assert result.code == 1
        assert f"{value!r} is not KIND/NAME with a known kind" in result.stderr
        assert "Traceback" not in result.output


def test_csv_has_one_row_per_field_change(applied: Cli) -> None:
    result = applied("history", "--resource", "SmtpSettings/primary", "-o", "csv")
    assert result.code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    port = [row for row in rows if row["field"] == "spec.port"]
    assert [(row["revision"], row["before"], row["after"]) for row in port] == [
        ("1", "", "587"),
        ("2", "587", "2525"),
    ]
    assert port[1]["actor"] == "ci-bot" and port[1]["approvedBy"] == "reviewer"
    assert port[1]["ciRun"].endswith("/actions/runs/4242")
    assert port[1]["source"] == "git:plan1" and port[1]["applyCommit"] == "git:c0ffee"
    assert port[1]["planDigest"].startswith("sha256:") and port[1]["hash"].startswith("sha256:")
    everything = list(csv.DictReader(io.StringIO(applied("history", "-o", "csv").stdout)))
    assert {row["resource"] for row in everything} == {
        "User/ops",
        "User/bob",
        "SmtpSettings/primary",
        "EmailTemplate/invoice",
    }
    froms = [row for row in everything if row["field"] == "spec.from.name"]
    assert froms[0]["after"] == "Billing"  # text as it is, not JSON-quoted


def test_a_replace_is_found_by_its_old_name(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", [user("old")])
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    renamed = user("new", email="old@example.com")
    renamed["metadata"]["annotations"] = {"smtpcfg.dev/renamed-from": "old"}
    write_manifests(tmp_path / "m.yaml", [renamed])
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    result = cli("history", "--resource", "User/old")
    assert result.code == 0
    lines = result.stdout.splitlines()[1:]
    assert [line.split()[0] for line in lines] == ["1", "2"]
    assert "User/new" in lines[1]


def test_passwords_show_as_reference_and_version(
    cli: Cli, tmp_path: Path, openbao: OpenBao
) -> None:
    secret = "history-password-value-93a1"
    path = openbao.fresh_path()
    openbao.write(path, {"password": secret})
    mailer = settings("primary", username="u", password=vault_password(f"secret/{path}"))
    write_manifests(tmp_path / "m.yaml", [mailer])
    assert cli("apply", "-f", "m.yaml", "--auto-approve", env=openbao.env()).code == 0
    openbao.write(path, {"password": secret + "-rotated"})
    assert cli("apply", "-f", "m.yaml", "--auto-approve", env=openbao.env()).code == 0
    other = openbao.fresh_path()
    openbao.write(other, {"password": secret + "-other"})
    moved = settings("primary", username="u", password=vault_password(f"secret/{other}"))
    write_manifests(tmp_path / "m.yaml", [moved])
    assert cli("apply", "-f", "m.yaml", "--auto-approve", env=openbao.env()).code == 0
    table = cli("history", "--resource", "SmtpSettings/primary", "--field", "spec.password")
    assert table.code == 0, table.output
    lines = table.stdout.splitlines()[1:]
    assert len(lines) == 3
    assert f"+ vault secret/{path}#password (version 1)" in lines[0]
    assert f"vault secret/{path}#password (version 1 → 2)" in lines[1]
    assert (
        f"vault secret/{path}#password → vault secret/{other}#password (version 2 → 1)"
        in (lines[2])
    )
    outputs = [
        table.stdout,
        cli("history", "-o", "csv").stdout,
        cli("history", "-o", "json").stdout,
        cli("history", "--resource", "smtpsettings", "-o", "csv").stdout,
    ]
    assert all(secret not in output for output in outputs)
    rows = list(csv.DictReader(io.StringIO(outputs[3])))
    rotation = [row for row in rows if row["action"] == "rotate"]
    assert [(row["field"], row["passwordVersion"]) for row in rotation] == [("spec.password", "2")]


def test_a_change_that_lists_no_field_is_one_line() -> None:
    change = {"action": "delete", "kind": "User", "name": "x", "fields": []}
    entry = AuditEntry(
        1, "2026-01-01T00:00:00.000000Z", "default", "a", "s", "sha256:0", [change], []
    )
    found = answer([entry], HistoryQuery(resources=(ResourceFilter("User", "x"),)))
    [line] = found.lines
    assert line.path is None and describe_change(line) == "delete"
    assert found.entries[0].changes == [change]
    assert answer([entry], HistoryQuery(fields=("spec.email",))).entries == []
