"""The registry of kinds: every kind smtpcfg manages, one module each.

Adding a kind means a module here (schema name, normalizer, references, aliases,
summary), its schema file in `schemas/` with a branch in `manifest.schema.json`, and an
entry in `KINDS`. The loader, the planner, `get` and `export` ask this registry.
"""

from __future__ import annotations

from typing import Any

from reconciler.kinds.base import Kind
from reconciler.kinds.email_template import EMAIL_TEMPLATE
from reconciler.kinds.smtp_settings import SMTP_SETTINGS
from reconciler.kinds.user import USER
from reconciler.model import ResourceKey, VaultReference

#: Every kind in dependency order: a kind may reference only kinds before it. Creates and
#: updates run in this order, deletes in reverse, so no reference dangles mid-apply.
KINDS: tuple[Kind, ...] = (USER, SMTP_SETTINGS, EMAIL_TEMPLATE)

_BY_NAME = {kind.name: kind for kind in KINDS}
_RANK = {kind.name: rank for rank, kind in enumerate(KINDS)}
_BY_ALIAS = {alias: kind for kind in KINDS for alias in (kind.name.lower(), *kind.aliases)}

__all__ = [
    "KINDS",
    "Kind",
    "by_alias",
    "by_name",
    "dependency_order",
    "references_of",
    "secrets_of",
]


def by_name(name: str) -> Kind:
    """The kind called `name` exactly (as manifests and the store spell it)."""
    return _BY_NAME[name]


def by_alias(text: str) -> Kind | None:
    """The kind a user means by `text`: its name or an alias, any case, plurals too."""
    return _BY_ALIAS.get(text.lower())


def dependency_order(key: ResourceKey) -> tuple[int, str]:
    """Sort key putting referenced kinds first, then names in order."""
    return (_RANK[key.kind], key.name)


def references_of(key: ResourceKey, spec: dict[str, Any]) -> list[tuple[ResourceKey, str]]:
    """What the normalized spec of `key` names: `(target, field)` pairs."""
    return by_name(key.kind).references(spec)


def secrets_of(key: ResourceKey, spec: dict[str, Any]) -> dict[str, VaultReference]:
    """The Vault references of the normalized spec of `key`, by field (`spec.password`)."""
    return dict(by_name(key.kind).secrets(spec))
