"""Real SMTP servers for tests, the demo and the benchmarks: aiosmtpd in a thread.

`SmtpSink` is a local SMTP server that records what every client did; use it with
`start()`/`stop()` or as a context manager. As a pytest plugin
(`pytest_plugins = ["tests.support.smtp"]`) this module provides fixtures:

- `smtp_server`: STARTTLS required, AUTH only after TLS and required before MAIL,
  SIZE limit `SIZE_LIMIT`; accepts `SERVER_USERNAME` / `SERVER_PASSWORD`.
- `plain_smtp_server`: no TLS at all, AUTH offered in plaintext (so a client that
  wrongly sends credentials is seen), mail accepted without login.
- `implicit_tls_server`: TLS from the first byte, AUTH offered but not required.
- `smtp_server_factory(**options)`: starts a sink with any `SmtpSink` options (`tls=True`
  for the test CA's certificate); all are stopped at teardown.
- `SmtpSink(xoauth2=check)` offers AUTH XOAUTH2 and accepts a bearer token when
  `check(username, token)` says so (e.g. `TokenEndpoint.is_live`, tests/support/oauth2.py);
  a refusal is answered as Gmail does: a 334 with a JSON error, then 535.
- `smtp_ca` (trustme.CA), `smtp_ca_file` (its PEM path, a client's `ca_file`) and
  `smtp_tls_context` (server side, certificate for "localhost", "127.0.0.1" and "::1",
  as `smtpcfg dev-sink` makes it).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import functools
import json
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, Literal, NamedTuple, get_args

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

from reconciler.dev_sink import loopback_tls_context

__all__ = [
    "SERVER_PASSWORD",
    "SERVER_USERNAME",
    "SIZE_LIMIT",
    "AuthAttempt",
    "Command",
    "SmtpSession",
    "SmtpSink",
    "free_port",
    "implicit_tls_server",
    "plain_smtp_server",
    "smtp_ca",
    "smtp_ca_file",
    "smtp_server",
    "smtp_server_factory",
    "smtp_tls_context",
]

SERVER_USERNAME = "billing-bot"
SERVER_PASSWORD = "correct horse battery staple"
SIZE_LIMIT = 64 * 1024

Stage = Literal["starttls", "auth", "mail", "rcpt", "data"]


class Command(NamedTuple):
    verb: str  # "EHLO", "STARTTLS", "AUTH", "MAIL", ...
    tls: bool  # whether the connection was encrypted when the command arrived


class AuthAttempt(NamedTuple):
    username: str  # the password or token is checked, never kept
    succeeded: bool
    tls: bool
    mechanism: str = ""


@dataclass
class SmtpSession:
    """What one client connection did, as the server saw it."""

    peer: str
    commands: list[Command] = field(default_factory=list)
    auth: list[AuthAttempt] = field(default_factory=list)
    mail_from: list[str] = field(default_factory=list)  # as sent, refused ones too
    rcpt_to: list[str] = field(default_factory=list)  # as sent, refused ones too
    messages: list[EmailMessage] = field(default_factory=list)  # accepted ones

    @property
    def verbs(self) -> list[str]:
        return [command.verb for command in self.commands]

    @property
    def tls(self) -> bool:
        return any(command.tls for command in self.commands)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (aiosmtpd cannot bind port 0 and report it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class SmtpSink:
    """A real SMTP server on a local port that keeps everything its clients did.

    tls: the server's certificate. With `implicit_tls` the server speaks TLS from the
        first byte; otherwise it offers STARTTLS and refuses mail before it.
    username, password: the one login it accepts. AUTH is offered only over TLS unless
        `auth_over_plaintext`; `auth_required` refuses MAIL before a login (with
        `implicit_tls`, aiosmtpd warns about it, wrongly believing the line plaintext).
    size_limit: advertised as SIZE and enforced on DATA; None means no limit.
    ca_file: the PEM file of the CA that signed `tls`, for clients to trust.
    xoauth2: offer AUTH XOAUTH2, accepting a token when `xoauth2(username, token)` is true;
        None (the default) offers no XOAUTH2.

    Recorded state is read under a lock and returned as copies, so tests can read it
    while the server thread runs.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        username: str | None = None,
        password: str | None = None,
        auth_required: bool = False,
        auth_over_plaintext: bool = False,
        size_limit: int | None = None,
        ca_file: str | None = None,
        xoauth2: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.username = username
        self.password = password
        self.size_limit = size_limit
        self.ca_file = ca_file
        self._running = False
        self._recorder = _Recorder(
            None if username is None else (username, password or ""), xoauth2
        )
        self._controller = _Controller(
            self._recorder,
            hostname=host,
            port=self.port,
            ssl_context=tls if implicit_tls else None,
            tls_context=None if implicit_tls else tls,
            require_starttls=tls is not None and not implicit_tls,
            authenticator=self._recorder.authenticate,
            auth_required=auth_required,
            # aiosmtpd sees only STARTTLS as TLS, so over implicit TLS it would refuse
            # AUTH (aiosmtpd issue #281); that whole connection is encrypted anyway.
            auth_require_tls=not (auth_over_plaintext or implicit_tls),
            data_size_limit=size_limit,
            server_hostname="localhost",
            auth_exclude_mechanism=[] if xoauth2 else ["XOAUTH2"],
        )

    def start(self) -> SmtpSink:
        self._controller.start()
        self._running = True
        return self

    def stop(self) -> None:
        """Stop serving and drop every connection; safe to call again."""
        if self._running:
            self._controller.stop()
            self._running = False

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def sessions(self) -> list[SmtpSession]:
        """Every connection that sent at least one command, oldest first."""
        with self._recorder.lock:
            return copy.deepcopy(self._recorder.sessions)

    @property
    def messages(self) -> list[EmailMessage]:
        """Every accepted message, parsed, in the order they arrived."""
        with self._recorder.lock:
            return copy.deepcopy(self._recorder.messages)

    def fail_next(self, reply: str, *, at: Stage, count: int = 1) -> None:
        """Answer the next `count` STARTTLS, AUTH, MAIL, RCPT or DATA commands with `reply`.

        A reply starting with 421 also closes the connection, as real servers do.
        """
        with self._recorder.lock:
            self._recorder.failures[at].extend([reply] * count)

    def hold_after(self, accepted: int) -> None:
        """Once `accepted` messages have been accepted, keep every further message's
        reply to DATA waiting until `release()`: a client stays mid-message meanwhile."""
        with self._recorder.lock:
            self._recorder.hold_after = accepted

    def release(self) -> None:
        """Let held messages (and all later ones) through."""
        self._recorder.released.set()

    @property
    def held(self) -> int:
        """How many messages are waiting for `release()` right now."""
        with self._recorder.lock:
            return self._recorder.held


