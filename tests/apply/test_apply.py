"""apply through the real CLI: saved plans, the safety threshold, approval, audit."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import Cli
from tests.support.manifests import example_set, user, write_manifests
from tests.support.stores import backend, execute, is_empty, snapshot


def test_apply_then_plan_shows_no_changes(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", example_set())
    assert cli("plan", "-f", "m.yaml", "--detailed-exitcode").code == 2
    applied = cli("apply", "-f", "m.yaml", "--auto-approve")
    assert applied.code == 0, applied.output
    assert "Apply complete: 3 created, 0 updated, 0 replaced, 0 deleted." in applied.stdout
    again = cli("plan", "-f", "m.yaml", "--detailed-exitcode")
    assert again.code == 0, again.output
    assert "No changes." in again.stdout


def test_export_then_plan_shows_no_changes(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", example_set())
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    assert cli("export", "-o", "one.yaml").code == 0
    assert cli("export", "-o", "folder/").code == 0
    assert sorted(p.name for p in (tmp_path / "folder").iterdir()) == [
        "emailtemplate.yaml",
        "smtpsettings.yaml",
        "user.yaml",
    ]
    for exported in ("one.yaml", "folder"):
        result = cli("plan", "-f", exported, "--detailed-exitcode")
        assert result.code == 0, result.output
    stdout_export = cli("export").stdout
    assert cli("plan", "-f", "-", "--detailed-exitcode", input=stdout_export).code == 0
    assert "uid" not in stdout_export and "generation" not in stdout_export


def test_saved_plan_applies_and_prints_its_digest(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", example_set())
    planned = cli("plan", "-f", "m.yaml", "--out", "plan.json")
    digest = json.loads((tmp_path / "plan.json").read_text())["digest"]
    assert f"Digest: {digest}" in planned.stdout
    applied = cli("apply", "plan.json")
    assert applied.code == 0, applied.output
    assert digest in applied.stdout
    entry = json.loads(cli("history", "-o", "json").stdout)[-1]
    assert entry["planDigest"] == digest


def test_stale_saved_plan_is_refused(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", example_set())
    assert cli("plan", "-f", "m.yaml", "--out", "first.json").code == 0
    assert cli("plan", "-f", "m.yaml", "--out", "second.json").code == 0
    assert cli("apply", "first.json").code == 0
    result = cli("apply", "second.json")
    assert result.code == 1
    assert "the plan was made at store revision 0, but the store is now at revision 1" in (
        result.stderr
    )


def test_plan_for_another_store_is_refused(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", example_set())
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert cli("init", "--store", other).code == 0
    assert cli("apply", "-f", "m.yaml", "--auto-approve", "--store", other).code == 0
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    write_manifests(tmp_path / "m.yaml", example_set(port=25))
    assert cli("plan", "-f", "m.yaml", "--out", "p.json", "--store", other).code == 0
    result = cli("apply", "p.json")
    assert result.code == 1
    assert "the plan was made against another store" in result.stderr


def test_edited_plan_file_is_refused(cli: Cli, tmp_path: Path, store_url: str) -> None:
    write_manifests(tmp_path / "m.yaml", example_set())
    assert cli("plan", "-f", "m.yaml", "--out", "p.json").code == 0
    plan = json.loads((tmp_path / "p.json").read_text())
    plan["changes"][1]["after"]["spec"]["host"] = "attacker.example.net"
    (tmp_path / "p.json").write_text(json.dumps(plan))
    result = cli("apply", "p.json")
    assert result.code == 1
    assert "does not match its digest" in result.stderr
    assert is_empty(store_url)


# A real failure inside the transaction: the database refuses one of the writes.
REFUSE_ZETA = {
    "sqlite": [
        "CREATE TRIGGER refuse BEFORE INSERT ON resources WHEN NEW.name = 'zeta' "
        "BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
        "IF NEW.name = 'zeta' THEN RAISE EXCEPTION 'disk says no'; END IF; RETURN NEW; END "
        "$$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse BEFORE INSERT ON resources FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}


def test_failed_apply_changes_nothing(cli: Cli, tmp_path: Path, store_url: str) -> None:
    write_manifests(tmp_path / "m.yaml", example_set())
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    execute(store_url, REFUSE_ZETA[backend(store_url)])
    before = snapshot(store_url)
    write_manifests(tmp_path / "m.yaml", [*example_set(port=2525), user("alpha"), user("zeta")])
    result = cli("apply", "-f", "m.yaml", "--auto-approve")
    assert result.code == 1
    assert "Error: apply failed and was rolled back; nothing changed: " in result.stderr
    assert "disk says no" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(store_url) == before


def test_safety_threshold_blocks_apply_and_force_passes(cli: Cli, tmp_path: Path) -> None:
    users = [user(f"u{i:02d}") for i in range(20)]
    write_manifests(tmp_path / "m.yaml", users)
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    write_manifests(tmp_path / "m.yaml", users[:12])  # deletes 8 of 20 = 40 %
    planned = cli("plan", "-f", "m.yaml", "--detailed-exitcode")
    assert planned.code == 2
    assert "Warning: the plan would delete 8 of 20 stored resources (40 %)" in planned.stdout
    blocked = cli("apply", "-f", "m.yaml", "--auto-approve")
    assert blocked.code == 1
    assert "refusing to apply" in blocked.stderr and "--force" in blocked.stderr
    assert len(json.loads(cli("get", "-o", "json").stdout)["items"]) == 20
    assert cli("apply", "-f", "m.yaml", "--auto-approve", "--safety-threshold", "50").code == 0
    write_manifests(tmp_path / "m.yaml", users[:2])
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 1
    assert cli("apply", "-f", "m.yaml", "--auto-approve", "--force").code == 0
    assert len(json.loads(cli("get", "-o", "json").stdout)["items"]) == 2


def test_updates_count_against_the_threshold_too(cli: Cli, tmp_path: Path) -> None:
    users = [user(f"u{i:02d}") for i in range(10)]
    write_manifests(tmp_path / "m.yaml", users)
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    changed = [user(f"u{i:02d}", displayName="New") if i < 4 else users[i] for i in range(10)]
    write_manifests(tmp_path / "m.yaml", changed)
    result = cli("apply", "-f", "m.yaml", "--auto-approve")
    assert result.code == 1
    assert "update 4 of 10 stored resources" in result.stderr


def test_apply_without_a_terminal_needs_auto_approve(
    cli: Cli, tmp_path: Path, store_url: str
) -> None:
    write_manifests(tmp_path / "m.yaml", example_set())
    result = cli("apply", "-f", "m.yaml")
    assert result.code == 1
    assert "--auto-approve" in result.stderr
    assert is_empty(store_url)


@pytest.mark.parametrize(("answer", "applied"), [("yes", True), ("y", False), ("no", False)])
def test_apply_asks_on_a_terminal(cli: Cli, tmp_path: Path, answer: str, applied: bool) -> None:
    write_manifests(tmp_path / "m.yaml", example_set())
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "-f", "m.yaml"],
        cwd=tmp_path,
        env=cli.env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    seen = b""
    while b"Only 'yes' will be accepted" not in seen:
        seen += os.read(controller, 65536)
    os.write(controller, answer.encode() + b"\n")
    try:
        while os.read(controller, 65536):
            pass
    except OSError:
        pass
    assert process.wait(timeout=60) == (0 if applied else 1)
    os.close(controller)
    history = json.loads(cli("history", "-o", "json").stdout)
    assert len(history) == (1 if applied else 0)


def test_audit_record_names_actor_source_digest_and_changes(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", example_set())
    assert (
        cli(
            "apply", "-f", "m.yaml", "--auto-approve", "--actor", "alice", "--source", "change-42"
        ).code
        == 0
    )
    write_manifests(tmp_path / "m.yaml", example_set(port=25))
    assert (
        cli(
            "apply",
            "-f",
            "m.yaml",
            "--auto-approve",
            env={"GITHUB_ACTOR": "ci-bot", "GITHUB_SHA": "abc123"},
        ).code
        == 0
    )
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "m.yaml"], cwd=tmp_path, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "m"],
        cwd=tmp_path,
        check=True,
    )
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tmp_path, check=True, capture_output=True, text=True
    ).stdout.strip()
    write_manifests(tmp_path / "m.yaml", example_set(port=26))
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    history = json.loads(cli("history", "-o", "json").stdout)
    assert [(e["actor"], e["source"]) for e in history] == [
        ("alice", "change-42"),
        ("ci-bot", "git:abc123"),
        (_os_user(), f"git:{commit}-dirty"),
    ]
    assert history[1]["changes"] == [
        {
            "action": "update",
            "kind": "SmtpSettings",
            "name": "primary",
            "fields": [{"path": "spec.port", "before": 587, "after": 25}],
        }
    ]
    assert all(e["planDigest"].startswith("sha256:") for e in history)
    assert [e["revision"] for e in history] == [1, 2, 3]
    table = cli("history").stdout.splitlines()
    assert [cell.strip() for cell in table[0].split("  ") if cell.strip()] == [
        "REVISION",
        "APPLIED",
        "SCOPE",
        "ACTOR",
        "APPROVED BY",
        "SOURCE",
        "APPLY COMMIT",
        "CI RUN",
        "DIGEST",
        "CHANGES",
    ]
    assert table[1].split()[2:6] == ["default", "alice", "-", "change-42"]


def _os_user() -> str:
    import getpass

    return getpass.getuser()


def test_source_override_keeps_the_reviewed_digest(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", example_set())
    assert cli("plan", "-f", "m.yaml", "--out", "p.json").code == 0
    digest = json.loads((tmp_path / "p.json").read_text())["digest"]
    assert cli("apply", "p.json", "--source", "release-7").code == 0
    entry = json.loads(cli("history", "-o", "json").stdout)[0]
    assert (entry["planDigest"], entry["source"]) == (digest, "release-7")


def test_saved_plan_is_not_applied_to_a_missing_store(sqlite_cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", example_set())
    assert sqlite_cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    write_manifests(tmp_path / "m.yaml", example_set(port=25))
    assert sqlite_cli("plan", "-f", "m.yaml", "--out", "p.json").code == 0
    typo = f"sqlite:///{tmp_path / 'typo.db'}"
    result = sqlite_cli("apply", "p.json", "--store", typo)
    assert result.code == 1
    assert f"store sqlite:///{tmp_path / 'typo.db'} does not exist" in result.stderr
    assert not (tmp_path / "typo.db").exists()


def test_deleting_everything_needs_force_even_in_a_small_store(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", [user("ops")])
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    (tmp_path / "m.yaml").write_text("", encoding="utf-8")
    planned = cli("plan", "-f", "m.yaml")
    assert "Warning: the plan would delete every one of the 1 resources" in planned.stdout
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 1
    assert cli("apply", "-f", "m.yaml", "--auto-approve", "--force").code == 0
