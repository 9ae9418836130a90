"""The value formats the schemas name, as tables of good and bad values."""

from __future__ import annotations

import pytest

from reconciler.formats import (
    FORMATS,
    human_size,
    is_email,
    is_hostname,
    is_ip_address,
    is_size,
    parse_size,
    size_with_bytes,
)

LABEL_63 = "a" * 63
#: 63 + 1 + 63 + 1 + 63 + 1 + 61 characters: the longest name allowed.
NAME_253 = ".".join([LABEL_63, LABEL_63, LABEL_63, "b" * 61])


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("smtp.example.com", True),
        ("SMTP.Example.COM", True),
        ("example.com.", True),
        ("localhost", True),
        ("a", True),
        ("mail-1.example.com", True),
        ("mx1.example.com", True),
        ("smtp.2example", True),
        ("1.2.3.4", False),
        ("256.0.2.1", False),
        ("mail.123", False),
        ("123", False),
        (f"{LABEL_63}.example.com", True),
        (NAME_253, True),
        (f"{NAME_253}.", True),
        ("", False),
        (".", False),
        ("example.com..", False),
        ("a..example.com", False),
        (".example.com", False),
        ("-mail.example.com", False),
        ("mail-.example.com", False),
        ("mail_1.example.com", False),
        ("smtp example.com", False),
        ("smtp.example.com\n", False),
        ("münchen.example", False),
        (f"{'a' * 64}.example.com", False),
        (f"{NAME_253}b", False),
    ],
)
def test_hostnames(value: str, valid: bool) -> None:
    assert is_hostname(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("192.0.2.1", True),
        ("::1", True),
        ("2001:db8::25", True),
        ("256.0.2.1", False),
        ("192.0.2", False),
        ("192.0.2.1/32", False),
        ("[::1]", False),
        ("smtp.example.com", False),
        ("", False),
    ],
)
def test_ip_addresses(value: str, valid: bool) -> None:
    assert is_ip_address(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("billing@example.com", True),
        ("Billing.Team+invoices@Example.COM", True),
        ("o'brien@example.com", True),
        ("ops@localhost", True),
        (f"{'a' * 64}@example.com", True),
        ("billing@example.com.", False),
        ("@example.com", False),
        ("billing@", False),
        ("billing", False),
        ("billing.example.com", False),
        ("a..b@example.com", False),
        (".billing@example.com", False),
        ("billing.@example.com", False),
        ("bill ing@example.com", False),
        ('"billing"@example.com', False),
        ("a@b@example.com", False),
        ("billing@exa_mple.com", False),
        ("billing@example.com\n", False),
        ("billing\n@example.com", False),
        (f"{'a' * 65}@example.com", False),
        ("billing@192.0.2.1", False),
    ],
)
def test_emails(value: str, valid: bool) -> None:
    assert is_email(value) is valid


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (0, 0),
        (1024, 1024),
        ("1024", 1024),
        ("7B", 7),
        ("7 b", 7),
        ("1KB", 1000),
        ("1kb", 1000),
        ("25 MB", 25_000_000),
        ("2GB", 2_000_000_000),
        ("1KiB", 1024),
        ("10MiB", 10 * 1024**2),
        ("10mib", 10 * 1024**2),
        ("2 GiB", 2 * 1024**3),
        ("  3 kib  ", 3 * 1024),
        ("0MB", 0),
    ],
)
def test_sizes_read_as_bytes(value: int | str, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize(
    "value",
    [
        "",
        "MB",
        "1.5MB",
        "-1MB",
        "+1MB",
        "10 TB",
        "10 M",
        "10 MiBs",
        "ten MB",
        "1 0MB",
        "\u0661\u0660MB",
        "\uff11\uff10MB",
    ],
)
def test_bad_sizes_say_which_units_there_are(value: str) -> None:
    with pytest.raises(ValueError, match="as a size: use bytes or a unit B, KB, MB, GB") as raised:
        parse_size(value)
    assert repr(value) in str(raised.value)


@pytest.mark.parametrize(
    ("value", "valid"),
    [("1", True), ("1B", True), ("10MiB", True), ("0", False), ("0 KB", False), ("10 TB", False)],
)
def test_a_size_is_at_least_one_byte(value: str, valid: bool) -> None:
    assert is_size(value) is valid


@pytest.mark.parametrize(
    ("name", "value", "valid"),
    [
        ("hostname-or-ip", "smtp.example.com", True),
        ("hostname-or-ip", "192.0.2.1", True),
        ("hostname-or-ip", "::1", True),
        ("hostname-or-ip", "256.0.2.1", False),
        ("hostname-or-ip", "smtp example.com", False),
        ("hostname-or-ip", "smtp.example.com\n", False),
        ("email", "billing@example.com", True),
        ("email", "billing", False),
        ("size", "10MiB", True),
        ("size", "0", False),
        ("header-text", "Billing & Co", True),
        ("header-text", "Billing\r\nBcc: x@evil.test", False),
        ("header-text", "Billing\u2028", False),
    ],
)
def test_the_schemas_formats(name: str, value: str, valid: bool) -> None:
    assert FORMATS[name](value) is valid


def test_the_schemas_name_exactly_these_formats() -> None:
    assert sorted(FORMATS) == ["email", "header-text", "hostname-or-ip", "https-url", "size"]


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", True),
        ("https://oauth2.googleapis.com/token", True),
        ("https://127.0.0.1:8443/token?tenant=a", True),
        ("https://[::1]:8443/token", True),
        ("http://login.example.com/token", False),
        ("HTTPS://login.example.com/token", False),
        ("https://user:secret@login.example.com/token", False),
        ("https://login.example.com/token#x", False),
        ("https://login.example.com:99999/token", False),
        ("https:///token", False),
        ("https://login example.com/token", False),
        ("https://login.example.com/to ken", False),
        ("https://bad_host!/token", False),
        ("login.example.com/token", False),
    ],
)
def test_token_urls_are_https_only(value: str, valid: bool) -> None:
    assert FORMATS["https-url"](value) is valid


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1 KiB"),
        (12288, "12 KiB"),
        (1_500_000, "1.4 MiB"),
        (1_048_576, "1 MiB"),
        (3 * 30 * 1024**2, "90 MiB"),
        (5 * 1024**3 // 2, "2.5 GiB"),
        (3 * 1024**4, "3 TiB"),
    ],
)
def test_sizes_in_units_a_person_reads(size: int, shown: str) -> None:
    assert human_size(size) == shown
    assert size_with_bytes(size) == f"{shown} ({size} bytes)"
