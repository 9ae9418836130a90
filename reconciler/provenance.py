"""Who applies, from which source, and where: what the audit log records for each apply.

The source is the commit the plan was made from; the apply's context (`ApplyContext`) is
where the apply itself ran: its commit, its CI run and who approved it. For an apply of
a saved plan they differ (the plan job and the apply job run on different commits).
"""

from __future__ import annotations

import getpass
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: CI systems' variables naming the person or bot that started the job, first found wins.
_ACTOR_VARIABLES = (
    "GITHUB_ACTOR",
    "GITLAB_USER_LOGIN",
    "BUILD_REQUESTEDFOR",
    "BUILDKITE_BUILD_CREATOR",
)
#: CI systems' variables naming the commit being built.
_COMMIT_VARIABLES = ("GITHUB_SHA", "CI_COMMIT_SHA", "BUILD_SOURCEVERSION", "BUILDKITE_COMMIT")


def detect_actor(explicit: str | None, env: Mapping[str, str]) -> str:
    if explicit:
        return explicit
    for variable in _ACTOR_VARIABLES:
        if env.get(variable):
            return env[variable]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def detect_source(explicit: str | None, env: Mapping[str, str], files: Sequence[Path]) -> str:
    """`--source`, else the CI commit, else the manifests' git commit (`-dirty` if edited)."""
    return explicit or detect_commit(env, files) or "unknown"


def detect_commit(env: Mapping[str, str], files: Sequence[Path]) -> str | None:
    """The CI job's commit, else the git commit of `files` (of the current folder when
    there are none), as `git:SHA`, with `-dirty` when they have uncommitted edits."""
    for variable in _COMMIT_VARIABLES:
        if env.get(variable):
            return f"git:{env[variable]}"
    return _git_commit(files)


@dataclass(frozen=True)
class ApplyContext:
    """Where an apply ran, as opposed to where its plan came from (the source): the
    commit checked out, the CI run's URL, who approved the change; None when unknown."""

    commit: str | None = None
    ci_run: str | None = None
    approved_by: str | None = None


def detect_context(
    approved_by: str | None, env: Mapping[str, str], files: Sequence[Path]
) -> ApplyContext:
    """The context of an apply running now, in this environment."""
    return ApplyContext(detect_commit(env, files), detect_ci_run(env), approved_by or None)


def detect_ci_run(env: Mapping[str, str]) -> str | None:
    """The URL of the CI run: GitHub Actions' run, or GitLab CI's pipeline."""
    github = [env.get(name) for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    if all(github):
        server, repository, run_id = github
        return f"{str(server).rstrip('/')}/{repository}/actions/runs/{run_id}"
    if env.get("CI_PIPELINE_URL"):
        return env["CI_PIPELINE_URL"]
    gitlab = [env.get(name) for name in ("CI_SERVER_URL", "CI_PROJECT_PATH", "CI_PIPELINE_ID")]
    if all(gitlab):
        server, project, pipeline = gitlab
        return f"{str(server).rstrip('/')}/{project}/-/pipelines/{pipeline}"
    return None


def _git_commit(files: Sequence[Path]) -> str | None:
    folder = files[0].resolve().parent if files else Path.cwd()
    try:
        commit = _git(folder, "rev-parse", "HEAD")
        edited = _git(folder, "status", "--porcelain", "--", *(str(f.resolve()) for f in files))
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"git:{commit}{'-dirty' if edited else ''}"


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()
