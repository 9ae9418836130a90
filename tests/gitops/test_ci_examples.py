"""The example CI pipelines in examples/ci/: valid for GitHub Actions and GitLab CI (their
published schemas, offline), and every smtpcfg command line in them parses through the
real CLI's click parser: option names, choices and ranges."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from reconciler.cli.main import cli as smtpcfg
from tests.support.check_jsonschema import check_jsonschema

CI = Path(__file__).resolve().parents[2] / "examples" / "ci"
GITHUB = CI / "github" / "smtpcfg.yml"
GITLAB = CI / "gitlab" / ".gitlab-ci.yml"
SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "&", "2>", "(", ")"}


def github_scripts(workflow: dict[str, Any]) -> list[str]:
    return [
        step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step
    ]


def gitlab_scripts(pipeline: dict[str, Any]) -> list[str]:
    jobs = [value for value in pipeline.values() if isinstance(value, dict)]
    return [
        line for job in jobs for key in ("before_script", "script") for line in job.get(key, [])
    ]


def smtpcfg_commands(script: str) -> list[list[str]]:
    """The arguments of every `smtpcfg ...` in a shell script, up to a shell operator."""
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
        for index, token in enumerate(tokens):
            if token == "smtpcfg":
                words = []
                for word in tokens[index + 1 :]:
                    if word in SHELL_OPERATORS:
                        break
                    words.append(word)
                commands.append(words)
    return commands


def parse(args: list[str]) -> None:
    """Parse `smtpcfg ARGS` as the CLI would, without running it."""
    root = click.Context(smtpcfg, info_name="smtpcfg")
    command = smtpcfg.get_command(root, args[0])
    assert command is not None, f"no such command: smtpcfg {args[0]}"
    command.make_context(args[0], args[1:], parent=root)


def _commands_of(path: Path) -> list[list[str]]:
    document = yaml.safe_load(path.read_text())
    scripts = github_scripts(document) if path == GITHUB else gitlab_scripts(document)
    return [command for script in scripts for command in smtpcfg_commands(script)]


@pytest.mark.parametrize(
    ("path", "schema"),
    [(GITHUB, "vendor.github-workflows"), (GITLAB, "vendor.gitlab-ci")],
    ids=["github", "gitlab"],
)
def test_the_pipeline_is_valid_for_its_ci(path: Path, schema: str, tmp_path: Path) -> None:
    result = check_jsonschema("--builtin-schema", schema, path, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_the_pipeline_validates_plans_applies_and_watches_drift(path: Path) -> None:
    commands = [" ".join(command) for command in _commands_of(path)]
    assert commands == [
        "validate -f manifests/",
        "plan -f manifests/ --out plan.json --format markdown --max-chars 60000",
        "apply plan.json",
        "plan -f manifests/ --detailed-exitcode"
        + (" --format markdown --max-chars 60000" if path == GITHUB else ""),
    ]


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_every_smtpcfg_command_line_parses(path: Path) -> None:
    for command in _commands_of(path):
        try:
            parse(command)
        except click.ClickException as error:
            pytest.fail(f"smtpcfg {' '.join(command)}: {error.format_message()}")


def test_the_parser_check_catches_a_wrong_option() -> None:
    with pytest.raises(click.NoSuchOption):
        parse(["plan", "-f", "manifests/", "--detailed-exit-code"])
    with pytest.raises(click.BadParameter):
        parse(["plan", "-f", "manifests/", "--format", "html"])
