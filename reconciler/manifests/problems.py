"""Manifest problems: collected, never raised one at a time, so users see them all."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.errors import SmtpcfgError
from reconciler.manifests.source import Position


@dataclass(frozen=True, order=True)
class Problem:
    """One line of `file:line:col: Kind/name: field: message`."""

    position: Position
    resource: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        parts = [str(self.position)]
        if self.resource:
            parts.append(self.resource)
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


class ManifestProblems(SmtpcfgError):
    """Raised once, after every file was read, carrying every problem found."""

    def __init__(self, problems: list[Problem], where: str = "in the manifests") -> None:
        self.problems = sorted(set(problems), key=_reading_order)
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} {where}")

    def lines(self) -> list[str]:
        return [str(problem) for problem in self.problems]


def _reading_order(problem: Problem) -> tuple[str, int, int, str]:
    position = problem.position
    return (position.file, position.line, position.column, problem.message)
