"""Each kind's normalizer, references and summary as tables, and the registry's lookups."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler import kinds
from reconciler.kinds.email_template import EMAIL_TEMPLATE
from reconciler.kinds.smtp_settings import SMTP_SETTINGS
from reconciler.kinds.user import USER
from reconciler.model import ResourceKey

SENDER = {"name": "Billing", "address": "billing@example.com"}
SETTINGS = {"host": "smtp.example.com", "port": 587, "from": SENDER}
NORMAL_SETTINGS = {**SETTINGS, "startTlsOnly": False}


@pytest.mark.parametrize(
    ("spec", "normalized"),
    [
        (SETTINGS, NORMAL_SETTINGS),
        ({**SETTINGS, "host": "SMTP.Example.COM."}, NORMAL_SETTINGS),
        ({**SETTINGS, "host": "192.0.2.1"}, {**NORMAL_SETTINGS, "host": "192.0.2.1"}),
        ({**SETTINGS, "startTlsOnly": True}, {**NORMAL_SETTINGS, "startTlsOnly": True}),
        (
            {**SETTINGS, "from": {"name": "Billing", "address": "Billing.Team@Example.COM"}},
            {**NORMAL_SETTINGS, "from": {"name": "Billing", "address": "Billing.Team@example.com"}},
        ),
        (
            {**SETTINGS, "from": {"address": "billing@example.com"}},
            {**NORMAL_SETTINGS, "from": {"address": "billing@example.com"}},
        ),
        (
            {**SETTINGS, "maxAttachmentSize": "10MiB"},
            {**NORMAL_SETTINGS, "maxAttachmentSize": 10485760},
        ),
        (
            {**SETTINGS, "maxAttachmentSize": "25 MB"},
            {**NORMAL_SETTINGS, "maxAttachmentSize": 25000000},
        ),
        ({**SETTINGS, "maxAttachmentSize": 4096}, {**NORMAL_SETTINGS, "maxAttachmentSize": 4096}),
        (
            {**SETTINGS, "notifyUser": "ops", "description": "Main relay"},
            {**NORMAL_SETTINGS, "notifyUser": "ops", "description": "Main relay"},
        ),
        (
            {
                **SETTINGS,
                "username": "Billing",
                "password": {"vault": {"path": "/secret/smtp/", "key": "password"}},
            },
            {
                **NORMAL_SETTINGS,
                "username": "Billing",
                "password": {"vault": {"path": "secret/smtp", "key": "password"}},
            },
        ),
        (
            {
                **SETTINGS,
                "username": "billing",
                "password": {
                    "vault": {"path": "kv/smtp", "key": "pw", "mount": "/kv/", "version": 4}
                },
            },
            {
                **NORMAL_SETTINGS,
                "username": "billing",
                "password": {
                    "vault": {"path": "kv/smtp", "key": "pw", "mount": "kv", "version": 4}
                },
            },
        ),
    ],
)
def test_smtp_settings_normalize(spec: dict[str, Any], normalized: dict[str, Any]) -> None:
    assert SMTP_SETTINGS.normalize(spec) == normalized


@pytest.mark.parametrize(
    ("spec", "normalized"),
    [
        ({"email": "ops@example.com"}, {"email": "ops@example.com"}),
        ({"email": "Ops.Team@Example.COM"}, {"email": "Ops.Team@example.com"}),
        (
            {"email": "ops@example.com", "displayName": "Ops Team"},
            {"email": "ops@example.com", "displayName": "Ops Team"},
        ),
    ],
)
def test_user_normalize(spec: dict[str, Any], normalized: dict[str, Any]) -> None:
    assert USER.normalize(spec) == normalized


@pytest.mark.parametrize(
    ("spec", "normalized"),
    [
        ({"smtpSettings": "primary"}, {"smtpSettings": "primary"}),
        ({"smtpSettings": "primary", "from": {}}, {"smtpSettings": "primary"}),
        (
            {"smtpSettings": "primary", "from": {"address": "Invoices@Example.COM"}},
            {"smtpSettings": "primary", "from": {"address": "Invoices@example.com"}},
        ),
        (
            {"smtpSettings": "primary", "subject": "Invoice ${invoice}", "body": "Hi\n"},
            {"smtpSettings": "primary", "subject": "Invoice ${invoice}", "body": "Hi\n"},
        ),
    ],
)
def test_email_template_normalize(spec: dict[str, Any], normalized: dict[str, Any]) -> None:
    assert EMAIL_TEMPLATE.normalize(spec) == normalized


IDEMPOTENCE = [
    (SMTP_SETTINGS, {**SETTINGS, "host": "SMTP.Example.COM.", "maxAttachmentSize": "1 GiB"}),
    (
        SMTP_SETTINGS,
        {
            **SETTINGS,
            "username": "u",
            "password": {"vault": {"path": "/a/b/", "key": "k", "mount": "/a/"}},
            "notifyUser": "ops",
        },
    ),
    (USER, {"email": "Ops@Example.COM", "displayName": "Ops"}),
    (EMAIL_TEMPLATE, {"smtpSettings": "p", "from": {"name": "B", "address": "B@X.EXAMPLE"}}),
    (EMAIL_TEMPLATE, {"smtpSettings": "p", "from": {}}),
]


@pytest.mark.parametrize(("kind", "spec"), IDEMPOTENCE)
def test_normalizing_twice_changes_nothing(kind: kinds.Kind, spec: dict[str, Any]) -> None:
    once = kind.normalize(spec)
    assert kind.normalize(once) == once


@pytest.mark.parametrize(("kind", "spec"), IDEMPOTENCE)
def test_normalizing_leaves_its_input_alone(kind: kinds.Kind, spec: dict[str, Any]) -> None:
    before = repr(spec)
    kind.normalize(spec)
    assert repr(spec) == before


@pytest.mark.parametrize(
    ("kind", "spec", "references"),
    [
        (SMTP_SETTINGS, NORMAL_SETTINGS, []),
        (
            SMTP_SETTINGS,
            {**NORMAL_SETTINGS, "notifyUser": "ops"},
            [(ResourceKey("User", "ops"), "spec.notifyUser")],
        ),
        (USER, {"email": "ops@example.com"}, []),
        (
            EMAIL_TEMPLATE,
            {"smtpSettings": "primary"},
            [(ResourceKey("SmtpSettings", "primary"), "spec.smtpSettings")],
        ),
    ],
)
def test_references(kind: kinds.Kind, spec: dict[str, Any], references: list[Any]) -> None:
    assert kind.references(spec) == references
    assert kinds.references_of(ResourceKey(kind.name, "x"), spec) == references


@pytest.mark.parametrize(
    ("kind", "spec", "summary"),
    [
        (SMTP_SETTINGS, NORMAL_SETTINGS, "smtp.example.com:587"),
        (
            SMTP_SETTINGS,
            {**NORMAL_SETTINGS, "port": 2525, "startTlsOnly": True},
            "smtp.example.com:2525 starttls-only",
        ),
        (USER, {"email": "ops@example.com"}, "ops@example.com"),
        (EMAIL_TEMPLATE, {"smtpSettings": "primary"}, "via primary"),
    ],
)
def test_summaries(kind: kinds.Kind, spec: dict[str, Any], summary: str) -> None:
    assert kind.summary(spec) == summary


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("SmtpSettings", "SmtpSettings"),
        ("smtpsettings", "SmtpSettings"),
        ("SMTP", "SmtpSettings"),
        ("smtp", "SmtpSettings"),
        ("User", "User"),
        ("users", "User"),
        ("EmailTemplate", "EmailTemplate"),
        ("emailtemplates", "EmailTemplate"),
        ("template", "EmailTemplate"),
        ("Templates", "EmailTemplate"),
        ("mailbox", None),
        ("smtpsetting", None),
        ("", None),
    ],
)
def test_kinds_by_alias(text: str, name: str | None) -> None:
    kind = kinds.by_alias(text)
    assert (kind.name if kind else None) == name


def test_every_kind_by_name_with_its_own_schema() -> None:
    assert [kind.name for kind in kinds.KINDS] == ["User", "SmtpSettings", "EmailTemplate"]
    for kind in kinds.KINDS:
        assert kinds.by_name(kind.name) is kind
    assert len({kind.schema for kind in kinds.KINDS}) == len(kinds.KINDS)
    with pytest.raises(KeyError):
        kinds.by_name("user")


def test_a_kind_references_only_kinds_before_it() -> None:
    """What makes creates in `dependency_order` and deletes in reverse leave nothing dangling."""
    samples: dict[str, dict[str, Any]] = {
        "User": {"email": "ops@example.com"},
        "SmtpSettings": {**NORMAL_SETTINGS, "notifyUser": "ops"},
        "EmailTemplate": {"smtpSettings": "primary"},
    }
    for rank, kind in enumerate(kinds.KINDS):
        for target, _ in kind.references(samples[kind.name]):
            assert kinds.dependency_order(target) < (rank, "")


def test_dependency_order_sorts_by_kind_then_name() -> None:
    keys = [
        ResourceKey("EmailTemplate", "a"),
        ResourceKey("User", "b"),
        ResourceKey("SmtpSettings", "a"),
        ResourceKey("User", "a"),
    ]
    assert [str(key) for key in sorted(keys, key=kinds.dependency_order)] == [
        "User/a",
        "User/b",
        "SmtpSettings/a",
        "EmailTemplate/a",
    ]
