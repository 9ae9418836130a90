"""Putting emails into the outbox: `enqueue` and `smtpcfg outbox add`.

Attachments are copied into the store now, so a job never depends on files that may be
gone by the time a runner sends it.
"""

from __future__ import annotations

import mimetypes
import os
import stat
import string
from collections.abc import Mapping, Sequence
from pathlib import Path

from reconciler.delivery.message import check_address, render_template
from reconciler.errors import SmtpcfgError
from reconciler.header_text import header_text_problem
from reconciler.model import ResourceKey
from reconciler.store.base import Store
from reconciler.store.jobs import PURPOSES, NewJob, StoredAttachment


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
    body_html: str | None = None,
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
    _check_header_texts(subject, to, cc, account, invoice, attachments)
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
    known = {
        *(variables or {}),
        *(["account"] if account else []),
        *(["invoice"] if invoice else []),
    }
    _check_placeholders(texts, known)
    _check_rendered_subject(
        texts["subject"] or "",
        {
            **(variables or {}),
            **({"account": account} if account else {}),
            **({"invoice": invoice} if invoice else {}),
        },
    )
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
            body_html=body_html,
        )
    )


def _check_header_texts(
    subject: str | None,
    to: Sequence[str],
    cc: Sequence[str],
    account: str | None,
    invoice: str | None,
    attachments: Sequence[Path | StoredAttachment],
) -> None:
    """What reaches a header must be one line by the email library's rule, or the runner
    could never send the job; each problem names the option that brought it in."""
    values = [
        ("--subject", subject),
        ("--account", account),
        ("--invoice", invoice),
        *(("--to", address) for address in to),
        *(("--cc", address) for address in cc),
        *(("--attach", _filename(item)) for item in attachments),
    ]
    for option, value in values:
        problem = header_text_problem(value) if value is not None else None
        if problem:
            # repr() escapes every line break: the error stays one line.
            raise SmtpcfgError(f"{option} {value!r}: {problem}")


def _check_rendered_subject(subject: str, variables: Mapping[str, str]) -> None:
    """The subject as it will be sent: a `--var` that fills it must be one line too."""
    problem = header_text_problem(render_template(subject, variables))
    if problem is None:
        return
    for name in string.Template(subject).get_identifiers():
        if name in variables and header_text_problem(variables[name]):
            raise SmtpcfgError(
                f"--var {name}: {header_text_problem(variables[name])} (it fills the subject)"
            )
    raise SmtpcfgError(f"the template's subject {problem}")


def _filename(item: Path | StoredAttachment) -> str:
    return item.filename if isinstance(item, StoredAttachment) else item.name


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
            raise SmtpcfgError(
                f"the {part} uses {', '.join('${' + n + '}' for n in missing)}"
                f" but no value is given: pass {values}"
            )


def _read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file; anything else is refused before it is read.

    Opened without blocking and checked on the open descriptor: a FIFO would wait for a
    writer for ever and a device such as /dev/zero never ends, and a check by name could
    be raced by a rename.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise SmtpcfgError(f"cannot read attachment {path}: {error.strerror}") from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise SmtpcfgError(
            f"--attach {path}: not a regular file ({_file_type(mode)}); "
            "attach a file's contents, saved to a file"
        )
    with os.fdopen(descriptor, "rb") as file:
        try:
            return file.read()
        except OSError as error:
            raise SmtpcfgError(f"cannot read attachment {path}: {error.strerror}") from None


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a file"


def _attachment(item: Path | StoredAttachment) -> StoredAttachment:
    if isinstance(item, StoredAttachment):
        return item
    data = _read_regular_file(item)
    content_type, encoding = mimetypes.guess_type(item.name)
    if content_type is None or encoding is not None:  # INV-1.pdf.gz is no PDF
        content_type = "application/octet-stream"
    return StoredAttachment(item.name, content_type, data)
