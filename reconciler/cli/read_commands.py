"""Commands that read the store: get, export, history."""

from __future__ import annotations

import json
from typing import Any

import click

from reconciler.cli.options import (
    filter_scope_option,
    output_format_option,
    owning_scope_option,
    store_option,
)
from reconciler.cli.output import echo_table
from reconciler.errors import SmtpcfgError
from reconciler.kinds import KINDS, by_alias, by_name
from reconciler.store.open import existing_store


def _kind(ctx: click.Context, param: click.Parameter, text: str | None) -> str | None:
    """A kind's name from any of its aliases (case-insensitive; plurals work)."""
    kind = by_alias(text) if text else None
    if text and kind is None:
        names = ", ".join(known.name for known in KINDS)
        raise click.BadParameter(f"unknown kind {text!r}; use {names}", param_hint="KIND")
    return kind.name if kind else None


@click.command()
@click.argument("kind", required=False, callback=_kind)
@click.argument("name", required=False)
@store_option
@filter_scope_option
@output_format_option("table", "yaml", "json")
def get(
    kind: str | None, name: str | None, store_url: str, scope: str | None, output_format: str
) -> None:
    """Show resources in the store, with the fields the store owns.

    KIND is SmtpSettings, User or EmailTemplate (case-insensitive; plurals work).

    \b
    Examples:
      smtpcfg get
      smtpcfg get smtpsettings
      smtpcfg get user ops -o yaml
    """
    from reconciler.model import ResourceKey

    with existing_store(store_url) as store:
        if kind and name:
            found = store.resource(ResourceKey(kind, name))
            if found is None:
                raise SmtpcfgError(f"{kind}/{name} not found in {store.url}")
            resources = [found]
        else:
            resources = store.resources(kind, scope)
    documents = [resource.to_manifest_with_status() for resource in resources]
    if output_format == "json":
        body: Any = documents[0] if name else {"items": documents}
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
    elif output_format == "yaml":
        from reconciler.manifests.export import manifests_yaml

        click.echo(manifests_yaml(documents), nl=False)
    else:
        echo_table(
            ["KIND", "NAME", "SCOPE", "GENERATION", "UPDATED", "SUMMARY"],
            [
                [
                    r.key.kind,
                    r.key.name,
                    r.scope,
                    str(r.generation),
                    r.updated_at,
                    by_name(r.key.kind).summary(r.spec),
                ]
                for r in resources
            ],
        )


@click.command()
@store_option
@owning_scope_option
@click.option(
    "-o",
    "--output",
    "output",
    metavar="PATH",
    help="A file, or a folder (existing, or ending in /) for one file per kind. Default: stdout.",
)
def export(store_url: str, scope: str, output: str | None) -> None:
    """Write the store's resources as manifests that plan as no changes.

    Read-only fields (uid, generation, timestamps) are left out, so the output
    can be committed as it is.

    \b
    Examples:
      smtpcfg export > all.yaml
      smtpcfg export -o manifests/
    """
    from reconciler.manifests.export import export_to, export_yaml

    if output is None:
        click.echo(export_yaml(store_url, scope), nl=False)
        return
    for written in export_to(store_url, scope, output):
        click.echo(written.describe())


@click.command()
@store_option
@filter_scope_option
@output_format_option("table", "json")
def history(store_url: str, scope: str | None, output_format: str) -> None:
    """Show the audit log: every apply, who made it, from which source, what changed.

    \b
    Examples:
      smtpcfg history
      smtpcfg history -o json | jq '.[-1].changes'
    """
    with existing_store(store_url) as store:
        entries = store.history(scope)
    if output_format == "json":
        click.echo(json.dumps([entry.to_json() for entry in entries], indent=2, ensure_ascii=False))
        return
    echo_table(
        ["REVISION", "APPLIED", "SCOPE", "ACTOR", "SOURCE", "DIGEST", "CHANGES"],
        [
            [
                str(entry.revision),
                entry.applied_at,
                entry.scope,
                entry.actor,
                entry.source,
                entry.plan_digest[:19],
                entry.change_summary(),
            ]
            for entry in entries
        ],
    )


COMMANDS = (get, export, history)
