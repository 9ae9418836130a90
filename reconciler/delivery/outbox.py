"""Putting emails into the outbox: `reconciler.delivery.enqueue` and `smtpcfg outbox add`.

Attachments are copied into the store now, so a job never depends on files that may be
gone by the time a runner sends it.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from pathlib import Path

from reconciler.errors import SmtpcfgError
from reconciler.store.outbox import PURPOSES, NewJob, Outbox, StoredAttachment


def enqueue(
    store: Outbox,
    *,
    purpose: str,
    to: Sequence[str],
    cc: Sequence[str] = (),
    template: str | None = None,
    settings: str | None = None,
    subject: str | None = None,
    body: str | None = None,
    variables: Mapping[str, str] | None = None,
    account: str | None = None,
    invoice: str | None = None,
    attachments: Sequence[Path | StoredAttachment] = (),
) -> int:
    """Queue one email; return its job id. Raises SmtpcfgError on a job that cannot send."""
    if purpose not in PURPOSES:
        raise SmtpcfgError(f"unknown purpose {purpose!r}; use one of {', '.join(PURPOSES)}")
    if (template is None) == (settings is None):
        raise SmtpcfgError("give exactly one of a template or SMTP settings")
    if template is None and (subject is None or body is None):
        raise SmtpcfgError("without a template, an email needs both a subject and a body")
    if not to:
        raise SmtpcfgError("an email needs at least one To address")
    if purpose == "invoice" and not (account and invoice):
        raise SmtpcfgError("an invoice needs its account and invoice ids")
    for header_value in (*to, *cc, subject or ""):
        if "\r" in header_value or "\n" in header_value:
            raise SmtpcfgError("addresses and the subject must be one line (no CR or LF)")
    return store.enqueue(
        NewJob(
            purpose=purpose,
            to=list(to),
            cc=list(cc),
            settings=settings,
            template=template,
            subject=subject,
            body=body,
            variables=dict(variables or {}),
            account=account,
            invoice=invoice,
            attachments=[_attachment(item) for item in attachments],
        )
    )


def _attachment(item: Path | StoredAttachment) -> StoredAttachment:
    if isinstance(item, StoredAttachment):
        return item
    try:
        data = item.read_bytes()
    except OSError as error:
        raise SmtpcfgError(f"cannot read attachment {item}: {error.strerror}") from None
    content_type = mimetypes.guess_type(item.name)[0] or "application/octet-stream"
    return StoredAttachment(item.name, content_type, data)
