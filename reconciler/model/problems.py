"""Problems with manifests, at a file, line and column: collected, never raised one at a
time, so users see them all. Manifest checks and plan checks (Vault references) raise them.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.errors import SmtpcfgError

#: A location inside one document: mapping keys and sequence indexes from its root.
FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    """A 1-based line and column in a file."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def format_field(path: FieldPath) -> str:
    """`("spec", "from", "address")` -> `spec.from.address`; indexes as `[0]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


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

    def as_json(self) -> dict[str, str | int | None]:
        """The fields a bot reads (`validate -o json`); `resource` and `field` may be null."""
        return {
            "file": self.position.file,
            "line": self.position.line,
            "column": self.position.column,
            "resource": self.resource,
            "field": self.field,
            "message": self.message,
        }


class ManifestProblems(SmtpcfgError):
    """Raised once, after every file was read, carrying every problem found."""

    def __init__(self, problems: list[Problem], where: str = "in the manifests") -> None:
        # Duplicates dropped in the order found (a set's order changes with the hash seed),
        # then sorted stably: problems at one place keep the order they were found in.
        self.problems = sorted(dict.fromkeys(problems), key=_reading_order)
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} {where}")

    def lines(self) -> list[str]:
        return [str(problem) for problem in self.problems]


def _reading_order(problem: Problem) -> tuple[str, int, int, str]:
    position = problem.position
    return (position.file, position.line, position.column, problem.message)
