"""Normalizers of fields that several kinds share: email addresses, senders, Vault references."""

from __future__ import annotations

from typing import Any

from reconciler.model import VaultReference


def normalize_email(address: str) -> str:
    """Domains are case-insensitive; local parts are not (RFC 5321), so keep those."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def normalize_sender(sender: dict[str, Any]) -> dict[str, Any]:
    """A `from:` block: the name as written, the address with its domain lowercased."""
    result = {}
    if "name" in sender:
        result["name"] = sender["name"]
    if "address" in sender:
        result["address"] = normalize_email(sender["address"])
    return result


def normalize_vault_reference(reference: dict[str, Any]) -> dict[str, Any]:
    """A `{vault: {...}}` reference with its path and mount stripped of slashes."""
    vault = reference["vault"]
    mount = vault.get("mount")
    return VaultReference(
        path=vault["path"].strip("/"),
        key=vault["key"],
        version=vault.get("version"),
        mount=mount.strip("/") if mount is not None else None,
    ).to_spec()


def copy_optional(source: dict[str, Any], target: dict[str, Any], *fields: str) -> None:
    """Copy each of `fields` that `source` has, unchanged."""
    for name in fields:
        if name in source:
            target[name] = source[name]
