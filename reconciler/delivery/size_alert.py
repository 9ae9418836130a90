"""The Max Size alert: what the Notify User is sent when an invoice is too large to email.

Written for the person who will send it by hand, often in finance rather than IT: the
sizes in units a person reads (with the exact bytes beside them), each attachment, the
account, the invoice, the recipients, and the steps, ending with how to record that it
was sent. A text/plain body and an HTML alternative say the same; every value in the
HTML is escaped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from reconciler.delivery.manual import delivery_steps
from reconciler.formats import human_size, size_with_bytes
from reconciler.store.jobs import Job


@dataclass(frozen=True)
class SizeProblem:
    """Why the Max Size rule kept a job from being sent.

    `kind`: `max-size` (the attachments' total over the settings' maxAttachmentSize) or
    `server-size` (the whole message over the SIZE the server announces, RFC 1870).
    """

    kind: str
    size: int
    limit: int
    settings: str
    server: str | None = None

    @property
    def reason(self) -> str:
        if self.kind == "max-size":
            return (
                f"its attachments total {size_with_bytes(self.size)}, over the "
                f"{size_with_bytes(self.limit)} Max Size of SmtpSettings/{self.settings}"
            )
        return (
            f"the message is {size_with_bytes(self.size)}, over the SIZE of {self.limit} "
            f"bytes ({human_size(self.limit)}) that the server {self.server} of "
            f"SmtpSettings/{self.settings} accepts"
        )

    @property
    def headline(self) -> str:
        """The sizes in a few words: `1.4 MiB, over the 1 MiB limit`."""
        what = "limit" if self.kind == "max-size" else "limit of the mail server"
        return f"{human_size(self.size)}, over the {human_size(self.limit)} {what}"


@dataclass(frozen=True)
class Alert:
    subject: str
    text: str
    html: str


def what_job_is(job: Job) -> str:
    """`invoice INV-9 of account A-1001`, or `outbox job 7` for other mail."""
    if job.invoice:
        return f"invoice {job.invoice} of account {job.account}"
    return f"outbox job {job.id}"


def size_alert(job: Job, problem: SizeProblem) -> Alert:
    what = what_job_is(job)
    steps = delivery_steps(job, problem.limit)
    facts = [
        ("Account", job.account or "-"),
        ("Invoice", job.invoice or "-"),
        ("To", ", ".join(job.to)),
        *([("Cc", ", ".join(job.cc))] if job.cc else []),
        ("Outbox job", str(job.id)),
    ]
    attachments = [(name, size_with_bytes(size)) for name, size in job.attachment_sizes]
    total = size_with_bytes(sum(size for _, size in job.attachment_sizes))
    opening = f"{what[0].upper()}{what[1:]} was not emailed: it is {problem.headline}. " + (
        "It is listed as delivered on the account, so it must be sent another way."
        if job.invoice
        else "It must be sent another way."
    )
    text = "\n".join(
        [
            opening,
            "",
            *(f"{label + ':':12} {value}" for label, value in facts),
            "",
            "Attachments:",
            *(f"  - {name}: {size}" for name, size in attachments),
            f"  Total: {total}",
            "",
            f"Why: {problem.reason}.",
            "",
            "What to do:",
            *(f"  {number}. {step}" for number, step in enumerate(steps, 1)),
            "",
        ]
    )
    e = html.escape
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html><body style="font-family: sans-serif">',
            f"<p>{e(opening)}</p>",
            "<table>",
            *(
                f"<tr><th align=left>{e(label)}</th><td>{e(value)}</td></tr>"
                for label, value in facts
            ),
            "</table>",
            "<p><b>Attachments</b></p>",
            "<ul>",
            *(f"<li>{e(name)}: {e(size)}</li>" for name, size in attachments),
            f"<li><b>Total: {e(total)}</b></li>",
            "</ul>",
            f"<p>Why: {e(problem.reason)}.</p>",
            "<p><b>What to do</b></p>",
            "<ol>",
            *(f"<li>{e(step)}</li>" for step in steps),
            "</ol>",
            "</body></html>",
            "",
        ]
    )
    return Alert(f"Not delivered: {what} is too large to email ({problem.headline})", text, page)
