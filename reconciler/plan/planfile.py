"""Saved plans: written by `plan --out`, read back by `apply PLANFILE`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reconciler import schemas
from reconciler.errors import SmtpcfgError
from reconciler.model.canonical import canonical_json
from reconciler.plan.model import FORMAT_VERSION, Plan, digest_of
from reconciler.plan.signing import KEY_VARIABLE, sign, signature_matches


def save_plan(plan: Plan, path: Path, key: bytes | None) -> None:
    """Write atomically, so an interrupted save never leaves half a plan behind. With a
    plan key, the file carries the plan's signature (never the key)."""
    document = plan.to_json()
    if key is not None:
        document["signature"] = sign(plan.content(), key)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(
        json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    os.replace(temporary, path)


def load_plan(path: Path, key: bytes | None) -> tuple[Plan, str | None]:
    """Read a saved plan; refuse one that is malformed, edited after it was made, or, with
    a plan key, not signed with it. Returns the plan and a note for the operator, if any.

    This only vouches for the file; `apply` checks the plan against the store as well.
    """
    data = _read(path)
    recorded = data.pop("digest")
    signature = data.pop("signature", None)
    content = canonical_json(data)
    actual = digest_of(content)
    if recorded != actual:
        raise SmtpcfgError(
            f"{path}: the plan's content does not match its digest (recorded {recorded},"
            f" content {actual}); it was changed after it was made"
        )
    note = None
    if key is not None:
        if signature is None:
            raise SmtpcfgError(
                f"{path}: the plan is not signed, and a plan key is set: only"
                " plans saved by `plan --out` with the same key are applied"
            )
        if not signature_matches(signature, content, key):
            raise SmtpcfgError(
                f"{path}: the plan's signature does not match: it was changed"
                " after it was signed, or signed with another key"
            )
    elif signature is not None:
        note = (
            f"{path} is signed, but no plan key is set ({KEY_VARIABLE} or"
            " --plan-key-file), so its signature was not checked"
        )
    return Plan.from_json(data), note


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SmtpcfgError(f"{path}: cannot read plan file: {error.strerror}") from None
    except ValueError as error:
        hint = "; to apply manifests, pass them with -f" if path.suffix in (".yaml", ".yml") else ""
        raise SmtpcfgError(f"{path}: not a saved plan (invalid JSON: {error}){hint}") from None
    if not isinstance(data, dict) or "formatVersion" not in data:
        raise SmtpcfgError(f"{path}: not a saved plan")
    if data["formatVersion"] != FORMAT_VERSION:
        raise SmtpcfgError(
            f"{path}: a saved plan of format version {data['formatVersion']};"
            f" this smtpcfg applies version {FORMAT_VERSION}: make a new plan"
        )
    problem = (
        None
        if schemas.is_valid("plan.schema.json", data)
        else next(schemas.errors("plan.schema.json", data), None)
    )
    if problem is not None:
        where = "/".join(str(part) for part in problem.absolute_path) or "(top)"
        raise SmtpcfgError(f"{path}: not a valid saved plan: {where}: {problem.message}")
    return data
