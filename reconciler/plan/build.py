"""Make a plan from loaded manifests and a store."""

from __future__ import annotations

from reconciler import __version__
from reconciler.errors import SmtpcfgError
from reconciler.manifests.load import Manifests
from reconciler.plan.diff import dangling_references, diff
from reconciler.plan.model import Plan
from reconciler.plan.safety import threshold_breach
from reconciler.store.base import Store
from reconciler.timeutil import utc_now


def make_plan(manifests: Manifests, store: Store, *, source: str, threshold: float) -> Plan:
    """Diff the manifests against the store. Raises when the result would dangle."""
    state = store.state()
    actual = store.resources()
    changes = diff(manifests.resources, actual)
    dangling = dangling_references(manifests.resources, actual, changes)
    if dangling:
        raise SmtpcfgError("the plan would leave references dangling: " + "; ".join(dangling))
    plan = Plan(
        store_url=store.url,
        store=state,
        created_at=utc_now(),
        source=source,
        changes=changes,
        resource_count=len(actual),
        smtpcfg_version=__version__,
    )
    breach = threshold_breach(plan, threshold)
    if breach:
        plan.warnings.append(breach)
    return plan
