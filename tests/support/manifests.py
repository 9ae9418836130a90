"""Build manifest documents for tests, valid by default, overridable per field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def user(name: str, email: str | None = None, **spec: Any) -> dict[str, Any]:
    return _document("User", name, {"email": email or f"{name}@example.com", **spec})


def settings(name: str, **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "host": "smtp.example.com",
        "port": 587,
        "from": {"name": "Billing", "address": "billing@example.com"},
    }
    return _document("SmtpSettings", name, {**base, **spec})


def template(name: str, smtp_settings: str, **spec: Any) -> dict[str, Any]:
    return _document("EmailTemplate", name, {"smtpSettings": smtp_settings, **spec})


def vault_password(path: str, key: str = "password", **extra: Any) -> dict[str, Any]:
    return {"vault": {"path": path, "key": key, **extra}}


def example_set(port: int = 587) -> list[dict[str, Any]]:
    """One of each kind, referencing each other: a Notify User, its settings, a template."""
    return [
        user("ops"),
        settings("primary", port=port, notifyUser="ops", maxAttachmentSize="10MiB"),
        template("invoice", "primary", subject="Invoice ${invoice}"),
    ]


def write_manifests(path: Path, documents: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    return path


def _document(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "smtpcfg/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}
