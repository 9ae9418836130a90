"""`deliver --metrics-addr`: what a listen address is."""

from __future__ import annotations

import click
import pytest

from reconciler.cli.options import ListenAddress


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
