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
    """The store, for reading: a missing SQLite file reads as empty and is not created."""
    from reconciler.store.open import open_store, store_exists

    if not store_exists(store_url):
        click.echo(f"Note: store {store_url} does not exist yet; nothing was applied to it.",
                   err=True)
    store = open_store(store_url, create=False)
    try:
        yield store
    finally:
        store.close()


def echo_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                   .rstrip())
