"""Store faults as one-line errors, and a lost database connection outlived.

Every public method of a backend runs through the backend's `_guard`, so a driver
exception raised anywhere (a read-only file, a full disk, a corrupted file, a dropped
connection) leaves the store as a StoreError naming its cause, never as a traceback.
A backend that can reconnect (PostgreSQL) does so inside `_guard` when a caller asked
for it with `keep_connected`: the delivery runner, which must outlive a database
restart without losing the jobs it holds.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from reconciler.store.base import StoreError

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound="GuardedMethods")


class StoreUnavailable(StoreError):
    """The connection to the store was lost and could not be (or was not) made again."""


@dataclass(frozen=True)
class Reconnect:
    """How a backend reconnects: `log` is told of each try; `wait(seconds)` sleeps before
    it and returns False when the caller would rather stop (e.g. on SIGTERM)."""

    log: Callable[[str], None]
    wait: Callable[[float], bool]
    first_delay: float = 0.5
    max_delay: float = 30.0


class GuardedMethods:
    """Runs every public method of each subclass through `self._guard`.

    Only the outermost call is guarded: a public method that calls another (apply reads
    the state inside its transaction) is retried or reported as a whole.
    """

    _guarding = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if not name.startswith("_") and inspect.isfunction(value):
                setattr(cls, name, _guarded(value))

    def _guard(self, call: Callable[[], R]) -> R:
        """Run `call`, turning the backend's driver errors into StoreErrors."""
        return call()

    def keep_connected(self, reconnect: Reconnect) -> None:
        """Reconnect after a lost connection instead of failing; a no-op for a file."""


def _guarded(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    @functools.wraps(method)
    def guarded(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if self._guarding:
            return method(self, *args, **kwargs)
        self._guarding = True
        try:
            return self._guard(lambda: method(self, *args, **kwargs))
        finally:
            self._guarding = False

    return guarded