# The commands whose arrival a session records.
_REPORTED_VERBS = (
    "HELO",
    "EHLO",
    "STARTTLS",
    "AUTH",
    "MAIL",
    "RCPT",
    "DATA",
    "RSET",
    "NOOP",
    "QUIT",
)


class _RecordingSMTP(SMTP):
    """aiosmtpd's SMTP protocol (one per connection), reporting each command it runs."""

    def __init__(self, handler: _Recorder, **kwargs: Any) -> None:
        self.record: SmtpSession | None = None
        # SMTP.__init__ collects the smtp_* methods into its dispatch table, so the
        # wrappers must be in place before it runs.
        for verb in _REPORTED_VERBS:
            method = getattr(self, f"smtp_{verb}")
            setattr(self, f"smtp_{verb}", self._reporting(handler, verb, method))
        super().__init__(handler, **kwargs)

    def _reporting(
        self, handler: _Recorder, verb: str, method: Callable[[str], Awaitable[None]]
    ) -> Callable[[str], Awaitable[None]]:
        @functools.wraps(method)
        async def reported(arg: str) -> None:
            handler.command(self, verb)
            refusal = handler.injected(self, "starttls") if verb == "STARTTLS" else None
            if refusal:
                await self.push(refusal)
                return
            await method(arg)

        return reported

    @property
    def encrypted(self) -> bool:
        transport = self.transport
        return transport is not None and transport.get_extra_info("ssl_object") is not None


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _RecordingSMTP(self.handler, **self.SMTP_kwargs)


