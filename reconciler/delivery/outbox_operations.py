"""What a person does to outbox jobs: retry, cancel, resolve; each recorded with who did
it, when and why (the store keeps the record, `outbox show` lists it).

A job a runner holds under a live lease is never cancelled: the runner may be sending it
at that moment, and the record would say cancelled of a message that went out. Retry and
resolve apply only to finished jobs, which no runner holds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from reconciler.provenance import detect_actor
from reconciler.store.jobs import OPERATIONS, JobFilter, Operation
from reconciler.store.open import existing_store


@dataclass(frozen=True)
class Operated:
    """What an operation did: each job's id and its status before."""

    operation: str
    before: list[tuple[int, str]]

    def describe(self) -> list[str]:
        result = OPERATIONS[self.operation].result
        return [f"outbox job {job_id}: {status} -> {result}" for job_id, status in self.before]


def operate(
    store_url: str, operation: str, job_ids: list[int], *, reason: str, actor: str | None
) -> Operated:
    """Do `operation` to every job, all or none (see `Outbox.operate`).

    `actor` None: a CI system's user variable, else the OS user, as an apply records it.
    """
    who = detect_actor(actor, os.environ)
    with existing_store(store_url) as store:
        before = store.operate(job_ids, Operation(operation, who, reason))
    return Operated(operation, list(zip(dict.fromkeys(job_ids), before, strict=True)))


def matching_ids(store_url: str, selection: JobFilter) -> list[int]:
    """The ids of the jobs `selection` matches, oldest first."""
    with existing_store(store_url) as store:
        return [job.id for job in store.jobs(selection)]
