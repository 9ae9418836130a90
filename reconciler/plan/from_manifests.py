"""What `plan` and `apply -f` do first: load manifests, open the store, make the plan."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.manifests.load import load_manifests
from reconciler.plan.build import make_plan
from reconciler.plan.model import Plan
from reconciler.plan.planfile import save_plan
from reconciler.plan.request import PlanRequest
from reconciler.plan.signing import load_key
from reconciler.provenance import detect_source
from reconciler.store.open import existing_store
from reconciler.vault.lazy import lazy_resolver

if TYPE_CHECKING:
    from reconciler.vault.resolver import VaultResolver


def plan_from_manifests(
    request: PlanRequest, resolver: Callable[[], VaultResolver] | None = None
) -> Plan:
    """The plan that brings the store in line with the manifests; the store is not changed.

    `resolver` reads Vault (default: one made for `request.vault_auth`); pass one to
    share its login with later reads.
    """
    manifests = load_manifests(request.paths)
    with existing_store(request.store_url) as store:
        return make_plan(
            manifests,
            store,
            scope=request.scope,
            take_over=request.take_over,
            threshold=request.threshold,
            source=detect_source(request.source, os.environ, manifests.files),
            resolver=resolver or lazy_resolver(request.vault_auth),
            vault_concurrency=request.vault_concurrency,
        )


@dataclass(frozen=True)
class SavedPlan:
    plan: Plan
    path: Path
    signed: bool


def plan_to_file(request: PlanRequest, path: Path, key_file: Path | None) -> SavedPlan:
    """Make the plan and save it for `apply FILE`, signed when a plan key is set.

    The key is read first: a missing key file fails before Vault or the store is asked.
    """
    key = load_key(key_file, os.environ)
    plan = plan_from_manifests(request)
    save_plan(plan, path, key)
    return SavedPlan(plan, path, signed=key is not None)
