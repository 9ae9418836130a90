"""The diff engine's rules that the CLI cannot reach on its own yet."""

from __future__ import annotations

from reconciler.model import Resource, ResourceKey, StoredResource
from reconciler.plan.diff import diff


def _stored(kind: str, name: str, spec: dict) -> StoredResource:
    return StoredResource(key=ResourceKey(kind, name), spec=spec)


def test_creates_run_in_dependency_order_and_deletes_in_reverse() -> None:
    desired = {
        ResourceKey("EmailTemplate", "t"): Resource(ResourceKey("EmailTemplate", "t"),
                                                    {"smtpSettings": "s"}),
        ResourceKey("SmtpSettings", "s"): Resource(ResourceKey("SmtpSettings", "s"), {}),
        ResourceKey("User", "u"): Resource(ResourceKey("User", "u"), {}),
    }
    order = [str(change.key) for change in diff(desired, [], scope="default")]
    assert order == ["User/u", "SmtpSettings/s", "EmailTemplate/t"]
    stored = [_stored(key.kind, key.name, r.spec) for key, r in desired.items()]
    assert [str(c.key) for c in diff({}, stored, scope="default")] == list(reversed(order))
