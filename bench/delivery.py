"""Delivery: messages per second through `smtpcfg deliver --once`, into a real SMTP sink.

N invoice emails (template `invoice`, one 100 KB PDF each) are queued in a SQLite store
whose SmtpSettings point at an aiosmtpd sink on 127.0.0.1 (its own process; STARTTLS
and AUTH required, certificates from trustme, the password read from a local OpenBao
dev server). `smtpcfg deliver --once --ca-file CA` sends them all, in a fresh process;
every run starts from a copy of the same queue and a fresh sink, which must have
accepted N messages.

Baseline: a bare `python -c` process with an smtplib loop over one connection
(STARTTLS, login), building each message with `email.message.EmailMessage` (the same
headers, body and attachment) and sending it to the same kind of sink.

Target: deliver's rate >= 0.7 x the baseline's.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench.common import (
    REPO,
    Result,
    clean_env,
    document,
    emit,
    interleaved_medians,
    run_cli,
    run_python,
    workdir,
    write_yaml,
)

N = 1_000
SMOKE_N = 5
TARGET_RATE = 0.7
PDF_BYTES = 100 * 1024
SUBJECT = "Invoice ${invoice} for account ${account}"
BODY = "Hello ${name},\n\nplease find invoice ${invoice} attached.\n"

BASELINE = """
import smtplib, ssl, sys
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone
port, ca, pdf, n, user, password = sys.argv[1:7]
data = open(pdf, "rb").read()
context = ssl.create_default_context(cafile=ca)
with smtplib.SMTP("127.0.0.1", int(port), timeout=30) as smtp:
    smtp.starttls(context=context)
    smtp.login(user, password)
    for i in range(int(n)):
        msg = EmailMessage()
        msg["From"] = "Acme Invoices <invoices@acme.example>"
        msg["To"] = "jane@customer.example"
        msg["Subject"] = f"Invoice INV-{i:05d} for account A-1001"
        msg["Date"] = format_datetime(datetime.now(timezone.utc))
        msg["Message-ID"] = make_msgid(domain="acme.example")
        msg.set_content(f"Hello Jane,\\n\\nplease find invoice INV-{i:05d} attached.\\n")
        msg.add_attachment(data, maintype="application", subtype="pdf",
                           filename=f"INV-{i:05d}.pdf")
        smtp.send_message(msg)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--delivery-n",
        type=int,
        default=None,
        metavar="N",
        help=f"queued invoice emails (default {N})",
    )


def run(args: argparse.Namespace) -> list[Result]:
    n = args.delivery_n or (SMOKE_N if args.smoke else N)
    runs = args.runs or (1 if args.smoke else 2)  # ~30 s a run: see RESULTS.md
    from tests.support.openbao import start_openbao
    from tests.support.smtp import SERVER_PASSWORD, SERVER_USERNAME, free_port

    with workdir("delivery") as root:
        ca_file, cert_file, key_file = certificates(root)
        pdf = root / "invoice.pdf"
        pdf.write_bytes(_pdf(PDF_BYTES))
        port = free_port()
        vault = start_openbao(root / "openbao")
        try:
            vault.write("bench/smtp", {"password": SERVER_PASSWORD})
            env = clean_env(root, VAULT_ADDR=vault.addr, VAULT_TOKEN=vault.root_token)
            queue = _prepare_queue(root, env, port, pdf, n, SERVER_USERNAME)
            sink_cpu: dict[str, list[float]] = {"deliver": [], "baseline": []}

            def setup(name: str) -> None:
                if name == "deliver":
                    shutil.copyfile(queue, root / "run.db")

            def deliver() -> None:
                with _sink(port, cert_file, key_file, n, sink_cpu["deliver"]):
                    run_cli(
                        [
                            "deliver",
                            "--once",
                            "--ca-file",
                            ca_file,
                            "--store",
                            f"sqlite:///{root / 'run.db'}",
                        ],
                        env=env,
                        cwd=root,
                    )

            def baseline() -> None:
                with _sink(port, cert_file, key_file, n, sink_cpu["baseline"]):
                    run_python(
                        BASELINE, str(port), ca_file, pdf, str(n), SERVER_USERNAME, SERVER_PASSWORD
                    )

            medians = interleaved_medians({"deliver": deliver, "baseline": baseline}, runs, setup)
        finally:
            vault.stop()
    rate, baseline_rate = n / medians["deliver"], n / medians["baseline"]
    return [
        emit(
            Result(
                case="delivery",
                n=n,
                seconds=medians["deliver"],
                baseline_seconds=medians["baseline"],
                ratio=medians["deliver"] / medians["baseline"],
                target=f"rate >= {TARGET_RATE:g} x baseline rate",
                met=(rate >= TARGET_RATE * baseline_rate) if n >= N else None,
                runs=runs,
                extra={
                    "messages_per_second": round(rate, 1),
                    "baseline_messages_per_second": round(baseline_rate, 1),
                    "rate_ratio": round(rate / baseline_rate, 3),
                    "attachment_bytes": PDF_BYTES,
                    # The sink's own CPU time per message: when it nears the time per message,
                    # the sink, not the client, sets the pace.
                    "sink_cpu_ms_per_message": {
                        name: round(1000 * statistics.median(values) / n, 2)
                        for name, values in sink_cpu.items()
                        if values
                    },
                    "baseline": "python -c: smtplib loop, one connection, EmailMessage per mail",
                },
            )
        )
    ]


