"""KV reads over kept-alive http.client connections (reconciler/vault/kv_http.py): the
connections are reused, every answer and failure reads as it does through hvac, and
whatever requests would do differently (a proxy) sends the reads through hvac."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from reconciler.model import VaultReference
from reconciler.vault import kv_http
from reconciler.vault.client import VaultSettings, make_client
from reconciler.vault.errors import VaultFailure, transport_errors
from reconciler.vault.kv_http import KvReader
from reconciler.vault.resolver import VaultLookupError, VaultResolver
from tests.support.openbao import OpenBao, start_openbao
from tests.vault.fake_servers import Answer, fake_vault, forwarding_proxy, secret_answer

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests set the proxy variables they need; the caller's own must not interfere."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def requests_seen(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs requests was asked to GET, in order."""
    seen: list[str] = []
    original = requests.Session.request

    def request(self: requests.Session, method: str, url: str, *args: Any, **kw: Any) -> Any:
        if method.upper() == "GET":
            seen.append(url)
        return original(self, method, url, *args, **kw)

    monkeypatch.setattr(requests.Session, "request", request)
    return seen


def reader_of(resolver: VaultResolver) -> KvReader:
    reader = resolver._reader
    assert reader is not None
    return reader


def outcome(settings: VaultSettings, reference: VaultReference) -> tuple[Any, ...]:
    """What one fresh resolver makes of the reference: its value, or its error."""
    result = VaultResolver(settings).resolve_all([reference])[reference]
    if isinstance(result, VaultLookupError):
        return ("error", result.reason, str(result))
    return ("value", result.version, result.value.reveal())


# --- against OpenBao -----------------------------------------------------------------


def test_reads_reuse_kept_alive_connections(
    openbao: OpenBao, requests_seen: list[str]
) -> None:
    paths = [openbao.fresh_path() for _ in range(12)]
    for number, path in enumerate(paths):
        openbao.write(path, {"password": f"pw-{number}"})
    references = [VaultReference(f"secret/{path}", "password") for path in paths]
    resolver = VaultResolver(openbao.settings())

    first = resolver.resolve_all(references[:6], concurrency=1)
    reader = reader_of(resolver)
    assert reader.direct
    assert reader.connections_opened == 1
    resolver.resolve_all(references[6:], concurrency=4)
    opened = reader.connections_opened
    assert 1 <= opened <= 4
    again = resolver.resolve_all(references, concurrency=1)

    assert reader.connections_opened == opened  # kept alive from one call to the next
    assert [r.value.reveal() for r in first.values()] == [f"pw-{n}" for n in range(6)]  # type: ignore[union-attr]
    assert [r.value.reveal() for r in again.values()] == [f"pw-{n}" for n in range(12)]  # type: ignore[union-attr]
    assert [openbao.count_reads(f"secret/data/{path}") for path in paths] == [2] * 12
    # requests made only the mount look-up; the reads went over the kept-alive connections.
    assert [url for url in requests_seen if "/secret/data/" in url] == []
    assert [url for url in requests_seen if "/sys/internal/ui/mounts/" in url] == [
        f"{openbao.addr}/v1/sys/internal/ui/mounts/secret/{paths[0]}"
    ]


def test_the_token_shows_nowhere(openbao: OpenBao) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "pw"})
    resolver = VaultResolver(openbao.settings())
    resolver.resolve(VaultReference(f"secret/{path}", "password"))
    reader = reader_of(resolver)

    assert openbao.root_token not in repr(reader) + repr(resolver) + str(vars(resolver))
    with pytest.raises(VaultLookupError) as caught:
        resolver.resolve(VaultReference(f"secret/{openbao.fresh_path()}", "password"))
    assert openbao.root_token not in str(caught.value)


def test_a_connection_dropped_while_idle_is_replaced(openbao: OpenBao) -> None:
    first, second = openbao.fresh_path(), openbao.fresh_path()
    openbao.write(first, {"password": "first-pw"})
    openbao.write(second, {"password": "second-pw"})
    resolver = VaultResolver(openbao.settings())
    resolver.resolve(VaultReference(f"secret/{first}", "password"))
    reader = reader_of(resolver)
    for connection in reader._idle:  # as if the server had closed them (idle timeout)
        assert connection.sock is not None
        connection.sock.shutdown(socket.SHUT_RDWR)

    resolved = resolver.resolve(VaultReference(f"secret/{second}", "password"))

    assert resolved.value.reveal() == "second-pw"
    assert reader.connections_opened == 2
    assert openbao.count_reads(f"secret/data/{second}") == 1


