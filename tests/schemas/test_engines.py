"""jsonschema-rs (which decides) and jsonschema (which words errors) agree on validity.

Each valid example document is mutated at every field (odd values, deletions, unknown
keys), and both engines must call every mutation valid or invalid alike; otherwise a
user would see "invalid" with no error, or an error the plan never stops on.
"""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from reconciler import schemas

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
    documents = [
        document
        for example in ("smtp.yaml", "oauth2.yaml")
        for document in yaml.safe_load_all((REPO / "examples" / example).read_text())
    ]
    from bench.plan import settings_document, user_document

    documents += [user_document(1), settings_document(2, 3)]
    return documents


def _holds_non_json_value(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_non_json_value(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_non_json_value(item) for item in value)
    return not isinstance(value, str | int | float | bool | type(None))


def _assert_same_decisions(schema: str, documents: list[Any]) -> int:
    checked = 0
    for document in documents:
        expected = next(schemas.errors(schema, document), None) is None
        if expected and _holds_non_json_value(document):
            # jsonschema-rs may refuse a value JSON has no type for (a YAML date); callers
            # then ask jsonschema, which finds nothing to word, so it passes either way.
            continue
        assert schemas.is_valid(schema, document) is expected, (
            f"{schema}: jsonschema-rs says {not expected}, jsonschema {expected} for "
            f"{json.dumps(document, default=str)[:600]}"
        )
        checked += 1
    return checked


def test_manifest_schema_engines_decide_alike() -> None:
    documents = _manifest_documents()
    assert {document["kind"] for document in documents} == {"SmtpSettings", "User", "EmailTemplate"}
    for document in documents:
        seen = _assert_same_decisions("manifest.schema.json", list(_mutations(document)))
        assert seen > 100


def test_manifest_schema_engines_decide_alike_on_other_shapes() -> None:
    odd_documents = [
        *ODD_VALUES,
        {"apiVersion": "smtpcfg/v1"},
        {"kind": "User"},
        {"apiVersion": "smtpcfg/v2", "kind": "User"},
        {"apiVersion": "smtpcfg/v1", "kind": "Nope", "metadata": {"name": "a"}},
    ]
    _assert_same_decisions("manifest.schema.json", odd_documents)


def test_plan_schema_engines_decide_alike(tmp_path: Path) -> None:
    from bench.apply import make_plan, resources
    from reconciler.store.open import open_store

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}", create=True)
    try:
        plan = json.loads(json.dumps(make_plan(store, resources(4)).to_json()))  # as saved
    finally:
        store.close()
    small = {**plan, "changes": plan["changes"][:2]}
    seen = _assert_same_decisions("plan.schema.json", list(_mutations(small)))
    assert seen > 100
