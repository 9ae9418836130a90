"""How a connection logs in: a password, or an OAuth2 bearer token (SASL XOAUTH2).

A login is a small value handed to `SmtpConnection`; the transport decides how to send
it (`_Session.log_in`). Secrets are asked for only at login, so they never sit in a
connection's repr or fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@runtime_checkable
class Revealable(Protocol):
    """A secret that hands out its value only when asked (e.g. one read from Vault)."""

    def reveal(self) -> str: ...


#: A password: a Revealable, or a function returning it.
Password = Revealable | Callable[[], str]


class BearerTokens(Protocol):
    """Where an OAuth2 login gets its access tokens (see reconciler.delivery.oauth2).

    `token()` gives a live token, fetched or reused; `renew(stale)` gives a new one after
    the server refused `stale`. Both raise a DeliveryFailure when the token endpoint
    fails.
    """

    def token(self) -> Revealable: ...

    def renew(self, stale: Revealable) -> Revealable: ...


@dataclass(frozen=True)
class PasswordLogin:
    """AUTH PLAIN, LOGIN or CRAM-MD5 (smtplib picks what the server offers)."""

    username: str
    password: Password = field(repr=False)

    #: How error messages name what is never sent in plaintext.
    credential = "password"

    def reveal_password(self) -> str:
        password = self.password
        return password.reveal() if isinstance(password, Revealable) else password()


@dataclass(frozen=True)
class OAuth2Login:
    """AUTH XOAUTH2 as `username` (the mailbox the token acts for), with a bearer token."""

    username: str
    tokens: BearerTokens = field(repr=False)

    credential = "OAuth2 token"


Login = PasswordLogin | OAuth2Login


def xoauth2_response(username: str, token: str) -> str:
    """The XOAUTH2 initial client response, before base64: `user=…^Aauth=Bearer …^A^A`."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01"
