"""Check one document against `manifest.schema.json` and say what is wrong in plain words."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from reconciler import schemas
from reconciler.formats import parse_size
from reconciler.header_text import header_text_problem
from reconciler.manifests.yaml_reader import Document
from reconciler.model import Problem, format_field

if TYPE_CHECKING:
    from jsonschema import ValidationError

_SCHEMA = "manifest.schema.json"

_FORMAT_MESSAGES = {
    "hostname-or-ip": "{value!r} is not a valid host name or IP address",
    "email": "{value!r} is not a valid email address",
    "https-url": (
        "{value!r} is not an https:// URL (with a host, and no user or fragment): the "
        "token endpoint is given a secret, so it is reached over HTTPS only"
    ),
}

_NAME_PATTERN = (
    "{value!r} is not a valid name: lowercase letters, digits, '-' and '.', starting and "
    "ending with a letter or digit"
)
#: What a field's `pattern` means, by the field's name.
_PATTERN_MESSAGES = {
    "name": _NAME_PATTERN,
    "notifyUser": _NAME_PATTERN,
    "smtpSettings": _NAME_PATTERN,
    "tenantId": (
        "{value!r} is not a tenant: give the directory (tenant) id, a GUID, or a domain "
        "such as contoso.onmicrosoft.com"
    ),
}


def schema_problems(document: Document, resource: str | None) -> Iterator[Problem]:
    """Every schema violation in `document`, one Problem each, at the field's position.

    Almost every document is valid, and jsonschema-rs says so quickly; jsonschema words
    the errors of the others.
    """
    if schemas.is_valid(_SCHEMA, document.data):
        return
    for error in schemas.errors(_SCHEMA, document.data):
        for path, message in _explain(error):
            yield Problem(document.position_of(path), resource, format_field(path) or None, message)


def _explain(error: ValidationError) -> Iterator[tuple[tuple[str | int, ...], str]]:  # noqa: PLR0912
    """Turn one jsonschema error into (field path, message) pairs users can act on."""
    path = tuple(error.absolute_path)
    value = cast(Any, error.instance)
    # jsonschema types these as "or unset"; an error from iter_errors always has them.
    schema = cast(Mapping[str, Any], error.schema)
    expected = cast(Any, error.validator_value)
    match error.validator:
        case "additionalProperties":
            allowed = set(schema.get("properties", {}))
            for key in sorted(set(value) - allowed):
                yield (*path, key), f"unknown field (allowed: {', '.join(sorted(allowed))})"
        case "required":
            yield (*path, _missing_field(error.message)), "required field is missing"
        case "dependentRequired":
            needed, needer = _dependency(expected, value)
            yield (*path, needer), f"{needer!r} is set but {needed!r} is not; set both or neither"
        case "oneOf" if path[-1:] == ("spec",) and "username" in value:
            yield _login_problem(path, value)
        case "not" if schema.get("readOnly"):
            yield path, "read-only field set by the store; remove it from the manifest"
        case "not" if expected == {} and schema.get("description"):
            yield path, f"{schema['description']}; remove it"
        case "const" if path[-1:] == ("apiVersion",):
            yield path, f"unknown apiVersion {value!r}; expected {expected!r}"
        case "enum" if path[-1:] == ("kind",):
            kinds = ", ".join(expected)
            yield path, f"unknown kind {value!r}; expected one of {kinds}"
        case "type" if path and path[-1] in _SECRET_FIELDS:
            yield path, _secret_in_clear(str(path[-1]))
        case "type" if isinstance(value, bool) and expected == "string":
            yield (
                path,
                (
                    "expected a string, got a boolean: YAML reads yes/no/on/off/true/"
                    "false as booleans; quote the value"
                ),
            )
        case "type":
            yield path, f"expected {_type_words(expected)}, got {_type_of(value)}"
        case "pattern" if path and path[-1] in _PATTERN_MESSAGES:
            yield path, _PATTERN_MESSAGES[str(path[-1])].format(value=value)
        case "format" if expected == "header-text":
            yield path, str(header_text_problem(value))
        case "format" if expected == "size":
            try:
                parse_size(value)
            except ValueError as problem:
                yield path, str(problem)
            else:
                yield path, "size must be at least 1 byte"
        case "format":
            template = _FORMAT_MESSAGES.get(expected, "{value!r} is not valid")
            yield path, template.format(value=value)
        case "minimum" | "maximum" if path[-1:] == ("port",):
            yield path, f"port {value} is out of range 1-65535"
        case _:
            yield path, error.message


#: Fields that hold a Vault reference to a secret, never the secret.
_SECRET_FIELDS = ("password", "clientSecret", "serviceAccountKey")


def _secret_in_clear(field: str) -> str:
    what = "a password" if field == "password" else "a secret"
    return (
        f"{what} is never written in a manifest: reference it in Vault as "
        f"{field}: {{vault: {{path: secret/smtp/NAME, key: {field}}}}}"
    )


def _login_problem(
    path: tuple[str | int, ...], spec: Mapping[str, Any]
) -> tuple[tuple[str | int, ...], str]:
    """SmtpSettings' rule: a username logs in with exactly one of password and oauth2."""
    if "password" in spec:
        return (*path, "oauth2"), "set exactly one of 'password' and 'oauth2', not both"
    return (
        (*path, "username"),
        "'username' is set but neither 'password' nor 'oauth2' is; a login needs one of them",
    )


def _missing_field(message: str) -> str:
    # jsonschema words it "'host' is a required property"; the field name is quoted first.
    return message.split("'")[1]


def _dependency(dependencies: dict[str, list[str]], instance: Any) -> tuple[str, str]:
    for needer, needed in dependencies.items():
        if needer in instance:
            for field in needed:
                if field not in instance:
                    return field, needer
    raise AssertionError("dependentRequired error without a missing dependency")


def _type_words(expected: str | list[str]) -> str:
    names = [expected] if isinstance(expected, str) else expected
    return " or ".join(
        {"object": "a mapping", "array": "a list", "integer": "an integer"}.get(n, f"a {n}")
        for n in names
    )


def _type_of(value: object) -> str:
    if value is None:
        return "nothing (null)"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)
