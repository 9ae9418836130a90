"""The delivery side's commands: outbox add/list/show/retry/cancel/resolve/prune,
deliver, test-email."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

import click

from reconciler.cli.options import (
    Duration,
    F,
    KeyValue,
    ListenAddress,
    PointInTime,
    actor_option,
    output_format_option,
    smtp_client_options,
    store_option,
    vault_auth_option,
)
from reconciler.cli.output import echo_csv, echo_table
from reconciler.delivery.options import SMTP_TIMEOUT, RunnerOptions
from reconciler.errors import SmtpcfgError
from reconciler.store.jobs import PURPOSES, STATUSES, JobFilter
from reconciler.store.open import existing_store


@click.group()
def outbox() -> None:
    """Queue emails for the delivery runner and look at their state.

    \b
    Examples:
      smtpcfg outbox add --purpose invoice --template invoice --to ap@customer.example \\
          --account A-1001 --invoice INV-2026-0042 --attach INV-2026-0042.pdf
      smtpcfg outbox list --status size-exceeded
      smtpcfg outbox show 42
      smtpcfg outbox retry --status failed --since 24h
      smtpcfg outbox cancel 42 --reason "sent twice by the billing run"
      smtpcfg outbox resolve 42 --note "sent by hand to ap@customer.example"
    """


@outbox.command("add")
@store_option
@click.option("--purpose", type=click.Choice(PURPOSES), required=True)
@click.option("--template", metavar="NAME", help="EmailTemplate to render.")
@click.option("--settings", metavar="NAME", help="SmtpSettings to send through (no template).")
@click.option("--to", "to", multiple=True, required=True, metavar="ADDR")
@click.option("--cc", "cc", multiple=True, metavar="ADDR")
@click.option("--subject", help="Subject (overrides the template's).")
@click.option("--body", help="Body text (overrides the template's).")
@click.option(
    "--var",
    "variables",
    multiple=True,
    type=KeyValue(),
    metavar="KEY=VALUE",
    help="A ${KEY} placeholder's value. Repeatable.",
)
@click.option("--account", metavar="ID", help="Billing account (required for invoices).")
@click.option("--invoice", metavar="ID", help="Invoice id (required for invoices).")
@click.option(
    "--attach",
    "attachments",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="A regular file to attach, copied into the store now. Repeatable.",
)
def outbox_add(
    store_url: str,
    purpose: str,
    template: str | None,
    settings: str | None,
    to: tuple[str, ...],
    cc: tuple[str, ...],
    subject: str | None,
    body: str | None,
    variables: tuple[tuple[str, str], ...],
    account: str | None,
    invoice: str | None,
    attachments: tuple[Path, ...],
) -> None:
    """Queue one email and print its job id.

    \b
    Example:
      smtpcfg outbox add --purpose password-reset --settings transactional \\
          --to user@example.com --subject "Reset your password" --body "..."
    """
    from reconciler.delivery.enqueue import enqueue

    with existing_store(store_url) as store:
        job_id = enqueue(
            store,
            purpose=purpose,
            to=to,
            cc=cc,
            template=template,
            settings=settings,
            subject=subject,
            body=body,
            variables=dict(variables),
            account=account,
            invoice=invoice,
            attachments=attachments,
        )
    click.echo(job_id)


def _job_filter_options(function: F) -> F:
    """Which jobs: by status, purpose, account, invoice and the time of their last change;
    the command gets them as one `selection: JobFilter`."""

    @functools.wraps(function)
    def with_selection(
        *args: Any,
        statuses: tuple[str, ...],
        purposes: tuple[str, ...],
        account: str | None,
        invoice: str | None,
        since: str | None,
        until: str | None,
        **kwargs: Any,
    ) -> Any:
        selection = JobFilter(statuses, purposes, account, invoice, since, until)
        return function(*args, selection=selection, **kwargs)

    command: F = with_selection
    for option in reversed(
        [
            click.option(
                "--status",
                "statuses",
                multiple=True,
                type=click.Choice(STATUSES),
                help="Only jobs in this status. Repeatable.",
            ),
            click.option(
                "--purpose",
                "purposes",
                multiple=True,
                type=click.Choice(PURPOSES),
                help="Only jobs of this purpose. Repeatable.",
            ),
            click.option("--account", metavar="ID", help="Only jobs of this billing account."),
            click.option("--invoice", metavar="ID", help="Only jobs of this invoice."),
            click.option(
                "--since",
                type=PointInTime(),
                metavar="TIME",
                help="Only jobs last changed at or after TIME: a duration ago (24h, 7d) or "
                "an ISO 8601 date or time (2026-12-03T09:00:00Z; UTC without a zone).",
            ),
            click.option(
                "--until",
                type=PointInTime(end_of_day=True),
                metavar="TIME",
                help="Only jobs last changed before TIME (as --since; a date alone takes in "
                "that whole day).",
            ),
        ]
    ):
        command = option(command)
    return command


#: `outbox list -o csv` columns: fields of the job's JSON, lists joined with `;`.
_CSV_FIELDS = (
    "id",
    "purpose",
    "status",
    "attempts",
    "account",
    "invoice",
    "invoiceStatus",
    "to",
    "cc",
    "settings",
    "template",
    "lastCode",
    "lastReply",
    "failure",
    "messageId",
    "createdAt",
    "updatedAt",
    "finishedAt",
)


@outbox.command("list")
@store_option
@_job_filter_options
@output_format_option("table", "json", "csv")
def outbox_list(store_url: str, selection: JobFilter, output_format: str) -> None:
    """List outbox jobs, oldest first.

    \b
    Examples:
      smtpcfg outbox list --account A-1001 -o json
      smtpcfg outbox list --status failed --purpose invoice --since 24h -o csv
    """
    with existing_store(store_url) as store:
        jobs = store.jobs(selection)
    if output_format == "json":
        click.echo(json.dumps([job.to_json() for job in jobs], indent=2, ensure_ascii=False))
        return
    if output_format == "csv":
        documents = [job.to_json() for job in jobs]
        echo_csv(
            list(_CSV_FIELDS),
            [[_csv_cell(document.get(name)) for name in _CSV_FIELDS] for document in documents],
        )
        return
    echo_table(
        [
            "ID",
            "PURPOSE",
            "STATUS",
            "ATTEMPTS",
            "LAST REPLY",
            "MESSAGE-ID",
            "UPDATED",
            "TO",
            "INVOICE",
        ],
        [
            [
                str(j.id),
                j.purpose,
                j.status,
                str(j.attempts),
                f"{j.last_code} {j.last_reply or ''}".strip() if j.last_code else "",
                j.message_id or "",
                j.updated_at,
                ",".join(j.to),
                f"{j.account}/{j.invoice} {j.invoice_state}" if j.invoice else "",
            ]
            for j in jobs
        ],
    )


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(map(str, value))
    return str(value)


@outbox.command("show")
@click.argument("job_id", type=int)
@store_option
@output_format_option("text", "json")
@click.option(
    "--save-attachments",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write the job's attachments into DIR (for sending by hand).",
)
def outbox_show(
    job_id: int, store_url: str, output_format: str, save_attachments: Path | None
) -> None:
    """Show one job: status, each recipient's last reply, attempts with SMTP replies and
    the Message-ID each sent, times.

    A job not sent because its attachments exceed the settings' Max Size lists the
    steps to deliver it by hand.

    \b
    Examples:
      smtpcfg outbox show 42 -o json
      smtpcfg outbox show 42 --save-attachments ./INV-2026-0042
    """
    from reconciler.delivery.job_report import job_report, render_job_text

    report = job_report(store_url, job_id, save_attachments)
    if output_format == "json":
        click.echo(json.dumps(report.document, indent=2, ensure_ascii=False))
    else:
        click.echo(render_job_text(report.document))
    for path in report.saved:
        click.echo(f"saved {path}", err=True)


@outbox.command("prune")
@store_option
@click.option(
    "--older-than",
    "age",
    type=Duration(),
    required=True,
    metavar="DURATION",
    help="Prune jobs finished longer ago than this: 30d, 12h, 45m, 90s.",
)
@click.option("--dry-run", is_flag=True, help="Only say what would be pruned.")
def outbox_prune(store_url: str, age: float, dry_run: bool) -> None:
    """Delete the attachment bytes of finished jobs (sent, failed, size-exceeded).

    The job, its recipients, its attempts and each attachment's name, size and SHA-256
    stay for the audit; `outbox show` says when the attachments were pruned.

    \b
    Examples:
      smtpcfg outbox prune --older-than 30d --dry-run
      smtpcfg outbox prune --older-than 30d
    """
    from reconciler.timeutil import utc_in

    with existing_store(store_url) as store:
        pruned = store.prune_attachments(utc_in(-age), dry_run=dry_run)
    click.echo(pruned.describe(dry_run=dry_run))


@outbox.command("retry")
@click.argument("job_ids", metavar="[ID]...", nargs=-1, type=int)
@store_option
@_job_filter_options
@click.option("--reason", default="", help="Why, for the audit.")
@actor_option("retries")
@click.option("--yes", is_flag=True, help="Retry the jobs the filters match without asking.")
def outbox_retry(
    job_ids: tuple[int, ...],
    store_url: str,
    selection: JobFilter,
    reason: str,
    actor: str | None,
    yes: bool,
) -> None:
    """Requeue jobs that were not sent (failed, size-exceeded, cancelled) with a fresh
    attempt budget; their attempt history is kept.

    Give job ids, or --status with filters: those say how many jobs they match and ask
    before retrying them (--yes in scripts).

    \b
    Examples:
      smtpcfg outbox retry 42 43 --reason "relay fixed"
      smtpcfg outbox retry --status failed --since 24h --purpose invoice --yes
    """
    from reconciler.delivery.outbox_operations import matching_ids

    if job_ids and selection != JobFilter():
        raise click.UsageError("give job ids or filters (--status ...), not both")
    if not job_ids:
        if not selection.statuses:
            raise click.UsageError("give job ids, or --status failed (with any filters)")
        ids = matching_ids(store_url, selection)
        if not ids:
            click.echo("No job matches; nothing was retried.")
            return
        _confirm_many(f"Retry {len(ids)} jobs ({', '.join(map(str, ids))})?", yes)
        job_ids = tuple(ids)
    _operate(store_url, "retry", job_ids, reason, actor)


def _confirm_many(question: str, yes: bool) -> None:
    click.echo(question.rstrip("?"), err=True)
    if yes:
        return
    if not sys.stdin.isatty():
        raise SmtpcfgError(
            "refusing to change several jobs without confirmation: there is no terminal "
            "to ask on; pass --yes"
        )
    if not click.confirm(question, default=False):
        raise SmtpcfgError("cancelled; nothing was changed")


@outbox.command("cancel")
@click.argument("job_ids", metavar="ID...", nargs=-1, type=int, required=True)
@store_option
@click.option("--reason", required=True, help="Why, for the audit.")
@actor_option("cancels")
def outbox_cancel(job_ids: tuple[int, ...], store_url: str, reason: str, actor: str | None) -> None:
    """Cancel queued or retrying jobs: they will not be sent.

    A job a runner has claimed, and may be sending at this moment, is refused (nothing
    is changed) until that runner has recorded its attempt.

    \b
    Example:
      smtpcfg outbox cancel 42 --reason "duplicate of 41"
    """
    _operate(store_url, "cancel", job_ids, reason, actor)


@outbox.command("resolve")
@click.argument("job_ids", metavar="ID...", nargs=-1, type=int, required=True)
@store_option
@click.option("--note", required=True, help="How it was delivered, for the audit.")
@actor_option("resolves")
def outbox_resolve(job_ids: tuple[int, ...], store_url: str, note: str, actor: str | None) -> None:
    """Record that a size-exceeded or failed job was delivered outside smtpcfg (by hand).

    The job becomes `resolved`; an invoice is listed as delivered.

    \b
    Example:
      smtpcfg outbox resolve 42 --note "sent by hand to ap@customer.example"
    """
    _operate(store_url, "resolve", job_ids, note, actor)


def _operate(
    store_url: str, operation: str, job_ids: tuple[int, ...], reason: str, actor: str | None
) -> None:
    from reconciler.delivery.outbox_operations import operate

    done = operate(store_url, operation, list(job_ids), reason=reason, actor=actor)
    for line in done.describe():
        click.echo(line)


#: How the runner and test-email connect: both send through the same code.
_smtp_client_options = smtp_client_options(
    timeout=SMTP_TIMEOUT,
    timeout_help=(
        "Bounds connecting with the greeting, each whole reply, and each send; "
        "and each OAuth2 token request."
    ),
)


@click.command()
@store_option
@vault_auth_option
@click.option("--once", is_flag=True, help="Send what is due, then exit.")
@click.option(
    "--poll-interval",
    type=click.FloatRange(0.05),
    default=RunnerOptions.poll_interval,
    show_default=True,
    metavar="SECONDS",
    help="How often to look for due jobs.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=RunnerOptions.batch_size,
    show_default=True,
    help="Jobs claimed at once.",
)
@click.option(
    "--lease",
    "lease_seconds",
    type=click.FloatRange(1),
    default=RunnerOptions.lease_seconds,
    show_default=True,
    metavar="SECONDS",
    help="How long a claim lasts before another runner may take the job.",
)
@click.option(
    "--max-attempts", type=click.IntRange(1), default=RunnerOptions.max_attempts, show_default=True
)
@click.option(
    "--retry-base-delay",
    type=click.FloatRange(0),
    default=RunnerOptions.retry_base_delay,
    show_default=True,
    metavar="SECONDS",
    help="First retry delay; doubles each attempt, with jitter.",
)
@_smtp_client_options
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--runner-id", metavar="ID", help="Name in claims and attempts [default: host:pid].")
@click.option(
    "--prune-after",
    type=Duration(),
    metavar="DURATION",
    help="Also prune the attachment bytes of jobs finished longer ago than this "
    "(as `outbox prune --older-than`), at start and hourly.",
)
@click.option(
    "--metrics-addr",
    "status_address",
    type=ListenAddress(),
    metavar="HOST:PORT",
    help="Serve Prometheus /metrics, /healthz (the loop turns) and /readyz (the store and "
    "Vault answer) on this address, e.g. 127.0.0.1:9464.",
)
@click.option(
    "--readiness-interval",
    type=click.FloatRange(0.1),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="How often /readyz's checks ask the store and Vault (with --metrics-addr).",
)
def deliver(
    store_url: str,
    vault_auth: str | None,
    once: bool,
    poll_interval: float,
    batch_size: int,
    lease_seconds: float,
    max_attempts: int,
    retry_base_delay: float,
    ca_file: str | None,
    timeout: float,
    log_format: str,
    runner_id: str | None,
    prune_after: float | None,
    status_address: tuple[str, int] | None,
    readiness_interval: float,
) -> None:
    """Run the delivery runner: send queued emails with the settings in the store.

    Without --once it polls until SIGTERM or SIGINT, then finishes the message in
    flight and stops. With --once it exits 0 when no job failed, 1 otherwise.

    \b
    Examples:
      smtpcfg deliver --once
      smtpcfg deliver --log-format json --metrics-addr 0.0.0.0:9464
    """
    from reconciler.delivery.service import default_runner_id, run_service

    options = RunnerOptions(
        runner_id=runner_id or default_runner_id(),
        once=once,
        poll_interval=poll_interval,
        batch_size=batch_size,
        lease_seconds=lease_seconds,
        max_attempts=max_attempts,
        retry_base_delay=retry_base_delay,
        prune_after=prune_after,
    )
    summary = run_service(
        store_url,
        options,
        vault_auth=vault_auth,
        ca_file=ca_file,
        timeout=timeout,
        log_format=log_format,
        status_address=status_address,
        readiness_interval=readiness_interval,
    )
    if once and summary.failed:
        sys.exit(1)


@click.command("test-email")
@click.argument("settings_name", metavar="SETTINGS")
@store_option
@vault_auth_option
@click.option("--to", "address", metavar="ADDR", help="Send to this address.")
@click.option("--user", "user_name", metavar="NAME", help="Send to this User's email.")
@_smtp_client_options
def test_email(
    settings_name: str,
    store_url: str,
    vault_auth: str | None,
    address: str | None,
    user_name: str | None,
    ca_file: str | None,
    timeout: float,
) -> None:
    """Send one test email with stored settings, and say plainly what failed.

    Goes through the runner's own sending code, with the password from Vault.

    \b
    Examples:
      smtpcfg test-email primary --to me@example.com
      smtpcfg test-email primary --user billing-ops
    """
    from reconciler.delivery.trial_send import send_test_email
    from reconciler.vault.lazy import lazy_resolver

    if (address is None) == (user_name is None):
        raise click.UsageError("give exactly one of --to ADDR or --user NAME")
    with existing_store(store_url) as store:
        click.echo(
            send_test_email(
                store,
                lazy_resolver(vault_auth),
                settings_name,
                address=address,
                user_name=user_name,
                ca_file=ca_file,
                timeout=timeout,
            )
        )


COMMANDS = (outbox, deliver, test_email)
