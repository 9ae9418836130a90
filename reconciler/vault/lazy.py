"""A Vault resolver made on first use, so that commands import hvac only when a manifest
or a job needs a secret."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.vault.resolver import VaultResolver
    from reconciler.vault.tokens import Notify


def lazy_resolver(
    vault_auth: str | None, notify: Notify | None = None
) -> Callable[[], VaultResolver]:
    """A function that makes the resolver on first call, from the process's environment.

    `vault_auth` is `--vault-auth` (None: SMTPCFG_VAULT_AUTH's or the default login).
    `notify(message, **fields)` hears of Vault logins and renewals (the runner's log).
    """

    @cache
    def make() -> VaultResolver:
        from reconciler.vault.client import VaultSettings
        from reconciler.vault.resolver import VaultResolver

        return VaultResolver(VaultSettings.from_environment(os.environ, vault_auth), notify)

    return make
