"""Putting emails into the outbox: `reconciler.delivery.enqueue` and `smtpcfg outbox add`.

Attachments are copied into the store now, so a job never depends on files that may be
gone by the time a runner sends it.
"""

from __future__ import annotations

import mimetypes
import string
from collections.abc import Mapping, Sequence
from pathlib import Path

from reconciler.delivery.message import check_address
from reconciler.errors import SmtpcfgError
from reconciler.model import ResourceKey
from reconciler.store.base import Store
from reconciler.store.outbox import PURPOSES, NewJob, StoredAttachment


def enqueue(
    store: Store,
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
    """Queue one email; return its job id.

    Raises SmtpcfgError, queueing nothing, for a job that could never be sent: a template
    or settings not in the store, a bad address, an invoice without its ids, a file that
    cannot be read.
    """
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
    if "\r" in (subject or "") or "\n" in (subject or ""):
        raise SmtpcfgError("the subject must be one line (no CR or LF)")
    for header, addresses in (("To", to), ("Cc", cc)):
        for address in addresses:
            check_address(header, address)
    kind, name = ("EmailTemplate", template) if template else ("SmtpSettings", settings)
    target = store.resource(ResourceKey(kind, name or ""))
    if target is None:
        raise SmtpcfgError(f"{kind}/{name} is not in the store {store.url}")
    texts = {
        "subject": subject if subject is not None else target.spec.get("subject"),
        "body": body if body is not None else target.spec.get("body"),
    }
    known = {*(variables or {}), *(["account"] if account else []),
             *(["invoice"] if invoice else [])}
    _check_placeholders(texts, known)
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


def _check_placeholders(texts: Mapping[str, str | None], known: set[str]) -> None:
    """Every ${placeholder} must have a value now; the runner cannot ask for one later."""
    for part, text in texts.items():
        if text is None:
            raise SmtpcfgError(f"the template has no {part}; give --{part}")
        template = string.Template(text)
        if not template.is_valid():
            raise SmtpcfgError(f"the {part} has a malformed placeholder (write $$ for a $)")
        missing = sorted(set(template.get_identifiers()) - known)
        if missing:
            values = " ".join(f"--var {name}=..." for name in missing)
            raise SmtpcfgError(f"the {part} uses {', '.join('${' + n + '}' for n in missing)}"
                               f" but no value is given: pass {values}")


def _attachment(item: Path | StoredAttachment) -> StoredAttachment:
    if isinstance(item, StoredAttachment):
        return item
    try:
        data = item.read_bytes()
    except OSError as error:
        raise SmtpcfgError(f"cannot read attachment {item}: {error.strerror}") from None
    content_type, encoding = mimetypes.guess_type(item.name)
    if content_type is None or encoding is not None:  # INV-1.pdf.gz is no PDF
        content_type = "application/octet-stream"
    return StoredAttachment(item.name, content_type, data)
