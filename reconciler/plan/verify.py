"""Check a plan against the store as it is now, inside the apply's transaction and lock.

A digest only says a plan file is intact, and a signature says who made it; neither says
that the plan still fits the store. Here every change's "before" must be the store's row
(absent for a create), the outcome must pass the checks `plan` makes (references,
scopes), and planning that outcome against the store must give exactly the plan's
changes. The first mismatch is named. A plan made by `plan` against this store at this
revision always passes; a forged or edited one does not.
"""

from __future__ import annotations

from typing import Any

from reconciler.errors import SmtpcfgError
from reconciler.kinds import secrets_of
from reconciler.model import Resource, ResourceKey, StoredResource
from reconciler.plan.diff import dangling_references, diff
from reconciler.plan.model import Change, Plan, field_of, version_key


class PlanMismatchError(SmtpcfgError):
    """The plan does not fit the store; nothing was applied."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"refusing the plan: {detail}; nothing was changed")


def verify_plan(plan: Plan, actual: list[StoredResource]) -> list[Change]:
    """Raise PlanMismatchError unless `plan` is what `plan` would make of the store now.

    Returns the changes as computed from the store's rows (what the audit log records).
    """
    stored = {resource.key: resource for resource in actual}
    for change in plan.changes:
        _check_before(change, stored)
    count = sum(1 for resource in actual if resource.scope == plan.scope)
    if plan.resource_count != count:
        raise PlanMismatchError(
            f"the plan counts {plan.resource_count} resources of scope"
            f" {plan.scope!r}, but the store holds {count}"
        )
    outcome = _outcome(plan, actual)
    dangling = dangling_references(outcome, actual, plan.changes)
    if dangling:
        raise PlanMismatchError("the plan would leave references dangling: " + "; ".join(dangling))
    try:
        expected = diff(outcome, actual, scope=plan.scope, take_over=_takes_over(plan))
    except SmtpcfgError as error:
        raise PlanMismatchError(str(error)) from None
    _compare(plan.changes, expected)
    _check_secrets(plan.secrets, outcome, stored)
    return expected


def _check_before(change: Change, stored: dict[ResourceKey, StoredResource]) -> None:
    replaced = change.previous if change.action == "replace" else None
    source = replaced or change.key
    row = stored.get(source)
    if change.action in ("create", "replace") and change.key in stored:
        raise PlanMismatchError(
            f"{change.key}: the plan would {change.action} it, but the store already holds it"
        )
    if change.action == "create":
        return
    if row is None:
        raise PlanMismatchError(
            f"{source}: the plan would {change.action} it, but the store holds no such resource"
        )
    if row.body() != change.before:
        raise PlanMismatchError(f"{source}: the plan's \"before\" is not the store's row")


def _outcome(plan: Plan, actual: list[StoredResource]) -> dict[ResourceKey, Resource]:
    """The resources of the plan's scope once it is applied: what its manifests declared."""
    outcome: dict[ResourceKey, Resource] = {
        resource.key: resource for resource in actual if resource.scope == plan.scope
    }
    for change in plan.changes:
        if change.previous is not None:
            outcome.pop(change.previous, None)
        if change.after is None:
            outcome.pop(change.key, None)
        else:
            outcome[change.key] = Resource.from_body(change.key, change.after)
    return outcome


def _takes_over(plan: Plan) -> bool:
    """A plan made with --take-over shows each move as a `scope` field change."""
    return any(field.path == "scope" for change in plan.changes for field in change.fields)


def _compare(planned: list[Change], expected: list[Change]) -> None:
    by_key = {change.key: change for change in expected}
    for change in planned:
        other = by_key.get(change.key)
        if other != change:
            needed = (
                "no change"
                if other is None
                else f"{other.action} instead"
                if other.action != change.action
                else "other field changes"
            )
            raise PlanMismatchError(
                f"{change.key}: the plan's {change.action} is not what the"
                f" store calls for now ({needed})"
            )
    planned_keys = {change.key for change in planned}
    for change in expected:
        if change.key not in planned_keys:
            raise PlanMismatchError(
                f"{change.key}: the store calls for a {change.action} that the plan lacks"
            )
    if [change.key for change in planned] != [change.key for change in expected]:
        raise PlanMismatchError("the plan's changes are not in apply order")


def _check_secrets(
    secrets: list[dict[str, Any]],
    outcome: dict[ResourceKey, Resource],
    stored: dict[ResourceKey, StoredResource],
) -> None:
    """Each secret version the plan records belongs to a declared reference, and the
    version it says the store recorded is the store's."""
    for item in secrets:
        kind, _, name = item["resource"].partition("/")
        key = ResourceKey(kind, name)
        field = field_of(item)
        resource = outcome.get(key)
        declared = secrets_of(key, resource.spec).get(field) if resource is not None else None
        if declared is None or declared.display() != item["reference"]:
            raise PlanMismatchError(
                f"{key}: the plan records a secret version for"
                f" {item['reference']}, which it does not declare"
            )
        row = stored.get(key)
        recorded = row.status.get(version_key(field)) if row is not None else None
        if item.get("recordedVersion") != recorded:
            raise PlanMismatchError(f"{key}: the plan's recorded secret version is not the store's")
