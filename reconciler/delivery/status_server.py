"""The runner's HTTP listener (`deliver --metrics-addr`): /metrics, /healthz, /readyz.

- `/metrics`: the Prometheus text format (metrics.py).
- `/healthz`: 200 while the runner's loop turns; 503 once it has not for `stuck_after`
  seconds (a whole --lease beyond the poll interval: a live runner turns at least once
  per poll when idle, and once per job, each job given at most half a lease, when busy).
- `/readyz`: 200 while the store and Vault answered recently (readiness.py), else 503.

The address is bound before the runner starts, so a taken one fails at once.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from reconciler.delivery.metrics import PrometheusObserver
from reconciler.delivery.readiness import Readiness
from reconciler.errors import SmtpcfgError


class StatusServer:
    def __init__(
        self,
        address: tuple[str, int],
        observer: PrometheusObserver,
        readiness: Readiness,
        stuck_after: float,
    ) -> None:
        host, port = address
        handler = _handler(observer, readiness, stuck_after)
        server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
        try:
            self._server = server_class((host, port), handler)
        except OSError as error:
            raise SmtpcfgError(
                f"--metrics-addr {_show(host, port)}: cannot listen there: "
                f"{error.strerror or error}"
            ) from None
        self._server.daemon_threads = True
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{_show(str(bound_host), int(bound_port))}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="status-server", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _show(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _handler(
    observer: PrometheusObserver, readiness: Readiness, stuck_after: float
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(observer.registry))
            elif path == "/healthz":
                idle = time.monotonic() - observer.last_turn
                live = idle <= stuck_after
                self._json(
                    200 if live else 503,
                    {
                        "status": "ok" if live else "stuck",
                        "lastLoopSecondsAgo": round(idle, 3),
                        "stuckAfterSeconds": stuck_after,
                    },
                )
            elif path == "/readyz":
                ready, report = readiness.report()
                self._json(200 if ready else 503, report)
            else:
                self._json(404, {"error": "not found: try /metrics, /healthz or /readyz"})

        def _json(self, code: int, document: dict[str, Any]) -> None:
            self._send(code, "application/json", json.dumps(document).encode() + b"\n")

        def _send(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Probes come every few seconds: not worth a log line each."""

    return Handler
