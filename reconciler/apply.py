"""Carry out a plan against the store: one transaction, with an audit record."""

from __future__ import annotations

from typing import Any

from reconciler.errors import SmtpcfgError
from reconciler.gc_pause import paused_gc
from reconciler.model import ResourceKey, StoredResource
from reconciler.plan.model import Change, Plan, audit_changes
from reconciler.plan.safety import threshold_breach
from reconciler.plan.verify import verify_plan
from reconciler.store.base import PendingAudit, Store, Write, WriteAction


def apply_plan(
    plan: Plan,
    store: Store,
    *,
    actor: str,
    threshold: float,
    force: bool,
    source: str | None = None,
) -> int:
    """Apply all of `plan` or nothing; return the store's new revision.

    Inside the store's transaction and lock, the plan is checked against the store as it
    is now (its revision and write id, every change's "before", references, scopes; see
    `verify_plan`) and against the safety threshold, so a stale, forged or edited plan is
    refused, never half-applied. The audit record's changes come from the store's rows.
    `source` overrides the plan's for the audit log only: the plan, and so its digest,
    stays as reviewed.
    """

    def prepare(actual: list[StoredResource]) -> tuple[list[Write], PendingAudit]:
        changes = verify_plan(plan, actual)
        breach = threshold_breach(plan, threshold)
        if breach and not force:
            raise SmtpcfgError(f"refusing to apply: {breach}")
        audit = PendingAudit(
            scope=plan.scope,
            actor=actor,
            source=source or plan.source,
            plan_digest=plan.digest(),
            changes=audit_changes(changes),
            secrets=_applied_secrets(plan),
        )
        return _writes(plan, changes), audit

    with paused_gc():
        return store.apply(plan.store, prepare)


def _writes(plan: Plan, changes: list[Change]) -> list[Write]:
    seen = {
        item["resource"]: {"passwordVersion": item["version"]}
        for item in plan.secrets
        if item["version"] is not None
    }
    # Unchanged resources get a status-only write, and only when the version moved.
    status = {resource: seen[resource] for resource in plan.observations()}
    writes = []
    for change in changes:
        status.pop(str(change.key), None)
        observed = seen.get(str(change.key), {})
        if change.previous is not None:
            writes.append(Write("delete", change.previous))
        if change.action == "delete":
            writes.append(Write("delete", change.key))
        else:
            action: WriteAction = "update" if change.action == "update" else "create"
            writes.append(Write(action, change.key, change.after, observed, plan.scope))
    # Unchanged resources: record the password version in force from now on.
    for resource, observed in status.items():
        kind, _, name = resource.partition("/")
        writes.append(Write("status", ResourceKey(kind, name), status=observed))
    return writes


def _applied_secrets(plan: Plan) -> list[dict[str, Any]]:
    """The password versions this apply put in force: those of the resources it wrote,
    and those it recorded as rotated. The others did not change."""
    touched = {str(change.key) for change in plan.changes} | set(plan.observations())
    return [item for item in plan.secrets if item["resource"] in touched]
