"""The canonical bytes of a JSON value, for digests and hashes that must not depend on
key order or whitespace: saved plans' digests and signatures, the audit log's chain."""

from __future__ import annotations

import json
from typing import Any


def canonical_json(body: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")
