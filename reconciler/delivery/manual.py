"""Delivering by hand what the Max Size rule kept from being sent: the steps a person
takes, and the job's attachments saved to a folder."""

from __future__ import annotations

from pathlib import Path, PurePath

from reconciler.errors import SmtpcfgError
from reconciler.store.jobs import Job, StoredAttachment


def manual_delivery_steps(job: Job) -> list[str]:
    """What a person does to deliver a job the Max Size rule kept from being sent."""
    if job.status != "size-exceeded":
        return []
    recipients = ", ".join(job.to)
    if job.cc:
        recipients += f" (cc {', '.join(job.cc)})"
    steps = [
        f"Save the attachments: smtpcfg outbox show {job.id} --save-attachments DIR",
        f"Send them to {recipients} another way (a file share, or several emails each "
        "under the Max Size).",
    ]
    if job.invoice:
        steps.append(
            f"Invoice {job.invoice} is already listed as delivered on account "
            f"{job.account}: note there how it was sent."
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
