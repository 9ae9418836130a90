"""Check every Vault reference of the manifests before anything is applied.

Each distinct reference is read once, concurrently; the values are dropped at once.
What the plan keeps is the KV version seen, for the audit log and for noticing
rotations of unpinned references.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reconciler.manifests.load import Manifests
from reconciler.model import ManifestProblems, Problem, StoredResource, VaultReference

if TYPE_CHECKING:
    from reconciler.vault.resolver import VaultResolver

PASSWORD_FIELD = "spec.password"  # noqa: S105 - a field name


def check_secrets(
    manifests: Manifests,
    actual: list[StoredResource],
    resolver: Callable[[], VaultResolver],
    concurrency: int,
) -> tuple[list[dict[str, Any]], list[str]]:
    """(secrets seen, notes); raises ManifestProblems naming each unreadable reference."""
    references = {
        key: VaultReference.from_spec(resource.spec["password"])
        for key, resource in manifests.resources.items()
        if "password" in resource.spec
    }
    if not references:
        return [], []
    from reconciler.vault.resolver import VaultLookupError

    results = resolver().resolve_all(references.values(), concurrency=concurrency)
    stored = {resource.key: resource for resource in actual}
    problems = []
    secrets = []
    notes = []
    for key, reference in references.items():
        result = results[reference]
        if isinstance(result, VaultLookupError):
            problems.append(
                Problem(
                    manifests.position_of(key, PASSWORD_FIELD),
                    str(key),
                    PASSWORD_FIELD,
                    str(result),
                )
            )
            continue
        before = stored.get(key)
        recorded = before.status.get("passwordVersion") if before else None
        secrets.append(
            {
                "resource": str(key),
                "reference": reference.display(),
                "version": result.version,
                "recordedVersion": recorded,
            }
        )
        if _rotated(before, reference, recorded, result.version):
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
    reference: VaultReference,
    recorded: int | None,
    current: int | None,
) -> bool:
    """An unpinned, unchanged reference whose KV version moved since the last apply."""
    return (
        before is not None
        and reference.version is None
        and before.spec.get("password") == reference.to_spec()
        and recorded is not None
        and recorded != current
    )
