"""normalize: one manifest document into a Resource, equal meaning comparing equal."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler import schemas
from reconciler.manifests.normalize import normalize
from reconciler.model import Resource, ResourceKey
from tests.support.manifests import example_set, settings, template, user, vault_password


def with_metadata(document: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {**document, "metadata": {**document["metadata"], **metadata}}


@pytest.mark.parametrize(
    ("document", "body"),
    [
        (user("ops"), {"metadata": {}, "spec": {"email": "ops@example.com"}}),
        (
            user("ops", email="Ops@Example.COM"),
            {"metadata": {}, "spec": {"email": "Ops@example.com"}},
        ),
        (
            with_metadata(user("ops"), labels={}, annotations={}),
            {"metadata": {}, "spec": {"email": "ops@example.com"}},
        ),
        (
            with_metadata(user("ops"), labels={"team": "billing", "env": "prod"}),
            {
                "metadata": {"labels": {"env": "prod", "team": "billing"}},
                "spec": {"email": "ops@example.com"},
            },
        ),
        (
            with_metadata(user("ops"), annotations={"z": "1", "a": "2"}),
            {
                "metadata": {"annotations": {"a": "2", "z": "1"}},
                "spec": {"email": "ops@example.com"},
            },
        ),
        (
            settings("primary", host="SMTP.EXAMPLE.COM", maxAttachmentSize="1KiB"),
            {
                "metadata": {},
                "spec": {
                    "host": "smtp.example.com",
                    "port": 587,
                    "startTlsOnly": False,
                    "from": {"name": "Billing", "address": "billing@example.com"},
                    "maxAttachmentSize": 1024,
                },
            },
        ),
    ],
)
def test_normalized_body(document: dict[str, Any], body: dict[str, Any]) -> None:
    assert normalize(document).body() == body


def test_labels_and_annotations_come_out_sorted() -> None:
    document = with_metadata(
        user("ops"), labels={"b": "1", "a": "2"}, annotations={"y": "", "x": ""}
    )
    resource = normalize(document)
    assert list(resource.labels) == ["a", "b"]
    assert list(resource.annotations) == ["x", "y"]


def test_the_key_is_kind_and_name_as_written() -> None:
    assert normalize(template("Invoice", "primary")).key == ResourceKey("EmailTemplate", "Invoice")


DOCUMENTS = [
    *example_set(),
    user("ops-team", email="Ops.Team@Example.COM", displayName="Ops"),
    settings(
        "vaulted",
        host="Relay.Example.COM.",
        username="billing",
        password=vault_password("secret/smtp/", mount="secret/", version=2),
        maxAttachmentSize="25 MB",
        startTlsOnly=True,
    ),
    with_metadata(template("plain", "vaulted", **{"from": {}}), labels={"b": "2", "a": "1"}),
    with_metadata(user("renamed"), annotations={"smtpcfg.dev/renamed-from": "old"}),
]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d["metadata"]["name"])
def test_a_normalized_resource_as_a_manifest_normalizes_to_itself(document: dict[str, Any]) -> None:
    """What makes `export` then `plan` show no changes."""
    assert schemas.is_valid("manifest.schema.json", document)
    resource = normalize(document)
    again = normalize(resource.to_manifest())
    assert again == resource
    assert again.body() == resource.body()


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d["metadata"]["name"])
def test_normalize_returns_a_resource_and_leaves_the_document_alone(
    document: dict[str, Any],
) -> None:
    before = repr(document)
    assert isinstance(normalize(document), Resource)
    assert repr(document) == before
