"""The safety threshold as a table: counts, shares, replaces beside deletes, small stores."""

from __future__ import annotations

import pytest

from reconciler.model import ResourceKey
from reconciler.plan.model import Action, Change, Plan
from reconciler.plan.safety import DEFAULT_THRESHOLD_PERCENT, MIN_RESOURCES, threshold_breach
from reconciler.store.base import StoreState


def plan_of(stored: int, scope: str = "default", **counts: int) -> Plan:
    """A plan of `stored` resources in `scope` with `counts` changes of each action."""
    actions: list[Action] = ["create", "update", "replace", "delete"]
    changes = [
        Change(action, ResourceKey("User", f"{action}-{i}"), None, None, [])
        for action in actions
        for i in range(counts.get(action, 0))
    ]
    return Plan(
        store_url="sqlite:///store.db",
        store=StoreState("store-id", 1, "write-id"),
        scope=scope,
        created_at="2026-01-01T00:00:00Z",
        source="test",
        changes=changes,
        resource_count=stored,
    )


def over(what: str, stored: int, share: int, percent: str = "30") -> str:
    return (
        f"the plan would {what} of {stored} stored resources ({share} %), "
        f"more than the safety threshold of {percent} %; apply needs --force"
    )


@pytest.mark.parametrize(
    ("plan", "percent", "breach"),
    [
        # Nothing stored, or nothing taken away: no threshold.
        (plan_of(0), 30.0, None),
        (plan_of(0, create=50), 30.0, None),
        (plan_of(10, create=100), 30.0, None),
        # At the threshold passes; above it does not.
        (plan_of(10, delete=3), 30.0, None),
        (plan_of(10, delete=4), 30.0, over("delete 4", 10, 40)),
        (plan_of(10, update=3), 30.0, None),
        (plan_of(10, update=4), 30.0, over("update 4", 10, 40)),
        # Replaces share the deletes' budget, and the message names each.
        (plan_of(10, replace=4), 30.0, over("replace 4", 10, 40)),
        (plan_of(10, delete=2, replace=2), 30.0, over("delete 2 and replace 2", 10, 40)),
        (plan_of(10, delete=2, replace=1), 30.0, None),
        # Updates and removals are separate budgets; updates are named first.
        (plan_of(10, update=3, delete=3), 30.0, None),
        (plan_of(10, update=4, delete=4), 30.0, over("update 4", 10, 40)),
        (plan_of(10, update=1, delete=4), 30.0, over("delete 4", 10, 40)),
        # Creates do not dilute a share: it is of what is stored.
        (plan_of(10, create=90, delete=4), 30.0, over("delete 4", 10, 40)),
        # Shares round to whole percent; the threshold prints as given.
        (plan_of(30, delete=1), 2.0, over("delete 1", 30, 3, "2")),
        (plan_of(10, delete=2), 12.5, over("delete 2", 10, 20, "12.5")),
        (plan_of(10, update=1), 0.0, over("update 1", 10, 10, "0")),
        (plan_of(10, delete=10, create=1), 100.0, None),
        # Below the minimum every change is a large share, so none counts...
        (plan_of(MIN_RESOURCES - 1, delete=8), 30.0, None),
        (plan_of(MIN_RESOURCES - 1, update=9), 30.0, None),
        (plan_of(MIN_RESOURCES, delete=8), 30.0, over("delete 8", 10, 80)),
        # ...except deleting everything and creating nothing, at any size.
        (
            plan_of(1, delete=1),
            30.0,
            "the plan would delete every one of the 1 resources of scope 'default' and "
            "create none; apply needs --force",
        ),
        (
            plan_of(20, "billing", delete=20),
            100.0,
            "the plan would delete every one of the 20 resources of scope 'billing' and "
            "create none; apply needs --force",
        ),
        (plan_of(2, delete=2, create=1), 30.0, None),
        (plan_of(2, delete=2, update=0, replace=1), 30.0, None),
        (plan_of(20, delete=20, create=1), 30.0, over("delete 20", 20, 100)),
    ],
)
def test_threshold(plan: Plan, percent: float, breach: str | None) -> None:
    assert threshold_breach(plan, percent) == breach


def test_the_default_threshold_lets_through_what_the_readme_promises() -> None:
    assert threshold_breach(plan_of(10, delete=3, update=3), DEFAULT_THRESHOLD_PERCENT) is None
    assert threshold_breach(plan_of(10, delete=4), DEFAULT_THRESHOLD_PERCENT) is not None
