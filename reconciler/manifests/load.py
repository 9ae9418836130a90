"""Load manifests from files, folders and stdin into checked, normalized resources."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from reconciler.gc_pause import paused_gc
from reconciler.kinds import references_of
from reconciler.manifests.normalize import normalize
from reconciler.manifests.schema_check import schema_problems
from reconciler.manifests.yaml_reader import Document, YamlError, read_documents
from reconciler.model import ManifestProblems, Position, Problem, Resource, ResourceKey

STDIN = "-"
_SUFFIXES = (".yaml", ".yml")


@dataclass
class Manifests:
    """The declared resources and where each one was declared."""

    resources: dict[ResourceKey, Resource] = field(default_factory=dict)
    documents: dict[ResourceKey, Document] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def position_of(self, key: ResourceKey, field_name: str) -> Position:
        """Where `field_name` (dotted, e.g. `spec.password`) of `key` was written."""
        return self.documents[key].position_of(tuple(field_name.split(".")))


def load_manifests(paths: Sequence[str], stdin: TextIO | None = None) -> Manifests:
    """Read every manifest under `paths`; raise ManifestProblems listing every problem.

    `-` reads `stdin`, by default the `sys.stdin` of the moment of the call.
    """
    with paused_gc():
        return _load(paths, stdin or sys.stdin)


def _load(paths: Sequence[str], stdin: TextIO) -> Manifests:
    problems: list[Problem] = []
    manifests = Manifests()
    first_seen: dict[str, Position] = {}
    documents: list[Document] = []
    for label, text in _read_sources(paths, stdin, problems, manifests.files):
        try:
            for document in read_documents(text, label):
                documents.append(document)
        except YamlError as error:
            problems.append(Problem(error.position, None, None, error.message))
    for document in documents:
        resource = _checked_resource(document, problems)
        label = _label(document.data)
        position = document.position_of(())
        if "?" in label:
            continue
        if label in first_seen:
            problems.append(
                Problem(position, label, None, f"duplicate: also declared at {first_seen[label]}")
            )
            continue
        first_seen[label] = position
        if resource is not None:
            manifests.resources[resource.key] = resource
            manifests.documents[resource.key] = document
    problems.extend(_dangling_references(manifests, set(first_seen)))
    if problems:
        raise ManifestProblems(problems)
    return manifests


def _read_sources(
    paths: Sequence[str], stdin: TextIO, problems: list[Problem], files: list[Path]
) -> Iterable[tuple[str, str]]:
    """(label, text) for each manifest file, once each; unreadable paths become problems.

    A file named twice (`-f manifests/` and `manifests/smtp.yaml`, as a pre-commit hook
    with `args: [-f, manifests/]` passes it) is read once, so it declares nothing twice.
    """
    seen: set[Path] = set()
    for given in paths:
        if given == STDIN:
            yield "<stdin>", stdin.read()
            continue
        for path in _expand(Path(given), problems):
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                problems.append(
                    Problem(
                        Position(str(path), 1, 1), None, None, f"cannot read file: {_reason(error)}"
                    )
                )
                continue
            files.append(path)
            yield str(path), text


def _expand(path: Path, problems: list[Problem]) -> list[Path]:
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
        if not found:
            problems.append(
                Problem(
                    Position(str(path), 1, 1), None, None, "folder holds no *.yaml or *.yml files"
                )
            )
        return found
    if not path.exists():
        problems.append(Problem(Position(str(path), 1, 1), None, None, "no such file or folder"))
        return []
    return [path]


def _reason(error: Exception) -> str:
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    return getattr(error, "strerror", None) or str(error)


def _checked_resource(document: Document, problems: list[Problem]) -> Resource | None:
    """The normalized resource, or None after recording why the document is invalid."""
    data: Any = document.data
    if not isinstance(data, dict):
        problems.append(
            Problem(
                document.position_of(()),
                None,
                None,
                "a manifest document must be a mapping with apiVersion, kind, metadata and spec",
            )
        )
        return None
    found = list(schema_problems(document, _label(data)))
    if found:
        problems.extend(found)
        return None
    return normalize(data)


def _label(data: Any) -> str:
    """`Kind/name` as far as the document says, also for invalid documents."""
    if not isinstance(data, dict):
        return "?/?"
    kind = data.get("kind") if isinstance(data.get("kind"), str) else "?"
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f"{kind}/{name if isinstance(name, str) else '?'}"


def _dangling_references(manifests: Manifests, declared: set[str]) -> list[Problem]:
    """References to nothing declared. `declared` includes invalid documents: their own
    problems are reported already, and a reference to them is not a second one."""
    return [
        Problem(
            manifests.position_of(key, field_name),
            str(key),
            field_name,
            f"refers to {target}, which is not declared",
        )
        for key, resource in manifests.resources.items()
        for target, field_name in references_of(key, resource.spec)
        if str(target) not in declared
    ]
