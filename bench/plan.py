"""`smtpcfg plan` through the real CLI, against a bare PyYAML parse of the same files.

For each N: a folder of N SmtpSettings and N Users (one file per 100 of each, as teams
would keep them), applied to a SQLite store; then 10 % of the settings and 10 % of the
users are changed in the files, and `smtpcfg plan -f FOLDER` runs in a fresh process
(text output, secret checks against a local OpenBao dev server). Every SmtpSettings
has a username and a Vault password; they share N/100 distinct secrets (at least one),
as settings of one team share one mail account.

Baseline: a bare `python -c` process that reads the same files and parses them with
PyYAML's C loader (`yaml.load_all(text, Loader=yaml.CSafeLoader)`), nothing else.

Targets: plan <= 2.5 x the baseline at N = 10,000, and time(10,000) <= 12 x time(1,000).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import (
    Result,
    clean_env,
    document,
    emit,
    interleaved_medians,
    run_cli,
    run_python,
    workdir,
    write_yaml,
)

SIZES = (100, 1_000, 10_000)
SMOKE_SIZES = (3, 30)
PER_FILE = 100
RATIO_TARGET = 2.5
SCALING_TARGET = 12.0

BASELINE = """
import sys, pathlib, yaml
for path in sorted(pathlib.Path(sys.argv[1]).rglob('*.yaml')):
    for data in yaml.load_all(path.read_text(encoding='utf-8'), Loader=yaml.CSafeLoader):
        pass
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plan-sizes",
        type=_sizes,
        default=None,
        metavar="N,N,...",
        help=f"SmtpSettings per folder (default {','.join(map(str, SIZES))})",
    )


def run(args: argparse.Namespace) -> list[Result]:
    sizes: Sequence[int] = args.plan_sizes or (SMOKE_SIZES if args.smoke else SIZES)
    runs = args.runs or (1 if args.smoke else 5)
    from tests.support.openbao import start_openbao

    results = []
    with workdir("plan") as root:
        vault = start_openbao(root / "openbao")
        try:
            times: dict[int, float] = {}
            for n in sizes:
                result = _measure(root / f"n{n}", n, runs, vault)
                times[n] = result.seconds
                results.append(emit(result))
            if 1_000 in times and 10_000 in times:
                ratio = times[10_000] / times[1_000]
                results.append(
                    emit(
                        Result(
                            case="plan-scaling",
                            n=10_000,
                            seconds=times[10_000],
                            baseline_seconds=times[1_000],
                            ratio=ratio,
                            target=f"t(10k) <= {SCALING_TARGET:g} x t(1k)",
                            met=ratio <= SCALING_TARGET,
                            runs=runs,
                            extra={"baseline": "plan at N=1,000"},
                        )
                    )
                )
        finally:
            vault.stop()
    return results


def _measure(folder: Path, n: int, runs: int, vault: Any) -> Result:
    folder.mkdir(parents=True)
    distinct = max(1, n // 100)
    for j in range(distinct):
        vault.write(f"bench/smtp-{j}", {"password": f"not-a-real-password-{j}"})
    manifests = folder / "manifests"
    env = clean_env(
        folder,
        SMTPCFG_STORE=f"sqlite:///{folder / 'store.db'}",
        VAULT_ADDR=vault.addr,
        VAULT_TOKEN=vault.root_token,
    )
    write_folder(manifests, n, distinct, changed=False)
    run_cli(["init"], env=env, cwd=folder)
    run_cli(["apply", "-f", manifests, "--auto-approve", "--source", "bench"], env=env, cwd=folder)
    write_folder(manifests, n, distinct, changed=True)
    expected = f"Plan: 0 to create, {2 * (n // 10 + (1 if n % 10 else 0))} to update"

    def plan() -> None:
        output = run_cli(["plan", "-f", manifests], env=env, cwd=folder).stdout
        if expected not in output:
            raise RuntimeError(f"unexpected plan for N={n}: {output[-500:]}")

    def baseline() -> None:
        run_python(BASELINE, manifests)

    medians = interleaved_medians({"plan": plan, "baseline": baseline}, runs)
    ratio = medians["plan"] / medians["baseline"]
    documents = 2 * n
    return Result(
        case="plan",
        n=n,
        seconds=medians["plan"],
        baseline_seconds=medians["baseline"],
        ratio=ratio,
        target=f"<= {RATIO_TARGET:g} x baseline at N=10,000",
        met=ratio <= RATIO_TARGET if n == 10_000 else None,
        runs=runs,
        extra={
            "documents": documents,
            "files": (n + PER_FILE - 1) // PER_FILE,
            "changed": 2 * (n // 10 + (1 if n % 10 else 0)),
            "distinct_secrets": distinct,
            "baseline": "python -c: yaml.load_all(CSafeLoader) over the same files",
        },
    )


def write_folder(folder: Path, n: int, distinct: int, *, changed: bool) -> None:
    """N SmtpSettings and N Users in files of PER_FILE each; with `changed`, every
    tenth of each kind differs from the first version (port, display name)."""
    for start in range(0, n, PER_FILE):
        documents = []
        for i in range(start, min(n, start + PER_FILE)):
            touched = changed and i % 10 == 0
            documents.append(user_document(i, touched))
            documents.append(settings_document(i, distinct, touched))
        write_yaml(folder / f"team-{start // PER_FILE:04d}.yaml", documents)


def user_document(i: int, changed: bool = False) -> dict[str, Any]:
    return document(
        "User",
        f"user-{i:05d}",
        {
            "email": f"user-{i}@Example.COM",
            "displayName": f"User {i}{' (renamed)' if changed else ''}",
        },
    )


def settings_document(i: int, distinct: int, changed: bool = False) -> dict[str, Any]:
    return document(
        "SmtpSettings",
        f"smtp-{i:05d}",
        {
            "description": f"Invoices of team {i // PER_FILE}",
            "host": f"smtp-{i % 50}.Example.com",
            "port": 2525 if changed else 587,
            "startTlsOnly": True,
            "from": {"name": f"Billing {i}", "address": f"billing-{i}@example.com"},
            "username": f"mailer-{i}",
            "password": {"vault": {"path": f"secret/bench/smtp-{i % distinct}", "key": "password"}},
            "maxAttachmentSize": "10MiB",
            "notifyUser": f"user-{i:05d}",
        },
        labels={"team": f"team-{i // PER_FILE}"},
    )


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part)