class _Recorder:
    """The aiosmtpd handler: records sessions, accepts mail, serves injected failures.

    Its hooks run on the server's event-loop thread, hence the lock.
    """

    def __init__(
        self,
        credentials: tuple[str, str] | None,
        xoauth2: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.lock = threading.Lock()
        self.credentials = credentials
        self.xoauth2 = xoauth2
        self.sessions: list[SmtpSession] = []
        self.messages: list[EmailMessage] = []
        self.failures: dict[Stage, list[str]] = {stage: [] for stage in get_args(Stage)}
        self.hold_after: int | None = None
        self.held = 0
        self.released = threading.Event()

    def command(self, server: _RecordingSMTP, verb: str) -> None:
        with self.lock:
            if server.record is None:
                assert server.session is not None
                host, port = server.session.peer[:2]
                server.record = SmtpSession(peer=f"{host}:{port}")
                self.sessions.append(server.record)
            server.record.commands.append(Command(verb, server.encrypted))

    def authenticate(
        self,
        server: _RecordingSMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: LoginPassword,
    ) -> AuthResult:
        injected = self.injected(server, "auth")
        username = auth_data.login.decode("utf-8", "replace")
        given = (username, auth_data.password.decode("utf-8", "replace"))
        succeeded = injected is None and given == self.credentials
        with self.lock:
            _record(server).auth.append(
                AuthAttempt(username, succeeded, server.encrypted, mechanism)
            )
        if succeeded:
            return AuthResult(success=True)
        # handled=False: aiosmtpd then sends the 535 (or `message`) itself; with
        # handled=True nothing is sent and the client waits forever.
        return AuthResult(success=False, handled=False, message=injected)

    async def auth_XOAUTH2(self, server: _RecordingSMTP, args: list[str]) -> AuthResult:
        """`AUTH XOAUTH2 <base64 of user=…^Aauth=Bearer …^A^A>` (offered only with `xoauth2`)."""
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False)
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        assert isinstance(blob, bytes)
        fields = dict(
            part.partition("=")[::2] for part in blob.decode("utf-8", "replace").split("\x01")
        )
        username, bearer = fields.get("user", ""), fields.get("auth", "")
        injected = self.injected(server, "auth")
        succeeded = (
            injected is None
            and self.xoauth2 is not None
            and bearer.startswith("Bearer ")
            and self.xoauth2(username, bearer.removeprefix("Bearer "))
        )
        with self.lock:
            _record(server).auth.append(
                AuthAttempt(username, succeeded, server.encrypted, "XOAUTH2")
            )
        if succeeded:
            return AuthResult(success=True)
        error = {"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"}
        await server.challenge_auth(json.dumps(error))  # the client answers with an empty line
        return AuthResult(success=False, handled=False, message=injected)

    async def handle_MAIL(
        self,
        server: _RecordingSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> object:
        with self.lock:
            _record(server).mail_from.append(address)
        return self.injected(server, "mail") or MISSING

    async def handle_RCPT(
        self,
        server: _RecordingSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> object:
        with self.lock:
            _record(server).rcpt_to.append(address)
        return self.injected(server, "rcpt") or MISSING

    async def handle_DATA(
        self, server: _RecordingSMTP, session: Session, envelope: Envelope
    ) -> str:
        injected = self.injected(server, "data")
        if injected:
            return injected
        await self._wait_if_held()
        assert envelope.original_content is not None
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content)
        assert isinstance(message, EmailMessage)
        with self.lock:
            _record(server).messages.append(message)
            self.messages.append(message)
            queued = len(self.messages)
        return f"250 2.0.0 Ok: queued as Q{queued}"

    async def _wait_if_held(self) -> None:
        with self.lock:
            hold = self.hold_after is not None and len(self.messages) >= self.hold_after
            self.held += hold
        if not hold:
            return
        while not self.released.is_set():  # a threading.Event: release() comes from tests
            await asyncio.sleep(0.01)
        with self.lock:
            self.held -= 1

    def injected(self, server: _RecordingSMTP, stage: Stage) -> str | None:
        with self.lock:
            pending = self.failures[stage]
            reply = pending.pop(0) if pending else None
        if reply is not None and reply.startswith("421") and server.transport is not None:
            # Hang up once the reply has been written, like a real server after 421.
            server.loop.call_soon(server.transport.close)
        return reply


def _record(server: _RecordingSMTP) -> SmtpSession:
    assert server.record is not None  # created by the command that led here
    return server.record


@pytest.fixture(scope="session")
def smtp_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def smtp_ca_file(smtp_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("smtp-ca") / "ca.pem"
    smtp_ca.cert_pem.write_to_path(path)
    return str(path)


@pytest.fixture(scope="session")
def smtp_tls_context(smtp_ca: trustme.CA) -> ssl.SSLContext:
    return loopback_tls_context(smtp_ca)


@pytest.fixture
def smtp_server_factory(
    smtp_tls_context: ssl.SSLContext, smtp_ca_file: str
) -> Iterator[Callable[..., SmtpSink]]:
    sinks: list[SmtpSink] = []

    def start(*, tls: bool | ssl.SSLContext = False, **options: Any) -> SmtpSink:
        if tls is True:
            tls = smtp_tls_context
        sink = SmtpSink(tls=tls or None, ca_file=smtp_ca_file, **options).start()
        sinks.append(sink)
        return sink

    yield start
    for sink in sinks:
        sink.stop()


@pytest.fixture
def smtp_server(smtp_server_factory: Callable[..., SmtpSink]) -> SmtpSink:
    return smtp_server_factory(
        tls=True,
        username=SERVER_USERNAME,
        password=SERVER_PASSWORD,
        auth_required=True,
        size_limit=SIZE_LIMIT,
    )


@pytest.fixture
def plain_smtp_server(smtp_server_factory: Callable[..., SmtpSink]) -> SmtpSink:
    return smtp_server_factory(
        username=SERVER_USERNAME, password=SERVER_PASSWORD, auth_over_plaintext=True
    )


@pytest.fixture
def implicit_tls_server(smtp_server_factory: Callable[..., SmtpSink]) -> SmtpSink:
    return smtp_server_factory(
        tls=True, implicit_tls=True, username=SERVER_USERNAME, password=SERVER_PASSWORD
    )
