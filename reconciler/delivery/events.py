"""What the runner tells its operator: one line per attempt, as text or JSON."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from reconciler.store.jobs import Job, Outcome
from reconciler.timeutil import utc_now

#: Carriage return, then erase to the end of the line: redraws a terminal's status line.
_REDRAW = "\r\x1b[K"


class EventLog:
    """Writes events to `stream` (stderr): text lines, or one JSON object per line.

    On a terminal, `progress()` keeps a status line below the events: each event is
    written above it, and the status line is drawn again after.
    """

    def __init__(self, log_format: str = "text", stream: TextIO | None = None) -> None:
        self.log_format = log_format
        self.stream = stream or sys.stderr
        self._status = ""

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

    def progress(self, status: str) -> None:
        """Show `status` as the terminal's last line, replacing the previous one."""
        self._status = status
        self.stream.write(f"{_REDRAW}{status}")
        self.stream.flush()

    def end_progress(self) -> None:
        """Leave the last status line on screen; later events go below it."""
        if self._status:
            self.stream.write("\n")
            self.stream.flush()
            self._status = ""

    def _text(self, job: Job, outcome: Outcome) -> str:
        line = f"job {job.id} ({job.purpose}) {outcome.status}"
        if outcome.code is not None:
            line += f": {outcome.code} {outcome.reply or ''}".rstrip()
        if outcome.failure:
            line += f" - {outcome.failure}"
        return line

    def _write(self, event: dict[str, object], text: str) -> None:
        line = json.dumps(event, ensure_ascii=False) if self.log_format == "json" else text
        if self._status:
            line = f"{_REDRAW}{line}\n{self._status}"
        else:
            line += "\n"
        self.stream.write(line)
        self.stream.flush()
