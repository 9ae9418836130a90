"""What smtpcfg knows about one kind of resource, in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.model import ResourceKey, VaultReference

Spec = dict[str, Any]


def no_secrets(spec: Spec) -> list[tuple[str, VaultReference]]:
    """For kinds that hold no Vault reference."""
    return []


@dataclass(frozen=True)
class Kind:
    """One kind: its schema, how its spec is normalized, what it refers to, how it reads.

    `normalize` turns a schema-valid manifest spec into the form that is diffed and
    stored; it is idempotent. `references` lists the `(target, field)` pairs a normalized
    spec names. `summary` is the one-line description `get` shows. `secrets` lists the
    `(field, reference)` pairs of its Vault references (`spec.password`, ...), which
    `plan` reads and whose versions `apply` records.
    """

    name: str
    schema: str
    aliases: tuple[str, ...]
    normalize: Callable[[Spec], Spec]
    references: Callable[[Spec], list[tuple[ResourceKey, str]]]
    summary: Callable[[Spec], str]
    secrets: Callable[[Spec], list[tuple[str, VaultReference]]] = no_secrets


def no_references(spec: Spec) -> list[tuple[ResourceKey, str]]:
    """For kinds that name no other resource."""
    return []