def test_sealed_then_stopped_after_the_mount_look_up(tmp_path: Path) -> None:
    """Failures the kept-alive path meets itself: the mount is known, hvac asks nothing."""
    server = start_openbao(tmp_path / "openbao")
    try:
        for name in ("a", "b", "c"):
            server.write(f"smtp/{name}", {"password": f"pw-{name}"})
        resolver = VaultResolver(server.settings())
        assert resolver.resolve(VaultReference("secret/smtp/a", "password")).value.reveal()

        server.seal()
        sealed = resolver.resolve_all([VaultReference("secret/smtp/b", "password")])
        server.stop()
        gone = resolver.resolve_all([VaultReference("secret/smtp/c", "password")])
    finally:
        server.stop()

    [sealed_error], [gone_error] = sealed.values(), gone.values()
    assert isinstance(sealed_error, VaultLookupError)
    assert sealed_error.reason == "sealed"
    assert str(sealed_error) == (
        f"vault secret/smtp/b#password: Vault at {server.addr} is sealed (unseal it first)"
    )
    assert isinstance(gone_error, VaultLookupError)
    assert gone_error.reason == "unreachable"
    assert str(gone_error) == (
        f"vault secret/smtp/c#password: cannot reach Vault at {server.addr}: Connection refused"
    )


# --- transport failures and TLS, word for word as through hvac -----------------------


def hvac_failure(settings: VaultSettings, url: str) -> VaultFailure:
    with pytest.raises(VaultFailure) as caught, transport_errors(settings.addr, settings.timeout):
        make_client(settings).adapter.get(url)
    return caught.value


def direct_failure(settings: VaultSettings, url: str) -> VaultFailure:
    reader = KvReader(settings, make_client(settings))
    assert reader.direct
    with pytest.raises(VaultFailure) as caught:
        reader.get(url)
    return caught.value


@pytest.mark.parametrize("vault", ["unreachable_vault", "silent_vault"])
def test_transport_failures_read_as_through_hvac(
    request: pytest.FixtureRequest, vault: str
) -> None:
    addr = request.getfixturevalue(vault)
    settings = VaultSettings.from_environment(
        {"VAULT_ADDR": addr, "VAULT_TOKEN": "any", "VAULT_CLIENT_TIMEOUT": "0.2"}
    )
    url = "/v1/secret/data/smtp/a"

    direct, hvac = direct_failure(settings, url), hvac_failure(settings, url)

    assert (direct.reason, direct.detail) == (hvac.reason, hvac.detail)
    assert direct.detail in (
        f"cannot reach Vault at {addr}: Connection refused",
        f"Vault at {addr} did not answer within 0.2s",
    )


def test_untrusted_certificate_reads_as_through_hvac(openbao_tls: OpenBao) -> None:
    env = openbao_tls.env()
    del env["VAULT_CACERT"]
    settings = VaultSettings.from_environment(env)
    url = "/v1/secret/data/smtp/a"

    direct, hvac = direct_failure(settings, url), hvac_failure(settings, url)

    assert (direct.reason, direct.detail) == (hvac.reason, hvac.detail)
    assert direct.detail.startswith(f"TLS connection to Vault at {openbao_tls.addr} failed: ")


