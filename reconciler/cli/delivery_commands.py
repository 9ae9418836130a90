"""The delivery side's commands: outbox add/list/show, deliver, test-email."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path, PurePath
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.options import Duration, F, store_option
from reconciler.cli.output import echo_table, reading
from reconciler.cli.vault_options import resolver_factory, vault_auth_option
from reconciler.errors import SmtpcfgError
from reconciler.store.jobs import PURPOSES, STATUSES, Job, StoredAttachment

if TYPE_CHECKING:
    from reconciler.delivery.runner import RunSummary


@click.group()
def outbox() -> None:
    """Queue emails for the delivery runner and look at their state.

    \b
    Examples:
      smtpcfg outbox add --purpose invoice --template invoice --to ap@customer.example \\
          --account A-1001 --invoice INV-2026-0042 --attach INV-2026-0042.pdf
      smtpcfg outbox list --status size-exceeded
      smtpcfg outbox show 42
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
@click.option("--var", "variables", multiple=True, metavar="KEY=VALUE",
              help="A ${KEY} placeholder's value. Repeatable.")
@click.option("--account", metavar="ID", help="Billing account (required for invoices).")
@click.option("--invoice", metavar="ID", help="Invoice id (required for invoices).")
@click.option("--attach", "attachments", multiple=True,
              type=click.Path(path_type=Path), metavar="FILE",
              help="A regular file to attach, copied into the store now. Repeatable.")
def outbox_add(store_url: str, purpose: str, template: str | None, settings: str | None,
               to: tuple[str, ...], cc: tuple[str, ...], subject: str | None,
               body: str | None, variables: tuple[str, ...], account: str | None,
               invoice: str | None, attachments: tuple[Path, ...]) -> None:
    """Queue one email and print its job id.

    \b
    Example:
      smtpcfg outbox add --purpose password-reset --settings transactional \\
          --to user@example.com --subject "Reset your password" --body "..."
    """
    from reconciler.delivery.enqueue import enqueue
    from reconciler.store.open import open_existing_store

    pairs = {}
    for item in variables:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--var")
        pairs[key] = value
    store = open_existing_store(store_url)
    try:
        job_id = enqueue(store, purpose=purpose, to=to, cc=cc, template=template,
                         settings=settings, subject=subject, body=body, variables=pairs,
                         account=account, invoice=invoice, attachments=attachments)
    finally:
        store.close()
    click.echo(job_id)


@outbox.command("list")
@store_option
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--account", metavar="ID")
@click.option("-o", "--output", "output_format", type=click.Choice(["table", "json"]),
              default="table", show_default=True)
def outbox_list(store_url: str, status: str | None, account: str | None,
                output_format: str) -> None:
    """List outbox jobs, oldest first.

    \b
    Example:
      smtpcfg outbox list --account A-1001 -o json
    """
    with reading(store_url) as store:
        jobs = store.jobs(status=status, account=account)
    if output_format == "json":
        click.echo(json.dumps([job.to_json() for job in jobs], indent=2, ensure_ascii=False))
        return
    echo_table(
        ["ID", "PURPOSE", "STATUS", "ATTEMPTS", "LAST REPLY", "MESSAGE-ID", "UPDATED",
         "TO", "INVOICE"],
        [[str(j.id), j.purpose, j.status, str(j.attempts),
          f"{j.last_code} {j.last_reply or ''}".strip() if j.last_code else "",
          j.message_id or "", j.updated_at, ",".join(j.to),
          f"{j.account}/{j.invoice} {j.invoice_state}" if j.invoice else ""]
         for j in jobs],
    )


@outbox.command("show")
@click.argument("job_id", type=int)
@store_option
@click.option("-o", "--output", "output_format", type=click.Choice(["text", "json"]),
              default="text", show_default=True)
