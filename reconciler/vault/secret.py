"""The wrapper that keeps a secret value out of reprs, logs, JSON and pickles."""

from __future__ import annotations

from typing import NoReturn


class SecretValue:
    """A secret string that shows itself only through `reveal()`.

    `repr()`, `str()` and f-strings print `SecretValue('***')`; `json.dumps` fails (it is not
    a `str`), and so does pickling, so the value cannot leave the process by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself: call this only where it is sent to the server that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "SecretValue('***')"

    __str__ = __repr__

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("a SecretValue cannot be pickled or copied; call reveal() where needed")
