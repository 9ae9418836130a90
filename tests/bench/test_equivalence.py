"""The speed fixes decide exactly as what they replaced.

- The compiled schema checks (reconciler/manifests/compiled_schema.py) say "valid"
  exactly when jsonschema reports no error, over thousands of mutated documents.
- Positions looked up in the node tree (yaml_reader.Document.position_of) equal the
  positions the reader used to record for every field while building.
"""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.manifests.source import Position
from reconciler.manifests.yaml_reader import read_documents
from reconciler.schemas import valid_check, validator

REPO = Path(__file__).resolve().parents[2]

ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    2.5,
    587.0,
    float("nan"),
    65535,
    65536,
    10**20,
    "",
    "x",
    "a\nb",
    "a\rb",
    "UPPER",
    "bad name!",
    "-leading",
    "ok.name-1",
    "a" * 254,
    "a@b",
    "user@Example.COM",
    "user@exa_mple.com",
    "user@@example.com",
    "user@example.com.",
    "10MiB",
    "25 MB",
    "0",
    "0B",
    "25 XB",
    "12",
    "::1",
    "256.1.1.1",
    "smtp.example.com.",
    [],
    ["x"],
    {},
    {"vault": {"path": "secret/a", "key": "k"}},
    {"vault": {"path": "/secret", "key": "k", "version": 0}},
    {"name": "x"},
    {"address": "a@example.com"},
    datetime.date(2024, 1, 1),
    b"bytes",
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _set(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    result = copy.deepcopy(document)
    target = result
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return result


def _delete(document: Any, path: tuple[Any, ...]) -> Any:
    result = copy.deepcopy(document)
    target = result
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return result


def _mutations(document: Any) -> Iterator[Any]:
    yield document
    for path in list(_paths(document)):
        for value in ODD_VALUES:
            yield _set(document, path, value)
        if path:
            yield _delete(document, path)
        parent = _set(document, (), document)
        node = parent
        for part in path:
            node = node[part]
        if isinstance(node, dict):
            for key in ("extra", "uid", "generation", "scope", "password", "username"):
                yield _set(document, (*path, key), "x")


def _manifest_documents() -> list[Any]:
    documents = list(yaml.safe_load_all((REPO / "examples" / "smtp.yaml").read_text()))
    from bench.plan import settings_document, user_document

    documents += [user_document(1), settings_document(2, 3)]
    return documents


def _assert_same_decisions(schema: str, documents: list[Any]) -> int:
    is_valid = valid_check(schema)
    assert is_valid is not None, f"{schema} did not compile"
    reference = validator(schema)
    checked = 0
    for document in documents:
        expected = next(iter(reference.iter_errors(document)), None) is None
        assert is_valid(document) is expected, (
            f"{schema}: compiled says {not expected}, jsonschema {expected} for "
            f"{json.dumps(document, default=str)[:600]}"
        )
        checked += 1
    return checked


@pytest.mark.parametrize("index", range(7))
def test_compiled_manifest_schema_decides_like_jsonschema(index: int) -> None:
    documents = _manifest_documents()
    if index >= len(documents):
        pytest.skip("no such document")
    seen = _assert_same_decisions("manifest.schema.json", list(_mutations(documents[index])))
    assert seen > 100


def test_compiled_manifest_schema_on_other_shapes() -> None:
    odd_documents = [
        *ODD_VALUES,
        {"apiVersion": "smtpcfg/v1"},
        {"kind": "User"},
        {"apiVersion": "smtpcfg/v2", "kind": "User"},
        {"apiVersion": "smtpcfg/v1", "kind": "Nope", "metadata": {"name": "a"}},
    ]
    _assert_same_decisions("manifest.schema.json", odd_documents)


def test_compiled_plan_schema_decides_like_jsonschema(tmp_path: Path) -> None:
    from bench.apply import make_plan, resources
    from reconciler.store.open import open_store

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}", create=True)
    try:
        plan = make_plan(store, resources(4)).to_json()
    finally:
        store.close()
    small = {**plan, "changes": plan["changes"][:2]}
    seen = _assert_same_decisions("plan.schema.json", list(_mutations(small)))
    assert seen > 100


# --- positions -------------------------------------------------------------------------------


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
