"""Option types of the operating commands: listen addresses and time bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
import pytest

from reconciler.cli.options import ListenAddress, TimeBound


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("0.0.0.0:9464", ("0.0.0.0", 9464)),  # noqa: S104 - the parse, not a bind
        ("[::1]:9464", ("::1", 9464)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_listen_addresses(text: str, address: tuple[str, int]) -> None:
    assert ListenAddress().convert(text, None, None) == address


@pytest.mark.parametrize("text", ["9464", "::1:9464", "host:", "host:65536", "a:b", ""])
def test_what_is_not_a_listen_address(text: str) -> None:
    with pytest.raises(click.BadParameter, match="is not HOST:PORT"):
        ListenAddress().convert(text, None, None)


def test_time_bounds_are_durations_ago_or_iso_times() -> None:
    bound = TimeBound()
    assert bound.convert("2026-12-03", None, None) == "2026-12-03T00:00:00.000000Z"
    assert bound.convert("2026-12-03T09:30:00Z", None, None) == "2026-12-03T09:30:00.000000Z"
    assert bound.convert("2026-12-03T10:30:00+01:00", None, None) == ("2026-12-03T09:30:00.000000Z")
    ago = datetime.strptime(bound.convert("2h", None, None), "%Y-%m-%dT%H:%M:%S.%fZ")
    expected = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=2)
    assert abs((ago - expected).total_seconds()) < 60
    with pytest.raises(click.BadParameter, match="neither a duration ago"):
        bound.convert("yesterday", None, None)
