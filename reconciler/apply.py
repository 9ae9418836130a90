"""Carry out a plan against the store: one transaction, with an audit record."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.errors import SmtpcfgError
from reconciler.gc_pause import paused_gc
from reconciler.model import ResourceKey, StoredResource
from reconciler.plan.from_manifests import plan_from_manifests
from reconciler.plan.model import Change, Plan, audit_changes
from reconciler.plan.planfile import load_plan
from reconciler.plan.request import PlanRequest
from reconciler.plan.safety import DEFAULT_THRESHOLD_PERCENT, threshold_breach
from reconciler.plan.signing import load_key
from reconciler.plan.verify import verify_plan
from reconciler.provenance import ApplyContext, detect_actor, detect_context
from reconciler.store.base import PendingAudit, Store, Write, WriteAction
from reconciler.store.open import existing_store

#: An apply's context when nothing is known of it (the Python API's default).
NO_CONTEXT = ApplyContext()

#: Shown the plan about to be applied, and a note on how it was loaded (or None); raises
#: to stop the apply before anything is written (`apply` prints and asks here).
Review = Callable[[Plan, str | None], None]


@dataclass(frozen=True)
class Applied:
    """What an apply did: the plan, and the store's new revision (None: nothing to do)."""

    plan: Plan
    revision: int | None
    #: The audit chain's head after the apply: keep it outside the store (a CI log) to
    #: check the chain against later (`history --verify --expect-head`).
    head: str | None = None

    def describe(self) -> str:
        if self.revision is None:
            return "Nothing to apply."
        counts = self.plan.summary()
        return (
            f"Apply complete: {counts['create']} created, {counts['update']} updated, "
            f"{counts['replace']} replaced, {counts['delete']} deleted. "
            f"Store revision {self.revision}, plan digest {self.plan.digest()}.\n"
            f"Audit log head: {self.head}"
        )


@dataclass(frozen=True)
class Approval:
    """Who applies and who approved it, for the audit log. `actor` None: $GITHUB_ACTOR
    or the OS user; `source` overrides a saved plan's."""

    actor: str | None = None
    approved_by: str | None = None
    source: str | None = None


def apply_manifests(
    request: PlanRequest, review: Review, *, approval: Approval = Approval(), force: bool = False
) -> Applied:
    """Plan the manifests against the store, let `review` see (or refuse) the plan, apply it."""
    plan = plan_from_manifests(request)
    review(plan, None)
    files = [Path(path) for path in request.paths if path != "-"]
    context = detect_context(approval.approved_by, os.environ, files)
    return _apply_to(request.store_url, plan, approval, context, request.threshold, force)


def apply_saved_plan(
    plan_file: Path,
    store_url: str,
    review: Review,
    *,
    key_file: Path | None = None,
    approval: Approval = Approval(),
    threshold: float = DEFAULT_THRESHOLD_PERCENT,
    force: bool = False,
) -> Applied:
    """Apply a plan saved by `plan --out`, if it still fits the store (see `apply_plan`).

    With a plan key (`key_file` or $SMTPCFG_PLAN_KEY) only plans signed with it load.
    The apply's own commit is the CI job's, or that of the current folder.
    """
    plan, note = load_plan(plan_file, load_key(key_file, os.environ))
    review(plan, note)
    context = detect_context(approval.approved_by, os.environ, [])
    return _apply_to(store_url, plan, approval, context, threshold, force)


def _apply_to(
    store_url: str,
    plan: Plan,
    approval: Approval,
    context: ApplyContext,
    threshold: float,
    force: bool,
) -> Applied:
    if not plan.has_changes and not plan.observations():
        return Applied(plan, None)
    with existing_store(store_url) as store:
        revision = apply_plan(
            plan,
            store,
            actor=detect_actor(approval.actor, os.environ),
            source=approval.source,
            context=context,
            threshold=threshold,
            force=force,
        )
        head = store.chain_state().head
    return Applied(plan, revision, head)


def apply_plan(
    plan: Plan,
    store: Store,
    *,
    actor: str,
    threshold: float,
    force: bool,
    source: str | None = None,
    context: ApplyContext = NO_CONTEXT,
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
            context=context,
        )
        return _writes(plan, changes), audit

    with paused_gc():
        return store.apply(plan.store, prepare)


def _writes(plan: Plan, changes: list[Change]) -> list[Write]:
    seen = plan.secret_versions()
    # Unchanged resources get a status-only write, and only when a version moved.
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
    # Unchanged resources: record the secret versions in force from now on.
    for resource, observed in status.items():
        kind, _, name = resource.partition("/")
        writes.append(Write("status", ResourceKey(kind, name), status=observed))
    return writes


def _applied_secrets(plan: Plan) -> list[dict[str, Any]]:
    """The secret versions this apply put in force: those of the resources it wrote,
    and those it recorded as rotated. The others did not change."""
    touched = {str(change.key) for change in plan.changes} | set(plan.observations())
    return [item for item in plan.secrets if item["resource"] in touched]
