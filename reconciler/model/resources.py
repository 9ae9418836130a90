"""The resources smtpcfg manages, in the normalized form that is diffed and stored.

What each kind's spec holds, and how kinds depend on each other, is in reconciler.kinds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

API_VERSION = "smtpcfg/v1"

#: The scope an apply owns when none is given: `--scope` / SMTPCFG_SCOPE.
DEFAULT_SCOPE = "default"


@dataclass(frozen=True, order=True)
class ResourceKey:
    """A resource's identity: its kind and name."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass
class Resource:
    """A resource as declared: identity, labels, annotations and normalized spec.

    `body()` is exactly what is compared with the store and written to it.
    """

    key: ResourceKey
    spec: dict[str, Any]
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        metadata: dict[str, Any] = {}
        if self.labels:
            metadata["labels"] = self.labels
        if self.annotations:
            metadata["annotations"] = self.annotations
        return {"metadata": metadata, "spec": self.spec}

    @classmethod
    def from_body(cls, key: ResourceKey, body: dict[str, Any]) -> Resource:
        """The inverse of `body()`: a resource from what a plan or the store holds."""
        metadata = body.get("metadata", {})
        return cls(
            key=key,
            spec=body["spec"],
            labels=metadata.get("labels", {}),
            annotations=metadata.get("annotations", {}),
        )

    def to_manifest(self) -> dict[str, Any]:
        """The resource as a manifest document that validates and plans as no change."""
        metadata: dict[str, Any] = {"name": self.key.name, **self.body()["metadata"]}
        return {
            "apiVersion": API_VERSION,
            "kind": self.key.kind,
            "metadata": metadata,
            "spec": self.spec,
        }


@dataclass
class StoredResource(Resource):
    """A resource as the store holds it, with the fields the store owns."""

    status: dict[str, Any] = field(default_factory=dict)
    scope: str = "default"
    uid: str = ""
    generation: int = 0
    created_at: str = ""
    updated_at: str = ""

    def to_manifest_with_status(self) -> dict[str, Any]:
        """The manifest plus the store's read-only metadata, as `get -o yaml` shows it."""
        document = self.to_manifest()
        document["metadata"].update(
            scope=self.scope,
            uid=self.uid,
            generation=self.generation,
            createdAt=self.created_at,
            updatedAt=self.updated_at,
        )
        return document
