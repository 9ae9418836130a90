"""`smtpcfg dev-sink`: a local SMTP server with STARTTLS that prints what it receives."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.errors import SmtpcfgError

if TYPE_CHECKING:
    from reconciler.dev_sink import Received

DEFAULT_PORT = 2525


@click.command("dev-sink")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Where to listen: a loopback address (127.0.0.1, ::1) or localhost, nothing else.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option(
    "--ca-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the PEM file of the CA that signs its certificate "
    "[default: smtpcfg-dev-sink-PORT/ca.pem in the temporary folder].",
)
@click.option(
    "--save",
    "save_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Also write each message to DIR/NNN.eml.",
)
def dev_sink(host: str, port: int, ca_file: Path | None, save_dir: Path | None) -> None:
    """Run a local SMTP server to try smtpcfg against, until Ctrl-C or SIGTERM.

    It listens on loopback only, requires STARTTLS with a certificate from a CA it
    makes at start-up (its CA file is printed: give it to test-email and deliver as
    --ca-file), accepts any username and password, and prints each message it
    receives. Needs the dev extra: pip install 'smtpcfg[dev]'.

    \b
    Example:
      smtpcfg dev-sink --port 2525
      smtpcfg test-email primary --to me@example.com --ca-file /tmp/smtpcfg-dev-sink-2525/ca.pem
    """
    from reconciler.dev_sink import DevSink, check_loopback, describe, serve

    check_loopback(host)
    _require_dev_extra()
    ca_file = ca_file or Path(tempfile.gettempdir()) / f"smtpcfg-dev-sink-{port}" / "ca.pem"
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)

    def received(message: Received) -> None:
        if save_dir is not None:
            (save_dir / f"{message.number:03d}.eml").write_bytes(message.raw)
        click.echo(describe(message))

    def ready() -> None:
        where = f"[{host}]" if ":" in host else host
        click.echo(
            f"dev-sink: listening on {where}:{port} (STARTTLS required, any login accepted)\n"
            f"CA file: {ca_file.resolve()}\n"
            f"Point a SmtpSettings at host: {host}, port: {port}, then try:\n"
            f"  smtpcfg test-email NAME --to you@example.com --ca-file {ca_file.resolve()}\n"
            "Ctrl-C stops it."
        )

    sink = DevSink(host, port, ca_file, received, lambda text: click.echo(text, err=True))
    count = serve(sink, ready)
    click.echo(f"dev-sink: stopped; {count} message{'s' if count != 1 else ''} received.")


def _require_dev_extra() -> None:
    for module in ("aiosmtpd", "trustme"):
        try:
            __import__(module)
        except ImportError:
            raise SmtpcfgError(
                f"dev-sink needs {module}, from the dev extra: pip install 'smtpcfg[dev]'"
            ) from None


COMMANDS = (dev_sink,)
