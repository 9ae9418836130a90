"""The JSON Schema files in `schemas/`, and the two engines that check documents against them.

- jsonschema-rs answers "is it valid?" for every document: compiled once per schema file,
  it is fast enough that checking 20,000 manifests costs little of a plan.
- jsonschema words the errors of a document jsonschema-rs found invalid: its error objects
  carry the failing keyword, its value and the instance path that the messages users see
  are made from (see manifests.schema_check). It is imported only then, so a valid run and
  the CLI's start-up never pay for it.

Both are given the same registry of schema files and the same `format` functions, so they
decide alike; tests/schemas/test_engines.py holds them to it.

The files live at the top of the repository so that editors and other tools can use them;
the wheel carries the same files inside the package (see pyproject.toml).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.formats import FORMATS

if TYPE_CHECKING:
    import jsonschema_rs
    from jsonschema import Draft202012Validator, ValidationError

_PACKAGE_DIR = Path(__file__).resolve().parent


def schema_dir() -> Path:
    """`reconciler/schemas` in an installed wheel, `schemas/` in a source checkout."""
    installed = _PACKAGE_DIR / "schemas"
    return installed if installed.is_dir() else _PACKAGE_DIR.parent / "schemas"


@cache
def _load_all() -> dict[str, dict[str, Any]]:
    """Each schema file by name, given its file URI as `$id`.

    The files carry no `$id`: their `$ref`s are relative ("common.schema.json#/..."), so
    that any tool resolves them to the files beside the one it was given, offline
    (check-jsonschema, yaml-language-server). The engines here are given the same base.
    """
    return {
        path.name: {"$id": path.as_uri(), **json.loads(path.read_text(encoding="utf-8"))}
        for path in sorted(schema_dir().glob("*.schema.json"))
    }


def is_valid(file_name: str, instance: Any) -> bool:
    """Whether `instance` is valid under one schema file, e.g. `manifest.schema.json`.

    A value JSON has no type for (a YAML date, bytes) is invalid: jsonschema-rs refuses to
    convert it, and jsonschema then says which field holds it.
    """
    try:
        return _fast_validator(file_name).is_valid(instance)
    except ValueError:
        return False


def errors(file_name: str, instance: Any) -> Iterator[ValidationError]:
    """Every error of `instance` under one schema file, as jsonschema words them."""
    return _wording_validator(file_name).iter_errors(instance)


@cache
def _fast_validator(file_name: str) -> jsonschema_rs.Validator:
    import jsonschema_rs

    schemas = _load_all()
    registry = jsonschema_rs.Registry([(schema["$id"], schema) for schema in schemas.values()])
    return jsonschema_rs.validator_for(
        schemas[file_name],
        registry=registry,
        formats=FORMATS,
        validate_formats=True,
        ignore_unknown_formats=False,
    )


@cache
def _wording_validator(file_name: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator, FormatChecker
    from referencing import Registry, Resource

    format_checker = FormatChecker(formats=())
    for name, check in FORMATS.items():
        format_checker.checks(name)(_strings_only(check))
    schemas = _load_all()
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas.values()
    )
    return Draft202012Validator(
        schemas[file_name], registry=registry, format_checker=format_checker
    )


def _strings_only(check: Callable[[str], bool]) -> Callable[[object], bool]:
    """jsonschema hands a format check values of every type; formats speak of strings."""
    return lambda value: not isinstance(value, str) or check(value)
