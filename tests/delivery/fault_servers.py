"""Misbehaving SMTP servers on 127.0.0.1, for the runner's fault tests.

- `RawServer(play)`: an asyncio TCP (or implicit-TLS) server in a thread; `play(reader,
  writer)` is the whole conversation: `silent`, `trickler`, `byte_trickler`, `flooder`,
  `AuthEcho(...)`.
- `Picky`: an aiosmtpd server (plaintext, no login) that greylists chosen recipients
  once and can hang up after taking a message's DATA once.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import ssl
import threading
from collections.abc import Awaitable, Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.smtp import free_port

Play = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """Serves `play` to every connection until `stop()`; a context manager."""

    def __init__(self, play: Play, *, tls: ssl.SSLContext | None = None) -> None:
        self.play = play
        self.tls = tls
        self.port = free_port()
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> RawServer:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self.tls),
            self._loop,
        ).result(timeout=10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        async def shut() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.play(reader, writer)
        except (ConnectionError, asyncio.CancelledError, ssl.SSLError):
            pass
        finally:
            writer.close()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A tarpit: accepts the connection and never says a word."""
    await asyncio.sleep(3600)


async def trickler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A greeting of endless continuation lines, one a second: each read is quick."""
    while True:
        writer.write(b"220-please wait\r\n")
        await writer.drain()
        await asyncio.sleep(1.0)


async def byte_trickler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A greeting line sent a byte every 0.2 s, and never finished."""
    writer.write(b"220-")
    while True:
        writer.write(b"x")
        await writer.drain()
        await asyncio.sleep(0.2)


async def flooder(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A greeting of endless continuation lines, as fast as the client takes them."""
    line = b"220-" + b"x" * 400 + b"\r\n"
    chunk = line * 256
    while True:
        writer.write(chunk)
        await writer.drain()


class AuthEcho:
    """Implicit TLS; offers one AUTH `mechanism` (PLAIN, LOGIN or CRAM-MD5); accepts exactly
    `username`/`password` sent as UTF-8 and answers anything else with a 535 that echoes
    every line of the exchange, decoded too, as some real servers do."""

    def __init__(self, mechanism: str, username: str, password: str) -> None:
        self.mechanism = mechanism
        self.credentials = (username, password)
        self.logins: list[tuple[str, str]] = []  # what clients sent, decoded

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 localhost ESMTP echo\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(f"250-localhost\r\n250 AUTH {self.mechanism}\r\n".encode())
            elif verb == b"AUTH":
                writer.write(await self._auth(line, reader, writer))
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()

    async def _auth(
        self, line: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes:
        sent = [line.strip()]
        argument = line.split()[2] if len(line.split()) > 2 else b""
        if self.mechanism == "PLAIN":
            _, username, password = base64.b64decode(argument).split(b"\0")
        elif self.mechanism == "CRAM-MD5":
            challenge = b"<1896.697170952@localhost>"
            writer.write(b"334 " + base64.b64encode(challenge) + b"\r\n")
            await writer.drain()
            answer = (await reader.readline()).strip()
            sent.append(answer)
            username, _, digest = base64.b64decode(answer).partition(b" ")
            expected = self.credentials[1].encode()
            right = hmac.HMAC(expected, challenge, "md5").hexdigest().encode()
            # The password itself never travels; the right digest stands for it.
            password = expected if hmac.compare_digest(digest, right) else digest
        else:
            username = base64.b64decode(argument)
            writer.write(b"334 UGFzc3dvcmQ6\r\n")  # "Password:"
            await writer.drain()
            answer = (await reader.readline()).strip()
            sent.append(answer)
            password = base64.b64decode(answer)
        given = (username.decode("utf-8", "replace"), password.decode("utf-8", "replace"))
        self.logins.append(given)
        if given == self.credentials:
            return b"235 2.7.0 Authentication successful\r\n"
        echoed = b" / ".join(sent) + b" = " + username + b":" + password
        return b"535 5.7.8 Authentication failed for " + echoed + b"\r\n"


class Picky:
    """aiosmtpd, plaintext and without login, recording (recipients, message) per DATA.

    `greylist`: addresses answered 451 the first time they are given, 250 after.
    `hang_up_after_data`: take the first message, then close without a reply.
    """

    def __init__(self, *, greylist: tuple[str, ...] = (), hang_up_after_data: bool = False) -> None:
        self.greylist = set(greylist)
        self.hang_up_after_data = hang_up_after_data
        self.lock = threading.Lock()
        self.deliveries: list[tuple[list[str], EmailMessage]] = []
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> Picky:
        self._controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._controller.stop()

    def copies_for(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [message for rcpts, message in self.deliveries if address in rcpts]

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        with self.lock:
            if address in self.greylist:
                self.greylist.discard(address)
                return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert envelope.original_content is not None
        message: Any = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        with self.lock:
            self.deliveries.append((list(envelope.rcpt_tos), message))
            hang_up, self.hang_up_after_data = self.hang_up_after_data, False
        if hang_up and server.transport is not None:
            server.transport.close()
        return "250 2.0.0 Ok: queued"
