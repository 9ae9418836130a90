"""Two tiny HTTP servers on 127.0.0.1 for the KV read path's tests.

- FakeVault answers a mount look-up with a KV v2 mount at `secret/`, and a read of
  `secret/data/<name>` with the canned answer stored under `<name>`: any status, headers
  and body, chunked or not, kept alive, closing, or dropped. OpenBao never sends most of these; a
  proxy or a broken server might.
- ForwardingProxy is a plain HTTP proxy (absolute-form request targets) that forwards GETs
  and remembers which paths went through it.

Both record each request's path and User-Agent (requests sends one, http.client none).
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

MOUNT_ANSWER = {"data": {"path": "secret/", "type": "kv", "options": {"version": "2"}}}


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False
    close: bool = False  # says `Connection: close`, then closes
    drop: bool = False  # closes after answering without a word, as after an idle timeout

    @classmethod
    def json(cls, status: int, document: Any, **options: Any) -> Answer:
        headers = {"Content-Type": "application/json", **options.pop("headers", {})}
        return cls(status, json.dumps(document).encode(), headers, **options)


def secret_answer(data: dict[str, Any], version: int = 1) -> dict[str, Any]:
    """The body of a KV v2 read, as Vault sends it."""
    metadata = {"created_time": "2026-01-01T00:00:00Z", "custom_metadata": None,
                "deletion_time": "", "destroyed": False, "version": version}
    return {"request_id": "r", "lease_id": "", "renewable": False, "lease_duration": 0,
            "data": {"data": data, "metadata": metadata}, "wrap_info": None,
            "warnings": None, "auth": None}


@dataclass
class Seen:
    """What a server received: (path, User-Agent) per request, in order."""

    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def paths(self, prefix: str = "") -> list[str]:
        return [path for path, _ in self.requests if path.startswith(prefix)]

    def agents(self, prefix: str) -> list[str | None]:
        return [agent for path, agent in self.requests if path.startswith(prefix)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Vault's server
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if answer.close:
            self.send_header("Connection", "close")
        if answer.close or answer.drop:
            self.close_connection = True
        if answer.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(answer.body), 7):
                piece = answer.body[start : start + 7]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    seen: Seen
    answers: dict[str, Answer]


class _VaultHandler(_Handler):
    def do_GET(self) -> None:
        self.server.seen.requests.append((self.path, self.headers.get("User-Agent")))
        path = urlsplit(self.path).path
        if path.startswith("/v1/sys/internal/ui/mounts/"):
            self.send(Answer.json(200, MOUNT_ANSWER))
        elif path.startswith("/v1/secret/data/"):
            name = path.removeprefix("/v1/secret/data/")
            self.send(self.server.answers.get(name) or Answer.json(404, {"errors": []}))
        else:
            self.send(Answer.json(404, {"errors": []}))


class _ProxyHandler(_Handler):
    def do_GET(self) -> None:
        target = urlsplit(self.path)  # absolute-form: http://host:port/path?query
        self.server.seen.requests.append((target.path, self.headers.get("User-Agent")))
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in {"host", "connection", "proxy-connection"}}
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        try:
            query = f"?{target.query}" if target.query else ""
            upstream.request("GET", f"{target.path}{query}", headers=headers)
            response = upstream.getresponse()
            body = response.read()
            kept = {k: v for k, v in response.getheaders()
                    if k.lower() not in {"content-length", "transfer-encoding", "connection"}}
            self.send(Answer(response.status, body, kept))
        finally:
            upstream.close()


@dataclass
class Running:
    url: str
    seen: Seen
    answers: dict[str, Answer]


@contextmanager
def _serve(handler: type[_Handler]) -> Iterator[Running]:
    server = _Server(("127.0.0.1", 0), handler)
    server.seen, server.answers = Seen(), {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Running(f"http://127.0.0.1:{server.server_address[1]}", server.seen, server.answers)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def fake_vault() -> Any:
    """`with fake_vault() as vault:` vault.url, vault.answers[name] = Answer(...), vault.seen."""
    return _serve(_VaultHandler)


def forwarding_proxy() -> Any:
    """`with forwarding_proxy() as proxy:` proxy.url, proxy.seen."""
    return _serve(_ProxyHandler)
