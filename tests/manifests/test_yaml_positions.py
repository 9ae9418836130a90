"""Positions looked up in the YAML node tree (yaml_reader.Document.position_of) equal
the positions a reader recording every field while building would have: the node's start
for every value and list item, the key's start for mapping fields."""

from __future__ import annotations

from typing import Any

import yaml

from reconciler.manifests.yaml_reader import read_documents
from reconciler.model import Position


def _recorded_positions(text: str, file: str) -> list[dict[tuple[Any, ...], Position]]:
    """The positions the reader recorded before: the node's start for every value and
    list item, overwritten by the key's start for mapping fields."""
    loader = yaml.SafeLoader(text)
    found = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null") and not node.value:
                continue  # an empty document: skipped, as kubectl skips it
            positions: dict[tuple[Any, ...], Position] = {}
            _record(node, (), file, positions)
            found.append(positions)
    finally:
        loader.dispose()
    return found


def _record(
    node: yaml.Node, path: tuple[Any, ...], file: str, positions: dict[tuple[Any, ...], Position]
) -> None:
    mark = node.start_mark
    positions[path] = Position(file, mark.line + 1, mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            _record(value_node, (*path, key), file, positions)
            key_mark = key_node.start_mark
            positions[(*path, key)] = Position(file, key_mark.line + 1, key_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record(item, (*path, index), file, positions)


def _nearest(
    positions: dict[tuple[Any, ...], Position], path: tuple[Any, ...], file: str
) -> Position:
    for end in range(len(path), -1, -1):
        if path[:end] in positions:
            return positions[path[:end]]
    return Position(file, 1, 1)


TEXT = """\
# a comment
apiVersion: smtpcfg/v1
kind: SmtpSettings
metadata:
  name: primary
  labels: {team: finance, "quoted key": x}
spec:
  host:   smtp.example.com
  port: 587
  from:
    name: Billing
    address: billing@example.com
  list:
  - a
  - {b: 1, c: [x, y]}
  -
    - nested
---
---
apiVersion: smtpcfg/v1
kind: User
metadata: {name: second}
spec:
  email: "second@example.com"
"""


def test_positions_found_in_the_tree_equal_the_recorded_ones() -> None:
    documents = list(read_documents(TEXT, "f.yaml"))
    recorded = _recorded_positions(TEXT, "f.yaml")
    assert len(documents) == len(recorded) == 2  # the empty one in the middle is skipped
    for document, positions in zip(documents, recorded, strict=True):
        for path in positions:
            assert document.position_of(path) == positions[path], path
            # Paths below or beside real fields fall back to the nearest recorded one.
            for extra in ((*path, "missing"), (*path, 7), (*path, "missing", 0)):
                assert document.position_of(extra) == _nearest(positions, extra, "f.yaml")
        assert document.position_of(()) == positions[()]
