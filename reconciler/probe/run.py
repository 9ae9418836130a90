"""What `probe` and `plan --probe` do: pick the settings, read their passwords, probe."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.delivery.options import ProbeOptions
from reconciler.delivery.probe import ProbeReport, probe_settings
from reconciler.manifests.load import load_manifests
from reconciler.model import Resource
from reconciler.plan.from_manifests import plan_from_manifests
from reconciler.plan.model import Plan
from reconciler.plan.planfile import save_plan
from reconciler.plan.request import PlanRequest
from reconciler.plan.signing import load_key
from reconciler.probe import targets
from reconciler.store.open import existing_store
from reconciler.vault.lazy import lazy_resolver


def probe_declared(
    paths: Sequence[str],
    names: Sequence[str],
    store_url: str,
    vault_auth: str | None,
    options: ProbeOptions,
) -> ProbeReport:
    """Probe the SmtpSettings of the manifests at `paths` or, without paths, of the store;
    all of them, or those `names` names."""
    settings: list[Resource]
    if paths:
        settings = targets.declared(load_manifests(paths), names)
    else:
        with existing_store(store_url) as store:
            settings = targets.stored(store, names)
    return probe_settings(settings, lazy_resolver(vault_auth), options)


@dataclass(frozen=True)
class ProbedPlan:
    plan: Plan
    report: ProbeReport
    #: where the plan was saved; None when not asked, or held back by a probe error
    saved_to: Path | None
    signed: bool


def plan_with_probe(
    request: PlanRequest,
    options: ProbeOptions,
    *,
    out_path: Path | None,
    key_file: Path | None,
    warn_only: bool,
) -> ProbedPlan:
    """Plan, then probe the SmtpSettings the plan creates or changes and those whose
    password moved. A plan whose probe found an error is not saved, unless `warn_only`."""
    key = load_key(key_file, os.environ) if out_path is not None else None
    resolver = lazy_resolver(request.vault_auth)
    plan = plan_from_manifests(request, resolver)
    with existing_store(request.store_url) as store:
        settings = targets.planned(plan, store)
    report = probe_settings(settings, resolver, options)
    saved_to = out_path if warn_only or not report.errors else None
    if saved_to is not None:
        save_plan(plan, saved_to, key)
    return ProbedPlan(plan, report, saved_to, signed=key is not None)
