"""The audit log's hash chain: each record's SHA-256 covers its content and the hash of the
record before it, so a record changed, removed or inserted later breaks the chain.

The first record of a store follows a genesis hash made from the store's id and the
revision the chain starts after, so a chain copied from another store, or one whose
start was moved, breaks too. What this proves, and what it does not, is in the README
("Audit trail"): anyone who runs this code can recompute a whole chain, which only an
anchor kept outside the store (a head hash in a CI log) tells apart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from reconciler.model.canonical import canonical_json
from reconciler.store.base import AuditEntry, ChainState, PendingAudit
from reconciler.store.open import existing_store

#: Bumped if the recipe below ever changes; part of every hashed record.
CHAIN_VERSION = 1


def genesis_hash(store_id: str, start: int) -> str:
    """What the first chained record of a store follows."""
    return _sha256(canonical_json({"chain": CHAIN_VERSION, "store": store_id, "start": start}))


def record_hash(entry: AuditEntry) -> str:
    """The hash of a record: its content as `history -o json` shows it, without the
    hashes themselves, and the previous record's hash."""
    content = entry.to_json()
    del content["hash"]
    return _sha256(canonical_json({"chain": CHAIN_VERSION, "record": content}))


def seal(audit: PendingAudit, revision: int, applied_at: str, chain: ChainState) -> AuditEntry:
    """The record an apply appends, chained to the store's head. Called inside the apply's
    lock, so two applies never chain to the same head."""
    entry = AuditEntry(
        revision=revision,
        applied_at=applied_at,
        scope=audit.scope,
        actor=audit.actor,
        source=audit.source,
        plan_digest=audit.plan_digest,
        changes=audit.changes,
        secrets=audit.secrets,
        context=audit.context,
        previous_hash=chain.head or genesis_hash(chain.store_id, chain.start),
    )
    return replace(entry, record_hash=record_hash(entry))


@dataclass(frozen=True)
class ChainReport:
    """The outcome of `verify_chain`: `problem` is None when the chain holds."""

    problem: str | None
    head: str | None
    checked: int
    unchained: int
    chain: ChainState
    #: The revision whose hash `--expect-head` gave, when the chain holds it.
    anchored_at: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "intact": self.problem is None,
            "problem": self.problem,
            "head": self.head,
            "records": self.checked,
            "chainStartsAfter": self.chain.start,
            "chainStartedAt": self.chain.started_at,
            "expectedHeadRevision": self.anchored_at,
        }

    def describe(self) -> list[str]:
        """What `history --verify` prints."""
        lines = []
        if self.unchained:
            which = (
                "Revision 1 predates"
                if self.chain.start == 1
                else f"Revisions 1-{self.chain.start} predate"
            )
            lines.append(
                f"{which} the hash chain, which this store got when it was migrated at "
                f"{self.chain.started_at}: {'it is' if self.chain.start == 1 else 'they are'}"
                " not covered."
            )
        if self.problem is not None:
            lines.append(f"Audit chain broken: {self.problem}")
            return lines
        lines.append(
            f"Audit chain intact: {self.checked} record{'s' if self.checked != 1 else ''}"
            f" verified, head {self.head or '(none yet)'}."
        )
        if self.anchored_at is not None:
            since = self.chain.revision - self.anchored_at
            lines.append(
                f"The expected head is revision {self.anchored_at}"
                + (f"; {since} record{'s' if since != 1 else ''} appended since." if since else ".")
            )
        return lines


#: How often `verify_store` reads again when applies keep landing while it reads.
_READ_ATTEMPTS = 5


def verify_store(store_url: str, expect_head: str | None = None) -> ChainReport:
    """`verify_chain` over the store at `store_url`.

    The chain's state and the records are two reads; an apply landing between them
    would look like a removed or inserted record, so they are read again until the
    state is the same before and after the records."""
    with existing_store(store_url) as store:
        for _ in range(_READ_ATTEMPTS):
            chain = store.chain_state()
            entries = store.history()
            if store.chain_state() == chain:
                break
    return verify_chain(entries, chain, expect_head)


def verify_chain(
    entries: list[AuditEntry], chain: ChainState, expect_head: str | None = None
) -> ChainReport:
    """Recompute the chain over every record (in revision order) and name the first one
    changed, removed or inserted out of order; with `expect_head` (a head hash kept
    outside the store), also require that record to be in the chain."""
    unchained = [entry for entry in entries if 0 < entry.revision <= chain.start]
    chained = [entry for entry in entries if not 0 < entry.revision <= chain.start]
    problem, head = _first_break(chained, chain)
    if problem is None:
        problem = _tail_problem(chained, chain, head)
    anchored_at = None
    if problem is None and expect_head is not None:
        anchored_at = next((e.revision for e in chained if e.record_hash == expect_head), None)
        if anchored_at is None:
            problem = (
                f"the expected head {expect_head} is not in the chain: the chain was rewritten"
                " since that head was recorded, or the hash is another store's"
            )
    return ChainReport(problem, head, len(chained), len(unchained), chain, anchored_at)


def _first_break(chained: list[AuditEntry], chain: ChainState) -> tuple[str | None, str | None]:
    """(the first problem or None, the head hash reached)."""
    expected = genesis_hash(chain.store_id, chain.start)
    last = chain.start
    for entry in chained:
        where = f"revision {entry.revision}"
        if not 0 < entry.revision <= chain.revision:
            return (
                f"{where} is out of order (the store is at revision {chain.revision}):"
                " it was inserted",
                None,
            )
        if entry.record_hash is None or entry.previous_hash is None:
            return f"{where} has no hash: it was inserted or changed outside smtpcfg", None
        if record_hash(entry) != entry.record_hash:
            return (
                f"{where} was changed: its content does not match its hash"
                " (or it was inserted as a copy of another record)",
                None,
            )
        if entry.previous_hash != expected:
            return _link_problem(entry, last, chain.start), None
        expected, last = entry.record_hash, entry.revision
    return None, (expected if chained else None)


def _link_problem(entry: AuditEntry, last: int, start: int) -> str:
    """Why a record that matches its own hash does not follow the record before it."""
    where = f"revision {entry.revision}"
    if last == start and entry.revision == start + 1:
        return (
            f"{where} does not follow the chain's start: the store's id or the revision"
            " the chain starts after was changed, or the record comes from another store"
        )
    if entry.revision > last + 1:
        missing = _span(last + 1, entry.revision - 1)
        return f"{missing} removed: {where} follows a record that is no longer there"
    return (
        f"{where} does not follow revision {last}: revision {last} was inserted or replaced"
        " with a hash of its own"
    )


def _tail_problem(chained: list[AuditEntry], chain: ChainState, head: str | None) -> str | None:
    last = chained[-1].revision if chained else chain.start
    if last < chain.revision:
        return (
            f"{_span(last + 1, chain.revision)} removed: the store is at revision"
            f" {chain.revision}, but the last record is revision {last}"
        )
    if head != chain.head:
        return (
            f"revision {last}'s hash {head} is not the head the store recorded"
            f" ({chain.head}): records after it were removed, or it was replaced"
        )
    return None


def _span(first: int, last: int) -> str:
    return f"revision {first} was" if first == last else f"revisions {first}-{last} were"


def _sha256(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()
