"""Compute the changes that take the store to the declared state. Linear in resources."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.model import Resource, ResourceKey, StoredResource, references_of
from reconciler.plan.model import ABSENT, Change, FieldChange

#: A resource carrying this annotation replaces the resource of the same kind it names:
#: the old identity is deleted and the new one created in the same transaction.
RENAMED_FROM = "smtpcfg.dev/renamed-from"


def diff(desired: Mapping[ResourceKey, Resource], actual: list[StoredResource]) -> list[Change]:
    """Changes in apply order: creates and updates by kind order, then deletes reversed."""
    stored = {resource.key: resource for resource in actual}
    replaced = _replacements(desired, stored)
    writes: list[Change] = []
    for key in sorted(desired, key=lambda k: k.sort_key):
        after = desired[key].body()
        current = stored.get(key)
        if current is not None:
            before = current.body()
            if before != after:
                writes.append(Change("update", key, before, after, field_changes(before, after)))
        elif key in replaced:
            old = stored[replaced[key]]
            before = old.body()
            writes.append(Change("replace", key, before, after, field_changes(before, after),
                                 previous=old.key))
        else:
            writes.append(Change("create", key, None, after, field_changes({}, after)))
    gone = set(replaced.values())
    deletes = [
        Change("delete", key, stored[key].body(), None, field_changes(stored[key].body(), {}))
        for key in sorted(stored, key=lambda k: k.sort_key, reverse=True)
        if key not in desired and key not in gone
    ]
    return writes + deletes


def dangling_references(
    desired: Mapping[ResourceKey, Resource], actual: list[StoredResource], changes: list[Change]
) -> list[str]:
    """References that would point at nothing once `changes` are applied."""
    final: dict[ResourceKey, dict[str, Any]] = {r.key: r.spec for r in actual}
    for change in changes:
        if change.previous is not None:
            final.pop(change.previous, None)
        if change.action == "delete":
            final.pop(change.key, None)
        else:
            final[change.key] = desired[change.key].spec
    return [
        f"{key}: {field} refers to {target}, which would no longer exist"
        for key, spec in final.items()
        for target, field in references_of(key.kind, spec)
        if target not in final
    ]


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """Per-field differences, as dotted paths; Vault references count as one field."""
    old, new = _flatten(before), _flatten(after)
    return [
        FieldChange(path, old.get(path, ABSENT), new.get(path, ABSENT))
        for path in sorted(old.keys() | new.keys(), key=_field_order)
        if old.get(path, ABSENT) != new.get(path, ABSENT)
    ]


def _replacements(
    desired: Mapping[ResourceKey, Resource], stored: Mapping[ResourceKey, StoredResource]
) -> dict[ResourceKey, ResourceKey]:
    """new key -> old key, for renames that can happen: old stored, new not yet."""
    result = {}
    for key, resource in desired.items():
        previous_name = resource.annotations.get(RENAMED_FROM)
        if previous_name is None or key in stored:
            continue
        previous = ResourceKey(key.kind, previous_name)
        if previous in stored and previous not in desired:
            result[key] = previous
    return result


def _flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, dict) and item and set(item) != {"vault"}:
            flat.update(_flatten(item, f"{path}."))
        elif item != {}:
            flat[path] = item
    return flat


def _field_order(path: str) -> tuple[bool, str]:
    # metadata first, then spec, each alphabetical: stable for reviewers and digests.
    return (path.startswith("spec."), path)
