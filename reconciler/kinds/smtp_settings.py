"""SmtpSettings: one SMTP server, the sender, the login and the Max Size rule."""

from __future__ import annotations

from reconciler.formats import parse_size
from reconciler.kinds.base import Kind, Spec
from reconciler.kinds.fields import copy_optional, normalize_sender, normalize_vault_reference
from reconciler.model import ResourceKey


def _normalize(spec: Spec) -> Spec:
    result: Spec = {
        "host": spec["host"].lower().rstrip("."),
        "port": spec["port"],
        "startTlsOnly": spec.get("startTlsOnly", False),
        "from": normalize_sender(spec["from"]),
    }
    if "username" in spec:
        result["username"] = spec["username"]
        result["password"] = normalize_vault_reference(spec["password"])
    if "maxAttachmentSize" in spec:
        result["maxAttachmentSize"] = parse_size(spec["maxAttachmentSize"])
    copy_optional(spec, result, "notifyUser", "description")
    return result


def _references(spec: Spec) -> list[tuple[ResourceKey, str]]:
    if "notifyUser" in spec:
        return [(ResourceKey("User", spec["notifyUser"]), "spec.notifyUser")]
    return []


def _summary(spec: Spec) -> str:
    tls = " starttls-only" if spec["startTlsOnly"] else ""
    return f"{spec['host']}:{spec['port']}{tls}"


SMTP_SETTINGS = Kind(
    name="SmtpSettings",
    schema="smtpsettings.schema.json",
    aliases=("smtpsettings", "smtp"),
    normalize=_normalize,
    references=_references,
    summary=_summary,
)
