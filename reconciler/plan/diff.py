"""Compute the changes that take the store to the declared state. Linear in resources."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.errors import SmtpcfgError
from reconciler.kinds import dependency_order, references_of
from reconciler.model import Resource, ResourceKey, StoredResource
from reconciler.plan.model import ABSENT, Change, FieldChange

#: A resource carrying this annotation replaces the resource of the same kind it names:
#: the old identity is deleted and the new one created in the same transaction.
RENAMED_FROM = "smtpcfg.dev/renamed-from"


def diff(
    desired: Mapping[ResourceKey, Resource],
    actual: list[StoredResource],
    *,
    scope: str,
    take_over: bool = False,
) -> list[Change]:
    """Changes in apply order: creates and updates by kind order, then deletes reversed.

    `actual` is the whole store; only resources of `scope` may be updated or deleted.
    A declared resource that another scope owns is an error, unless `take_over`.
    """
    stored = {resource.key: resource for resource in actual}
    if not take_over:
        _refuse_foreign(desired, stored, scope)
    owned = {key: resource for key, resource in stored.items() if resource.scope == scope}
    replaced = _replacements(desired, owned, stored)
    writes: list[Change] = []
    for key in sorted(desired, key=dependency_order):
        after = desired[key].body()
        current = stored.get(key)
        if current is not None:
            before = current.body()
            # Most resources are unchanged: one C-level comparison says so.
            fields = [] if before == after else field_changes(before, after)
            if current.scope != scope:
                fields.insert(0, FieldChange("scope", current.scope, scope))
            if fields:
                writes.append(Change("update", key, before, after, fields))
        elif key in replaced:
            old = stored[replaced[key]]
            before = old.body()
            writes.append(
                Change(
                    "replace", key, before, after, field_changes(before, after), previous=old.key
                )
            )
        else:
            writes.append(Change("create", key, None, after, field_changes({}, after)))
    gone = set(replaced.values())
    deletes = [
        Change("delete", key, owned[key].body(), None, field_changes(owned[key].body(), {}))
        for key in sorted(owned, key=dependency_order, reverse=True)
        if key not in desired and key not in gone
    ]
    return writes + deletes


def _refuse_foreign(
    desired: Mapping[ResourceKey, Resource],
    stored: Mapping[ResourceKey, StoredResource],
    scope: str,
) -> None:
    foreign = [
        f"{key} is owned by scope {stored[key].scope!r}"
        for key in sorted(desired, key=dependency_order)
        if key in stored and stored[key].scope != scope
    ]
    if foreign:
        raise SmtpcfgError(
            f"{'; '.join(foreign)}; this plan's scope is {scope!r}. Remove them from these "
            "manifests, or pass --take-over to move them to this scope"
        )


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
        for target, field in references_of(key, spec)
        if target not in final
    ]


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """Per-field differences, as dotted paths; Vault references count as one field."""
    old, new = _flatten(before), _flatten(after)
    # Creates and deletes (one side empty) are most of a large plan: nothing to compare.
    if not old:
        return [FieldChange(path, after=new[path]) for path in sorted(new, key=_field_order)]
    if not new:
        return [FieldChange(path, before=old[path]) for path in sorted(old, key=_field_order)]
    return [
        FieldChange(path, old.get(path, ABSENT), new.get(path, ABSENT))
        for path in sorted(old.keys() | new.keys(), key=_field_order)
        if old.get(path, ABSENT) != new.get(path, ABSENT)
    ]


def _replacements(
    desired: Mapping[ResourceKey, Resource],
    owned: Mapping[ResourceKey, StoredResource],
    stored: Mapping[ResourceKey, StoredResource],
) -> dict[ResourceKey, ResourceKey]:
    """new key -> old key, for renames that can happen: old owned, new not stored yet."""
    result = {}
    for key, resource in desired.items():
        previous_name = resource.annotations.get(RENAMED_FROM)
        if previous_name is None or key in stored:
            continue
        previous = ResourceKey(key.kind, previous_name)
        if previous in owned and previous not in desired:
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
