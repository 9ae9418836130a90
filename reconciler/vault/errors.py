"""Why a Vault reference could not be resolved: a reason for code, one line for people.

Messages name paths and keys, never values. hvac and requests are imported only inside
`transport_errors` and `refusals`, which run only once a client exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

from reconciler.errors import SmtpcfgError

if TYPE_CHECKING:
    from reconciler.model import VaultReference
    from reconciler.vault.client import VaultSettings

Reason = Literal[
    "unreachable",
    "permission-denied",
    "token-invalid",
    "sealed",
    "no-such-path",
    "no-such-key",
    "version-deleted",
    "version-destroyed",
    "no-such-version",
    "not-kv-v2",
    "bad-path",
    "auth-failed",
    "invalid-response",
]


class VaultLookupError(SmtpcfgError):
    """A reference that could not be resolved: `vault <path>#<key>: <what is wrong>`."""

    def __init__(self, reference: VaultReference, reason: Reason, detail: str) -> None:
        super().__init__(f"{reference.display()}: {detail}")
        self.reference = reference
        self.reason: Reason = reason


class VaultFailure(Exception):
    """A failure not yet tied to a reference.

    A login, a mount look-up or a secret read serves every reference that shares it, so
    they fail with this and the resolver turns it into one VaultLookupError per reference.
    """

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason: Reason = reason
        self.detail = detail

    def for_reference(self, reference: VaultReference) -> VaultLookupError:
        return VaultLookupError(reference, self.reason, self.detail)


class Refused(VaultFailure):
    """Vault refused a request with this token (403 or 401).

    Whether the token is at fault or its policy is not known yet: the resolver asks Vault
    (`lookup-self`) and either lets this through ("permission-denied", the policy) or
    logs in again.
    """

    def __init__(self, detail: str) -> None:
        super().__init__("permission-denied", detail)


@contextmanager
def refusals() -> Iterator[None]:
    """Turn hvac's 403 and 401 into Refused, with the detail Vault sent."""
    from hvac import exceptions

    try:
        yield
    except (exceptions.Forbidden, exceptions.Unauthorized) as exc:
        raise Refused(errors_of(exc)) from None


@contextmanager
def transport_errors(settings: VaultSettings) -> Iterator[None]:
    """Turn the failures any Vault request can meet into VaultFailure.

    Statuses whose meaning depends on the request (403, 404, a failed login's 400) must be
    caught inside the block by the caller; whatever reaches this point is generic.
    """
    import requests
    from hvac import exceptions

    addr = settings.addr
    try:
        yield
    except requests.exceptions.SSLError as exc:
        raise VaultFailure(
            "unreachable",
            f"TLS connection to Vault at {addr} failed: {innermost_reason(exc)} "
            "(set VAULT_CACERT to the CA certificate that signed the server's certificate)",
        ) from exc
    except requests.exceptions.Timeout as exc:
        raise VaultFailure(
            "unreachable", f"Vault at {addr} did not answer within {settings.timeout:g}s"
        ) from exc
    except requests.exceptions.RequestException as exc:
        if settings.addr_is_default:
            raise VaultFailure(
                "unreachable",
                f"VAULT_ADDR is not set, and nothing answers at the default address {addr}: "
                f"{innermost_reason(exc)} (set VAULT_ADDR to your Vault's address)",
            ) from exc
        raise VaultFailure(
            "unreachable", f"cannot reach Vault at {addr}: {innermost_reason(exc)}"
        ) from exc
    except exceptions.VaultDown as exc:
        if "sealed" in str(exc):
            raise VaultFailure("sealed", f"Vault at {addr} is sealed (unseal it first)") from exc
        raise VaultFailure(
            "unreachable", f"Vault at {addr} is unavailable: {errors_of(exc)}"
        ) from exc
    except exceptions.VaultError as exc:
        raise VaultFailure(
            "invalid-response",
            f"unexpected answer from Vault at {addr}: {type(exc).__name__}: {errors_of(exc)}",
        ) from exc


def errors_of(exc: Exception) -> str:
    """The `errors` Vault sent with a failed response (they hold no secret values)."""
    errors = getattr(exc, "errors", None)
    return "; ".join(errors) if errors else "no details given"


def innermost_reason(exc: BaseException) -> str:
    """The innermost OS-level reason ("Connection refused"), without urllib3's wrapping."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        reason = getattr(current, "verify_message", None) or getattr(current, "strerror", None)
        if reason:
            return str(reason)
        linked = (
            *current.args,
            getattr(current, "reason", None),
            current.__cause__,
            current.__context__,
        )
        pending.extend(item for item in linked if isinstance(item, BaseException))
    return "connection failed"
