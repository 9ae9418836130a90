"""SmtpSettings: one SMTP server, the sender, the login and the Max Size rule.

The login is `username` with either `password` or `oauth2` (XOAUTH2; see kinds.oauth2).
"""

from __future__ import annotations

from reconciler.formats import parse_size
from reconciler.kinds.base import Kind, Spec
from reconciler.kinds.fields import copy_optional, normalize_sender, normalize_vault_reference
from reconciler.kinds.oauth2 import SECRET_FIELDS, normalize_oauth2
from reconciler.model import ResourceKey, VaultReference


def _normalize(spec: Spec) -> Spec:
    result: Spec = {
        "host": spec["host"].lower().rstrip("."),
        "port": spec["port"],
        "startTlsOnly": spec.get("startTlsOnly", False),
        "from": normalize_sender(spec["from"]),
    }
    if "username" in spec:
        result["username"] = spec["username"]
    if "password" in spec:
        result["password"] = normalize_vault_reference(spec["password"])
    if "oauth2" in spec:
        result["oauth2"] = normalize_oauth2(spec["oauth2"])
    if "maxAttachmentSize" in spec:
        result["maxAttachmentSize"] = parse_size(spec["maxAttachmentSize"])
    copy_optional(spec, result, "notifyUser", "description")
    return result


def _references(spec: Spec) -> list[tuple[ResourceKey, str]]:
    if "notifyUser" in spec:
        return [(ResourceKey("User", spec["notifyUser"]), "spec.notifyUser")]
    return []


def _secrets(spec: Spec) -> list[tuple[str, VaultReference]]:
    found = []
    if "password" in spec:
        found.append(("spec.password", VaultReference.from_spec(spec["password"])))
    oauth2 = spec.get("oauth2", {})
    for name in SECRET_FIELDS:
        if name in oauth2:
            found.append((f"spec.oauth2.{name}", VaultReference.from_spec(oauth2[name])))
    return found


def _summary(spec: Spec) -> str:
    tls = " starttls-only" if spec["startTlsOnly"] else ""
    oauth2 = spec.get("oauth2")
    login = f" oauth2:{oauth2.get('provider', 'token-url')}" if oauth2 else ""
    return f"{spec['host']}:{spec['port']}{tls}{login}"


SMTP_SETTINGS = Kind(
    name="SmtpSettings",
    schema="smtpsettings.schema.json",
    aliases=("smtpsettings", "smtp"),
    normalize=_normalize,
    references=_references,
    summary=_summary,
    secrets=_secrets,
)
