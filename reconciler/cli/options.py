"""Options that several commands share, declared once."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

import click

from reconciler.store.open import DEFAULT_STORE_URL

F = Callable[..., Any]


def store_option(function: F) -> F:
    return click.option(
        "--store",
        "store_url",
        envvar="SMTPCFG_STORE",
        default=DEFAULT_STORE_URL,
        show_default=True,
        metavar="URL",
        help="Target store: sqlite:///PATH or postgresql://... [env: SMTPCFG_STORE]",
    )(function)


def manifests_option(required: bool) -> Callable[[F], F]:
    return click.option(
        "-f",
        "--filename",
        "paths",
        multiple=True,
        required=required,
        metavar="PATH",
        help="Manifest file or folder (searched for *.yaml, *.yml); '-' reads stdin. Repeatable.",
    )


def use_color(stream: TextIO | None = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    stream = stream or sys.stdout
    return bool(stream.isatty()) and not os.environ.get("NO_COLOR")
