"""Questions to the audit log: which applies, and which field changes, match a filter.

`history` answers "who changed SmtpSettings/x's spec.port, when, from which commit" with
one line per field change (`FieldLine`), and narrows the JSON records to what matched.
Passwords are Vault references in the log; a line for one carries the KV version in
force after the apply, never a value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from reconciler.store.base import AuditEntry
from reconciler.store.open import existing_store

PASSWORD_FIELD = "spec.password"  # noqa: S105 - a field name


@dataclass(frozen=True)
class ResourceFilter:
    """`KIND/NAME`, or a whole `KIND` when `name` is None (kind as the store spells it)."""

    kind: str
    name: str | None = None

    def matches(self, resource: str) -> bool:
        kind, _, name = resource.partition("/")
        return kind == self.kind and (self.name is None or name == self.name)


@dataclass(frozen=True)
class HistoryQuery:
    """Filters of `history`; empty ones match everything. `since` is inclusive and
    `until` exclusive, both in the store's timestamp format."""

    resources: tuple[ResourceFilter, ...] = ()
    fields: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    scope: str | None = None

    @property
    def by_change(self) -> bool:
        """Whether the question is about resources or fields rather than applies."""
        return bool(self.resources or self.fields)

    def entry_matches(self, entry: AuditEntry) -> bool:
        return (
            (not self.actors or entry.actor in self.actors)
            and (self.since is None or entry.applied_at >= self.since)
            and (self.until is None or entry.applied_at < self.until)
        )

    def resource_matches(self, *resources: str | None) -> bool:
        return not self.resources or any(
            rule.matches(resource) for rule in self.resources for resource in resources if resource
        )

    def field_matches(self, path: str | None) -> bool:
        """`spec.from` matches `spec.from` and everything under it."""
        if not self.fields:
            return True
        return path is not None and any(
            path == wanted or path.startswith(f"{wanted}.") for wanted in self.fields
        )


@dataclass(frozen=True)
class FieldLine:
    """One field change of one apply. `field` is the change's JSON (`path`, `before`
    and `after` when set); None for a change that lists no field. For the password,
    `version` is the KV version in force after the apply and `previous_version` the
    one before (None when unknown); a rotation in Vault is a line with no `field`
    change but a new version (`action` "rotate")."""

    entry: AuditEntry
    resource: str
    action: str
    field: dict[str, Any] | None
    reference: str | None = None
    version: int | None = None
    previous_version: int | None = None

    @property
    def path(self) -> str | None:
        return self.field["path"] if self.field is not None else None


@dataclass(frozen=True)
class HistoryAnswer:
    """The records that matched (narrowed to the matching changes when the question is
    about resources or fields) and their field lines."""

    entries: list[AuditEntry]
    lines: list[FieldLine]


def query_history(store_url: str, query: HistoryQuery) -> HistoryAnswer:
    with existing_store(store_url) as store:
        entries = store.history(query.scope)
    return answer(entries, query)


def answer(entries: list[AuditEntry], query: HistoryQuery) -> HistoryAnswer:
    lines = [
        line
        for line in field_lines(entries)
        if query.entry_matches(line.entry)
        and query.resource_matches(line.resource, _previous(line))
        and query.field_matches(line.path if line.action != "rotate" else PASSWORD_FIELD)
    ]
    if not query.by_change:
        return HistoryAnswer([e for e in entries if query.entry_matches(e)], lines)
    matched = {id(line.entry) for line in lines}
    return HistoryAnswer(
        [_narrowed(entry, query) for entry in entries if id(entry) in matched], lines
    )


def field_lines(entries: list[AuditEntry]) -> list[FieldLine]:
    """Every field change of `entries` (in revision order), password versions followed
    from record to record."""
    versions: dict[str, int | None] = {}
    lines = []
    for entry in entries:
        seen = {item["resource"]: item for item in entry.secrets}
        changed, password_lines = set(), set()
        for change in entry.changes:
            resource, _ = _names(change)
            changed.add(resource)
            secret = seen.get(resource, {})
            for item in change["fields"] or [None]:
                is_password = item is not None and item["path"] == PASSWORD_FIELD
                if is_password:
                    password_lines.add(resource)
                lines.append(
                    FieldLine(
                        entry,
                        resource,
                        change["action"],
                        item,
                        secret.get("reference") if is_password else None,
                        secret.get("version") if is_password else None,
                        versions.get(resource) if is_password else None,
                    )
                )
        for resource, secret in seen.items():
            before = versions.get(resource)
            moved = secret["version"] != before and (before is not None or resource not in changed)
            if resource not in password_lines and moved:
                lines.append(
                    FieldLine(
                        entry,
                        resource,
                        "rotate",
                        None,
                        secret["reference"],
                        secret["version"],
                        before,
                    )
                )
            versions[resource] = secret["version"]
    return lines


def _previous(line: FieldLine) -> str | None:
    """The name a replace renamed from, so a filter on the old name finds it."""
    for change in line.entry.changes:
        resource, previous = _names(change)
        if resource == line.resource and previous is not None:
            return previous
    return None


def _names(change: dict[str, Any]) -> tuple[str, str | None]:
    """A change's `Kind/name`, and for a replace the `Kind/name` it replaces."""
    previous = change.get("previousName")
    return (
        f"{change['kind']}/{change['name']}",
        f"{change['kind']}/{previous}" if previous is not None else None,
    )


def _narrowed(entry: AuditEntry, query: HistoryQuery) -> AuditEntry:
    changes = []
    for change in entry.changes:
        if not query.resource_matches(*_names(change)):
            continue
        fields = [item for item in change["fields"] if query.field_matches(item["path"])]
        if query.fields and not fields:
            continue
        changes.append({**change, "fields": fields})
    secrets = [
        item
        for item in entry.secrets
        if query.resource_matches(item["resource"]) and query.field_matches(PASSWORD_FIELD)
    ]
    return replace(entry, changes=changes, secrets=secrets)
