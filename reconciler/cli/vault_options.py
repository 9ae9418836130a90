"""The options of commands that read Vault, and the resolver they make (lazily)."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

import click

from reconciler.cli.options import F

if TYPE_CHECKING:
    from reconciler.vault.resolver import VaultResolver
    from reconciler.vault.tokens import Notify


def vault_auth_option(function: F) -> F:
    return click.option(
        "--vault-auth",
        type=click.Choice(["token", "approle", "jwt"]),
        envvar="SMTPCFG_VAULT_AUTH",
        default=None,
        help="How to log in to Vault [env: SMTPCFG_VAULT_AUTH; default: token].",
    )(function)


def resolver_factory(
    vault_auth: str | None, notify: Notify | None = None
) -> Callable[[], VaultResolver]:
    """A function that makes the resolver on first call: no hvac import until needed.

    `notify(message, **fields)` hears of Vault logins and renewals (the runner's log).
    """

    @cache
    def make() -> VaultResolver:
        from reconciler.vault.client import VaultSettings
        from reconciler.vault.resolver import VaultResolver

        return VaultResolver(VaultSettings.from_environment(os.environ, vault_auth), notify)

    return make
