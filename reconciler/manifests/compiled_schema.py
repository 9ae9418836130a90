"""JSON Schemas compiled once into plain Python checks that answer one question: valid?

jsonschema's `iter_errors` walks a schema dynamically for every document: it looks up
each keyword's function, resolves every `$ref` through the registry again and builds
error objects lazily along the way. For 20,000 documents that is most of a plan's time,
yet almost every document is valid. So each schema file is compiled here, once, into
closures that follow jsonschema's draft 2020-12 semantics exactly (type checks, `equal`,
`re.search`, the same format checker) and only say whether a document is valid.
A document they find invalid goes through jsonschema itself, which words the errors:
the messages users see never come from this module.

Only the keywords smtpcfg's schemas use are compiled; a schema with any other
(assertion) keyword raises `NotCompilable` and its callers keep using jsonschema.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import FormatChecker
    from referencing._core import Resolver

Check = Callable[[Any], bool]

#: Keywords that never make a document invalid: annotations and containers of definitions.
_ANNOTATIONS = frozenset({
    "$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples",
    "readOnly", "writeOnly", "deprecated",
})
_OBJECT_KEYWORDS = frozenset({
    "properties", "required", "additionalProperties", "propertyNames", "dependentRequired",
})
_STRING_KEYWORDS = frozenset({"minLength", "maxLength", "pattern"})
_NUMBER_KEYWORDS = frozenset({"minimum", "maximum"})
_COMPILED = frozenset({
    "$ref", "type", "const", "enum", "format", "items", "allOf", "anyOf", "oneOf", "not",
    "if", "then", "else",
}) | _OBJECT_KEYWORDS | _STRING_KEYWORDS | _NUMBER_KEYWORDS | _ANNOTATIONS


class NotCompilable(Exception):
    """The schema uses something this compiler does not handle; use jsonschema."""


def compile_schema(schema: Mapping[str, Any] | bool, resolver: Resolver[Any],
                   format_checker: FormatChecker | None) -> Check:
    """A function telling whether an instance is valid under `schema` (draft 2020-12)."""
    return _Compiler(format_checker).compile(schema, resolver)


class _Compiler:
    def __init__(self, format_checker: FormatChecker | None) -> None:
        self.format_checker = format_checker
        # id(schema) -> its check; a subschema lives in one resource, so one base URI.
        self.done: dict[int, Check] = {}
        self.keep: list[object] = []  # keeps compiled schemas alive, so ids stay unique

    def compile(self, schema: Mapping[str, Any] | bool, resolver: Resolver[Any]) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, Mapping):
            raise NotCompilable(f"a schema must be an object or a boolean, not {schema!r}")
        key = id(schema)
        if key in self.done:
            return self.done[key]
        # A forward first, so that a schema referring back to itself compiles.
        cell: list[Check] = []

        def forward(instance: Any) -> bool:
            return cell[0](instance)

        self.done[key] = forward
        self.keep.append(schema)
        check = self._compile(schema, resolver)
        cell.append(check)
        self.done[key] = check
        return check

    def _compile(self, schema: Mapping[str, Any], resolver: Resolver[Any]) -> Check:
        unknown = set(schema) - _COMPILED
        if unknown:
            raise NotCompilable(f"keywords not compiled: {', '.join(sorted(unknown))}")
        if "$id" in schema and resolver.lookup(schema["$id"]).contents is not schema:
            raise NotCompilable("an embedded $id changes the base URI")
        return _all([*self._assertions(schema), *self._applicators(schema, resolver)])

    def _assertions(self, schema: Mapping[str, Any]) -> list[Check]:
        """Checks of the instance itself."""
        checks: list[Check] = []
        if "type" in schema:
            checks.append(_type(schema["type"]))
        if "const" in schema:
            const = schema["const"]
            checks.append(lambda instance: _equal(instance, const))
        if "enum" in schema:
            checks.append(_enum(schema["enum"]))
        if _STRING_KEYWORDS & schema.keys():
            checks.append(_string(schema))
        if _NUMBER_KEYWORDS & schema.keys():
            checks.append(_number(schema))
        if "format" in schema and self.format_checker is not None:
            conforms, format_name = self.format_checker.conforms, schema["format"]
            checks.append(lambda instance: conforms(instance, format_name))
        return checks

    def _applicators(self, schema: Mapping[str, Any], resolver: Resolver[Any]) -> list[Check]:
        """Checks that apply subschemas: to parts of the instance, or to all of it."""
        checks: list[Check] = []
        if _OBJECT_KEYWORDS & schema.keys():
            checks.append(self._object(schema, resolver))
        if "items" in schema:
            checks.append(self._items(schema["items"], resolver))
        if "$ref" in schema:
            resolved = resolver.lookup(schema["$ref"])
            checks.append(self.compile(resolved.contents, resolved.resolver))
        if "allOf" in schema:
            checks.extend(self.compile(sub, resolver) for sub in _list(schema["allOf"]))
        if "anyOf" in schema:
            alternatives = [self.compile(sub, resolver) for sub in _list(schema["anyOf"])]
            checks.append(lambda instance: any(alt(instance) for alt in alternatives))
        if "oneOf" in schema:
            choices = [self.compile(sub, resolver) for sub in _list(schema["oneOf"])]
            checks.append(lambda instance: sum(1 for c in choices if c(instance)) == 1)
        if "not" in schema:
            negated = self.compile(schema["not"], resolver)
            checks.append(lambda instance: not negated(instance))
        if "if" in schema:
            checks.append(self._conditional(schema, resolver))
        return checks

    def _conditional(self, schema: Mapping[str, Any], resolver: Resolver[Any]) -> Check:
        condition = self.compile(schema["if"], resolver)
        then = self.compile(schema.get("then", True), resolver)
        otherwise = self.compile(schema.get("else", True), resolver)
        return lambda instance: then(instance) if condition(instance) else otherwise(instance)

    def _items(self, items: Any, resolver: Resolver[Any]) -> Check:
        each = self.compile(items, resolver)

        def check(instance: Any) -> bool:
            if not isinstance(instance, list):
                return True
            return all(each(item) for item in instance)

        return check

    def _object(self, schema: Mapping[str, Any], resolver: Resolver[Any]) -> Check:
        properties = {
            name: self.compile(sub, resolver)
            for name, sub in dict(schema.get("properties", {})).items()
        }
        required = tuple(_list(schema.get("required", [])))
        additional_schema = schema.get("additionalProperties", True)
        # False: no other keys; None: any other key; a check: other keys' values.
        additional: Check | bool | None
        if additional_schema is True:
            additional = None
        elif additional_schema is False:
            additional = False
        else:
            additional = self.compile(additional_schema, resolver)
        names = (self.compile(schema["propertyNames"], resolver)
                 if "propertyNames" in schema else None)
        dependencies = [(name, tuple(needed))
                        for name, needed in dict(schema.get("dependentRequired", {})).items()]

        def check(instance: Any) -> bool:  # noqa: PLR0911 - one exit per broken rule
            if not isinstance(instance, dict):
                return True
            for name in required:
                if name not in instance:
                    return False
            for name, value in instance.items():
                sub = properties.get(name)
                if sub is not None:
                    if not sub(value):
                        return False
                elif additional is False or (additional is not None and not additional(value)):
                    return False
                if names is not None and not names(name):
                    return False
            for name, needed in dependencies:
                if name in instance:
                    for other in needed:
                        if other not in instance:
                            return False
            return True

        return check


def _always(instance: Any) -> bool:
    return True


def _never(instance: Any) -> bool:
    return False


def _all(checks: Sequence[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda instance: first(instance) and second(instance)
    frozen = tuple(checks)

    def check(instance: Any) -> bool:
        for each in frozen:  # noqa: SIM110 - a plain loop is faster than all(generator)
            if not each(instance):
                return False
        return True

    return check


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise NotCompilable(f"expected a list in the schema, not {value!r}")
    return value


# jsonschema's draft 2020-12 type checker, to the letter (bool is no integer or number;
# a float with an integral value is an integer).
def _is_integer(instance: Any) -> bool:
    if isinstance(instance, bool):
        return False
    return isinstance(instance, int) or (isinstance(instance, float) and instance.is_integer())


def _is_number(instance: Any) -> bool:
    return not isinstance(instance, bool) and isinstance(instance, numbers.Number)


_TYPES: dict[str, Check] = {
    "object": lambda instance: isinstance(instance, dict),
    "array": lambda instance: isinstance(instance, list),
    "string": lambda instance: isinstance(instance, str),
    "boolean": lambda instance: isinstance(instance, bool),
    "null": lambda instance: instance is None,
    "integer": _is_integer,
    "number": _is_number,
}


def _type(types: str | list[str]) -> Check:
    names = [types] if isinstance(types, str) else _list(types)
    try:
        checks = [_TYPES[name] for name in names]
    except KeyError as error:
        raise NotCompilable(f"unknown type {error.args[0]!r}") from None
    if len(checks) == 1:
        return checks[0]
    return lambda instance: any(check(instance) for check in checks)


def _enum(values: list[Any]) -> Check:
    options = _list(values)
    if all(isinstance(option, str) for option in options):
        strings = frozenset(options)
        # `equal` compares a string with anything by ==, which only a str can pass here.
        return lambda instance: isinstance(instance, str) and instance in strings
    return lambda instance: any(_equal(option, instance) for option in options)


def _string(schema: Mapping[str, Any]) -> Check:
    low = schema.get("minLength")
    high = schema.get("maxLength")
    pattern = re.compile(schema["pattern"]) if "pattern" in schema else None

    def check(instance: Any) -> bool:
        if not isinstance(instance, str):
            return True
        if low is not None and len(instance) < low:
            return False
        if high is not None and len(instance) > high:
            return False
        return pattern is None or pattern.search(instance) is not None

    return check


def _number(schema: Mapping[str, Any]) -> Check:
    low = schema.get("minimum")
    high = schema.get("maximum")

    def check(instance: Any) -> bool:
        if not _is_number(instance):
            return True
        if low is not None and instance < low:
            return False
        return high is None or not instance > high

    return check


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's `equal`: like ==, but True and 1 (False and 0) differ, also nested."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=False))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(
            key in two and _equal(value, two[key]) for key, value in one.items()
        )
    return bool(_unbool(one) == _unbool(two))


_TRUE, _FALSE = object(), object()


def _unbool(value: Any) -> Any:
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    return value
