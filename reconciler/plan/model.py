"""A plan as data: what `plan` shows, `--out` saves, and `apply` carries out.

The JSON form (`Plan.to_json`) is published as `schemas/plan.schema.json`. A saved plan
is that JSON plus `digest`, the SHA-256 of the rest, so a reviewer can tie an apply to
the plan they read and `apply` can refuse a file edited after it was made. The digest's
recipe is public, so it proves nothing about who made the plan: a signature does (see
`planfile`), and `apply` checks the plan against the store in any case (see `verify`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.model import ResourceKey
from reconciler.model.canonical import canonical_json
from reconciler.store.base import StoreState

#: 2: the store's write id, and the optional signature.
FORMAT_VERSION = 2

Action = Literal["create", "update", "delete", "replace"]


class _Absent:
    """A field that is not set on one side of a change (distinct from null)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class FieldChange:
    path: str
    before: Any = ABSENT
    after: Any = ABSENT

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"path": self.path}
        if self.before is not ABSENT:
            result["before"] = self.before
        if self.after is not ABSENT:
            result["after"] = self.after
        return result

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FieldChange:
        return cls(data["path"], data.get("before", ABSENT), data.get("after", ABSENT))


@dataclass(frozen=True)
class Change:
    """One resource's change. For `replace`, `previous` is the identity being replaced."""

    action: Action
    key: ResourceKey
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    fields: list[FieldChange]
    previous: ResourceKey | None = None

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "action": self.action,
            "kind": self.key.kind,
            "name": self.key.name,
            "before": self.before,
            "after": self.after,
            "fields": [change.to_json() for change in self.fields],
        }
        if self.previous is not None:
            result["previousName"] = self.previous.name
        return result

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        key = ResourceKey(data["kind"], data["name"])
        previous = data.get("previousName")
        return cls(
            action=data["action"],
            key=key,
            before=data["before"],
            after=data["after"],
            fields=[FieldChange.from_json(item) for item in data["fields"]],
            previous=ResourceKey(key.kind, previous) if previous is not None else None,
        )


#: The field of secrets recorded by plans made before plans named the field.
PASSWORD_FIELD = "spec.password"  # noqa: S105 - a field name


def version_key(field: str) -> str:
    """The key of a resource's status that records the KV version of the secret in
    `field`: `spec.password` -> `passwordVersion`, `spec.oauth2.clientSecret` ->
    `oauth2.clientSecretVersion`."""
    return f"{field.removeprefix('spec.')}Version"


def field_of(item: dict[str, Any]) -> str:
    """The secret field a plan's `secrets` item is about."""
    return str(item.get("field", PASSWORD_FIELD))


@dataclass
class Plan:
    """Everything `apply` needs, and everything a reviewer reads."""

    store_url: str
    store: StoreState
    scope: str
    created_at: str
    source: str
    changes: list[Change]
    resource_count: int
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    secrets: list[dict[str, Any]] = field(default_factory=list)
    smtpcfg_version: str = ""
    _digest: str | None = field(default=None, init=False, repr=False, compare=False)
    _json: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(("create", "update", "replace", "delete"), 0)
        for change in self.changes:
            counts[change.action] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        """The plan as published JSON, with its digest."""
        return {**self._body(), "digest": self.digest()}

    def digest(self) -> str:
        """The SHA-256 of the plan's content. A plan is not changed once made, so it is
        computed once (it costs a full JSON encoding of a large plan)."""
        if self._digest is None:
            self._digest = digest_of(self.content())
        return self._digest

    def content(self) -> bytes:
        """The canonical bytes the digest and a signature cover."""
        return canonical_json(self._body())

    def secret_versions(self) -> dict[str, dict[str, int]]:
        """resource -> its status entries for the KV versions read (see `version_key`)."""
        versions: dict[str, dict[str, int]] = {}
        for item in self.secrets:
            if item["version"] is not None:
                entry = versions.setdefault(item["resource"], {})
                entry[version_key(field_of(item))] = item["version"]
        return versions

    def observations(self) -> list[str]:
        """Resources with a secret version to record (read now, not recorded by the
        store), each once, in the plan's order."""
        return list(
            dict.fromkeys(
                item["resource"]
                for item in self.secrets
                if item["version"] is not None and item.get("recordedVersion") != item["version"]
            )
        )

    def _body(self) -> dict[str, Any]:
        if self._json is None:
            self._json = self._make_body()
        return self._json

    def _make_body(self) -> dict[str, Any]:
        return {
            "formatVersion": FORMAT_VERSION,
            "smtpcfgVersion": self.smtpcfg_version,
            "createdAt": self.created_at,
            "scope": self.scope,
            "source": self.source,
            "store": {
                "url": self.store_url,
                "id": self.store.store_id,
                "revision": self.store.revision,
                "writeId": self.store.write_id,
                "resourceCount": self.resource_count,
            },
            "summary": self.summary(),
            "changes": [change.to_json() for change in self.changes],
            "secrets": self.secrets,
            "warnings": self.warnings,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        store = data["store"]
        return cls(
            store_url=store["url"],
            store=StoreState(store["id"], store["revision"], store["writeId"]),
            scope=data["scope"],
            created_at=data["createdAt"],
            source=data["source"],
            changes=[Change.from_json(item) for item in data["changes"]],
            resource_count=store["resourceCount"],
            warnings=data["warnings"],
            notes=data["notes"],
            secrets=data["secrets"],
            smtpcfg_version=data["smtpcfgVersion"],
        )


def audit_changes(changes: list[Change]) -> list[dict[str, Any]]:
    """What the audit log keeps of each change: the JSON form without whole bodies."""
    return [
        {key: value for key, value in change.to_json().items() if key not in ("before", "after")}
        for change in changes
    ]


def digest_of(content: bytes) -> str:
    """A plan's digest, from its `canonical_json`."""
    return "sha256:" + hashlib.sha256(content).hexdigest()
