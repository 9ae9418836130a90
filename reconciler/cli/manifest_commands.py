"""Commands that read manifests: validate, plan, apply."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.options import (
    F,
    actor_option,
    manifest_paths,
    manifests_option,
    output_format_option,
    owning_scope_option,
    plan_key_option,
    probe_options,
    store_option,
    use_color,
    vault_auth_option,
)
from reconciler.errors import SmtpcfgError
from reconciler.plan.render import DEFAULT_MAX_CHARS, PLAN_FORMATS
from reconciler.plan.request import DEFAULT_VAULT_CONCURRENCY, PlanRequest
from reconciler.plan.safety import DEFAULT_THRESHOLD_PERCENT

if TYPE_CHECKING:
    from reconciler.delivery.options import ProbeOptions
    from reconciler.model import Problem
    from reconciler.plan.model import Plan
    from reconciler.plan.render_markdown import MarkdownOptions

EXIT_CHANGES = 2


@click.command()
@manifest_paths
@output_format_option("text", "json")
def validate(paths: tuple[str, ...], output_format: str) -> None:
    """Check manifests offline: schema, values and cross-references.

    PATHs and -f PATHs are files or folders (searched for *.yaml and *.yml), '-'
    stdin; references are checked across all of them together. Every problem is
    listed as `file:line:col: Kind/name: field: message` (with -o json, as objects
    with file, line, column, resource, field and message); the exit status is 1 if
    there is any. Neither the store nor Vault is contacted.

    \b
    Examples:
      smtpcfg validate -f manifests/ -f extra.yaml
      smtpcfg validate manifests/*.yaml
      smtpcfg validate -f manifests/ -o json
    """
    from reconciler.manifests.load import load_manifests
    from reconciler.model import ManifestProblems

    try:
        manifests = load_manifests(paths)
    except ManifestProblems as error:
        if output_format != "json":
            raise
        _echo_validation(None, error.problems)
        raise SmtpcfgError(str(error)) from None
    count = len(manifests.resources)
    if output_format == "json":
        _echo_validation(count, [])
    else:
        click.echo(f"{count} resource{'s' if count != 1 else ''} valid.")


def _echo_validation(resources: int | None, problems: list[Problem]) -> None:
    """`resources` counts the valid resources, None when there are problems."""
    report = {
        "valid": not problems,
        "resources": resources,
        "problems": [problem.as_json() for problem in problems],
    }
    click.echo(json.dumps(report, indent=2, ensure_ascii=False))


def _threshold_option(function: F) -> F:
    return click.option(
        "--safety-threshold",
        "threshold",
        type=click.FloatRange(0, 100),
        default=DEFAULT_THRESHOLD_PERCENT,
        show_default=True,
        metavar="PERCENT",
        help="Largest share of stored resources one apply may update or delete "
        "(applies once the store holds 10 or more).",
    )(function)


def _vault_options(function: F) -> F:
    function = click.option(
        "--vault-concurrency",
        type=click.IntRange(1, 64),
        default=DEFAULT_VAULT_CONCURRENCY,
        show_default=True,
        help="Vault reads in flight at once while checking references.",
    )(function)
    return vault_auth_option(function)


def _scope_options(function: F) -> F:
    function = click.option(
        "--take-over",
        is_flag=True,
        help="Move declared resources that another scope owns into this one.",
    )(function)
    return owning_scope_option(function)


def _source_option(function: F) -> F:
    return click.option(
        "--source",
        metavar="TEXT",
        help="Where the manifests come from, for the audit log "
        "[default: $GITHUB_SHA or the manifests' git commit].",
    )(function)


@click.command()
@manifest_paths
@store_option
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan (JSON, with its digest, and signed if a plan key is set) "
    "for `smtpcfg apply FILE`.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(PLAN_FORMATS),
    default="text",
    show_default=True,
    help="How to print the plan.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are, 1 on error.",
)
@click.option(
    "--max-chars",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_CHARS,
    show_default=True,
    metavar="N",
    help="--format markdown: keep the comment under N characters (a GitHub comment holds "
    "65,536): the summary, deletes and replaces first, then as many resources' details as "
    "fit. 0: no limit.",
)
@click.option(
    "--hide-store",
    is_flag=True,
    help="Leave the store's address out of text and markdown output (public repositories).",
)
@_threshold_option
@_source_option
@plan_key_option
@_vault_options
@_scope_options
@click.option(
    "--probe",
    is_flag=True,
    help="Also probe the SMTP servers of the SmtpSettings the plan creates or changes, "
    "and of those whose password moved (see `smtpcfg probe`); exit 1 on an error.",
)
@click.option(
    "--probe-warn-only",
    is_flag=True,
    help="Probe (implies --probe), but report its errors without failing the plan.",
)
@probe_options("probe-")
def plan(
    paths: tuple[str, ...],
    store_url: str,
    out_path: Path | None,
    output_format: str,
    detailed_exitcode: bool,
    max_chars: int,
    hide_store: bool,
    threshold: float,
    source: str | None,
    plan_key_file: Path | None,
    vault_auth: str | None,
    vault_concurrency: int,
    scope: str,
    take_over: bool,
    probe: bool,
    probe_warn_only: bool,
    probe_timeout: float,
    probe_ca_file: str | None,
    probe_parallel: int,
    probe_expiry_days: int,
) -> None:
    """Show what apply would change in the store.

    PATHs and -f PATHs are manifest files or folders, planned together as one set.
    A plan over the safety threshold still succeeds, with a warning: only apply
    refuses it.

    \b
    Examples:
      smtpcfg plan -f manifests/
      smtpcfg plan -f manifests/ --format markdown --out plan.json > plan.md
      smtpcfg plan -f manifests/ --detailed-exitcode   # 0 in sync, 2 drift
      SMTPCFG_PLAN_KEY=... smtpcfg plan -f manifests/ --out plan.json   # signed
      smtpcfg plan -f manifests/ --probe --probe-ca-file corp-ca.pem
    """
    from reconciler.plan.render_markdown import MarkdownOptions

    request = PlanRequest(
        paths, store_url, scope, take_over, threshold, source, vault_auth, vault_concurrency
    )
    markdown = MarkdownOptions(
        max_chars or None, hide_store, str(out_path) if out_path is not None else None
    )
    if probe or probe_warn_only:
        from reconciler.delivery.options import ProbeOptions

        options = ProbeOptions(probe_timeout, probe_ca_file, probe_expiry_days, probe_parallel)
        _plan_with_probe(
            request,
            options,
            out_path,
            plan_key_file,
            output_format,
            markdown,
            detailed_exitcode,
            warn_only=probe_warn_only,
        )
        return
    from reconciler.plan.from_manifests import plan_from_manifests, plan_to_file

    saved = plan_to_file(request, out_path, plan_key_file) if out_path is not None else None
    plan_ = saved.plan if saved is not None else plan_from_manifests(request)
    _print_plan(plan_, output_format, markdown)
    if saved is not None and output_format == "text":
        _say_saved(saved.path, saved.signed)
    if detailed_exitcode and plan_.has_changes:
        sys.exit(EXIT_CHANGES)


@click.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@manifests_option(required=False)
@store_option
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option("--force", is_flag=True, help="Apply even over the safety threshold.")
@actor_option("applies")
@click.option(
    "--approved-by",
    envvar="SMTPCFG_APPROVED_BY",
    metavar="NAME",
    help="Who approved the change (e.g. the pull request's approver, passed by CI), "
    "for the audit log [env: SMTPCFG_APPROVED_BY].",
)
@_threshold_option
@_source_option
@plan_key_option
@_vault_options
@_scope_options
def apply(
    plan_file: Path | None,
    paths: tuple[str, ...],
    store_url: str,
    auto_approve: bool,
    force: bool,
    actor: str | None,
    approved_by: str | None,
    threshold: float,
    source: str | None,
    plan_key_file: Path | None,
    vault_auth: str | None,
    vault_concurrency: int,
    scope: str,
    take_over: bool,
) -> None:
    """Apply manifests, or a saved plan, to the store in one transaction.

    From manifests, the plan is shown first and applied after you type `yes`
    (or with --auto-approve, which a job without a terminal needs). A saved plan
    is applied without a prompt if it still fits the store: same store, same
    revision, every "before" as stored. With a plan key, only plans signed with it
    are applied.

    \b
    Examples:
      smtpcfg apply -f manifests/
      smtpcfg apply -f manifests/ --auto-approve --actor ci-bot
      smtpcfg apply plan.json --approved-by octocat
      SMTPCFG_PLAN_KEY=... smtpcfg apply plan.json   # refuses unsigned plans

    Each apply ends by printing the audit log's head hash: keep it (CI logs do) to
    check the log later with `smtpcfg history --verify --expect-head HASH`.
    """
    from reconciler.apply import Approval, apply_manifests, apply_saved_plan

    if bool(plan_file) == bool(paths):
        raise click.UsageError("give either manifests (-f PATH) or one saved PLAN_FILE")
    if plan_file is not None:

        def announce(plan_: Plan, note: str | None) -> None:
            if note is not None:
                click.echo(f"Note: {note}.", err=True)
            click.echo(f"Applying saved plan {plan_file} (digest {plan_.digest()}).")

        applied = apply_saved_plan(
            plan_file,
            store_url,
            announce,
            key_file=plan_key_file,
            approval=Approval(actor, approved_by, source),
            threshold=threshold,
            force=force,
        )
    else:

        def review(plan_: Plan, note: str | None) -> None:
            _print_plan(plan_, "text")
            if plan_.has_changes and not auto_approve:
                _confirm()

        request = PlanRequest(
            paths, store_url, scope, take_over, threshold, source, vault_auth, vault_concurrency
        )
        applied = apply_manifests(
            request, review, approval=Approval(actor, approved_by), force=force
        )
    click.echo(applied.describe())


def _say_saved(path: Path, signed: bool) -> None:
    with_key = " (signed with the plan key)" if signed else ""
    click.echo(f"Saved the plan to {path}{with_key}. Apply it with: smtpcfg apply {path}")


def _plan_with_probe(
    request: PlanRequest,
    options: ProbeOptions,
    out_path: Path | None,
    plan_key_file: Path | None,
    output_format: str,
    markdown: MarkdownOptions,
    detailed_exitcode: bool,
    *,
    warn_only: bool,
) -> None:
    """`plan --probe`: the plan and the probe's findings; exit 1 on a probe error (the
    plan is then not saved) unless `warn_only`."""
    from reconciler.probe.render import render_probed_plan
    from reconciler.probe.run import plan_with_probe

    probed = plan_with_probe(
        request, options, out_path=out_path, key_file=plan_key_file, warn_only=warn_only
    )
    color = use_color()
    click.echo(
        render_probed_plan(
            probed.plan, probed.report, output_format, color=color, markdown=markdown
        ),
        color=color,
    )
    errors = probed.report.errors
    if probed.saved_to is not None and output_format == "text":
        _say_saved(probed.saved_to, probed.signed)
    if errors and not warn_only:
        unsaved = "; the plan was not saved" if out_path is not None else ""
        raise SmtpcfgError(
            f"the probe found {errors} error(s){unsaved} (--probe-warn-only reports them "
            "without failing)"
        )
    if detailed_exitcode and probed.plan.has_changes:
        sys.exit(EXIT_CHANGES)


def _confirm() -> None:
    if not sys.stdin.isatty():
        raise SmtpcfgError(
            "refusing to apply without confirmation: there is no terminal to ask on; "
            "review the plan and pass --auto-approve, or apply a saved plan file"
        )
    answer = click.prompt(
        "Apply these changes? Only 'yes' will be accepted", default="", show_default=False
    )
    if answer != "yes":
        raise SmtpcfgError("apply cancelled; nothing was changed")


def _print_plan(plan_: Plan, output_format: str, markdown: MarkdownOptions | None = None) -> None:
    from reconciler.plan.render import render_plan

    color = use_color()
    click.echo(render_plan(plan_, output_format, color=color, markdown=markdown), color=color)


COMMANDS = (validate, plan, apply)
