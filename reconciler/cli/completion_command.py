"""`smtpcfg completion SHELL`: click's completion script for the shell, to source."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

SHELLS = ("bash", "zsh", "fish")
#: The variable click's scripts call `smtpcfg` back with (its default for this name).
COMPLETE_VAR = "_SMTPCFG_COMPLETE"


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the shell completion script for bash, zsh or fish.

    \b
    Examples:
      eval "$(smtpcfg completion bash)"          # in ~/.bashrc
      eval "$(smtpcfg completion zsh)"           # in ~/.zshrc
      smtpcfg completion fish > ~/.config/fish/completions/smtpcfg.fish
    """
    root = click.get_current_context().find_root().command
    completer = get_completion_class(shell)
    assert completer is not None  # every name in SHELLS is one click ships
    click.echo(completer(root, {}, "smtpcfg", COMPLETE_VAR).source())


COMMANDS = (completion,)
