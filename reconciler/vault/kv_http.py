"""KV secret reads over kept-alive http.client connections: the resolver's hot path.

Through hvac, a read costs the client about 0.8 ms of CPU (requests reads the proxy
variables and ~/.netrc again for every request, then requests, urllib3 and hvac each add
their layer), and under the GIL that, not Vault, bounded the resolver's pool. So the one
request made per distinct secret, `GET <mount><path>` (KV v1) or
`GET <mount>data/<path>[?version=N]` (KV v2), goes over plain http.client connections:
one per reading thread at a time, kept alive between reads and between `resolve_all`
calls. Logging in, mount look-ups and the rare follow-up requests stay on hvac.

The answer is what hvac's JSONAdapter would give for the same request: the JSON body of a
200, something that is not a mapping for any other success (the resolver calls that "not
understood", as it does hvac's Response object), and for a status >= 400 the very
exception hvac raises (same class, message, `errors` and JSON body, made by
`hvac.utils.raise_for_error`). So the resolver handles both paths with the same code and
words every failure the same; transport failures are worded by the same functions as
`transport_errors` (reconciler/vault/errors.py).

Where requests would do what this path does not, every read goes through hvac instead:
- a proxy applies to VAULT_ADDR (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY, read from
  os.environ as requests reads them): tunnelling and proxy auth are requests' job;
- VAULT_ADDR carries user:password@, a query or a fragment, or the token or namespace holds
  a character a header cannot (requests has its own rules for each).
A redirect (a standby node's 307) is read again through hvac, which follows it. A kept-alive
connection the server has since closed is replaced, and the GET sent once more.

TLS is set up as requests does it: urllib3's default context, trusting VAULT_CACERT, else
REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE (from os.environ), else requests' own CA bundle
(certifi); or verifying nothing when VAULT_SKIP_VERIFY is set. A CA file or folder ssl
cannot load leaves every read to hvac, which reports it as before. Cookies
and ~/.netrc, which requests would also apply, mean nothing to Vault's API.

The token sits only in the header mapping, which no repr, message or exception shows.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from reconciler.vault.errors import timed_out, tls_failed, unreachable

if TYPE_CHECKING:
    import hvac

    from reconciler.vault.client import VaultSettings

#: Connections kept open when idle; more are closed after use (a pool of 8 needs 8).
MAX_IDLE = 16


class KvReader:
    """`get(url, version)` for KV reads, answering as `client.adapter.get` would.

    Thread-safe: each call takes an idle connection (or opens one) and gives it back.
    """

    def __init__(self, settings: VaultSettings, client: hvac.Client) -> None:
        self.client = client
        self._addr = settings.addr
        self._timeout = settings.timeout
        parts = urlsplit(settings.addr)
        # The headers hvac's RawAdapter.request adds to every request.
        headers = {"X-Vault-Request": "true"}
        if client.token:
            headers["X-Vault-Token"] = client.token
        if settings.namespace:
            headers["X-Vault-Namespace"] = settings.namespace
        self._headers = headers
        self._base = parts.path.rstrip("/")
        #: False: every read goes through hvac (see the module's docstring for when).
        self.direct = _plain_enough(settings, parts, headers)
        self._connect = _hvac_only
        if self.direct:
            try:
                self._connect = _connection_factory(settings, parts)
            except (OSError, ValueError):
                # A CA file ssl cannot load: hvac fails on it, and says so, as before.
                self.direct = False
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        #: Connections made so far (for tests). One whose server answered
        #: `Connection: close` reconnects by itself, and is not counted again.
        self.connections_opened = 0
        self._close = weakref.finalize(self, _close_all, self._idle, self._lock)

    def __repr__(self) -> str:
        return f"KvReader({self._addr!r}, direct={self.direct})"

    def close(self) -> None:
        """Close the idle connections (also done when the reader is garbage-collected)."""
        self._close()

    def get(self, url: str, version: int | None = None) -> Any:
        """GET hvac's partial `url` (`/v1/secret/data/a`), with `?version=` when given.

        Returns the JSON of a 200 answer, or a non-mapping for other successes; raises
        hvac's exception for a status >= 400 and VaultFailure when Vault cannot be reached.
        """
        params = {"version": version} if version is not None else {}
        if not self.direct:
            return self.client.adapter.get(url, params=params)
        # hvac's RawAdapter.request: `//` counts as `/`, then base URL and path are joined.
        while "//" in url:
            url = url.replace("//", "/")
        target = f"{self._base}/{url.strip('/')}"
        if version is not None:
            target = f"{target}?version={version}"
        response, body = self._exchange(target)
        status = response.status
        if status == 200:
            content_type = response.getheader("Content-Type")
            charset = "utf-8" if content_type == "application/json" else _charset(response)
            try:
                return json.loads(_decode(body, charset or "utf-8"))
            except ValueError:
                return None  # hvac hands back the Response: "not understood" either way
        if status < 300:
            return None
        if status < 400:
            return self.client.adapter.get(url, params=params)  # requests follows redirects
        self._raise_like_hvac(url, response, body)
        return None  # not reached: _raise_like_hvac always raises

    def _exchange(self, target: str) -> tuple[http.client.HTTPResponse, bytes]:
        connection, reused = self._take()
        while True:
            try:
                connection.request("GET", target, headers=self._headers)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                if reused and not isinstance(exc, TimeoutError):
                    # Closed by the server while idle (or it went away: the fresh
                    # connection will say so). A GET can be sent again.
                    connection, reused = self._open(), False
                    continue
                raise self._failure(exc) from exc
            self._give(connection)
            return response, body

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                connection = self._idle.pop()
                return connection, connection.sock is not None
        return self._open(), False

    def _open(self) -> http.client.HTTPConnection:
        with self._lock:
            self.connections_opened += 1
        return self._connect()  # connects on its first request

    def _give(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append(connection)
                return
        connection.close()

    def _failure(self, exc: BaseException) -> Exception:
        if isinstance(exc, ssl.SSLError):
            return tls_failed(self._addr, exc)
        if isinstance(exc, TimeoutError):
            return timed_out(self._addr, self._timeout)
        return unreachable(self._addr, exc)

    def _raise_like_hvac(self, url: str, response: http.client.HTTPResponse, body: bytes) -> None:
        """hvac's RawAdapter._raise_for_error, for this response."""
        from hvac import utils

        content_type = response.getheader("Content-Type")
        text = _decode(body, _text_charset(response, content_type))
        answer = errors = None
        if content_type == "application/json":
            try:
                answer = json.loads(text)
            except ValueError:
                pass
            else:
                errors = answer.get("errors") if isinstance(answer, dict) else None
        utils.raise_for_error(
            "get",
            f"{self._addr.strip('/')}/{url.strip('/')}",
            response.status,
            text if errors is None else None,
            errors=errors,
            text=text,
            json=answer,
        )


