"""Commands that read the store: get, export, history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.options import filter_scope_option, owning_scope_option, store_option
from reconciler.cli.output import echo_table, reading
from reconciler.errors import SmtpcfgError
from reconciler.kinds import KINDS, by_alias, by_name, dependency_order

if TYPE_CHECKING:
    from reconciler.model import StoredResource

@click.command()
@click.argument("kind", required=False)
@click.argument("name", required=False)
@store_option
@filter_scope_option
@click.option("-o", "--output", "output_format", type=click.Choice(["table", "yaml", "json"]),
              default="table", show_default=True)
def get(kind: str | None, name: str | None, store_url: str, scope: str | None,
        output_format: str) -> None:
    """Show resources in the store, with the fields the store owns.

    KIND is SmtpSettings, User or EmailTemplate (case-insensitive; plurals work).

    \b
    Examples:
      smtpcfg get
      smtpcfg get smtpsettings
      smtpcfg get user ops -o yaml
    """
    from reconciler.model import ResourceKey

    canonical = _kind(kind) if kind else None
    with reading(store_url) as store:
        if canonical and name:
            found = store.resource(ResourceKey(canonical, name))
            if found is None:
                raise SmtpcfgError(f"{canonical}/{name} not found in {store.url}")
            resources = [found]
        else:
            resources = store.resources(canonical, scope)
    documents = [resource.to_manifest_with_status() for resource in resources]
    if output_format == "json":
        body: Any = documents[0] if name else {"items": documents}
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
    elif output_format == "yaml":
        click.echo(_yaml(documents), nl=False)
    else:
        echo_table(["KIND", "NAME", "SCOPE", "GENERATION", "UPDATED", "SUMMARY"],
                    [[r.key.kind, r.key.name, r.scope, str(r.generation), r.updated_at,
                      by_name(r.key.kind).summary(r.spec)] for r in resources])


@click.command()
@store_option
@owning_scope_option
@click.option("-o", "--output", "output", metavar="PATH",
              help="A file, or a folder (existing, or ending in /) for one file per kind. "
              "Default: stdout.")
def export(store_url: str, scope: str, output: str | None) -> None:
    """Write the store's resources as manifests that plan as no changes.

    Read-only fields (uid, generation, timestamps) are left out, so the output
    can be committed as it is.

    \b
    Examples:
      smtpcfg export > all.yaml
      smtpcfg export -o manifests/
    """
    with reading(store_url) as store:
        resources = sorted(store.resources(scope=scope), key=lambda r: dependency_order(r.key))
    if output is None:
        click.echo(_yaml([r.to_manifest() for r in resources]), nl=False)
        return
    output_path = Path(output)
    if output_path.is_dir() or output.endswith("/"):
        output_path.mkdir(parents=True, exist_ok=True)
        by_kind: dict[str, list[StoredResource]] = {}
        for resource in resources:
            by_kind.setdefault(resource.key.kind, []).append(resource)
        for kind, items in by_kind.items():
            target = output_path / f"{kind.lower()}.yaml"
            target.write_text(_yaml([r.to_manifest() for r in items]), encoding="utf-8")
            click.echo(f"Wrote {len(items)} of kind {kind} to {target}")
        return
    output_path.write_text(_yaml([r.to_manifest() for r in resources]), encoding="utf-8")
    click.echo(f"Wrote {len(resources)} resources to {output_path}")


@click.command()
@store_option
@filter_scope_option
@click.option("-o", "--output", "output_format", type=click.Choice(["table", "json"]),
              default="table", show_default=True)
def history(store_url: str, scope: str | None, output_format: str) -> None:
    """Show the audit log: every apply, who made it, from which source, what changed.

    \b
    Examples:
      smtpcfg history
      smtpcfg history -o json | jq '.[-1].changes'
    """
    with reading(store_url) as store:
        entries = store.history(scope)
    if output_format == "json":
        click.echo(json.dumps([entry.to_json() for entry in entries], indent=2,
                              ensure_ascii=False))
        return
    rows = []
    for entry in entries:
        counts: dict[str, int] = {}
        for change in entry.changes:
            counts[change["action"]] = counts.get(change["action"], 0) + 1
        summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
        rows.append([str(entry.revision), entry.applied_at, entry.scope, entry.actor,
                     entry.source, entry.plan_digest[:19], summary])
    echo_table(["REVISION", "APPLIED", "SCOPE", "ACTOR", "SOURCE", "DIGEST", "CHANGES"], rows)


def _kind(text: str) -> str:
    kind = by_alias(text)
    if kind is None:
        names = ", ".join(known.name for known in KINDS)
        raise click.BadParameter(f"unknown kind {text!r}; use {names}", param_hint="KIND")
    return kind.name


def _yaml(documents: list[dict[str, Any]]) -> str:
    """Manifests as YAML; multi-line text (template bodies) as literal blocks, which read
    and diff in git the way they were written."""
    import yaml

    class Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump_all(documents, Dumper=Dumper, sort_keys=False, allow_unicode=True,
                         explicit_start=True)


COMMANDS = (get, export, history)
