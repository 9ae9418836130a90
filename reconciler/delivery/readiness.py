"""`/readyz`: whether the store and Vault answered recently, checked in a thread of its own.

Every `interval` seconds the thread opens the store (a connection of its own, so it never
shares the runner's), reads the SmtpSettings and the queue's counts (for the metrics: so
they stay current while the runner is busy or stuck); when any SmtpSettings holds a
Vault reference (a password, an OAuth2 secret), it asks Vault's health endpoint too.
The runner is ready while the latest check of each succeeded and is no older than three
intervals (a check that hangs makes it unready).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.errors import SmtpcfgError
from reconciler.store.jobs import QueueStats
from reconciler.store.open import existing_store

#: How many intervals a successful check counts as recent.
RECENT_INTERVALS = 3


@dataclass(frozen=True)
class Check:
    ok: bool
    at: float  # time.monotonic()
    error: str | None = None


class Readiness:
    def __init__(
        self,
        store_url: str,
        vault_check: Callable[[float], None],
        interval: float,
        on_queue: Callable[[QueueStats], None],
    ) -> None:
        """`vault_check(timeout)` raises SmtpcfgError when Vault does not answer;
        `on_queue` is given the queue's counts at each check."""
        self.store_url = store_url
        self.on_queue = on_queue
        self.vault_check = vault_check
        self.interval = interval
        self.store: Check | None = None
        self.vault: Check | None = None
        #: None until the store was read: whether any SmtpSettings needs Vault.
        self.vault_needed: bool | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="readiness", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval * RECENT_INTERVALS)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check()
            self._stop.wait(self.interval)

    def check(self) -> None:
        try:
            with existing_store(self.store_url) as store:
                settings = store.resources("SmtpSettings")
                stats = store.queue_stats()
        except Exception as error:  # whatever it is, the store did not answer; go on checking
            detail = str(error) if isinstance(error, SmtpcfgError) else repr(error)
            self.store = Check(False, time.monotonic(), detail)
            return
        self.store = Check(True, time.monotonic())
        self.on_queue(stats)
        self.vault_needed = any(_names_vault(s.spec) for s in settings)
        if not self.vault_needed:
            return
        try:
            self.vault_check(self.interval)
        except SmtpcfgError as error:
            self.vault = Check(False, time.monotonic(), str(error))
        else:
            self.vault = Check(True, time.monotonic())

    def report(self) -> tuple[bool, dict[str, Any]]:
        """(ready, what /readyz shows)."""
        now = time.monotonic()
        window = self.interval * RECENT_INTERVALS

        def state(check: Check | None) -> tuple[bool, dict[str, Any]]:
            if check is None:
                return False, {"ok": False, "error": "not checked yet"}
            recent = now - check.at <= window
            error = check.error or (None if recent else f"no answer for {now - check.at:.0f} s")
            return check.ok and recent, {
                "ok": check.ok and recent,
                "checkedSecondsAgo": round(now - check.at, 3),
                "error": error,
            }

        store_ok, store = state(self.store)
        if self.vault_needed is False:
            vault_ok, vault = True, {"ok": True, "error": None, "needed": False}
        else:
            vault_ok, vault = state(self.vault)
        ready = store_ok and vault_ok
        return ready, {"status": "ready" if ready else "not ready", "store": store, "vault": vault}


def _names_vault(value: object) -> bool:
    """Whether a spec holds a Vault reference anywhere (a password, an OAuth2 secret)."""
    if isinstance(value, dict):
        return "vault" in value or any(_names_vault(item) for item in value.values())
    if isinstance(value, list):
        return any(_names_vault(item) for item in value)
    return False
