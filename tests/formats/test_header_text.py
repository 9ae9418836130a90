"""The header-text rule refuses exactly what Python's email library refuses in a header."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from reconciler.header_text import describe, header_text_problem, line_break_in

# Every code point that str.splitlines() breaks at lies below U+3000.
_CANDIDATES = [chr(code) for code in range(0x3000)]


def email_library_refuses(value: str) -> bool:
    message = EmailMessage()
    try:
        message["Subject"] = value
    except ValueError:
        return True
    return False


def test_the_rule_is_the_email_librarys() -> None:
    refused = {c for c in _CANDIDATES if email_library_refuses(f"a{c}b")}
    ours = {c for c in _CANDIDATES if line_break_in(f"a{c}b") is not None}

    assert ours == refused
    assert ours == set("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("Invoice INV-1", None),
        ("", None),
        (
            "Jane\u2028Doe",
            "contains the line break U+2028 (LINE SEPARATOR) at character 5: "
            "a mail header must be one line",
        ),
        (
            "a\r\nBcc: x",
            "contains the line break U+000D (CARRIAGE RETURN) at character 2: "
            "a mail header must be one line",
        ),
        # A trailing break passes the email library's own check, but not ours.
        (
            "Invoice\n",
            "contains the line break U+000A (LINE FEED) at character 8: "
            "a mail header must be one line",
        ),
    ],
)
def test_problem_names_the_first_break_and_where(value: str, problem: str | None) -> None:
    assert header_text_problem(value) == problem


def test_every_break_has_a_name() -> None:
    for character in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029":
        assert describe(character).endswith(")")
