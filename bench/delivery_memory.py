"""Delivery memory: the peak RSS of `smtpcfg deliver --once` sending one large invoice.

One invoice with three 30 MB attachments (random bytes, so base64 is all there is to
it) goes through STARTTLS + AUTH into the same aiosmtpd sink process as `bench delivery`.
Baseline, in the same run and in turns: the same command sending the same invoice with
three 1 KB attachments, which pays every fixed cost (interpreter, imports, TLS, the
store, Vault) and no message-sized one. Peak RSS is the process's own high-water mark
(`wait4`'s ru_maxrss), so nothing samples or misses a short peak.

Reported: (peak - baseline peak) / message size, where the message size is its bytes on
the wire (base64 with CRLF line ends).
Target: <= 2 x the message size above the fixed overhead.
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import Result, clean_env, emit, smtpcfg_argv, workdir
from bench.delivery import _prepare_queue, _sink, certificates

ATTACHMENT_MB = 30
SMOKE_ATTACHMENT_MB = 1
ATTACHMENTS = 3
TARGET = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--memory-attachment-mb",
        type=int,
        default=None,
        metavar="MB",
        help=f"size of each of the {ATTACHMENTS} attachments (default {ATTACHMENT_MB})",
    )


def run(args: argparse.Namespace) -> list[Result]:
    size_mb = args.memory_attachment_mb or (SMOKE_ATTACHMENT_MB if args.smoke else ATTACHMENT_MB)
    runs = args.runs or (1 if args.smoke else 3)
    from tests.support.openbao import start_openbao
    from tests.support.smtp import SERVER_PASSWORD, SERVER_USERNAME, free_port

    with workdir("delivery-memory") as root:
        ca_file, cert_file, key_file = certificates(root)
        sizes = {"large": size_mb * 1_000_000, "small": 1000}
        files = {name: _files(root, name, size) for name, size in sizes.items()}
        port = free_port()
        vault = start_openbao(root / "openbao")
        try:
            vault.write("bench/smtp", {"password": SERVER_PASSWORD})
            env = clean_env(root, VAULT_ADDR=vault.addr, VAULT_TOKEN=vault.root_token)
            queues = {
                name: _prepare_queue(
                    root, env, port, paths[0], 1, SERVER_USERNAME, more=paths[1:], name=f"{name}.db"
                )
                for name, paths in files.items()
            }
            peaks: dict[str, list[int]] = {"large": [], "small": []}
            for _ in range(runs):
                for name in ("large", "small"):
                    shutil.copyfile(queues[name], root / "run.db")
                    with _sink(port, cert_file, key_file, 1, []):
                        peaks[name].append(
                            _peak_rss(
                                [
                                    "deliver",
                                    "--once",
                                    "--ca-file",
                                    str(ca_file),
                                    "--store",
                                    f"sqlite:///{root / 'run.db'}",
                                ],
                                env,
                                root,
                            )
                        )
        finally:
            vault.stop()
    message = sum(_wire_size(size) for size in [sizes["large"]] * ATTACHMENTS)
    large, small = statistics.median(peaks["large"]), statistics.median(peaks["small"])
    ratio = (large - small) / message
    return [
        emit(
            Result(
                case="delivery-memory",
                n=ATTACHMENTS,
                seconds=large / 1e6,
                baseline_seconds=small / 1e6,
                ratio=ratio,
                target=f"<= {TARGET:g} x message size over the fixed overhead",
                met=ratio <= TARGET if size_mb >= ATTACHMENT_MB else None,
                runs=runs,
                unit="MB",
                extra={
                    "attachment_bytes": sizes["large"],
                    "message_bytes": message,
                    "peak_rss_mb": round(large / 1e6, 1),
                    "baseline_peak_rss_mb": round(small / 1e6, 1),
                    "peak_over_message": round(large / message, 2),
                    "baseline": "the same deliver --once sending three 1 KB attachments",
                },
            )
        )
    ]


def _files(root: Path, name: str, size: int) -> list[Path]:
    paths = []
    for index in range(ATTACHMENTS):
        path = root / f"{name}-{index}.pdf"
        path.write_bytes(random.Random(index).randbytes(size))  # noqa: S311 - not a secret
        paths.append(path)
    return paths


#: Runs a command and prints its peak RSS in KiB. A launcher of its own, because Linux
#: counts a child's pages from before its exec in ru_maxrss: forked straight from this
#: (large) process, every measurement would start at this process's size.
_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def _peak_rss(args: list[str], env: dict[str, str], cwd: Path) -> int:
    """Bytes: the high-water mark of the resident set of `smtpcfg ARGS`."""
    completed = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *smtpcfg_argv(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    code, kib = completed.stdout.split()
    if int(code) != 0:
        raise RuntimeError(f"deliver failed: {completed.stderr[-4000:]}")
    return int(kib) * 1024


def _wire_size(size: int) -> int:
    """Bytes of `size` bytes in base64 with 76-character lines ended by CRLF."""
    encoded = 4 * math.ceil(size / 3)
    return encoded + 2 * math.ceil(encoded / 76)
