"""Secret values stay out of reprs, output, JSON, pickles, and Vault's audit log."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

from reconciler.model import VaultReference
from reconciler.vault.resolver import ResolvedSecret, VaultResolver
from reconciler.vault.secret import SecretValue
from tests.support.openbao import OpenBao


def test_secret_value_shows_only_stars() -> None:
    value = SecretValue("s3cr3t-value")

    assert value.reveal() == "s3cr3t-value"
    assert repr(value) == str(value) == f"{value}" == "SecretValue('***')"
    assert "s3cr3t-value" not in repr([value, {"password": value}])


@pytest.mark.parametrize(
    "leak",
    [json.dumps, pickle.dumps, copy.deepcopy],
    ids=["json", "pickle", "deepcopy"],
)
def test_secret_value_cannot_be_serialised(leak: object) -> None:
    with pytest.raises(TypeError):
        leak(SecretValue("s3cr3t-value"))  # type: ignore[operator]


def test_no_value_in_any_repr_or_in_the_audit_log(openbao: OpenBao) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "audit-me-not", "username": "mailer-name"})
    references = [
        VaultReference(f"secret/{path}", "password"),
        VaultReference(f"secret/{path}", "username"),
        VaultReference(f"secret/{path}", "missing"),
    ]
    resolver = VaultResolver(openbao.settings())

    results = resolver.resolve_all(references)

    first = results[references[0]]
    assert isinstance(first, ResolvedSecret)
    assert first.value.reveal() == "audit-me-not"
    shown = repr(results) + str(results) + repr(resolver) + repr(resolver.settings)
    assert "audit-me-not" not in shown
    assert "mailer-name" not in shown
    assert "SecretValue('***')" in shown
    assert "audit-me-not" not in openbao.audit_log.read_text(encoding="utf-8")
