"""Who applies, and from which source: what the audit log records for each apply."""

from __future__ import annotations

import getpass
import subprocess
from collections.abc import Mapping, Sequence
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
    if explicit:
        return explicit
    for variable in _COMMIT_VARIABLES:
        if env.get(variable):
            return f"git:{env[variable]}"
    return _git_commit(files) or "unknown"


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