@pytest.mark.parametrize("verify", ["cacert", "skip-verify"])
def test_reads_over_tls_on_kept_alive_connections(
    openbao_tls: OpenBao, verify: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = openbao_tls.fresh_path()
    openbao_tls.write(path, {"password": "tls-kept-pw"})
    env = openbao_tls.env()
    if verify == "skip-verify":
        del env["VAULT_CACERT"]
        env["VAULT_SKIP_VERIFY"] = "1"
    resolver = VaultResolver(VaultSettings.from_environment(env))
    references = [VaultReference(f"secret/{path}", "password", version=v) for v in (None, 1)]

    results = resolver.resolve_all(references, concurrency=1)

    assert [r.value.reveal() for r in results.values()] == ["tls-kept-pw"] * 2  # type: ignore[union-attr]
    reader = reader_of(resolver)
    assert reader.direct
    assert reader.connections_opened == 1
    capsys.readouterr()


# --- every answer, read as through hvac (a stand-in Vault) ---------------------------

GOOD = Answer.json(200, secret_answer({"password": "fake-pw"}, version=4))

ANSWERS: dict[str, Answer] = {
    "good": GOOD,
    "chunked": Answer.json(200, secret_answer({"password": "chunked-pw"}), chunked=True),
    "closing": Answer.json(200, secret_answer({"password": "closing-pw"}), close=True),
    "charset": Answer.json(200, secret_answer({"password": "cs-pw"}),
                           headers={"Content-Type": "application/json; charset=utf-8"}),
    "bad-utf8": Answer(200, b'{"data": {"data": {"password": "x\xffy"}, "metadata": '
                            b'{"version": 1}}}', {"Content-Type": "application/json"}),
    "not-json": Answer(200, b"<html>hello</html>", {"Content-Type": "text/html"}),
    "json-list": Answer.json(200, ["data"]),
    "no-metadata": Answer.json(200, {"data": {"data": {"password": "x"}}}),
    "no-content": Answer(204),
    "denied": Answer.json(403, {"errors": ["1 error occurred:\n\t* permission denied\n\n"]}),
    "missing": Answer.json(404, {"errors": []}),
    "missing-text": Answer(404, b"not found", {"Content-Type": "text/plain"}),
    "deleted": Answer.json(404, {"data": {"data": None, "metadata": {
        "deletion_time": "2026-01-01T00:00:00Z", "destroyed": False, "version": 3}}}),
    "destroyed": Answer.json(404, {"data": {"data": None, "metadata": {
        "deletion_time": "", "destroyed": True, "version": 2}}}),
    "bad-request": Answer.json(400, {"errors": ["invalid version"]}),
    "unauthorized": Answer.json(401, {"errors": ["token expired"]}),
    "throttled": Answer.json(429, {"errors": ["request path: rate limit quota exceeded"]}),
    "server-error": Answer(500, b"boom", {"Content-Type": "text/plain"}),
    "bad-gateway": Answer(502, b"<html>bad gateway</html>", {"Content-Type": "text/html"}),
    "sealed": Answer.json(503, {"errors": ["Vault is sealed"]}),
    "sealed-text": Answer(503, b"Vault is sealed", {"Content-Type": "text/plain"}),
    "standby": Answer.json(503, {"errors": ["node is not active"]}),
    "errors-not-a-list": Answer.json(503, {"errors": []}),
    "teapot": Answer(418, b"short and stout"),
    "moved": Answer(307, b"", {"Location": "/v1/secret/data/good"}),
}


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Any]:
    with fake_vault() as server:
        server.answers.update(ANSWERS)
        yield server


def fake_settings(vault: Any, tmp_path: Path) -> VaultSettings:
    return VaultSettings.from_environment(
        {"VAULT_ADDR": vault.url, "VAULT_TOKEN": "fake-token", "HOME": str(tmp_path)}
    )


