"""A local SMTP sink for `make demo`: STARTTLS with a throwaway CA, one login, on loopback.

Usage: python scripts/demo_sink.py WORKDIR USERNAME PASSWORD
Writes WORKDIR/sink.port and WORKDIR/ca.pem when ready; on SIGTERM writes every message
it received to WORKDIR/mail/NNN.eml and exits.
"""

from __future__ import annotations

import signal
import ssl
import sys
import threading
from pathlib import Path

import trustme

from tests.support.smtp import SmtpSink


def main() -> None:
    workdir, username, password = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(workdir / "ca.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    sink = SmtpSink(
        tls=context,
        username=username,
        password=password,
        auth_required=True,
        ca_file=str(workdir / "ca.pem"),
    ).start()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    (workdir / "sink.port").write_text(str(sink.port))
    stopping.wait()
    mail = workdir / "mail"
    mail.mkdir(exist_ok=True)
    for number, message in enumerate(sink.messages, start=1):
        (mail / f"{number:03d}.eml").write_bytes(message.as_bytes())
    sink.stop()


if __name__ == "__main__":
    main()
