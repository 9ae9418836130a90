"""How smtpcfg may log in to Vault; a module of its own so that `--vault-auth` can offer
the choices without importing the Vault client code."""

from __future__ import annotations

from typing import Literal, get_args

AuthMethod = Literal["token", "approle", "jwt"]
AUTH_METHODS: tuple[str, ...] = get_args(AuthMethod)