def _plain_enough(settings: VaultSettings, parts: Any, headers: dict[str, str]) -> bool:
    """Whether requests would send this GET as it is: no proxy, no credentials in the URL."""
    import requests.utils

    if requests.utils.select_proxy(
        settings.addr, requests.utils.get_environ_proxies(settings.addr)
    ):
        return False
    if parts.username is not None or parts.query or parts.fragment or parts.hostname is None:
        return False
    return all(value.isascii() and value.isprintable() for value in headers.values())


def _connection_factory(
    settings: VaultSettings, parts: Any
) -> Callable[[], http.client.HTTPConnection]:
    host, port, timeout = parts.hostname, parts.port, settings.timeout
    if parts.scheme == "http":
        return lambda: http.client.HTTPConnection(host, port, timeout=timeout)
    context = _tls_context(settings)
    return lambda: http.client.HTTPSConnection(host, port, timeout=timeout, context=context)


def _tls_context(settings: VaultSettings) -> ssl.SSLContext:
    """The context requests gets from urllib3 for `verify=settings.verify`."""
    import requests.utils
    from urllib3.util import create_urllib3_context

    if settings.skip_verify:
        return create_urllib3_context(cert_reqs=ssl.CERT_NONE)
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    # requests' Session.merge_environment_settings, then HTTPAdapter.cert_verify.
    trusted = (
        settings.cacert
        or os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE")
        or requests.utils.DEFAULT_CA_BUNDLE_PATH
    )
    if os.path.isdir(trusted):
        context.load_verify_locations(capath=trusted)
    else:
        context.load_verify_locations(cafile=trusted)
    return context


def _hvac_only() -> http.client.HTTPConnection:
    raise RuntimeError("this reader sends every read through hvac")


def _decode(body: bytes, charset: str) -> str:
    """requests' `Response.text`: undecodable bytes replaced, an unknown charset ignored."""
    try:
        return body.decode(charset, "replace")
    except LookupError:
        return body.decode("utf-8", "replace")


def _charset(response: http.client.HTTPResponse) -> str | None:
    return response.msg.get_content_charset()


def _text_charset(response: http.client.HTTPResponse, content_type: str | None) -> str:
    """requests' `Response.text` encoding, for the media types Vault and proxies send."""
    charset = _charset(response)
    if charset:
        return charset
    if content_type and "text" in content_type:
        return "ISO-8859-1"
    return "utf-8"


def _close_all(idle: list[http.client.HTTPConnection], lock: threading.Lock) -> None:
    with lock:
        connections = list(idle)
        idle.clear()
    for connection in connections:
        connection.close()
