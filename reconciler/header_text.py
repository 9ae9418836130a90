"""The one rule for text that ends up in a mail header: it must be a single line.

Python's email library refuses a header value that `str.splitlines()` splits in two
(email.policy.EmailPolicy.header_store_parse), and a line break in a header could
inject headers such as Bcc. `splitlines()` breaks at more than CR and LF: also at VT,
FF, U+001C-U+001E, U+0085, U+2028 and U+2029. So the rule is `splitlines()` itself,
not a copy of its character list: validate, plan, `outbox add` and message building
all ask this module, and refuse exactly what the runner could never send.
"""

from __future__ import annotations

import unicodedata


def line_break_in(value: str) -> str | None:
    """The first character of `value` that splits it into lines, or None if it has none."""
    first_line = value.splitlines(keepends=True)[:1]
    if not first_line or first_line[0] == value.splitlines()[0]:
        return None  # one line with no line end (a trailing break still has keepends)
    line = first_line[0]
    return line[len(line.splitlines()[0])]


def describe(character: str) -> str:
    """`U+2028 (LINE SEPARATOR)`: how errors name a character."""
    name = unicodedata.name(character, "") or _CONTROL_NAMES.get(character, "")
    return f"U+{ord(character):04X}" + (f" ({name})" if name else "")


def header_text_problem(value: str) -> str | None:
    """Why `value` cannot be header text (naming the character as U+XXXX), or None."""
    character = line_break_in(value)
    if character is None:
        return None
    position = value.index(character) + 1
    return (
        f"contains the line break {describe(character)} at character {position}: "
        "a mail header must be one line"
    )


# unicodedata has no names for control characters; these are the ones splitlines() splits.
_CONTROL_NAMES = {
    "\n": "LINE FEED",
    "\r": "CARRIAGE RETURN",
    "\x0b": "LINE TABULATION",
    "\x0c": "FORM FEED",
    "\x1c": "FILE SEPARATOR",
    "\x1d": "GROUP SEPARATOR",
    "\x1e": "RECORD SEPARATOR",
    "\x85": "NEXT LINE",
}
