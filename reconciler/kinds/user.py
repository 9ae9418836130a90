"""User: a person the system mails, e.g. the Notify User of an SmtpSettings."""

from __future__ import annotations

from reconciler.kinds.base import Kind, Spec, no_references
from reconciler.kinds.fields import copy_optional, normalize_email


def _normalize(spec: Spec) -> Spec:
    result: Spec = {"email": normalize_email(spec["email"])}
    copy_optional(spec, result, "displayName")
    return result


def _summary(spec: Spec) -> str:
    return str(spec["email"])


USER = Kind(
    name="User",
    schema="user.schema.json",
    aliases=("user", "users"),
    normalize=_normalize,
    references=no_references,
    summary=_summary,
)
