"""The store's resources written back as manifests (`smtpcfg export`, `get -o yaml`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.kinds import dependency_order
from reconciler.model import StoredResource
from reconciler.store.open import existing_store


@dataclass(frozen=True)
class Written:
    """One file `export_to` wrote: `count` resources, of `kind` (None: of every kind)."""

    path: Path
    count: int
    kind: str | None = None

    def describe(self) -> str:
        if self.kind is None:
            return f"Wrote {self.count} resources to {self.path}"
        return f"Wrote {self.count} of kind {self.kind} to {self.path}"


def export_yaml(store_url: str, scope: str) -> str:
    """The resources of `scope` as manifests that plan as no changes, in one YAML text."""
    return manifests_yaml(r.to_manifest() for r in _resources(store_url, scope))


def export_to(store_url: str, scope: str, output: str) -> list[Written]:
    """`export_yaml` into the file `output`, or into a folder (one existing, or `output`
    ending in /), one file per kind."""
    resources = _resources(store_url, scope)
    path = Path(output)
    if not (path.is_dir() or output.endswith("/")):
        path.write_text(manifests_yaml(r.to_manifest() for r in resources), encoding="utf-8")
        return [Written(path, len(resources))]
    path.mkdir(parents=True, exist_ok=True)
    by_kind: dict[str, list[StoredResource]] = {}
    for resource in resources:
        by_kind.setdefault(resource.key.kind, []).append(resource)
    written = []
    for kind, items in by_kind.items():
        target = path / f"{kind.lower()}.yaml"
        target.write_text(manifests_yaml(r.to_manifest() for r in items), encoding="utf-8")
        written.append(Written(target, len(items), kind))
    return written


def _resources(store_url: str, scope: str) -> list[StoredResource]:
    """Read-only fields (uid, generation, timestamps) are left out by `to_manifest`; the
    order lets each resource's references come before it."""
    with existing_store(store_url) as store:
        return sorted(store.resources(scope=scope), key=lambda r: dependency_order(r.key))


def manifests_yaml(documents: Iterable[dict[str, Any]]) -> str:
    """Manifests as YAML; multi-line text (template bodies) as literal blocks, which read
    and diff in git the way they were written."""
    import yaml

    class Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump_all(
        list(documents), Dumper=Dumper, sort_keys=False, allow_unicode=True, explicit_start=True
    )
