"""The `smtpcfg` entry point: the command group and how errors leave the process."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

import click

from reconciler import __version__
from reconciler.errors import SmtpcfgError

EXIT_ERROR = 1
#: Each command's module under reconciler.cli. A module is imported only when one of its
#: commands runs (or help lists them): `deliver` loads no manifest or plan code, and
#: `validate` no delivery code.
COMMAND_MODULES = {
    "init": "init_command",
    "completion": "completion_command",
    "dev-sink": "dev_sink_command",
    **dict.fromkeys(("validate", "plan", "apply"), "manifest_commands"),
    **dict.fromkeys(("get", "export", "history"), "read_commands"),
    **dict.fromkeys(("outbox", "deliver", "test-email"), "delivery_commands"),
    "probe": "probe_command",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMAND_MODULES and cmd_name not in self.commands:
            module = importlib.import_module(f"reconciler.cli.{COMMAND_MODULES[cmd_name]}")
            for command in module.COMMANDS:
                self.add_command(command)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in COMMAND_MODULES:  # so that click can suggest a name
            for name in COMMAND_MODULES:
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


@click.group(
    cls=_LazyGroup,
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
