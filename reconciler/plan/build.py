"""Make a plan from loaded manifests and a store."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from reconciler import __version__
from reconciler.errors import SmtpcfgError
from reconciler.gc_pause import paused_gc
from reconciler.manifests.load import Manifests
from reconciler.plan.diff import dangling_references, diff
from reconciler.plan.model import Plan
from reconciler.plan.request import DEFAULT_VAULT_CONCURRENCY
from reconciler.plan.safety import threshold_breach
from reconciler.plan.secrets import check_secrets
from reconciler.store.base import Store
from reconciler.timeutil import utc_now

if TYPE_CHECKING:
    from reconciler.vault.resolver import VaultResolver


def make_plan(
    manifests: Manifests,
    store: Store,
    *,
    scope: str,
    take_over: bool,
    source: str,
    threshold: float,
    resolver: Callable[[], VaultResolver],
    vault_concurrency: int = DEFAULT_VAULT_CONCURRENCY,
) -> Plan:
    """Diff the manifests against the store and check every Vault reference.

    Raises when the result would leave a reference dangling, or a secret unreadable.
    """
    with paused_gc():
        return _make_plan(
            manifests,
            store,
            scope=scope,
            take_over=take_over,
            source=source,
            threshold=threshold,
            resolver=resolver,
            vault_concurrency=vault_concurrency,
        )


def _make_plan(
    manifests: Manifests,
    store: Store,
    *,
    scope: str,
    take_over: bool,
    source: str,
    threshold: float,
    resolver: Callable[[], VaultResolver],
    vault_concurrency: int,
) -> Plan:
    state = store.state()
    actual = store.resources()
    changes = diff(manifests.resources, actual, scope=scope, take_over=take_over)
    dangling = dangling_references(manifests.resources, actual, changes)
    if dangling:
        raise SmtpcfgError("the plan would leave references dangling: " + "; ".join(dangling))
    secrets, notes = check_secrets(manifests, actual, resolver, vault_concurrency)
    plan = Plan(
        store_url=store.url,
        store=state,
        scope=scope,
        created_at=utc_now(),
        source=source,
        changes=changes,
        resource_count=sum(1 for resource in actual if resource.scope == scope),
        secrets=secrets,
        notes=notes,
        smtpcfg_version=__version__,
    )
    breach = threshold_breach(plan, threshold)
    if breach:
        plan.warnings.append(breach)
    return plan
