"""examples/deploy/: the systemd unit passes `systemd-analyze verify`, and the Kubernetes
objects parse, probe what the runner serves and run command lines smtpcfg accepts (each
parsed by the real click CLI)."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from reconciler.cli.main import cli as smtpcfg
from tests.delivery.conftest import Delivery, wait_for
from tests.delivery.status_probe import get
from tests.support.cli import Cli
from tests.support.openbao import OpenBao
from tests.support.smtp import SmtpSink, free_port

DEPLOY = Path(__file__).parents[2] / "examples" / "deploy"
UNIT = DEPLOY / "smtpcfg-deliver.service"


def parse(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """The command `argv` (without the program name) names, and its parsed options, as
    smtpcfg's click CLI reads them; an option smtpcfg does not take fails the test."""
    group = click.Context(smtpcfg, info_name="smtpcfg")
    name, command, rest = smtpcfg.resolve_command(group, list(argv))
    assert name is not None
    assert command is not None
    with command.make_context(name, rest, parent=group) as context:
        return name, context.params


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser


def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: .ci/run installs the systemd package"
    program, *_ = shlex.split(unit()["Service"]["ExecStart"])
    # verify checks that ExecStart's program exists: point it at this checkout's smtpcfg,
    # and change nothing else.
    here = Path(sys.executable).with_name("smtpcfg")
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace(program, str(here)))
    assert copy.read_text().count(str(here)) == 1

    result = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_the_systemd_unit_restarts_runs_as_its_user_and_is_hardened() -> None:
    service = unit()["Service"]
    assert service["Restart"] == "on-failure"
    assert service["User"] == "smtpcfg"
    assert service["EnvironmentFile"] == "/etc/smtpcfg/deliver.env"
    for option in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert service[option] == "yes", option
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""
    # The stop timeout outlasts the message in flight: half the default --lease.
    assert int(service["TimeoutStopSec"]) > 300 / 2
    command, options = parse(shlex.split(service["ExecStart"])[1:])
    assert command == "deliver"
    assert options["status_address"] == ("127.0.0.1", 9464)
    assert options["log_format"] == "json"
    assert options["once"] is False
    env = (DEPLOY / "deliver.env.example").read_text()
    assert "SMTPCFG_STORE=" in env
    assert "VAULT_ADDR=" in env


def documents(name: str) -> list[dict[str, Any]]:
    with (DEPLOY / "kubernetes" / name).open() as file:
        return [d for d in yaml.safe_load_all(file) if d]


def test_the_deployment_probes_what_the_runner_serves(
    openbao: OpenBao,
    smtp_ca_file: str,
    sqlite_cli: Cli,
    smtp_server: SmtpSink,
    tmp_path: Path,
) -> None:
    [deployment] = documents("deliver-deployment.yaml")
    assert (deployment["apiVersion"], deployment["kind"]) == ("apps/v1", "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    argv = container["command"]
    assert argv[0] == "smtpcfg"
    command, options = parse(argv[1:])
    assert command == "deliver"
    host, port = options["status_address"]
    assert host == "0.0.0.0"  # noqa: S104 - the kubelet probes the pod's address
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    probes = {kind: container[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe")}
    assert {kind: probe["path"] for kind, probe in probes.items()} == {
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    assert {ports[probe["port"]] for probe in probes.values()} == {port}
    assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(
        port
    )
    assert spec["terminationGracePeriodSeconds"] > 300 / 2

    # The same command line, on loopback: what the probes ask for answers 200.
    delivery = Delivery(sqlite_cli, openbao, smtp_ca_file, tmp_path)
    delivery.apply(smtp_server)
    local = free_port()
    args = [a if a != f"{host}:{port}" else f"127.0.0.1:{local}" for a in argv[1:]]
    runner = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args, "--readiness-interval", "0.2"],
        cwd=sqlite_cli.cwd,
        env={**sqlite_cli.env, **delivery.vault_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for probe in probes.values():
            wait_for(lambda path=probe["path"]: get(local, path)[0] == 200, probe["path"])
        assert get(local, "/metrics")[0] == 200
    finally:
        runner.terminate()
        runner.wait(timeout=30)


def test_the_drift_cronjob_plans_with_the_detailed_exit_code() -> None:
    [cronjob] = documents("drift-cronjob.yaml")
    assert (cronjob["apiVersion"], cronjob["kind"]) == ("batch/v1", "CronJob")
    job = cronjob["spec"]["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert job["backoffLimit"] == 0  # one failed Job per drift, not several
    [container] = pod["containers"]
    assert container["command"][0] == "smtpcfg"
    command, options = parse(container["command"][1:])
    assert command == "plan"
    assert options["detailed_exitcode"] is True
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert set(options["paths"]) <= mounts
    [copy] = pod["initContainers"]
    assert {m["mountPath"] for m in copy["volumeMounts"]} >= set(options["paths"])


@pytest.mark.parametrize("argv", [["deliver", "--metrics-adr", "x:1"], ["plan", "--detailed"]])
def test_parse_refuses_what_smtpcfg_would_refuse(argv: list[str]) -> None:
    with pytest.raises(click.UsageError):
        parse(argv)
