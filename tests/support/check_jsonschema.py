"""check-jsonschema, the third-party tool the README points to, run offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECK_JSONSCHEMA = str(Path(sys.executable).parent / "check-jsonschema")


def check_jsonschema(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with every network request failing at once, and its own empty
    cache: a schema it could only resolve online fails here."""
    offline = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(cwd),
        "XDG_CACHE_HOME": str(cwd / "cache"),
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    return subprocess.run(
        [CHECK_JSONSCHEMA, *map(str, args)],
        cwd=cwd,
        env=offline,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
