"""Normalize schema-valid manifest data, so that equal meaning compares equal.

Each kind's spec is normalized by its module in reconciler.kinds (sizes become bytes,
defaults are filled in, host names and email domains are lowercased); here labels and
annotations are sorted and empty optional maps disappear. Normalizing is idempotent: the
output of `export` normalizes to itself, which is what makes `apply` then `plan` show no
changes.
"""

from __future__ import annotations

from typing import Any

from reconciler import kinds
from reconciler.model import Resource, ResourceKey


def normalize(document: dict[str, Any]) -> Resource:
    """A Resource from one schema-valid manifest document."""
    metadata = document["metadata"]
    kind = document["kind"]
    return Resource(
        key=ResourceKey(kind, metadata["name"]),
        spec=kinds.by_name(kind).normalize(document["spec"]),
        labels=dict(sorted(metadata.get("labels", {}).items())),
        annotations=dict(sorted(metadata.get("annotations", {}).items())),
    )
