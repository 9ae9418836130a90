"""An SMTP sink in its own process, for `bench delivery`: `python -m bench.sink PORT CERT KEY`.

The real `tests.support.smtp.SmtpSink` (aiosmtpd: STARTTLS required, AUTH required,
every message parsed), run apart from the client being measured, so that the client's
process does not share its interpreter (and its GIL) with the server. Prints `ready`,
then waits for a line (or end of input) on stdin, prints how many messages it accepted
and exits.
"""

from __future__ import annotations

import logging
import ssl
import sys

from tests.support.smtp import SERVER_PASSWORD, SERVER_USERNAME, SmtpSink


def main(argv: list[str]) -> None:
    port, cert, key = int(argv[0]), argv[1], argv[2]
    # aiosmtpd logs a deprecation of its own Session.login_data at every login.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sink = SmtpSink(
        host="127.0.0.1",
        port=port,
        tls=context,
        username=SERVER_USERNAME,
        password=SERVER_PASSWORD,
        auth_required=True,
    )
    sink.start()
    try:
        print("ready", flush=True)
        sys.stdin.readline()
        # The count only: `sink.messages` would deep-copy every parsed message.
        recorder = sink._recorder
        with recorder.lock:
            count = len(recorder.messages)
    finally:
        sink.stop()
    print(count, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
