"""A plain HTTP forward proxy on 127.0.0.1 that remembers the paths it forwarded: proof
that reads went through the proxy the environment names, as requests does it."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_HOP_BY_HOP = {"host", "connection", "proxy-connection", "keep-alive"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    paths: list[str]


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients expect of a proxy
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        target = urlsplit(self.path)  # absolute-form: http://host:port/path?query
        self.server.paths.append(target.path)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        try:
            query = f"?{target.query}" if target.query else ""
            upstream.request("GET", f"{target.path}{query}", headers=headers)
            response = upstream.getresponse()
            body = response.read()
        finally:
            upstream.close()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class Proxy:
    url: str
    paths: list[str] = field(default_factory=list)


@contextmanager
def forwarding_proxy() -> Iterator[Proxy]:
    """`with forwarding_proxy() as proxy:` proxy.url to set as HTTP_PROXY; proxy.paths."""
    server = _Server(("127.0.0.1", 0), _ProxyHandler)
    proxy = Proxy(f"http://127.0.0.1:{server.server_address[1]}")
    server.paths = proxy.paths
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
