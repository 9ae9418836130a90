"""Positions in manifest files, so that every error can name file, line and column."""

from __future__ import annotations

from dataclasses import dataclass

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
