"""Several manifest paths at once (positional and -f), one set, and `validate -o json`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import Cli
from tests.support.manifests import settings, template, user, write_manifests


def _split_set(folder: Path) -> None:
    """A settings in one file naming a User and referenced by a template in two others."""
    write_manifests(folder / "users.yaml", [user("ops")])
    write_manifests(folder / "smtp.yaml", [settings("primary", notifyUser="ops")])
    write_manifests(folder / "templates.yml", [template("invoice", "primary")])


def test_positional_and_repeated_f_paths_are_checked_as_one_set(
    bare_cli: Cli, tmp_path: Path
) -> None:
    _split_set(tmp_path / "m")
    result = bare_cli("validate", "m/users.yaml", "m/smtp.yaml", "-f", "m/templates.yml")
    assert (result.code, result.stdout) == (0, "3 resources valid.\n"), result.output
    alone = bare_cli("validate", "m/templates.yml")
    assert alone.code == 1
    assert "EmailTemplate/invoice: spec.smtpSettings: refers to SmtpSettings/primary" in (
        alone.stderr
    )


def test_a_file_given_again_inside_a_folder_is_read_once(bare_cli: Cli, tmp_path: Path) -> None:
    """What a pre-commit hook with `args: [-f, manifests/]` passes: the folder and then
    the changed files inside it."""
    _split_set(tmp_path / "m")
    result = bare_cli("validate", "-f", "m/", "m/smtp.yaml", "./m/../m/users.yaml")
    assert (result.code, result.stdout) == (0, "3 resources valid.\n"), result.output


def test_no_path_at_all_is_a_usage_error(bare_cli: Cli) -> None:
    result = bare_cli("validate")
    assert result.code == 1
    assert "Error: give the manifests: PATH... or -f PATH" in result.stderr


def test_plan_takes_positional_paths_too(cli: Cli, tmp_path: Path) -> None:
    _split_set(tmp_path / "m")
    result = cli("plan", "m/users.yaml", "m/smtp.yaml", "m/templates.yml")
    assert result.code == 0, result.output
    assert "Plan: 3 to create, 0 to update, 0 to replace, 0 to delete." in result.stdout


def test_json_lists_every_problem_with_its_place(bare_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: smtpcfg/v1\nkind: User\nmetadata: {name: ops}\nspec: {email: nope}\n"
    )
    (tmp_path / "b.yaml").write_text("kind: [\n")
    write_manifests(
        tmp_path / "c.yaml", [settings("primary", port="587"), template("invoice", "other")]
    )
    result = bare_cli("validate", "a.yaml", "b.yaml", "c.yaml", "-o", "json")
    assert result.code == 1
    assert result.stderr == "Error: 4 problems in the manifests\n"
    report = json.loads(result.stdout)
    assert (report["valid"], report["resources"]) == (False, None)
    assert report["problems"][0] == {
        "file": "a.yaml",
        "line": 4,
        "column": 8,
        "resource": "User/ops",
        "field": "spec.email",
        "message": "'nope' is not a valid email address",
    }
    syntax = report["problems"][1]
    assert (syntax["file"], syntax["resource"], syntax["field"]) == ("b.yaml", None, None)
    assert syntax["message"].startswith("YAML syntax error")
    assert [(p["file"], p["line"], p["field"]) for p in report["problems"][2:]] == [
        ("c.yaml", 7, "spec.port"),
        ("c.yaml", 17, "spec.smtpSettings"),
    ]


def test_json_of_a_valid_set_counts_its_resources(bare_cli: Cli, tmp_path: Path) -> None:
    _split_set(tmp_path / "m")
    result = bare_cli("validate", "-f", "m", "-o", "json")
    assert result.code == 0
    assert json.loads(result.stdout) == {"valid": True, "resources": 3, "problems": []}


def test_problems_come_in_the_same_order_whatever_the_hash_seed(
    bare_cli: Cli, tmp_path: Path
) -> None:
    """Several problems at one place (three missing fields) keep the order they were
    found in; a bot diffing `validate -o json` sees no change between runs."""
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: smtpcfg/v1\nkind: SmtpSettings\nmetadata: {name: x}\nspec: {}\n",
        encoding="utf-8",
    )
    runs = [
        bare_cli.subprocess("validate", "bad.yaml", "-o", "json", env={"PYTHONHASHSEED": seed})
        for seed in ("1", "2", "3", "4")
    ]
    assert [run.code for run in runs] == [1] * 4
    fields = [problem["field"] for problem in json.loads(runs[0].stdout)["problems"]]
    assert fields == ["spec.host", "spec.port", "spec.from"]
    assert {run.stdout for run in runs} == {runs[0].stdout}
