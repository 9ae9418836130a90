"""How reads reach Vault: each reading thread over its own kept-alive connection, and
through the proxy the environment names (requests' rules, read once per client)."""

from __future__ import annotations

import pytest

from reconciler.model import VaultReference
from reconciler.vault.resolver import VaultResolver
from tests.support.openbao import OpenBao
from tests.vault.proxy import forwarding_proxy

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests set the proxy variables they need; the caller's own must not interfere."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def written(openbao: OpenBao, count: int) -> tuple[list[str], list[VaultReference]]:
    paths = [openbao.fresh_path() for _ in range(count)]
    for number, path in enumerate(paths):
        openbao.write(path, {"password": f"pw-{number}"})
    return paths, [VaultReference(f"secret/{path}", "password") for path in paths]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_each_reading_thread_keeps_its_connection_between_calls(
    openbao: OpenBao, concurrency: int
) -> None:
    paths, references = written(openbao, 12)
    resolver = VaultResolver(openbao.settings())

    first = resolver.resolve_all(references[:6], concurrency)
    second = resolver.resolve_all(references[6:], concurrency)
    again = resolver.resolve_all(references, concurrency)

    values = [r.value.reveal() for r in {**first, **second}.values()]  # type: ignore[union-attr]
    assert values == [f"pw-{n}" for n in range(12)]
    assert len(again) == 12
    assert [openbao.count_reads(f"secret/data/{path}") for path in paths] == [2] * 12
    first_ports = set().union(*(openbao.connections(f"secret/data/{p}") for p in paths[:6]))
    all_ports = set().union(*(openbao.connections(f"secret/data/{p}") for p in paths))
    assert 1 <= len(first_ports) <= concurrency
    assert all_ports == first_ports  # no new connection after the first call
    resolver.close()


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "all_proxy"])
def test_a_proxy_for_vault_carries_the_reads(
    openbao: OpenBao, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    paths, references = written(openbao, 2)
    with forwarding_proxy() as proxy:
        monkeypatch.setenv(variable, proxy.url)
        results = VaultResolver(openbao.settings()).resolve_all(references)

    assert [r.value.reveal() for r in results.values()] == ["pw-0", "pw-1"]  # type: ignore[union-attr]
    assert sorted(p for p in proxy.paths if p.startswith("/v1/secret/data/")) == sorted(
        f"/v1/secret/data/{path}" for path in paths
    )
    assert [openbao.count_reads(f"secret/data/{path}") for path in paths] == [1, 1]


def test_no_proxy_for_vaults_host_bypasses_the_proxy(
    openbao: OpenBao, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, [reference] = written(openbao, 1)
    with forwarding_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        resolved = VaultResolver(openbao.settings()).resolve(reference)

    assert resolved.value.reveal() == "pw-0"
    assert proxy.paths == []
