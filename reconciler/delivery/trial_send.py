"""`smtpcfg test-email`: one message with the stored settings, through the runner's code."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.delivery.failures import DeliveryFailure, Step
from reconciler.delivery.message import build_message
from reconciler.delivery.sender import Sender
from reconciler.errors import SmtpcfgError
from reconciler.model import ResourceKey
from reconciler.store.base import Store
from reconciler.vault.resolver import VaultResolver

#: The failed step in the words of someone who set up the server, and what to check.
STEP_WORDS: dict[Step, tuple[str, str]] = {
    "dns": ("DNS lookup failed", "check the settings' host name"),
    "connection-refused": ("connection refused", ""),
    "timeout": ("timed out", "the server or a firewall does not answer"),
    "tls-handshake": ("TLS handshake failed", ""),
    "certificate": (
        "certificate not trusted",
        "it must name this host and be signed by a CA in the system store or in --ca-file",
    ),
    "no-starttls": ("no STARTTLS", ""),
    "authentication": ("authentication rejected", "check the username, and the password in Vault"),
    "oauth2-token": ("OAuth2 token request failed", ""),
    "sender-refused": ("sender refused", "the server will not send from this From address"),
    "recipient-refused": ("recipient refused", ""),
    "data-refused": ("message refused", ""),
    "size": ("message too large", ""),
    "connection-lost": ("connection lost", ""),
    "protocol": ("unexpected SMTP reply", ""),
}
#: The hint for a refused XOAUTH2 login, whose token the server did not take.
OAUTH2_REFUSED_HINT = (
    "check that spec.username is the mailbox, and that the application may send as it"
)


def send_test_email(
    store: Store,
    resolver: Callable[[], VaultResolver],
    settings_name: str,
    *,
    address: str | None,
    user_name: str | None,
    ca_file: str | None,
    timeout: float,
) -> str:
    """Send the test email; return what to tell the user, or raise with the failed step."""
    settings = store.resource(ResourceKey("SmtpSettings", settings_name))
    if settings is None:
        raise SmtpcfgError(f"SmtpSettings/{settings_name} not found in {store.url}")
    if user_name is not None:
        user = store.resource(ResourceKey("User", user_name))
        if user is None:
            raise SmtpcfgError(f"User/{user_name} not found in {store.url}")
        address = user.spec["email"]
    if address is None:
        raise SmtpcfgError("give the address to send the test email to")
    sender_address = settings.spec["from"]["address"]
    message = build_message(
        from_name=settings.spec["from"].get("name"),
        from_address=sender_address,
        to=[address],
        cc=[],
        subject=f"smtpcfg test email: {settings_name}",
        body=(
            f"This is a test email sent by smtpcfg with the SMTP settings {settings_name} "
            f"({settings.spec['host']}:{settings.spec['port']}).\n"
        ),
        attachments=[],
        message_id_domain=sender_address.rpartition("@")[2],
    )
    sender = Sender(resolver, ca_file=ca_file, timeout=timeout)
    endpoint = sender.endpoint(settings)
    try:
        result = sender.send(settings, message)
    except DeliveryFailure as failure:
        headline, hint = STEP_WORDS[failure.step]
        if failure.step == "authentication" and "oauth2" in settings.spec:
            hint = OAUTH2_REFUSED_HINT
        raise SmtpcfgError(
            f"test email via {endpoint.address} failed: {headline}: {failure}"
            + (f" ({hint})" if hint else "")
        ) from None
    finally:
        sender.close()
    username = settings.spec.get("username")
    how = " with OAuth2 (XOAUTH2)" if "oauth2" in settings.spec else ""
    login = f", logged in as {username}{how}" if username else ""
    return (
        f"Sent a test email to {address} via {endpoint.address}{login}: "
        f"{result.code} {result.reply_text} (Message-ID {result.message_id})"
    )