@click.option("--save-attachments", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Also write the job's attachments into DIR (for sending by hand).")
def outbox_show(job_id: int, store_url: str, output_format: str,
                save_attachments: Path | None) -> None:
    """Show one job: status, each recipient's last reply, attempts with SMTP replies and
    the Message-ID each sent, times.

    A job not sent because its attachments exceed the settings' Max Size lists the
    steps to deliver it by hand.

    \b
    Examples:
      smtpcfg outbox show 42 -o json
      smtpcfg outbox show 42 --save-attachments ./INV-2026-0042
    """
    with reading(store_url) as store:
        job = store.job(job_id)
        if job is None:
            raise SmtpcfgError(f"outbox job {job_id} not found")
        if save_attachments and job.attachments_pruned_at:
            raise SmtpcfgError(f"the attachments of outbox job {job_id} were pruned at "
                               f"{job.attachments_pruned_at}; only their names, sizes and "
                               "SHA-256 checksums are kept")
        saved = _save_attachments(store.attachments(job_id), save_attachments) \
            if save_attachments else []
    document = job.to_json()
    steps = manual_delivery_steps(job)
    if steps:
        document["manualDelivery"] = steps
    if output_format == "json":
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        _echo_job(document)
    for path in saved:
        click.echo(f"saved {path}", err=True)


@outbox.command("prune")
@store_option
@click.option("--older-than", "age", type=Duration(), required=True, metavar="DURATION",
              help="Prune jobs finished longer ago than this: 30d, 12h, 45m, 90s.")
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
    from reconciler.store.open import open_existing_store
    from reconciler.timeutil import utc_in

    store = open_existing_store(store_url)
    try:
        pruned = store.prune_attachments(utc_in(-age), dry_run=dry_run)
    finally:
        store.close()
    click.echo(pruned.describe(dry_run=dry_run))


def _echo_job(document: dict[str, Any]) -> None:
    for key, value in document.items():
        if key in ("attemptLog", "attachments", "attachmentsPrunedAt", "manualDelivery",
                   "recipients"):
            continue
        shown = ", ".join(value) if isinstance(value, list) else value
        click.echo(f"{key + ':':15} {'' if shown is None else shown}")
    click.echo("recipients:")
    for rcpt in document["recipients"]:
        reply = f" (attempt {rcpt['attempt']}): {rcpt['code']} {rcpt['reply'] or ''}".rstrip() \
            if rcpt["code"] is not None else ""
        click.echo(f"  {rcpt['field']}: {rcpt['address']} {rcpt['status']}{reply}")
    pruned = document["attachmentsPrunedAt"]
    note = f"   pruned at {pruned} (names, sizes and checksums kept)" if pruned else ""
    click.echo(f"attachments:{note}")
    for item in document["attachments"]:
        checksum = f", sha256 {item['sha256']}" if item["sha256"] else ""
        click.echo(f"  {item['filename']} ({item['size']} bytes{checksum})")
    click.echo("attempt log:")
    for attempt in document["attemptLog"]:
        message_id = f" [{attempt['messageId']}]" if attempt["messageId"] else ""
        click.echo(f"  #{attempt['attempt']} {attempt['startedAt']} {attempt['runner']}: "
                   f"{attempt['outcome']} {attempt['code'] or ''} {attempt['reply'] or ''}"
                   .rstrip() + message_id)
    if "manualDelivery" in document:
        click.echo("manual delivery:")
        for number, step in enumerate(document["manualDelivery"], 1):
            click.echo(f"  {number}. {step}")


def manual_delivery_steps(job: Job) -> list[str]:
    """What a person does to deliver a job the Max Size rule kept from being sent."""
    if job.status != "size-exceeded":
        return []
    recipients = ", ".join(job.to)
    if job.cc:
        recipients += f" (cc {', '.join(job.cc)})"
    steps = [
        f"Save the attachments: smtpcfg outbox show {job.id} --save-attachments DIR",
        f"Send them to {recipients} another way (a file share, or several emails each "
        "under the Max Size).",
    ]
    if job.invoice:
        steps.append(f"Invoice {job.invoice} is already listed as delivered on account "
                     f"{job.account}: note there how it was sent.")
    return steps


def _save_attachments(attachments: list[StoredAttachment], folder: Path) -> list[Path]:
    """Write each attachment into `folder` under its base name; never overwrite a file."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for attachment in attachments:
        # Only the base name: a name such as ../x given through the Python API stays inside.
        path = folder / (PurePath(attachment.filename).name or "attachment")
        try:
            with path.open("xb") as file:
                file.write(attachment.data)
        except OSError as error:
            raise SmtpcfgError(f"cannot save {path}: {error.strerror}") from None
        saved.append(path)
    return saved


def _smtp_client_options(function: F) -> F:
    """How the runner and test-email connect: both send through the same code."""
    function = click.option(
        "--timeout", type=click.FloatRange(0.1), default=30.0, show_default=True,
        metavar="SECONDS",
        help="Bounds connecting with the greeting, each whole reply, and each send.")(function)
    return click.option(
        "--ca-file", type=click.Path(exists=True, dir_okay=False),
        help="CA certificates to verify SMTP servers with [default: system store].")(function)


@click.command()
@store_option
@vault_auth_option
@click.option("--once", is_flag=True, help="Send what is due, then exit.")
@click.option("--poll-interval", type=click.FloatRange(0.05), default=2.0, show_default=True,
              metavar="SECONDS", help="How often to look for due jobs.")
@click.option("--batch-size", type=click.IntRange(1), default=20, show_default=True,
              help="Jobs claimed at once.")
@click.option("--lease", "lease_seconds", type=click.FloatRange(1), default=300.0,
              show_default=True, metavar="SECONDS",
              help="How long a claim lasts before another runner may take the job.")
@click.option("--max-attempts", type=click.IntRange(1), default=8, show_default=True)
@click.option("--retry-base-delay", type=click.FloatRange(0), default=30.0, show_default=True,
              metavar="SECONDS", help="First retry delay; doubles each attempt, with jitter.")
@_smtp_client_options
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--runner-id", metavar="ID", help="Name in claims and attempts "
              "[default: host:pid].")
@click.option("--prune-after", type=Duration(), metavar="DURATION",
              help="Also prune the attachment bytes of jobs finished longer ago than this "
              "(as `outbox prune --older-than`), at start and hourly.")
def deliver(store_url: str, vault_auth: str | None, once: bool, poll_interval: float,
            batch_size: int, lease_seconds: float, max_attempts: int,
            retry_base_delay: float, ca_file: str | None, timeout: float, log_format: str,
            runner_id: str | None, prune_after: float | None) -> None:
    """Run the delivery runner: send queued emails with the settings in the store.

    Without --once it polls until SIGTERM or SIGINT, then finishes the message in
    flight and stops. With --once it exits 0 when no job failed, 1 otherwise.

    \b
    Examples:
      smtpcfg deliver --once
      smtpcfg deliver --log-format json
    """
    from reconciler.delivery.events import EventLog
    from reconciler.delivery.runner import Runner, RunnerOptions
    from reconciler.delivery.sender import Sender
    from reconciler.delivery.wire import return_large_buffers_to_the_system
    from reconciler.store.open import open_existing_store

    return_large_buffers_to_the_system()
    options = RunnerOptions(
        runner_id=runner_id or f"{socket.gethostname()}:{os.getpid()}", once=once,
        poll_interval=poll_interval, batch_size=batch_size, lease_seconds=lease_seconds,
        max_attempts=max_attempts, retry_base_delay=retry_base_delay, prune_after=prune_after)
    log = EventLog(log_format)
    sender = Sender(resolver_factory(vault_auth, log.message), ca_file=ca_file, timeout=timeout)
    store = open_existing_store(store_url)

    def progress(summary: RunSummary) -> None:
        log.progress(f"{sum(summary.counts.values())} processed: {_counts(summary)}")

    show_progress = once and log_format == "text" and sys.stderr.isatty()
    runner = Runner(store, sender, options, log, progress if show_progress else None)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # Only this: the handler can interrupt the runner anywhere, even halfway through
        # writing a log line, so it must neither log nor take a lock.
        runner.stop(f"received {signal.Signals(signum).name}")

    if not once:
        # A service outlives a database restart: it reconnects, logging each try, and
        # stops reconnecting when asked to stop.
        from reconciler.store.faults import Reconnect

        def wait(seconds: float) -> bool:
            runner.stopping.wait(seconds)
            return not runner.stopping.requested

        store.keep_connected(Reconnect(log=log.message, wait=wait))
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.message(f"runner {options.runner_id} started on {store.url}", store=store.url)
    try:
        summary = runner.run()
    finally:
        store.close()
        log.end_progress()
    if runner.stopping.reason:
        log.message(f"{runner.stopping.reason}: stopped after the message in flight")
    log.message(f"runner stopped: {_counts(summary) or 'nothing to do'}", **summary.counts)
    if once and summary.failed:
        sys.exit(1)


def _counts(summary: RunSummary) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()))


@click.command("test-email")
@click.argument("settings_name", metavar="SETTINGS")
@store_option
@vault_auth_option
@click.option("--to", "address", metavar="ADDR", help="Send to this address.")
@click.option("--user", "user_name", metavar="NAME", help="Send to this User's email.")
@_smtp_client_options
def test_email(settings_name: str, store_url: str, vault_auth: str | None,
               address: str | None, user_name: str | None, ca_file: str | None,
               timeout: float) -> None:
    """Send one test email with stored settings, and say plainly what failed.

    Goes through the runner's own sending code, with the password from Vault.

    \b
    Examples:
      smtpcfg test-email primary --to me@example.com
      smtpcfg test-email primary --user billing-ops
    """
    from reconciler.delivery.trial_send import send_test_email

    if (address is None) == (user_name is None):
        raise click.UsageError("give exactly one of --to ADDR or --user NAME")
    with reading(store_url) as store:
        click.echo(send_test_email(store, resolver_factory(vault_auth), settings_name,
                                   address=address, user_name=user_name, ca_file=ca_file,
                                   timeout=timeout))


COMMANDS = (outbox, deliver, test_email)
