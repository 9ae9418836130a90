"""`smtpcfg probe`: look at the SMTP servers of SmtpSettings, without sending mail."""

from __future__ import annotations

import click

from reconciler.cli.options import (
    manifests_option,
    output_format_option,
    probe_options,
    store_option,
    use_color,
    vault_auth_option,
)
from reconciler.errors import SmtpcfgError


@click.command()
@manifests_option(required=False)
@click.option(
    "--settings",
    "names",
    multiple=True,
    metavar="NAME",
    help="Probe only this SmtpSettings (repeatable) [default: all of them].",
)
@store_option
@vault_auth_option
@probe_options("")
@output_format_option("text", "json")
def probe(
    paths: tuple[str, ...],
    names: tuple[str, ...],
    store_url: str,
    vault_auth: str | None,
    probe_timeout: float,
    probe_ca_file: str | None,
    probe_parallel: int,
    probe_expiry_days: int,
    output_format: str,
) -> None:
    """Check the SMTP servers SmtpSettings point at, without sending mail.

    For each settings, as delivery connects: DNS, TCP, the greeting, TLS (implicit on
    port 465, STARTTLS otherwise), the certificate (verified, host name, days left),
    EHLO, the server's SIZE against maxAttachmentSize as base64, AUTH with the username
    and the password from Vault, QUIT. Never MAIL FROM. The settings come from the
    manifests given with -f, or else from the store. Exit status 1 if any step found
    an error; warnings alone exit 0.

    \b
    Examples:
      smtpcfg probe -f manifests/
      smtpcfg probe -f manifests/ --settings primary -o json
      smtpcfg probe --settings primary --ca-file corp-ca.pem   # as stored
    """
    from reconciler.delivery.options import ProbeOptions
    from reconciler.probe.render import render_report
    from reconciler.probe.run import probe_declared

    options = ProbeOptions(probe_timeout, probe_ca_file, probe_expiry_days, probe_parallel)
    report = probe_declared(paths, names, store_url, vault_auth, options)
    color = use_color()
    click.echo(render_report(report, output_format, color=color), color=color)
    if report.errors:
        raise SmtpcfgError(f"the probe found {report.errors} error(s)")


COMMANDS = (probe,)
