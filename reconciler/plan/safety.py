"""The safety threshold, after octoDNS: refuse mass updates or deletes unless forced.

A manifest folder that lost most of its files, or a bad merge, shows up as a plan that
rewrites a large share of the store. `plan` warns; `apply` refuses without `--force`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `--safety-threshold` reads the default without loading plans
    from reconciler.plan.model import Plan

DEFAULT_THRESHOLD_PERCENT = 30.0
#: Below this many stored resources every change is a large share; no threshold applies.
MIN_RESOURCES = 10


def threshold_breach(plan: Plan, percent: float) -> str | None:
    """Why `plan` exceeds the threshold, or None when it does not.

    Deletes and replaces both take identities away, so they share one budget; the
    message names each as what it is.
    """
    existing = plan.resource_count
    counts = plan.summary()
    if (
        existing
        and counts["delete"] == existing
        and not (counts["create"] or counts["update"] or counts["replace"])
    ):
        # An empty folder or a wrong -f path plans as "delete everything", whatever the size.
        return (
            f"the plan would delete every one of the {existing} resources of scope "
            f"{plan.scope!r} and create none; apply needs --force"
        )
    if existing < MIN_RESOURCES:
        return None
    removals = " and ".join(
        f"{verb} {counts[verb]}" for verb in ("delete", "replace") if counts[verb]
    )
    for what, count in (
        (f"update {counts['update']}", counts["update"]),
        (removals, counts["delete"] + counts["replace"]),
    ):
        share = 100.0 * count / existing
        if share > percent:
            return (
                f"the plan would {what} of {existing} stored resources ({share:.0f} %), "
                f"more than the safety threshold of {percent:g} %; apply needs --force"
            )
    return None
