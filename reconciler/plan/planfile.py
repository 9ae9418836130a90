"""Saved plans: written by `plan --out`, read back by `apply PLANFILE`."""

from __future__ import annotations

import json
import os
from pathlib import Path

from reconciler import schemas
from reconciler.errors import SmtpcfgError
from reconciler.plan.model import FORMAT_VERSION, Plan, digest_of


def save_plan(plan: Plan, path: Path) -> None:
    """Write atomically, so an interrupted save never leaves half a plan behind."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(plan.to_json(), indent=2, ensure_ascii=False) + "\n",
                         encoding="utf-8")
    os.replace(temporary, path)


def load_plan(path: Path) -> Plan:
    """Read a saved plan; refuse one that is malformed or edited after it was made."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SmtpcfgError(f"{path}: cannot read plan file: {error.strerror}") from None
    except ValueError as error:
        hint = ("; to apply manifests, pass them with -f" if path.suffix in (".yaml", ".yml")
                else "")
        raise SmtpcfgError(f"{path}: not a saved plan (invalid JSON: {error}){hint}") from None
    if not isinstance(data, dict) or data.get("formatVersion") != FORMAT_VERSION:
        raise SmtpcfgError(f"{path}: not a saved plan of format version {FORMAT_VERSION}")
    error = None if schemas.is_valid("plan.schema.json", data) else next(
        schemas.errors("plan.schema.json", data), None)
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top)"
        raise SmtpcfgError(f"{path}: not a valid saved plan: {where}: {error.message}")
    recorded = data.pop("digest")
    actual = digest_of(data)
    if recorded != actual:
        raise SmtpcfgError(
            f"{path}: the plan's content does not match its digest (recorded {recorded},"
            f" content {actual}); it was changed after it was made"
        )
    return Plan.from_json(data)
