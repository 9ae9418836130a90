"""Vault: distinct references resolved per second, against a local OpenBao dev server.

N distinct references (KV v2 secrets `secret/bench/ref-I`, key `password`) are resolved
by a fresh `VaultResolver` with its default pool of 8 reads in flight; the list given
holds every reference twice, and OpenBao's audit log must show exactly N reads: each
distinct reference read once.

Baseline: a bare sequential loop, one hvac client, one `read_secret_version` after the
other. The resolver with a pool of 1 is reported beside it, for what the pool buys.

Target: the pool >= 3 x faster than the sequential baseline at N = 1,000.
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.common import Result, emit, interleaved_medians, workdir

N = 1_000
SMOKE_N = 10
TARGET_SPEEDUP = 3.0
PREFIX = "bench/ref-"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vault-n", type=int, default=None, metavar="N",
                        help=f"distinct references (default {N})")


def run(args: argparse.Namespace) -> list[Result]:
    n = args.vault_n or (SMOKE_N if args.smoke else N)
    runs = args.runs or (1 if args.smoke else 5)
    import hvac

    from reconciler.model import VaultReference
    from reconciler.vault.client import VaultSettings
    from reconciler.vault.resolver import VaultResolver
    from tests.support.openbao import start_openbao

    with workdir("vault") as root:
        server = start_openbao(root / "openbao")
        try:
            for i in range(n):
                server.write(f"{PREFIX}{i}", {"password": f"not-a-real-password-{i}"})
            references = [VaultReference(f"secret/{PREFIX}{i}", "password") for i in range(n)]
            settings = VaultSettings.from_environment(server.env())

            def resolve(concurrency: int) -> dict[Any, Any]:
                found = VaultResolver(settings).resolve_all(references * 2, concurrency)
                failed = [str(v) for v in found.values() if isinstance(v, Exception)]
                if len(found) != n or failed:
                    raise RuntimeError(f"{len(found)} resolved, failures: {failed[:3]}")
                return found

            def sequential() -> None:
                client = hvac.Client(url=server.addr, token=server.root_token)
                for i in range(n):
                    response = client.secrets.kv.v2.read_secret_version(
                        path=f"{PREFIX}{i}", mount_point="secret", raise_on_deleted_version=True)
                    assert response["data"]["data"]["password"]
                client.adapter.close()

            before = server.count_reads(f"secret/data/{PREFIX}")
            resolve(8)
            reads = server.count_reads(f"secret/data/{PREFIX}") - before
            medians = interleaved_medians({
                "baseline": sequential,
                "pool": lambda: resolve(8),
                "pool1": lambda: resolve(1),
            }, runs)
        finally:
            server.stop()
    speedup = medians["baseline"] / medians["pool"]
    return [emit(Result(
        case="vault-pool", n=n, seconds=medians["pool"], baseline_seconds=medians["baseline"],
        ratio=medians["pool"] / medians["baseline"],
        target=f">= {TARGET_SPEEDUP:g} x faster than sequential, each read once",
        met=(speedup >= TARGET_SPEEDUP if n >= N else None) if reads == n else False,
        runs=runs,
        extra={"speedup": round(speedup, 2),
               "references_per_second": round(n / medians["pool"]),
               "baseline_per_second": round(n / medians["baseline"]),
               "resolver_pool_1_seconds": round(medians["pool1"], 4),
               "vault_reads": reads, "references_given": 2 * n, "concurrency": 8,
               "baseline": "sequential hvac read_secret_version loop"},
    ))]
