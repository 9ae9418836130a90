"""The model layer: plain data every other layer shares, importing nothing of theirs.

Resources and their identity, Vault references, and problems at a file position. The
names are re-exported here so that callers import them from one place.
"""

from reconciler.model.problems import FieldPath, ManifestProblems, Position, Problem, format_field
from reconciler.model.resources import (
    API_VERSION,
    DEFAULT_SCOPE,
    Resource,
    ResourceKey,
    StoredResource,
)
from reconciler.model.vault_reference import VaultReference

__all__ = [
    "API_VERSION",
    "DEFAULT_SCOPE",
    "FieldPath",
    "ManifestProblems",
    "Position",
    "Problem",
    "Resource",
    "ResourceKey",
    "StoredResource",
    "VaultReference",
    "format_field",
]
