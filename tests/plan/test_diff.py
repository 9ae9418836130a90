"""The diff engine as tables: creates, updates, replaces, deletes, their order, scopes
and references. Plain resources, no store."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.errors import SmtpcfgError
from reconciler.model import Resource, ResourceKey, StoredResource
from reconciler.plan.diff import RENAMED_FROM, dangling_references, diff, field_changes
from reconciler.plan.model import Change, FieldChange

SCOPE = "default"
OPS = ResourceKey("User", "ops")
RELAY = ResourceKey("SmtpSettings", "relay")
INVOICE = ResourceKey("EmailTemplate", "invoice")


def declared(key: ResourceKey, spec: dict[str, Any], **annotations: str) -> Resource:
    return Resource(key, spec, annotations=annotations)


def kept(
    key: ResourceKey, spec: dict[str, Any], scope: str = SCOPE, **labels: str
) -> StoredResource:
    return StoredResource(key=key, spec=spec, labels=labels, scope=scope)


def body(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {"metadata": metadata, "spec": spec}


def changes_of(
    desired: list[Resource], actual: list[StoredResource], **options: Any
) -> list[Change]:
    return diff({resource.key: resource for resource in desired}, actual, scope=SCOPE, **options)


def test_creates_run_in_dependency_order_and_deletes_in_reverse() -> None:
    desired = {
        ResourceKey("EmailTemplate", "t"): Resource(
            ResourceKey("EmailTemplate", "t"), {"smtpSettings": "s"}
        ),
        ResourceKey("SmtpSettings", "s"): Resource(ResourceKey("SmtpSettings", "s"), {}),
        ResourceKey("User", "u"): Resource(ResourceKey("User", "u"), {}),
    }
    order = [str(change.key) for change in diff(desired, [], scope="default")]
    assert order == ["User/u", "SmtpSettings/s", "EmailTemplate/t"]
    stored = [kept(key, r.spec) for key, r in desired.items()]
    assert [str(c.key) for c in diff({}, stored, scope="default")] == list(reversed(order))


VAULT_A = {"vault": {"path": "secret/smtp", "key": "password"}}
VAULT_B = {"vault": {"path": "secret/smtp", "key": "password", "version": 2}}
RENAMED = {RENAMED_FROM: "ops"}
NEW_OPS = ResourceKey("User", "new-ops")


@pytest.mark.parametrize(
    ("desired", "actual", "expected"),
    [
        pytest.param([], [], [], id="nothing"),
        pytest.param(
            [declared(OPS, {"email": "ops@example.com"})],
            [],
            [
                Change(
                    "create",
                    OPS,
                    None,
                    body({"email": "ops@example.com"}),
                    [FieldChange("spec.email", after="ops@example.com")],
                )
            ],
            id="create",
        ),
        pytest.param(
            [declared(OPS, {"email": "ops@example.com"})],
            [kept(OPS, {"email": "ops@example.com"})],
            [],
            id="unchanged",
        ),
        pytest.param(
            [declared(OPS, {"email": "new@example.com"})],
            [kept(OPS, {"email": "ops@example.com"})],
            [
                Change(
                    "update",
                    OPS,
                    body({"email": "ops@example.com"}),
                    body({"email": "new@example.com"}),
                    [FieldChange("spec.email", "ops@example.com", "new@example.com")],
                )
            ],
            id="update",
        ),
        pytest.param(
            [declared(OPS, {"email": "ops@example.com", "displayName": "Ops"})],
            [kept(OPS, {"email": "ops@example.com"}, team="billing")],
            [
                Change(
                    "update",
                    OPS,
                    body({"email": "ops@example.com"}, labels={"team": "billing"}),
                    body({"email": "ops@example.com", "displayName": "Ops"}),
                    [
                        FieldChange("metadata.labels.team", before="billing"),
                        FieldChange("spec.displayName", after="Ops"),
                    ],
                )
            ],
            id="update-metadata-first-then-spec",
        ),
        pytest.param(
            [declared(RELAY, {"host": "h", "password": VAULT_B})],
            [kept(RELAY, {"host": "h", "password": VAULT_A})],
            [
                Change(
                    "update",
                    RELAY,
                    body({"host": "h", "password": VAULT_A}),
                    body({"host": "h", "password": VAULT_B}),
                    [FieldChange("spec.password", VAULT_A, VAULT_B)],
                )
            ],
            id="a-vault-reference-is-one-field",
        ),
        pytest.param(
            [declared(RELAY, {"host": "h", "from": {"address": "b@example.com"}})],
            [kept(RELAY, {"host": "h", "from": {"name": "B", "address": "a@example.com"}})],
            [
                Change(
                    "update",
                    RELAY,
                    body({"host": "h", "from": {"name": "B", "address": "a@example.com"}}),
                    body({"host": "h", "from": {"address": "b@example.com"}}),
                    [
                        FieldChange("spec.from.address", "a@example.com", "b@example.com"),
                        FieldChange("spec.from.name", before="B"),
                    ],
                )
            ],
            id="nested-fields-as-dotted-paths",
        ),
        pytest.param(
            [],
            [kept(OPS, {"email": "ops@example.com"})],
            [
                Change(
                    "delete",
                    OPS,
                    body({"email": "ops@example.com"}),
                    None,
                    [FieldChange("spec.email", before="ops@example.com")],
                )
            ],
            id="delete",
        ),
        pytest.param(
            [],
            [kept(OPS, {"email": "ops@example.com"}, scope="other")],
            [],
            id="another-scopes-resource-is-not-deleted",
        ),
        pytest.param(
            [declared(NEW_OPS, {"email": "ops@example.com"}, **RENAMED)],
            [kept(OPS, {"email": "ops@example.com"})],
            [
                Change(
                    "replace",
                    NEW_OPS,
                    body({"email": "ops@example.com"}),
                    body({"email": "ops@example.com"}, annotations=RENAMED),
                    [FieldChange(f"metadata.annotations.{RENAMED_FROM}", after="ops")],
                    previous=OPS,
                )
            ],
            id="replace",
        ),
        pytest.param(
            [declared(NEW_OPS, {"email": "ops@example.com"}, **RENAMED)],
            [],
            [
                Change(
                    "create",
                    NEW_OPS,
                    None,
                    body({"email": "ops@example.com"}, annotations=RENAMED),
                    [
                        FieldChange(f"metadata.annotations.{RENAMED_FROM}", after="ops"),
                        FieldChange("spec.email", after="ops@example.com"),
                    ],
                )
            ],
            id="rename-from-nothing-is-a-create",
        ),
        pytest.param(
            [declared(NEW_OPS, {"email": "ops@example.com"}, **RENAMED)],
            [kept(OPS, {"email": "ops@example.com"}, scope="other")],
            [
                Change(
                    "create",
                    NEW_OPS,
                    None,
                    body({"email": "ops@example.com"}, annotations=RENAMED),
                    [
                        FieldChange(f"metadata.annotations.{RENAMED_FROM}", after="ops"),
                        FieldChange("spec.email", after="ops@example.com"),
                    ],
                )
            ],
            id="rename-from-another-scope-is-a-create",
        ),
    ],
)
def test_changes(
    desired: list[Resource], actual: list[StoredResource], expected: list[Change]
) -> None:
    assert changes_of(desired, actual) == expected


def test_a_rename_whose_old_name_is_still_declared_is_a_create() -> None:
    desired = [
        declared(OPS, {"email": "ops@example.com"}),
        declared(NEW_OPS, {"email": "ops@example.com"}, **RENAMED),
    ]
    changes = changes_of(desired, [kept(OPS, {"email": "ops@example.com"})])
    assert [(change.action, change.key, change.previous) for change in changes] == [
        ("create", NEW_OPS, None)
    ]


def test_a_rename_to_a_stored_name_updates_it_and_deletes_the_old() -> None:
    desired = [declared(NEW_OPS, {"email": "ops@example.com"}, **RENAMED)]
    actual = [kept(OPS, {"email": "ops@example.com"}), kept(NEW_OPS, {"email": "ops@example.com"})]
    changes = changes_of(desired, actual)
    assert [(change.action, change.key, change.previous) for change in changes] == [
        ("update", NEW_OPS, None),
        ("delete", OPS, None),
    ]


def test_writes_by_kind_then_name_then_deletes_in_reverse() -> None:
    template = ResourceKey("EmailTemplate", "a-template")
    desired = [
        declared(template, {"smtpSettings": "relay"}),
        declared(RELAY, {"host": "new"}),
        declared(ResourceKey("User", "b"), {"email": "b@example.com"}),
        declared(ResourceKey("User", "a"), {"email": "a@example.com"}),
    ]
    actual = [
        kept(RELAY, {"host": "old"}),
        kept(ResourceKey("User", "gone-1"), {"email": "g@example.com"}),
        kept(ResourceKey("User", "gone-2"), {"email": "g@example.com"}),
        kept(ResourceKey("SmtpSettings", "gone"), {"host": "h"}),
        kept(ResourceKey("EmailTemplate", "gone"), {"smtpSettings": "gone"}),
    ]
    assert [(change.action, str(change.key)) for change in changes_of(desired, actual)] == [
        ("create", "User/a"),
        ("create", "User/b"),
        ("update", "SmtpSettings/relay"),
        ("create", "EmailTemplate/a-template"),
        ("delete", "EmailTemplate/gone"),
        ("delete", "SmtpSettings/gone"),
        ("delete", "User/gone-2"),
        ("delete", "User/gone-1"),
    ]


def test_a_name_owned_by_another_scope_is_refused_unless_taken_over() -> None:
    desired = [declared(OPS, {"email": "ops@example.com"}), declared(RELAY, {"host": "h"})]
    actual = [
        kept(OPS, {"email": "ops@example.com"}, scope="team-a"),
        kept(RELAY, {"host": "h"}, scope="team-b"),
    ]
    with pytest.raises(SmtpcfgError) as refused:
        changes_of(desired, actual)
    assert str(refused.value) == (
        "User/ops is owned by scope 'team-a'; SmtpSettings/relay is owned by scope 'team-b'; "
        "this plan's scope is 'default'. Remove them from these manifests, or pass "
        "--take-over to move them to this scope"
    )
    taken = changes_of([*desired[:1], declared(RELAY, {"host": "new"})], actual, take_over=True)
    assert [(change.action, change.key, change.fields) for change in taken] == [
        ("update", OPS, [FieldChange("scope", "team-a", SCOPE)]),
        (
            "update",
            RELAY,
            [FieldChange("scope", "team-b", SCOPE), FieldChange("spec.host", "h", "new")],
        ),
    ]


@pytest.mark.parametrize(
    ("desired", "actual", "dangling"),
    [
        pytest.param(
            [declared(OPS, {"email": "o@example.com"}), declared(RELAY, {"notifyUser": "ops"})],
            [],
            [],
            id="created-together",
        ),
        pytest.param(
            [declared(INVOICE, {"smtpSettings": "relay"})],
            [],
            [
                "EmailTemplate/invoice: spec.smtpSettings refers to SmtpSettings/relay, "
                "which would no longer exist"
            ],
            id="create-pointing-at-nothing",
        ),
        pytest.param(
            [declared(INVOICE, {"smtpSettings": "relay"})],
            [kept(RELAY, {"host": "h"}, scope="other")],
            [],
            id="pointing-into-another-scope",
        ),
        pytest.param(
            [declared(RELAY, {"host": "h", "notifyUser": "ops"})],
            [
                kept(OPS, {"email": "o@example.com"}),
                kept(RELAY, {"host": "h", "notifyUser": "ops"}),
            ],
            ["SmtpSettings/relay: spec.notifyUser refers to User/ops, which would no longer exist"],
            id="deleting-what-is-still-named",
        ),
        pytest.param(
            [
                declared(NEW_OPS, {"email": "o@example.com"}, **RENAMED),
                declared(RELAY, {"host": "h", "notifyUser": "ops"}),
            ],
            [
                kept(OPS, {"email": "o@example.com"}),
                kept(RELAY, {"host": "h", "notifyUser": "ops"}),
            ],
            ["SmtpSettings/relay: spec.notifyUser refers to User/ops, which would no longer exist"],
            id="renaming-what-is-still-named",
        ),
        pytest.param(
            [
                declared(NEW_OPS, {"email": "o@example.com"}, **RENAMED),
                declared(RELAY, {"host": "h", "notifyUser": "new-ops"}),
            ],
            [
                kept(OPS, {"email": "o@example.com"}),
                kept(RELAY, {"host": "h", "notifyUser": "ops"}),
            ],
            [],
            id="renaming-with-its-references",
        ),
    ],
)
def test_dangling_references(
    desired: list[Resource], actual: list[StoredResource], dangling: list[str]
) -> None:
    by_key = {resource.key: resource for resource in desired}
    changes = diff(by_key, actual, scope=SCOPE)
    assert dangling_references(by_key, actual, changes) == dangling


@pytest.mark.parametrize(
    ("before", "after", "fields"),
    [
        ({}, {}, []),
        ({"spec": {"a": 1}}, {"spec": {"a": 1}}, []),
        ({"spec": {"a": None}}, {"spec": {}}, [FieldChange("spec.a", before=None)]),
        ({"metadata": {}, "spec": {"a": 1}}, {"spec": {"a": 1}}, []),
        (
            {"spec": {"b": 1, "a": 1}, "metadata": {"labels": {"x": "1"}}},
            {},
            [
                FieldChange("metadata.labels.x", before="1"),
                FieldChange("spec.a", before=1),
                FieldChange("spec.b", before=1),
            ],
        ),
        (
            {"spec": {"password": VAULT_A}},
            {"spec": {"password": VAULT_A}},
            [],
        ),
        (
            {"spec": {"n": 1}},
            {"spec": {"n": 1.5, "m": False}},
            [FieldChange("spec.m", after=False), FieldChange("spec.n", 1, 1.5)],
        ),
    ],
)
def test_field_changes(
    before: dict[str, Any], after: dict[str, Any], fields: list[FieldChange]
) -> None:
    assert field_changes(before, after) == fields
