"""Delivering by hand what the Max Size rule kept from being sent: the steps a person
takes, and the job's attachments saved to a folder."""

from __future__ import annotations

from pathlib import Path, PurePath

from reconciler.errors import SmtpcfgError
from reconciler.formats import human_size
from reconciler.store.jobs import Job, StoredAttachment


def manual_delivery_steps(job: Job) -> list[str]:
    """What a person does to deliver a job the Max Size rule kept from being sent."""
    if job.status != "size-exceeded":
        return []
    return delivery_steps(job)


def delivery_steps(job: Job, limit: int | None = None) -> list[str]:
    """The steps to send `job` by hand and record it; `limit` the size each email must
    stay under, if known. For the Max Size alert and `outbox show`."""
    recipients = ", ".join(job.to)
    if job.cc:
        recipients += f" (cc {', '.join(job.cc)})"
    under = human_size(limit) if limit is not None else "the size limit"
    steps = [
        "Get the attachments. Whoever runs smtpcfg saves them with: "
        f"smtpcfg outbox show {job.id} --save-attachments DIR",
        f"Send them to {recipients} another way: a link to a file share, or several "
        f"emails each under {under}.",
    ]
    if job.invoice:
        steps.append(
            f"Invoice {job.invoice} is already listed as delivered on account "
            f"{job.account}: note there how it was sent."
        )
    steps.append(
        "Record that it was sent. Whoever runs smtpcfg runs: "
        f'smtpcfg outbox resolve {job.id} --note "sent by hand to {", ".join(job.to)}"'
    )
    return steps


def save_attachments(attachments: list[StoredAttachment], folder: Path) -> list[Path]:
    """Write each attachment into `folder` under its base name; never overwrite a file."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for attachment in attachments:
        # Only the base name: a name such as ../x given through the Python API stays inside.
        path = folder / (PurePath(attachment.filename).name or "attachment")
        try:
            with path.open("xb") as file:
                file.write(attachment.data)
        except OSError as error:
            raise SmtpcfgError(f"cannot save {path}: {error.strerror}") from None
        saved.append(path)
    return saved
