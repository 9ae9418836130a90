"""Commands that read the store: get, export, history."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.options import (
    PointInTime,
    filter_scope_option,
    output_format_option,
    owning_scope_option,
    store_option,
)
from reconciler.cli.output import echo_table
from reconciler.errors import SmtpcfgError
from reconciler.kinds import KINDS, by_alias, by_name
from reconciler.store.open import existing_store

if TYPE_CHECKING:
    from reconciler.store.audit_query import ResourceFilter


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


def _resource_filters(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[ResourceFilter, ...]:
    """`KIND/NAME` or `KIND`, the kind by any of its aliases, as `get` takes it."""
    from reconciler.store.audit_query import ResourceFilter

    filters = []
    for value in values:
        text, _, name = value.partition("/")
        kind = by_alias(text)
        if kind is None or (value.endswith("/") and not name):
            names = ", ".join(known.name for known in KINDS)
            raise click.BadParameter(
                f"{value!r} is not KIND/NAME with a known kind ({names})", ctx, param
            )
        filters.append(ResourceFilter(kind.name, name or None))
    return tuple(filters)


_HEAD = re.compile(r"(sha256:)?([0-9a-f]{64})")


def _head(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    match = _HEAD.fullmatch(value.strip().lower()) if value is not None else None
    if value is not None and match is None:
        raise click.BadParameter(
            f"{value!r} is not a head hash: sha256: and 64 hex digits, as apply prints it",
            ctx,
            param,
        )
    return f"sha256:{match.group(2)}" if match else None


@click.command()
@store_option
@click.option(
    "--resource",
    "resources",
    multiple=True,
    metavar="KIND/NAME",
    callback=_resource_filters,
    help="Only changes of this resource (or of every resource of a KIND); repeatable. "
    "Kinds as `get` takes them (smtpsettings, users, ...).",
)
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="PATH",
    help="Only changes of this field or below it, e.g. spec.port, spec.from; repeatable.",
)
@click.option("--actor", "actors", multiple=True, metavar="NAME", help="Only applies by NAME.")
@click.option(
    "--since",
    type=PointInTime(),
    help="Only applies at or after this time: 2026-12-01, 2026-12-01T09:30Z, or 7d, 12h ago.",
)
@click.option(
    "--until",
    type=PointInTime(end_of_day=True),
    help="Only applies up to this time (a date takes in the whole day), or 7d, 12h ago.",
)
@filter_scope_option
@output_format_option("table", "json", "csv")
@click.option(
    "--verify",
    is_flag=True,
    help="Recompute the audit log's hash chain; exit 1 naming the first record changed, "
    "removed or inserted out of order.",
)
@click.option(
    "--expect-head",
    metavar="HASH",
    callback=_head,
    help="With --verify: also require this head hash (as an apply printed it) to be in the chain.",
)
def history(
    store_url: str,
    resources: tuple[ResourceFilter, ...],
    fields: tuple[str, ...],
    actors: tuple[str, ...],
    since: str | None,
    until: str | None,
    scope: str | None,
    output_format: str,
    verify: bool,
    expect_head: str | None,
) -> None:
    """Show the audit log: every apply, who made it, from which source, what changed.

    With --resource or --field, one line per field change: when, who, resource,
    field, old → new, source commit and plan digest. Passwords show as their Vault
    reference and KV version. -o csv gives one row per field change, with every
    column of the record.

    \b
    Examples:
      smtpcfg history
      smtpcfg history --resource SmtpSettings/invoices-main --field spec.port
      smtpcfg history --actor octocat --since 7d -o csv > changes.csv
      smtpcfg history -o json | jq '.[-1].changes'
      smtpcfg history --verify --expect-head sha256:...
    """
    from reconciler.store.audit_query import HistoryQuery, query_history

    query = HistoryQuery(resources, fields, actors, since, until, scope)
    if verify or expect_head:
        if query != HistoryQuery() or output_format == "csv":
            raise click.UsageError(
                "--verify checks the whole log: it takes no filters and no -o csv"
            )
        _verify(store_url, expect_head, output_format)
        return
    from reconciler.cli.history_output import echo_history

    echo_history(query_history(store_url, query), output_format, by_change=query.by_change)


def _verify(store_url: str, expect_head: str | None, output_format: str) -> None:
    from reconciler.store.audit_chain import verify_store

    report = verify_store(store_url, expect_head)
    if output_format == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
        if report.problem is not None:
            raise SmtpcfgError(f"audit chain broken: {report.problem}")
        return
    for line in report.describe()[:-1] if report.problem else report.describe():
        click.echo(line)
    if report.problem is not None:
        raise SmtpcfgError(f"audit chain broken: {report.problem}")


COMMANDS = (get, export, history)
