"""The SmtpSettings to probe: declared in manifests, stored, or touched by a plan."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reconciler.errors import SmtpcfgError
from reconciler.manifests.load import Manifests
from reconciler.model import Resource, ResourceKey
from reconciler.plan.model import Plan
from reconciler.store.base import Store

KIND = "SmtpSettings"


def declared(manifests: Manifests, names: Sequence[str]) -> list[Resource]:
    """The manifests' SmtpSettings, or those named."""
    found = [r for key, r in manifests.resources.items() if key.kind == KIND]
    return _select(found, names, "in the manifests")


def stored(store: Store, names: Sequence[str]) -> list[Resource]:
    """The store's SmtpSettings (every scope), or those named."""
    found: list[Resource] = list(store.resources(kind=KIND))
    return _select(found, names, f"in {store.url}")


def planned(plan: Plan, store: Store) -> list[Resource]:
    """The SmtpSettings the plan creates or changes (as they will be), and those whose
    password's version moved since the last apply (as stored, which they match)."""
    changed = [
        Resource.from_body(change.key, change.after)
        for change in plan.changes
        if change.key.kind == KIND and change.after is not None
    ]
    seen = {resource.key for resource in changed}
    rotated = [
        key
        for key in (_key(name) for name in plan.observations())
        if key.kind == KIND and key not in seen
    ]
    return changed + list(_present(store, rotated))


def _present(store: Store, keys: Iterable[ResourceKey]) -> Iterable[Resource]:
    for key in keys:
        resource = store.resource(key)
        if resource is not None:
            yield resource


def _key(text: str) -> ResourceKey:
    kind, _, name = text.partition("/")
    return ResourceKey(kind, name)


def _select(found: list[Resource], names: Sequence[str], where: str) -> list[Resource]:
    if not names:
        return sorted(found, key=lambda r: r.key.name)
    by_name = {resource.key.name: resource for resource in found}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise SmtpcfgError(", ".join(f"{KIND}/{name}" for name in missing) + f" not found {where}")
    return [by_name[name] for name in dict.fromkeys(names)]
