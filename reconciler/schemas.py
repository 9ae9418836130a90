"""Locate the JSON Schema files in `schemas/` and build validators from them once.

The files live at the top of the repository so that editors and other tools can use
them; the wheel carries the same files inside the package (see pyproject.toml).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from reconciler.manifests.compiled_schema import NotCompilable, compile_schema
from reconciler.manifests.formats import format_checker

_PACKAGE_DIR = Path(__file__).resolve().parent


def schema_dir() -> Path:
    """`reconciler/schemas` in an installed wheel, `schemas/` in a source checkout."""
    installed = _PACKAGE_DIR / "schemas"
    return installed if installed.is_dir() else _PACKAGE_DIR.parent / "schemas"


@cache
def _load_all() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(schema_dir().glob("*.schema.json"))
    }


@cache
def _registry() -> Registry:
    resources = [
        (schema["$id"], Resource.from_contents(schema)) for schema in _load_all().values()
    ]
    return Registry().with_resources(resources)


@cache
def validator(file_name: str) -> Draft202012Validator:
    """A validator for one schema file, e.g. `manifest.schema.json`; built once."""
    return Draft202012Validator(
        _load_all()[file_name], registry=_registry(), format_checker=format_checker
    )


@cache
def valid_check(file_name: str) -> Callable[[Any], bool] | None:
    """A fast `is valid?` for one schema file, compiled once; None if it cannot be.

    It decides exactly as `validator(file_name)` does; callers still ask the validator
    for the errors of an instance it finds invalid (see compiled_schema).
    """
    schema = _load_all()[file_name]
    try:
        return compile_schema(schema, _registry().resolver(schema["$id"]), format_checker)
    except NotCompilable:
        return None
