"""Vault, as users wait for it, against a local OpenBao dev server.

vault-plan: `smtpcfg plan -f FOLDER` (fresh process, empty SQLite store) for 100
SmtpSettings whose passwords are 100 distinct secrets, against the baseline of the same
plan with no Vault reference at all (no username, no password). What Vault adds to a
plan is the difference: hvac's import, the login, the pool, the reads.
Target: at most 0.1 s more than the plan with none. Reported beside it: the client CPU
that Vault adds to the plan process (user + system time of the `smtpcfg` processes), and
the wall time of `import hvac` alone in a bare interpreter, the floor under any plan that
reads through hvac in its own process.

vault-pool: N distinct references (KV v2 secrets `secret/bench/ref-I`, key `password`)
resolved by a fresh `VaultResolver` with its default pool of 8 reads in flight; the list
given holds every reference twice, and OpenBao's audit log must show exactly N reads:
each distinct reference read once. Baseline: a bare sequential loop, one hvac client,
one `read_secret_version` after the other. The resolver with a pool of 1 is reported
beside it, for what the pool buys.
Target: the pool >= 2 x faster than the sequential baseline at N = 1,000. Reported beside
it: the client's and OpenBao's CPU per read (in-process time of the baseline loop; the
server process's utime + stime from /proc), and from them the most any pool can gain on
this machine. The client's share is bound by the GIL to one core, and client and server
share the machine's cores: ceiling = (client + server) / max(client, (client + server) /
cores), reached only with perfect overlap and no cost for switching threads.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import (
    Result,
    clean_env,
    emit,
    interleaved_medians,
    run_cli,
    run_python,
    workdir,
    write_yaml,
)
from bench.plan import settings_document, user_document

N = 1_000
SMOKE_N = 10
TARGET_SPEEDUP = 2.0
PREFIX = "bench/ref-"

PLAN_SECRETS = 100
SMOKE_PLAN_SECRETS = 3
PLAN_TARGET_SECONDS = 0.1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vault-n", type=int, default=None, metavar="N", help=f"distinct references (default {N})"
    )


def run(args: argparse.Namespace) -> list[Result]:
    n = args.vault_n or (SMOKE_N if args.smoke else N)
    runs = args.runs or (1 if args.smoke else 5)
    from tests.support.openbao import start_openbao

    with workdir("vault") as root:
        server = start_openbao(root / "openbao")
        try:
            secrets = SMOKE_PLAN_SECRETS if args.smoke else PLAN_SECRETS
            plan = _plan(root / "plan", server, secrets, args.runs or (1 if args.smoke else 9))
            pool = _pool(server, n, runs)
        finally:
            server.stop()
    return [plan, pool]


def _plan(folder: Path, server: Any, secrets: int, runs: int) -> Result:
    """`smtpcfg plan` with `secrets` distinct Vault references, and with none."""
    for i in range(secrets):
        server.write(f"bench/plan-{i}", {"password": f"not-a-real-password-{i}"})
    with_vault, without = [], []
    for i in range(secrets):
        user = user_document(i)
        settings = settings_document(i, distinct=secrets)
        settings["spec"]["password"]["vault"]["path"] = f"secret/bench/plan-{i}"
        with_vault += [user, settings]
        bare = settings_document(i, distinct=secrets)
        del bare["spec"]["username"], bare["spec"]["password"]
        without += [user, bare]
    write_yaml(folder / "with" / "smtp.yaml", with_vault)
    write_yaml(folder / "without" / "smtp.yaml", without)
    env = clean_env(
        folder,
        SMTPCFG_STORE=f"sqlite:///{folder / 'empty.db'}",
        VAULT_ADDR=server.addr,
        VAULT_TOKEN=server.root_token,
    )
    run_cli(["init"], env=env, cwd=folder)
    expected = f"Plan: {2 * secrets} to create"

    cpu: dict[str, list[float]] = {"with": [], "without": []}

    def plan(name: str) -> None:
        before = _children_cpu()
        output = run_cli(["plan", "-f", folder / name], env=env, cwd=folder).stdout
        cpu[name].append(_children_cpu() - before)
        if expected not in output:
            raise RuntimeError(f"unexpected plan of {name}: {output[-500:]}")

    reads = server.count_reads("secret/data/bench/plan-")
    plan("with")
    if server.count_reads("secret/data/bench/plan-") - reads != secrets:
        raise RuntimeError("the plan did not read each secret once")
    medians = interleaved_medians(
        {
            "with": lambda: plan("with"),
            "without": lambda: plan("without"),
            "import-hvac": lambda: run_python("import hvac"),
            "bare": lambda: run_python("pass"),
        },
        runs,
    )
    extra = medians["with"] - medians["without"]
    cpu_extra = statistics.median(cpu["with"]) - statistics.median(cpu["without"])
    return emit(
        Result(
            case="vault-plan",
            n=secrets,
            seconds=medians["with"],
            baseline_seconds=medians["without"],
            ratio=medians["with"] / medians["without"],
            target=f"<= the plan without Vault + {PLAN_TARGET_SECONDS:g} s",
            met=extra <= PLAN_TARGET_SECONDS if secrets == PLAN_SECRETS else None,
            runs=runs,
            extra={
                "vault_seconds": round(extra, 4),
                "vault_client_cpu_seconds": round(cpu_extra, 4),
                "hvac_import_seconds": round(medians["import-hvac"] - medians["bare"], 4),
                "distinct_secrets": secrets,
                "baseline": "the same plan, SmtpSettings without username and password",
            },
        )
    )


def _pool(server: Any, n: int, runs: int) -> Result:
    import hvac

    from reconciler.model import VaultReference
    from reconciler.vault.client import VaultSettings
    from reconciler.vault.resolver import VaultResolver

    for i in range(n):
        server.write(f"{PREFIX}{i}", {"password": f"not-a-real-password-{i}"})
    references = [VaultReference(f"secret/{PREFIX}{i}", "password") for i in range(n)]
    settings = VaultSettings.from_environment(server.env())

    def resolve(concurrency: int) -> dict[Any, Any]:
        resolver = VaultResolver(settings)
        try:
            found = resolver.resolve_all(references * 2, concurrency)
        finally:
            resolver.close()
        failed = [str(v) for v in found.values() if isinstance(v, Exception)]
        if len(found) != n or failed:
            raise RuntimeError(f"{len(found)} resolved, failures: {failed[:3]}")
        return found

    client_cpu: list[float] = []
    server_cpu: list[float] = []

    def sequential() -> None:
        client = hvac.Client(url=server.addr, token=server.root_token)
        started, served = time.process_time(), _process_cpu(server.process.pid)
        for i in range(n):
            response = client.secrets.kv.v2.read_secret_version(
                path=f"{PREFIX}{i}", mount_point="secret", raise_on_deleted_version=True
            )
            assert response["data"]["data"]["password"]
        client_cpu.append((time.process_time() - started) / n)
        server_cpu.append((_process_cpu(server.process.pid) - served) / n)
        client.adapter.close()

    before = server.count_reads(f"secret/data/{PREFIX}")
    resolve(8)
    reads = server.count_reads(f"secret/data/{PREFIX}") - before
    medians = interleaved_medians(
        {
            "baseline": sequential,
            "pool": lambda: resolve(8),
            "pool1": lambda: resolve(1),
        },
        runs,
    )
    speedup = medians["baseline"] / medians["pool"]
    client, served = statistics.median(client_cpu), statistics.median(server_cpu)
    cores = os.cpu_count() or 1
    return emit(
        Result(
            case="vault-pool",
            n=n,
            seconds=medians["pool"],
            baseline_seconds=medians["baseline"],
            ratio=medians["pool"] / medians["baseline"],
            target=f">= {TARGET_SPEEDUP:g} x faster than sequential, each read once",
            met=(speedup >= TARGET_SPEEDUP if n >= N else None) if reads == n else False,
            runs=runs,
            extra={
                "speedup": round(speedup, 2),
                "references_per_second": round(n / medians["pool"]),
                "baseline_per_second": round(n / medians["baseline"]),
                "resolver_pool_1_seconds": round(medians["pool1"], 4),
                "client_cpu_ms_per_read": round(client * 1000, 3),
                "server_cpu_ms_per_read": round(served * 1000, 3),
                "ceiling_speedup": round(_ceiling(client, served, cores), 2),
                "cores": cores,
                "vault_reads": reads,
                "references_given": 2 * n,
                "concurrency": 8,
                "baseline": "sequential hvac read_secret_version loop",
            },
        )
    )


def _children_cpu() -> float:
    """User + system seconds of every finished child process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    """User + system seconds process `pid` has run (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ceiling(client: float, server: float, cores: int) -> float:
    """The most a pool can beat a sequential loop whose reads cost `client` seconds of
    GIL-bound client CPU and `server` seconds of server CPU, on `cores` shared cores."""
    work = client + server
    return work / max(client, work / cores) if client > 0 else float("inf")
