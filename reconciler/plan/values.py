"""How one field value is written in plans: JSON, except Vault references."""

from __future__ import annotations

import json
from typing import Any

from reconciler.model import VaultReference
from reconciler.plan.model import ABSENT


def show_value(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    if isinstance(value, dict) and set(value) == {"vault"}:
        return VaultReference.from_spec(value).display()
    return json.dumps(value, ensure_ascii=False)
