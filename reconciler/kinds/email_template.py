"""EmailTemplate: the subject, body and sender of one kind of email, and its SmtpSettings."""

from __future__ import annotations

from reconciler.kinds.base import Kind, Spec
from reconciler.kinds.fields import copy_optional, normalize_sender
from reconciler.model import ResourceKey


def _normalize(spec: Spec) -> Spec:
    result: Spec = {"smtpSettings": spec["smtpSettings"]}
    sender = normalize_sender(spec.get("from", {}))
    if sender:
        result["from"] = sender
    copy_optional(spec, result, "subject", "body")
    return result


def _references(spec: Spec) -> list[tuple[ResourceKey, str]]:
    return [(ResourceKey("SmtpSettings", spec["smtpSettings"]), "spec.smtpSettings")]


def _summary(spec: Spec) -> str:
    return f"via {spec['smtpSettings']}"


EMAIL_TEMPLATE = Kind(
    name="EmailTemplate",
    schema="emailtemplate.schema.json",
    aliases=("emailtemplate", "emailtemplates", "template", "templates"),
    normalize=_normalize,
    references=_references,
    summary=_summary,
)
