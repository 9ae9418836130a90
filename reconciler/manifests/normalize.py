"""Normalize schema-valid manifest data, so that equal meaning compares equal.

Sizes become bytes, defaults are filled in, host names and email domains are
lowercased, empty optional maps disappear. Normalizing is idempotent: the output of
`export` normalizes to itself, which is what makes `apply` then `plan` show no changes.
"""

from __future__ import annotations

from typing import Any

from reconciler.formats import parse_size
from reconciler.model import Resource, ResourceKey
from reconciler.vault.reference import VaultReference


def normalize(document: dict[str, Any]) -> Resource:
    """A Resource from one schema-valid manifest document."""
    metadata = document["metadata"]
    kind = document["kind"]
    return Resource(
        key=ResourceKey(kind, metadata["name"]),
        spec=_NORMALIZERS[kind](document["spec"]),
        labels=dict(sorted(metadata.get("labels", {}).items())),
        annotations=dict(sorted(metadata.get("annotations", {}).items())),
    )


def normalize_email(address: str) -> str:
    """Domains are case-insensitive; local parts are not (RFC 5321), so keep those."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def _smtp_settings(spec: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "host": spec["host"].lower().rstrip("."),
        "port": spec["port"],
        "startTlsOnly": spec.get("startTlsOnly", False),
        "from": _sender(spec["from"]),
    }
    if "username" in spec:
        result["username"] = spec["username"]
        result["password"] = _vault_reference(spec["password"])
    if "maxAttachmentSize" in spec:
        result["maxAttachmentSize"] = parse_size(spec["maxAttachmentSize"])
    for optional in ("notifyUser", "description"):
        if optional in spec:
            result[optional] = spec[optional]
    return result


def _user(spec: dict[str, Any]) -> dict[str, Any]:
    result = {"email": normalize_email(spec["email"])}
    if "displayName" in spec:
        result["displayName"] = spec["displayName"]
    return result


def _email_template(spec: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"smtpSettings": spec["smtpSettings"]}
    sender = _sender(spec.get("from", {}))
    if sender:
        result["from"] = sender
    for optional in ("subject", "body"):
        if optional in spec:
            result[optional] = spec[optional]
    return result


def _sender(sender: dict[str, Any]) -> dict[str, Any]:
    result = {}
    if "name" in sender:
        result["name"] = sender["name"]
    if "address" in sender:
        result["address"] = normalize_email(sender["address"])
    return result


def _vault_reference(reference: dict[str, Any]) -> dict[str, Any]:
    vault = reference["vault"]
    mount = vault.get("mount")
    return VaultReference(
        path=vault["path"].strip("/"),
        key=vault["key"],
        version=vault.get("version"),
        mount=mount.strip("/") if mount is not None else None,
    ).to_spec()


_NORMALIZERS = {
    "SmtpSettings": _smtp_settings,
    "User": _user,
    "EmailTemplate": _email_template,
}
