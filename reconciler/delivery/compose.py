"""Turn an outbox job and the store's resources into the email to send.

Everything comes from the store, never from manifests: the runner sends what was
applied. A template's From name and address override the settings' ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

from reconciler.delivery.message import (
    Attachment,
    build_message,
    render_template,
    total_attachment_size,
)
from reconciler.delivery.size_alert import SizeProblem
from reconciler.errors import SmtpcfgError
from reconciler.model import ResourceKey, StoredResource
from reconciler.store.base import Store
from reconciler.store.jobs import Job


@dataclass
class Composed:
    """The settings to send through and the message; `attachment_total` in bytes."""

    settings: StoredResource
    message: EmailMessage
    attachment_total: int

    @property
    def limit(self) -> int | None:
        return self.settings.spec.get("maxAttachmentSize")

    @property
    def size_problem(self) -> SizeProblem | None:
        """Why the Max Size rule applies, if it does."""
        if self.limit is None or self.attachment_total <= self.limit:
            return None
        return SizeProblem("max-size", self.attachment_total, self.limit, self.settings.key.name)


def compose(job: Job, store: Store) -> Composed:
    """Raises SmtpcfgError when the store lacks what the job names: a permanent failure."""
    template = _require(store, "EmailTemplate", job.template) if job.template else None
    settings_name = template.spec["smtpSettings"] if template else job.settings
    settings = _require(store, "SmtpSettings", settings_name)
    template_spec = template.spec if template else {}
    sender = {**settings.spec["from"], **template_spec.get("from", {})}
    variables = {**job.variables}
    if job.account:
        variables.setdefault("account", job.account)
    if job.invoice:
        variables.setdefault("invoice", job.invoice)
    subject = job.subject if job.subject is not None else template_spec.get("subject")
    body = job.body if job.body is not None else template_spec.get("body")
    if subject is None or body is None:
        raise SmtpcfgError(
            f"template {job.template} has no subject or body, and the job gives none"
        )
    attachments = [
        Attachment(a.filename, a.content_type, a.data) for a in store.attachments(job.id)
    ]
    message = build_message(
        from_name=sender.get("name"),
        from_address=sender["address"],
        to=job.to,
        cc=job.cc,
        subject=render_template(subject, variables),
        body=render_template(body, variables),
        attachments=attachments,
        message_id_domain=sender["address"].rpartition("@")[2],
        message_id=job.message_id,
        date=job.message_date,
        html=render_template(job.body_html, variables) if job.body_html is not None else None,
    )
    return Composed(settings, message, total_attachment_size(attachments))


def _require(store: Store, kind: str, name: str | None) -> StoredResource:
    found = store.resource(ResourceKey(kind, name or ""))
    if found is None:
        raise SmtpcfgError(f"{kind}/{name} is not in the store (was it deleted by an apply?)")
    return found
