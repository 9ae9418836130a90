"""The `smtpcfg` entry point: the command group and how errors leave the process."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from reconciler import __version__
from reconciler.cli import delivery_commands, init_command, manifest_commands, read_commands
from reconciler.errors import SmtpcfgError

EXIT_ERROR = 1


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="smtpcfg")
def cli() -> None:
    """SMTP settings as code: validate, plan and apply YAML manifests to a store.

    \b
    Typical use:
      smtpcfg init
      smtpcfg validate -f manifests/
      smtpcfg plan -f manifests/ --out plan.json
      smtpcfg apply plan.json

    The store is chosen by --store or SMTPCFG_STORE (default sqlite:///smtpcfg.db,
    in the current folder); `smtpcfg init` creates it.
    """


for command in (
    *init_command.COMMANDS,
    *manifest_commands.COMMANDS,
    *read_commands.COMMANDS,
    *delivery_commands.COMMANDS,
):
    cli.add_command(command)


def main() -> None:
    """The `smtpcfg` console script."""
    sys.exit(run())


def run(args: Sequence[str] | None = None) -> int:
    """Run the CLI on `args` (default: the process's) and return its exit status.

    0 ok, 1 error, 2 changes (plan --detailed-exitcode). Click's own usage errors would
    exit 2, which `plan --detailed-exitcode` reserves for "changes present"; here every
    error exits 1.
    """
    try:
        code = cli.main(args=args, prog_name="smtpcfg", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Error: aborted; nothing was changed", err=True)
        code = EXIT_ERROR
    except click.ClickException as error:
        error.show()
        code = EXIT_ERROR
    except SmtpcfgError as error:
        _report(error)
        code = EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        code = 130
    except BrokenPipeError:
        code = EXIT_ERROR
    except OSError as error:  # writing output: a full disk, a read-only folder
        where = f"{error.filename}: " if error.filename else ""
        click.echo(f"Error: {where}{error.strerror or error}", err=True)
        code = EXIT_ERROR
    return code if isinstance(code, int) else 0


def _report(error: SmtpcfgError) -> None:
    lines = getattr(error, "lines", None)
    if callable(lines):
        for line in lines():
            click.echo(line, err=True)
    click.echo(f"Error: {error}", err=True)
    if os.environ.get("SMTPCFG_DEBUG"):
        raise error