def certificates(root: Path) -> tuple[Path, Path, Path]:
    """A trustme CA and a certificate for 127.0.0.1 in `root`: (CA, chain, key) files."""
    import trustme

    ca = trustme.CA()
    ca_file, cert_file, key_file = root / "ca.pem", root / "cert.pem", root / "key.pem"
    ca.cert_pem.write_to_path(ca_file)
    issued = ca.issue_cert("127.0.0.1", "localhost")
    issued.private_key_pem.write_to_path(key_file)
    for index, blob in enumerate(issued.cert_chain_pems):
        blob.write_to_path(cert_file, append=index > 0)
    return ca_file, cert_file, key_file


def _pdf(size: int) -> bytes:
    """A PDF-looking blob that does not compress: random bytes after the header."""
    header = b"%PDF-1.7\n% bench invoice\n"
    body = random.Random(7).randbytes(size - len(header))  # noqa: S311 - not a secret
    return header + body


def _prepare_queue(
    root: Path,
    env: dict[str, str],
    port: int,
    pdf: Path,
    n: int,
    username: str,
    *,
    more: Sequence[Path] = (),
    name: str = "queue.db",
) -> Path:
    """A store with the settings, a template and N queued invoices, each attaching `pdf`
    and the files in `more`; copied for each run."""
    store_path = root / name
    manifests = write_yaml(
        root / "manifests" / "smtp.yaml",
        [
            document("User", "billing-ops", {"email": "billing-ops@acme.example"}),
            document("User", "jane", {"email": "jane@customer.example"}),
            document(
                "SmtpSettings",
                "primary",
                {
                    "host": "127.0.0.1",
                    "port": port,
                    "startTlsOnly": True,
                    "from": {"name": "Acme Billing", "address": "billing@acme.example"},
                    "username": username,
                    "password": {"vault": {"path": "secret/bench/smtp", "key": "password"}},
                    "notifyUser": "billing-ops",
                },
            ),
            document(
                "EmailTemplate",
                "invoice",
                {
                    "smtpSettings": "primary",
                    "from": {"name": "Acme Invoices", "address": "invoices@acme.example"},
                    "subject": SUBJECT,
                    "body": BODY,
                },
            ),
        ],
    )
    run_cli(["init", "--store", f"sqlite:///{store_path}"], env=env, cwd=root)
    run_cli(
        ["apply", "-f", manifests, "--auto-approve", "--store", f"sqlite:///{store_path}"],
        env=env,
        cwd=root,
    )
    from reconciler.delivery.enqueue import enqueue
    from reconciler.store.jobs import StoredAttachment
    from reconciler.store.open import open_store

    data = pdf.read_bytes()
    extra = [StoredAttachment(path.name, "application/pdf", path.read_bytes()) for path in more]
    store = open_store(f"sqlite:///{store_path}", create=True)
    try:
        for i in range(n):
            enqueue(
                store,
                purpose="invoice",
                template="invoice",
                to=["jane@customer.example"],
                account="A-1001",
                invoice=f"INV-{i:05d}",
                variables={"name": "Jane"},
                attachments=[StoredAttachment(f"INV-{i:05d}.pdf", "application/pdf", data), *extra],
            )
    finally:
        store.close()
    return store_path


@contextmanager
def _sink(port: int, cert: Path, key: Path, expected: int, cpu: list[float]) -> Iterator[None]:
    """A fresh sink process on `port` for one run; checks it accepted `expected` messages
    and appends the CPU seconds it used to `cpu`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.sink", str(port), str(cert), str(key)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("the SMTP sink did not start")
        yield
        cpu.append(_cpu_seconds(process.pid))
        process.stdin.write("stop\n")
        process.stdin.flush()
        accepted = int(process.stdout.readline().strip() or -1)
        if accepted != expected:
            raise RuntimeError(f"the sink accepted {accepted} messages, not {expected}")
    finally:
        if process.poll() is None:
            process.stdin.close()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a running process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
