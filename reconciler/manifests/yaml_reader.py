"""Parse YAML into plain data while remembering where every value came from.

PyYAML's composer (the C one when libyaml is present) builds a node tree that keeps
each node's start mark; we build the Python values from that tree ourselves so that we
can (a) name the position of any field (the file is composed again when an error asks
for one), (b) refuse aliases, which let a few bytes expand into gigabytes, and (c) refuse
duplicate mapping keys, which YAML loaders otherwise resolve silently by keeping the last
one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler.model import FieldPath, Position

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_scalars = yaml.constructor.SafeConstructor()


class YamlError(Exception):
    """A document that cannot be turned into data; carries where."""

    def __init__(self, position: Position, message: str) -> None:
        super().__init__(f"{position}: {message}")
        self.position = position
        self.message = message


class _Source:
    """One file's text, shared by its documents; its node trees are composed again only
    when a position is asked for.

    Keeping every document's node tree (or a position per field) for the rare error
    message would keep millions of objects alive on large folders.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._nodes: list[yaml.Node] | None = None

    def node(self, index: int) -> yaml.Node | None:
        if self._nodes is None:
            self._nodes = list(_compose_all(self.text))
        return self._nodes[index] if index < len(self._nodes) else None


@dataclass
class Document:
    """One YAML document: its data, and where in its file each field is."""

    file: str
    index: int
    data: Any
    source: _Source | None = field(default=None, repr=False, compare=False)
    #: Where the document starts, 1-based: asked for every document, so kept at hand.
    line: int = 1
    column: int = 1

    def position_of(self, path: FieldPath) -> Position:
        """The position of `path` (a mapping field's key, a list item), or of its nearest
        ancestor that has one."""
        if not path:
            return Position(self.file, self.line, self.column)
        node = self.source.node(self.index) if self.source is not None else None
        if node is None:
            return Position(self.file, 1, 1)
        mark = node.start_mark
        for part in path:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                found = _field(node, part)
                if found is None:
                    break
                key_node, node = found
                mark = key_node.start_mark
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                node = node.value[part]
                mark = node.start_mark
            else:
                break
        return _position(self.file, mark)


def read_documents(text: str, file: str) -> Iterator[Document]:
    """Yield each non-empty document of `text`; raise YamlError on the first bad one.

    Empty documents (nothing, or only comments, between `---` lines) are skipped, as
    kubectl skips them: a trailing `---` or a doubled one is not an error.
    """
    source = _Source(text)
    loader = _Loader(text)
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None or _is_empty(node):
                continue
            data = _Builder(file).build(node)
            mark = node.start_mark
            yield Document(
                file=file,
                index=index,
                data=data,
                source=source,
                line=mark.line + 1,
                column=mark.column + 1,
            )
            index += 1
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        position = _position(file, mark) if mark else Position(file, 1, 1)
        problem = error.problem or error.context or "invalid YAML"
        raise YamlError(position, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as error:
        raise YamlError(Position(file, 1, 1), f"YAML syntax error: {error}") from None
    finally:
        loader.dispose()


def _compose_all(text: str) -> Iterator[yaml.Node]:
    """The non-empty documents' node trees, as `read_documents` saw them, up to the first
    YAML error (documents before it were read)."""
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None and not _is_empty(node):
                yield node
    except yaml.YAMLError:
        return
    finally:
        loader.dispose()


def _is_empty(node: yaml.Node) -> bool:
    """A document with no content at all; an explicit `null` is content (and refused)."""
    return type(node) is yaml.ScalarNode and node.tag == _NULL and node.value == ""


def _position(file: str, mark: yaml.Mark) -> Position:
    return Position(file, mark.line + 1, mark.column + 1)


_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
#: Plain scalars' constructors, called directly: what `construct_object` ends up doing for
#: them, without its bookkeeping of every node it ever built.
_SCALAR_CONSTRUCTORS = {
    tag: _scalars.yaml_constructors[tag]
    for tag in (
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
    )
}


def _scalar(node: yaml.ScalarNode) -> Any:
    tag = node.tag
    if tag == _STR:
        return node.value
    constructor = _SCALAR_CONSTRUCTORS.get(tag)
    if constructor is not None:
        return constructor(_scalars, node)
    return _scalars.construct_object(node)


def _key(node: yaml.Node) -> Any:
    return _scalar(node) if isinstance(node, yaml.ScalarNode) else None


def _field(node: yaml.MappingNode, name: str) -> tuple[yaml.Node, yaml.Node] | None:
    """(key node, value node) of the first key `name` of a mapping node."""
    for key_node, value_node in node.value:
        if _key(key_node) == name:
            return key_node, value_node
    return None


class _Builder:
    """Turns one document's node tree into data, refusing aliases, merge keys,
    non-string and duplicate keys."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.seen: set[int] = set()

    def build(self, node: yaml.Node) -> Any:
        seen = self.seen
        if id(node) in seen:
            # The composer hands back the very same node object for an alias.
            raise YamlError(
                _position(self.file, node.start_mark), "YAML anchors and aliases are not allowed"
            )
        seen.add(id(node))
        if type(node) is yaml.ScalarNode:
            return _scalar(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item) for item in node.value]
        return _scalars.construct_object(node)

    def _mapping(self, node: yaml.MappingNode) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                raise YamlError(
                    _position(self.file, key_node.start_mark),
                    "YAML merge keys (<<) are not allowed",
                )
            key = _key(key_node)
            if not isinstance(key, str):
                raise YamlError(
                    _position(self.file, key_node.start_mark), "mapping keys must be strings"
                )
            if key in result:
                first = _field(node, key)
                assert first is not None
                raise YamlError(
                    _position(self.file, key_node.start_mark),
                    f"duplicate key {key!r} (first set at line {first[0].start_mark.line + 1})",
                )
            result[key] = self.build(value_node)
        return result
