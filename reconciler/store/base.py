"""The store interface shared by the SQLite and PostgreSQL backends.

The reconciler writes through `apply`; the delivery runner only reads resources. Both
import this module, so it must not import manifest or plan code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from reconciler.errors import SmtpcfgError
from reconciler.model import ResourceKey, StoredResource
from reconciler.provenance import ApplyContext
from reconciler.store.jobs import Outbox

if TYPE_CHECKING:
    from reconciler.store.faults import Reconnect

#: "status" records what the store observed (e.g. a password's KV version) without
#: changing the resource or its generation.
WriteAction = Literal["create", "update", "delete", "status"]


class StoreError(SmtpcfgError):
    """The store cannot be opened, read or written."""


class StoreMissingError(StoreError):
    """The store was never created (`smtpcfg init` creates it)."""


class StaleStateError(StoreError):
    """The store moved on since the plan was made; the plan no longer applies."""


@dataclass(frozen=True)
class StoreState:
    """What a plan was made against: the store's random id (given at creation), its
    revision, and the random id of its last write. Two copies of one store share id and
    revision until either is written; the write id then tells them apart."""

    store_id: str
    revision: int
    write_id: str


@dataclass(frozen=True)
class Write:
    """One row change of an apply. `body` is `Resource.body()`; None for deletes."""

    action: WriteAction
    key: ResourceKey
    body: dict[str, Any] | None = None
    status: dict[str, Any] = field(default_factory=dict)
    scope: str = "default"


@dataclass(frozen=True)
class PendingAudit:
    """The audit fields an apply supplies; the store adds revision, time and the hashes.

    `secrets` lists each Vault reference with the KV version the plan saw: which
    password version was in force from this apply on. Never a value.
    """

    scope: str
    actor: str
    source: str
    plan_digest: str
    changes: list[dict[str, Any]]
    secrets: list[dict[str, Any]]
    context: ApplyContext = field(default_factory=ApplyContext)


@dataclass(frozen=True)
class AuditEntry:
    """One apply, as `history` shows it. `revision` is the store revision it produced.

    `record_hash` chains the record to the one before (`previous_hash`, see
    `audit_chain`); both are None for records made before the store had a chain.
    """

    revision: int
    applied_at: str
    scope: str
    actor: str
    source: str
    plan_digest: str
    changes: list[dict[str, Any]]
    secrets: list[dict[str, Any]]
    context: ApplyContext = field(default_factory=ApplyContext)
    previous_hash: str | None = None
    record_hash: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "appliedAt": self.applied_at,
            "scope": self.scope,
            "actor": self.actor,
            "source": self.source,
            "applyCommit": self.context.commit,
            "ciRun": self.context.ci_run,
            "approvedBy": self.context.approved_by,
            "planDigest": self.plan_digest,
            "changes": self.changes,
            "secrets": self.secrets,
            "previousHash": self.previous_hash,
            "hash": self.record_hash,
        }

    def change_summary(self) -> str:
        """How many changes of each action, e.g. `1 delete, 2 update`."""
        counts: dict[str, int] = {}
        for change in self.changes:
            counts[change["action"]] = counts.get(change["action"], 0) + 1
        return ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))


@dataclass(frozen=True)
class ChainState:
    """What the store records about its audit chain, read with its revision.

    `start`: the revision the chain starts after (0 for a store made with the chain;
    for an older store, its revision when it was migrated). `head`: the hash of the last
    record (None before the first chained record). `started_at`: when the chain began.
    """

    store_id: str
    revision: int
    start: int
    head: str | None
    started_at: str


#: Called by `Store.apply` inside its transaction and lock with every resource as stored
#: now; returns the writes and the audit record, or raises to refuse (nothing is written).
PrepareApply = Callable[[list[StoredResource]], tuple[list[Write], PendingAudit]]


class Store(Outbox, Protocol):
    """Resources, their history and the outbox; one apply is one transaction."""

    #: Where the store is, as commands print it: an absolute SQLite path, a PostgreSQL URL
    #: without its password.
    url: str
    #: The migrations this open applied (all of them for a store just created).
    migrated: tuple[int, ...]

    def state(self) -> StoreState: ...

    def resources(
        self, kind: str | None = None, scope: str | None = None
    ) -> list[StoredResource]: ...

    def resource(self, key: ResourceKey) -> StoredResource | None: ...

    def apply(self, expected: StoreState, prepare: PrepareApply) -> int:
        """Write all or nothing under the store's lock; return the new revision.

        Raises StaleStateError, changing nothing, when the store is not at `expected`, and
        whatever `prepare` raises, changing nothing either.
        """
        ...

    def history(self, scope: str | None = None) -> list[AuditEntry]: ...

    def chain_state(self) -> ChainState: ...

    def keep_connected(self, reconnect: Reconnect) -> None:
        """Reconnect after a lost connection (with `reconnect`'s backoff) instead of
        raising StoreUnavailable; for long-lived processes such as the runner."""
        ...

    def close(self) -> None: ...
