"""Helpers for commands that read the store and print tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from reconciler.store.base import Store


@contextmanager
def reading(store_url: str) -> Iterator[Store]:
    """The store, for reading; one that does not exist is refused, not created."""
    from reconciler.store.open import open_existing_store

    store = open_existing_store(store_url)
    try:
        yield store
    finally:
        store.close()


def echo_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
