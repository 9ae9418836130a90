"""What to plan: the options `plan` and `apply -f` share, with their defaults.

Light on purpose: the CLI reads the defaults when it starts, before any plan is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.model import DEFAULT_SCOPE
from reconciler.plan.safety import DEFAULT_THRESHOLD_PERCENT

#: Vault reads in flight at once while references are checked.
DEFAULT_VAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class PlanRequest:
    """Manifests to plan against a store, and how (the options of `plan` and `apply`)."""

    paths: Sequence[str]
    store_url: str
    scope: str = DEFAULT_SCOPE
    take_over: bool = False
    threshold: float = DEFAULT_THRESHOLD_PERCENT
    #: For the audit log; None: $GITHUB_SHA or the manifests' git commit.
    source: str | None = None
    vault_auth: str | None = None
    vault_concurrency: int = DEFAULT_VAULT_CONCURRENCY
