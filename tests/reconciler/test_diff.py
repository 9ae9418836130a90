"""The diff engine's rules that the CLI cannot reach on its own yet."""

from __future__ import annotations

from reconciler.model import Resource, ResourceKey, StoredResource
from reconciler.plan.diff import dangling_references, diff


def _stored(kind: str, name: str, spec: dict) -> StoredResource:
    return StoredResource(key=ResourceKey(kind, name), spec=spec)


def test_deleting_a_user_that_remaining_settings_name_is_dangling() -> None:
    # Everything in the store but declared elsewhere (another scope) stays.
    stored = [_stored("User", "ops", {"email": "ops@example.com"}),
              _stored("SmtpSettings", "primary", {"notifyUser": "ops"})]
    changes = [c for c in diff({}, stored) if c.key.kind == "User"]
    assert dangling_references({}, stored, changes) == [
        "SmtpSettings/primary: spec.notifyUser refers to User/ops, which would no longer exist"
    ]


def test_creates_run_in_dependency_order_and_deletes_in_reverse() -> None:
    desired = {
        ResourceKey("EmailTemplate", "t"): Resource(ResourceKey("EmailTemplate", "t"),
                                                    {"smtpSettings": "s"}),
        ResourceKey("SmtpSettings", "s"): Resource(ResourceKey("SmtpSettings", "s"), {}),
        ResourceKey("User", "u"): Resource(ResourceKey("User", "u"), {}),
    }
    order = [str(change.key) for change in diff(desired, [])]
    assert order == ["User/u", "SmtpSettings/s", "EmailTemplate/t"]
    stored = [_stored(key.kind, key.name, r.spec) for key, r in desired.items()]
    assert [str(c.key) for c in diff({}, stored)] == list(reversed(order))
