"""Tables and CSV, as the reading commands print them."""

from __future__ import annotations

import csv
import sys

import click


def echo_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def echo_csv(header: list[str], rows: list[list[str]]) -> None:
    """RFC 4180 CSV on stdout: a header row, then one row per item."""
    writer = csv.writer(sys.stdout, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
