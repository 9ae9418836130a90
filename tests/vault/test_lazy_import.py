"""The CLI starts fast: importing the Vault code must not import hvac or its HTTP stack."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import reconciler.vault.client, reconciler.vault.mounts, reconciler.vault.resolver
import reconciler.vault.secret, reconciler.vault.login, reconciler.vault.tokens
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"hvac", "requests", "urllib3"})
print(",".join(heavy))
"""


def test_importing_the_resolver_imports_no_hvac() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