def direct_and_hvac(
    vault: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    settings = fake_settings(vault, tmp_path)
    reference = VaultReference(f"secret/{name}", "password")
    direct = outcome(settings, reference)
    with monkeypatch.context() as patch:  # as when a proxy applies
        patch.setattr(kv_http, "_plain_enough", lambda *args: False)
        hvac = outcome(settings, reference)
    return direct, hvac


@pytest.mark.parametrize("name", list(ANSWERS))
def test_every_answer_reads_as_through_hvac(
    vault: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    direct, hvac = direct_and_hvac(vault, tmp_path, monkeypatch, name)

    assert direct == hvac
    assert "fake-token" not in str(direct)
    reads = vault.seen.agents(f"/v1/secret/data/{name}")
    # The first read is the kept-alive path's (no User-Agent), the second hvac's.
    assert reads[0] is None
    assert (reads[1] or "").startswith("python-requests/")


def test_what_the_answers_say(vault: Any, tmp_path: Path) -> None:
    """A few outcomes spelled out, so that "the same as hvac" is not "the same mistake"."""
    settings = fake_settings(vault, tmp_path)

    def read(name: str) -> tuple[Any, ...]:
        return outcome(settings, VaultReference(f"secret/{name}", "password"))

    addr = vault.url
    assert read("good") == ("value", 4, "fake-pw")
    assert read("chunked") == ("value", 1, "chunked-pw")
    assert read("bad-utf8") == ("value", 1, "x\ufffdy")
    assert read("moved") == ("value", 4, "fake-pw")
    assert read("not-json")[1:] == (
        "invalid-response",
        "vault secret/not-json#password: Vault's answer for secret/data/not-json is not understood",
    )
    assert read("denied")[1] == "permission-denied"
    assert read("deleted")[1:] == (
        "version-deleted",
        "vault secret/deleted#password: version 3 is deleted (undelete it, or pin another version)",
    )
    assert read("sealed")[1] == read("sealed-text")[1] == "sealed"
    assert read("standby")[2].endswith(f"Vault at {addr} is unavailable: node is not active")
    assert read("unauthorized")[2].endswith(
        f"unexpected answer from Vault at {addr}: Unauthorized: token expired"
    )
    assert read("teapot")[2].endswith(
        f"unexpected answer from Vault at {addr}: UnexpectedError: no details given"
    )


def test_a_connection_the_server_dropped_is_replaced(vault: Any, tmp_path: Path) -> None:
    vault.answers["drop"] = Answer.json(
        200, secret_answer({"password": "dropped-pw"}), drop=True
    )
    resolver = VaultResolver(fake_settings(vault, tmp_path))

    first = resolver.resolve(VaultReference("secret/drop", "password"))
    second = resolver.resolve(VaultReference("secret/good", "password"))

    assert (first.value.reveal(), second.value.reveal()) == ("dropped-pw", "fake-pw")
    assert reader_of(resolver).connections_opened == 2
    assert vault.seen.paths("/v1/secret/data/") == ["/v1/secret/data/drop", "/v1/secret/data/good"]


def test_closing_answers_are_followed_by_a_new_connection(vault: Any, tmp_path: Path) -> None:
    resolver = VaultResolver(fake_settings(vault, tmp_path))
    names = ["closing", "good", "closing", "chunked"]

    results = [resolver.resolve(VaultReference(f"secret/{n}", "password")) for n in names]

    assert [r.value.reveal() for r in results] == ["closing-pw", "fake-pw", "closing-pw",
                                                   "chunked-pw"]
    assert reader_of(resolver).connections_opened == 1  # http.client reconnects by itself
    assert vault.seen.paths("/v1/secret/data/") == [f"/v1/secret/data/{n}" for n in names]


def test_idle_connections_are_closed(vault: Any, tmp_path: Path) -> None:
    resolver = VaultResolver(fake_settings(vault, tmp_path))
    resolver.resolve_all([VaultReference(f"secret/{n}", "password") for n in ANSWERS], 4)
    reader = reader_of(resolver)
    idle = list(reader._idle)
    assert idle

    resolver.close()

    assert reader._idle == []
    assert all(connection.sock is None for connection in idle)


# --- proxies: requests' business -------------------------------------------------------


@pytest.mark.parametrize("variable", ["http_proxy", "HTTP_PROXY", "all_proxy"])
def test_a_proxy_for_vault_sends_every_read_through_hvac(
    openbao: OpenBao, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "proxied-pw"})
    with forwarding_proxy() as proxy:
        monkeypatch.setenv(variable, proxy.url)
        resolver = VaultResolver(openbao.settings())

        resolved = resolver.resolve(VaultReference(f"secret/{path}", "password"))

    assert resolved.value.reveal() == "proxied-pw"
    assert not reader_of(resolver).direct
    assert proxy.seen.paths("/v1/secret/data/") == [f"/v1/secret/data/{path}"]
    assert openbao.count_reads(f"secret/data/{path}") == 1


def test_no_proxy_for_vaults_host_keeps_the_direct_path(
    openbao: OpenBao, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = openbao.fresh_path()
    openbao.write(path, {"password": "bypass-pw"})
    with forwarding_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        resolver = VaultResolver(openbao.settings())

        resolved = resolver.resolve(VaultReference(f"secret/{path}", "password"))

    assert resolved.value.reveal() == "bypass-pw"
    assert reader_of(resolver).direct
    assert proxy.seen.requests == []


@pytest.mark.parametrize(
    ("addr", "env", "direct"),
    [
        ("https://vault.example:8200", {}, True),
        ("https://vault.example:8200", {"HTTPS_PROXY": "http://proxy:3128"}, False),
        ("https://vault.example:8200", {"HTTP_PROXY": "http://proxy:3128"}, True),
        ("http://vault.example:8200", {"HTTP_PROXY": "http://proxy:3128"}, False),
        ("https://vault.example:8200",
         {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": ".example"}, True),
        ("https://vault.example:8200", {"ALL_PROXY": "socks5://proxy:1080"}, False),
        ("https://user:pw@vault.example:8200", {}, False),
        ("https://vault.example:8200/prefix", {}, True),
    ],
)
def test_when_the_direct_path_is_taken(
    monkeypatch: pytest.MonkeyPatch, addr: str, env: dict[str, str], direct: bool
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = VaultSettings.from_environment({"VAULT_ADDR": addr, "VAULT_TOKEN": "t"})

    assert KvReader(settings, make_client(settings)).direct is direct


def test_an_address_with_a_path_prefix(vault: Any, tmp_path: Path) -> None:
    """hvac joins VAULT_ADDR's path and the API path; so does the direct path."""
    settings = VaultSettings.from_environment(
        {"VAULT_ADDR": f"{vault.url}/prefix/", "VAULT_TOKEN": "fake-token"}
    )
    reader = KvReader(settings, make_client(settings))

    with pytest.raises(Exception) as caught:  # the stand-in knows no prefix: 404
        reader.get("/v1/secret/data//good", version=2)

    assert type(caught.value).__name__ == "InvalidPath"
    assert vault.seen.paths() == ["/prefix/v1/secret/data/good?version=2"]
