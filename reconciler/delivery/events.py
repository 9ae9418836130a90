"""What the runner tells its operator: one line per attempt, as text or JSON."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from reconciler.store.outbox import Job, Outcome
from reconciler.timeutil import utc_now


class EventLog:
    def __init__(self, log_format: str = "text", stream: TextIO | None = None) -> None:
        self.log_format = log_format
        self.stream = stream or sys.stderr

    def job(self, job: Job, outcome: Outcome) -> None:
        event = {
            "time": utc_now(),
            "event": "attempt",
            "job": job.id,
            "purpose": job.purpose,
            "status": outcome.status,
            "outcome": outcome.outcome,
            "code": outcome.code,
            "reply": outcome.reply,
            "messageId": outcome.message_id,
            "detail": outcome.failure,
        }
        self._write(event, self._text(job, outcome))

    def message(self, text: str, **fields: object) -> None:
        self._write({"time": utc_now(), "event": "runner", "message": text, **fields}, text)

    def _text(self, job: Job, outcome: Outcome) -> str:
        line = f"job {job.id} ({job.purpose}) {outcome.status}"
        if outcome.code is not None:
            line += f": {outcome.code} {outcome.reply or ''}".rstrip()
        if outcome.failure:
            line += f" - {outcome.failure}"
        return line

    def _write(self, event: dict[str, object], text: str) -> None:
        line = json.dumps(event, ensure_ascii=False) if self.log_format == "json" else text
        print(line, file=self.stream, flush=True)
