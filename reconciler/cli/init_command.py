"""`smtpcfg init`: the one command that creates a store."""

from __future__ import annotations

import click

from reconciler.cli.options import store_option


@click.command()
@store_option
def init(store_url: str) -> None:
    """Create the store, or bring an older one up to date. Safe to run again.

    Every other command refuses a store that does not exist, so a mistyped
    --store is an error rather than a new, empty store. For PostgreSQL, the
    schema named by the URL's search_path is created too, if it is missing and
    the role may create it.

    \b
    Examples:
      smtpcfg init --store sqlite:///smtpcfg.db            # ./smtpcfg.db
      smtpcfg init --store sqlite:////var/lib/smtpcfg/s.db  # absolute path
      smtpcfg init --store 'postgresql://owner@db/billing?options=-csearch_path%3Dsmtpcfg'
    """
    from reconciler.store.open import init_store

    click.echo(init_store(store_url))


COMMANDS = (init,)
