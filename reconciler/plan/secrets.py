"""Check every Vault reference of the manifests before anything is applied.

Every secret field a kind declares (`spec.password`, `spec.oauth2.clientSecret`,
`spec.oauth2.serviceAccountKey`) is checked alike. Each distinct reference is read once,
concurrently; the values are dropped at once. What the plan keeps is the KV version
seen, for the audit log and for noticing rotations of unpinned references.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reconciler.kinds import secrets_of
from reconciler.manifests.load import Manifests
from reconciler.model import ManifestProblems, Problem, ResourceKey, StoredResource, VaultReference
from reconciler.plan.model import version_key

if TYPE_CHECKING:
    from reconciler.vault.resolver import VaultResolver


def check_secrets(
    manifests: Manifests,
    actual: list[StoredResource],
    resolver: Callable[[], VaultResolver],
    concurrency: int,
) -> tuple[list[dict[str, Any]], list[str]]:
    """(secrets seen, notes); raises ManifestProblems naming each unreadable reference."""
    references: dict[tuple[ResourceKey, str], VaultReference] = {
        (key, field): reference
        for key, resource in manifests.resources.items()
        for field, reference in secrets_of(key, resource.spec).items()
    }
    if not references:
        return [], []
    from reconciler.vault.resolver import VaultLookupError

    results = resolver().resolve_all(references.values(), concurrency=concurrency)
    stored = {resource.key: resource for resource in actual}
    problems = []
    secrets = []
    notes = []
    for (key, field), reference in references.items():
        result = results[reference]
        if isinstance(result, VaultLookupError):
            problems.append(
                Problem(manifests.position_of(key, field), str(key), field, str(result))
            )
            continue
        before = stored.get(key)
        recorded = before.status.get(version_key(field)) if before else None
        secrets.append(
            {
                "resource": str(key),
                "field": field,
                "reference": reference.display(),
                "version": result.version,
                "recordedVersion": recorded,
            }
        )
        if _rotated(before, field, reference, recorded, result.version):
            notes.append(
                f"{key}: {reference.display()} was rotated in Vault since the last "
                f"apply (version {recorded} → {result.version}); the runner already "
                "sends with the new one, and apply records it"
            )
    if problems:
        raise ManifestProblems(problems, "with Vault references; nothing was applied")
    return secrets, notes


def _rotated(
    before: StoredResource | None,
    field: str,
    reference: VaultReference,
    recorded: int | None,
    current: int | None,
) -> bool:
    """An unpinned, unchanged reference whose KV version moved since the last apply."""
    return (
        before is not None
        and reference.version is None
        and secrets_of(before.key, before.spec).get(field) == reference
        and recorded is not None
        and recorded != current
    )
