"""Signed plans: an HMAC-SHA256 of a saved plan, under a key the plan and apply jobs share.

A plan's digest has a public recipe, so whoever can edit a plan file can recompute it;
only a holder of the key can sign. The key is read from SMTPCFG_PLAN_KEY or a file, and
is never written anywhere: not to plans, output, errors or the store.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from pathlib import Path

from reconciler.errors import SmtpcfgError

KEY_VARIABLE = "SMTPCFG_PLAN_KEY"
PREFIX = "hmac-sha256:"
#: As many bytes as the hash gives: `openssl rand -hex 32` makes 64.
MIN_KEY_BYTES = 32


def load_key(key_file: Path | None, environ: Mapping[str, str]) -> bytes | None:
    """The plan key from `--plan-key-file`, else SMTPCFG_PLAN_KEY; None when neither is
    set. Surrounding whitespace (a file's trailing newline) is not part of the key.

    A key that is set but empty (what a CI job gets for a missing secret) or short is an
    error, never "no key".
    """
    if key_file is not None:
        source = f"--plan-key-file {key_file}"
        try:
            raw = key_file.read_bytes()
        except OSError as error:
            raise SmtpcfgError(f"{source}: cannot read the plan key: {error.strerror}") from None
    elif KEY_VARIABLE in environ:
        source, raw = KEY_VARIABLE, environ[KEY_VARIABLE].encode("utf-8")
    else:
        return None
    key = raw.strip()
    if not key:
        raise SmtpcfgError(
            f"{source} is empty: set the plan key, or unset it to work without signed plans"
        )
    if len(key) < MIN_KEY_BYTES:
        raise SmtpcfgError(
            f"{source}: the plan key is shorter than {MIN_KEY_BYTES} bytes; "
            "use a random one, e.g. `openssl rand -hex 32`"
        )
    return key


def sign(content: bytes, key: bytes) -> str:
    return PREFIX + hmac.new(key, content, hashlib.sha256).hexdigest()


def signature_matches(signature: str, content: bytes, key: bytes) -> bool:
    """Compared in constant time, so a forger learns nothing from how long it took."""
    return hmac.compare_digest(sign(content, key), signature)
