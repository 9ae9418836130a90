"""What `plan` prints through the real CLI: text, JSON, Markdown, colour."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from jsonschema import Draft202012Validator

from reconciler import schemas
from tests.support.cli import Cli
from tests.support.manifests import example_set, settings, user, write_manifests


def test_text_plan_shows_create_update_replace_delete(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", [*example_set(), user("old"), user("leaving")])
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    renamed = user("new", email="old@example.com")
    renamed["metadata"]["annotations"] = {"smtpcfg.dev/renamed-from": "old"}
    write_manifests(tmp_path / "m.yaml", [*example_set(port=2525), renamed, user("joining")])
    result = cli("plan", "-f", "m.yaml")
    assert result.code == 0, result.output
    out = result.stdout
    assert '  + User/joining\n      + spec.email: "joining@example.com"' in out
    assert "  ~ SmtpSettings/primary\n      ~ spec.port: 587 → 2525" in out
    assert "  -/+ User/new (replaces User/old)\n" in out
    assert "  - User/leaving\n" in out
    assert "Plan: 1 to create, 1 to update, 1 to replace, 1 to delete." in out
    assert "\x1b[" not in out
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    items = json.loads(cli("get", "user", "-o", "json").stdout)["items"]
    names = [item["metadata"]["name"] for item in items]
    assert names == ["joining", "new", "ops"]
    assert cli("plan", "-f", "m.yaml", "--detailed-exitcode").code == 0


def test_json_plan_matches_the_published_schema(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", example_set())
    result = cli("plan", "-f", "m.yaml", "--format", "json")
    assert result.code == 0, result.output
    document = json.loads(result.stdout)
    Draft202012Validator.check_schema(
        json.loads((schemas.schema_dir() / "plan.schema.json").read_text())
    )
    assert schemas.is_valid("plan.schema.json", document)
    assert list(schemas.errors("plan.schema.json", document)) == []
    assert document["summary"] == {"create": 3, "update": 0, "replace": 0, "delete": 0}
    assert [c["action"] for c in document["changes"]] == ["create"] * 3


def test_markdown_escapes_values_that_could_break_the_table(cli: Cli, tmp_path: Path) -> None:
    tricky = "a | b `code` <b>bold</b> </details>"
    write_manifests(tmp_path / "m.yaml", [settings("primary", description=tricky)])
    result = cli("plan", "-f", "m.yaml", "--format", "markdown")
    assert result.code == 0, result.output
    description = next(line for line in result.stdout.splitlines() if "spec.description" in line)
    # Three cells means four unescaped pipes: the value's own | and ` are entities.
    assert description.count("|") == 4
    assert "`" not in description and "<b>" not in description
    assert "a &#124; b &#96;code&#96; &lt;b&gt;bold&lt;/b&gt; &lt;/details&gt;" in description
    assert result.stdout.startswith("### smtpcfg plan: 1 to create, 0 to update")
    assert result.stdout.count("</details>") == 1


def test_colour_only_on_a_terminal_and_never_with_no_color(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", example_set())

    def on_terminal(extra_env: dict[str, str]) -> bytes:
        controller, terminal = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", "plan", "-f", "m.yaml"],
            cwd=tmp_path,
            env={**cli.env, **extra_env},
            stdout=terminal,
            stderr=terminal,
            stdin=subprocess.DEVNULL,
        )
        os.close(terminal)
        output = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        process.wait(timeout=60)
        os.close(controller)
        return output

    assert b"\x1b[32m" in on_terminal({})
    assert b"\x1b[" not in on_terminal({"NO_COLOR": "1"})
