"""The value formats the schemas name: host names, email addresses, sizes, header text.

The schema engines' own `hostname` and `email` checks differ from each other and accept
addresses no mail server would, so the schemas' `format` keywords are decided here, and
both engines (see reconciler.schemas) are handed the same functions.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from reconciler.header_text import line_break_in

_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
# RFC 5322 dot-atom local part; quoted local parts are legal but never seen in billing.
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
# ASCII digits only: `\d` (and int()) would also read Arabic-Indic or fullwidth digits.
_SIZE = re.compile(r"^\s*([0-9]+)\s*([A-Za-z]*)\s*$")
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def is_hostname(value: str) -> bool:
    """A DNS name of letter-digit-hyphen labels (RFC 1123), an optional trailing dot.

    The last label may not be all digits (RFC 1123 2.1), so that `192.0.2.1` is an
    address, never a name, and `256.0.2.1` or `a@192.0.2.1` are refused.
    """
    name = value[:-1] if value.endswith(".") else value
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    return all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_email(value: str) -> bool:
    """`local@domain` with a dot-atom local part and a host name as the domain."""
    local, at, domain = value.rpartition("@")
    return (
        bool(at)
        and len(local) <= 64
        and bool(_LOCAL_PART.match(local))
        and (is_hostname(domain) and not domain.endswith("."))
    )


def parse_size(value: int | str) -> int:
    """Bytes from an integer or a string such as `10MiB` or `25 MB`; ValueError if neither."""
    if isinstance(value, int):
        return value
    match = _SIZE.match(value)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(
            f"cannot read {value!r} as a size: use bytes or a unit "
            "B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024)"
        )
    return int(match.group(1)) * _UNITS[unit]


def is_size(value: str) -> bool:
    """A size `parse_size` reads as at least one byte."""
    try:
        return parse_size(value) > 0
    except ValueError:
        return False


def is_https_url(value: str) -> bool:
    """An `https://host[:port]/path` URL (scheme in lowercase): no credentials in it, no
    fragment, no spaces."""
    if not value.startswith("https://") or any(character.isspace() for character in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        return False
    host = parts.hostname or ""
    return (
        (is_hostname(host) or is_ip_address(host))
        and "@" not in parts.netloc
        and not parts.fragment
    )


#: The custom `format` names the schemas use, each with its check of a string value.
FORMATS: dict[str, Callable[[str], bool]] = {
    "hostname-or-ip": lambda value: is_hostname(value) or is_ip_address(value),
    "email": is_email,
    "size": is_size,
    "header-text": lambda value: line_break_in(value) is None,
    "https-url": is_https_url,
}


def human_size(size: int) -> str:
    """`size` bytes in binary units a person reads at a glance: `1.4 MiB`, `64 KiB`, `512 B`.

    One decimal, dropped when it is zero; the inverse of `parse_size` up to rounding.
    """
    value, unit = float(size), "B"
    for next_unit in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, next_unit
    if unit == "B":
        return f"{size} B"
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text} {unit}"


def size_with_bytes(size: int) -> str:
    """`1.4 MiB (1500000 bytes)`: human units, and the exact figure beside them."""
    return f"{human_size(size)} ({size} bytes)"
