"""The shipped pre-commit hook, run by pre-commit itself on a repository of manifests.

pre-commit installs a clone of this repository into a virtualenv of its own (pip, from
the configured package index); every run here shares one PRE_COMMIT_HOME, so that is
done once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.manifests import settings, template, user, write_manifests

REPO = Path(__file__).resolve().parents[2]
PRE_COMMIT = str(Path(sys.executable).parent / "pre-commit")


class Project:
    """A git repository of manifests, as a team keeps them, and pre-commit run in it."""

    def __init__(self, root: Path, hooks_repo: Path, env: dict[str, str]) -> None:
        self.root = root
        self.hooks_repo = hooks_repo
        self.env = env

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.root, env=self.env, check=True, capture_output=True, text=True
        ).stdout

    def pre_commit(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PRE_COMMIT, *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    work = tmp_path_factory.mktemp("pre-commit")
    hooks_repo = work / "smtpcfg"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-local", str(REPO), str(hooks_repo)], check=True
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))},
        "PRE_COMMIT_HOME": str(work / "cache"),  # one virtualenv for every run below
        "HOME": str(work),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    root = work / "project"
    root.mkdir()
    project = Project(root, hooks_repo, env)
    project.git("init", "--quiet")
    write_manifests(root / "manifests" / "users.yaml", [user("ops")])
    write_manifests(root / "manifests" / "smtp.yaml", [settings("primary", notifyUser="ops")])
    write_manifests(root / "manifests" / "templates.yaml", [template("invoice", "primary")])
    (root / "README.md").write_text("not a manifest\n")
    project.git("add", ".")
    yield project


def test_try_repo_passes_good_manifests_and_fails_a_broken_one(project: Project) -> None:
    good = project.pre_commit("try-repo", str(project.hooks_repo), "smtpcfg-validate", "-a")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "smtpcfg validate" in good.stdout and "Passed" in good.stdout

    broken = project.root / "manifests" / "broken.yaml"
    write_manifests(broken, [settings("backup", port="587")])
    project.git("add", "manifests/broken.yaml")
    try:
        failed = project.pre_commit("try-repo", str(project.hooks_repo), "smtpcfg-validate", "-a")
    finally:
        project.git("rm", "--quiet", "--cached", "manifests/broken.yaml")
        broken.unlink()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Failed" in failed.stdout
    assert (
        "manifests/broken.yaml:7:3: SmtpSettings/backup: spec.port: expected an integer, "
        "got a string" in failed.stdout
    )


def test_the_documented_args_check_the_whole_set_when_one_file_changed(
    project: Project,
) -> None:
    """pre-commit passes only the changed file; `args: [-f, manifests/]` adds the rest."""
    rev = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=project.hooks_repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    changed = ("--files", "manifests/templates.yaml")
    for args, expected_code in (("[-f, manifests/]", 0), ("[]", 1)):
        (project.root / ".pre-commit-config.yaml").write_text(
            "repos:\n"
            f"  - repo: {project.hooks_repo}\n"
            f"    rev: {rev}\n"
            "    hooks:\n"
            "      - id: smtpcfg-validate\n"
            f"        args: {args}\n"
        )
        result = project.pre_commit("run", *changed)
        assert result.returncode == expected_code, (args, result.stdout + result.stderr)
    assert "EmailTemplate/invoice: spec.smtpSettings: refers to SmtpSettings/primary" in (
        result.stdout
    )
