"""Parse YAML into plain data while remembering where every value came from.

PyYAML's composer (the C one when libyaml is present) builds a node tree that keeps
each node's start mark; we build the Python values from that tree ourselves so that we
can (a) record a position for every field, (b) refuse aliases, which let a few bytes
expand into gigabytes, and (c) refuse duplicate mapping keys, which YAML loaders
otherwise resolve silently by keeping the last one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler.manifests.source import FieldPath, Position

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_scalars = yaml.constructor.SafeConstructor()


class YamlError(Exception):
    """A document that cannot be turned into data; carries where."""

    def __init__(self, position: Position, message: str) -> None:
        super().__init__(f"{position}: {message}")
        self.position = position
        self.message = message


@dataclass
class Document:
    """One YAML document: its data and the position of each field in it."""

    file: str
    index: int
    data: Any
    positions: dict[FieldPath, Position] = field(default_factory=dict)

    def position_of(self, path: FieldPath) -> Position:
        """The position of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(path[:end])
            if found is not None:
                return found
        return Position(self.file, 1, 1)


def read_documents(text: str, file: str) -> Iterator[Document]:
    """Yield each non-empty document of `text`; raise YamlError on the first bad one."""
    loader = _Loader(text)
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            document = Document(file=file, index=index, data=None)
            document.data = _Builder(document).build(node, ())
            index += 1
            yield document
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        position = _position(file, mark) if mark else Position(file, 1, 1)
        problem = error.problem or error.context or "invalid YAML"
        raise YamlError(position, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as error:
        raise YamlError(Position(file, 1, 1), f"YAML syntax error: {error}") from None
    finally:
        loader.dispose()


def _position(file: str, mark: yaml.Mark) -> Position:
    return Position(file, mark.line + 1, mark.column + 1)


class _Builder:
    """Turns one document's node tree into data, filling `document.positions`."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.seen: set[int] = set()

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        position = _position(self.document.file, node.start_mark)
        if id(node) in self.seen:
            # The composer hands back the very same node object for an alias.
            raise YamlError(position, "YAML anchors and aliases are not allowed")
        self.seen.add(id(node))
        self.document.positions[path] = position
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return _scalars.construct_object(node)

    def _mapping(self, node: yaml.MappingNode, path: FieldPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_position = _position(self.document.file, key_node.start_mark)
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError(key_position, "YAML merge keys (<<) are not allowed")
            key = (
                _scalars.construct_object(key_node)
                if isinstance(key_node, yaml.ScalarNode)
                else None
            )
            if not isinstance(key, str):
                raise YamlError(key_position, "mapping keys must be strings")
            if key in result:
                first = self.document.positions[(*path, key)]
                raise YamlError(
                    key_position, f"duplicate key {key!r} (first set at line {first.line})"
                )
            result[key] = self.build(value_node, (*path, key))
            # Errors about a field point at its key, where a reader looks for it.
            self.document.positions[(*path, key)] = key_position
        return result
