"""A runner's Vault token lasts as long as the runner: AppRole tokens that expire every
few seconds are renewed and replaced without a failed attempt, a token file rewritten
by Vault Agent is picked up, and a refused token or path says which it is.

These tests are about Vault, not the store: they run on SQLite only.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.delivery.enqueue import enqueue
from reconciler.store.open import open_store
from tests.delivery.conftest import Delivery, wait_for
from tests.support.openbao import READ_ALL
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def queue(delivery: Delivery, number: int) -> int:
    store = open_store(delivery.cli.env["SMTPCFG_STORE"], create=False)
    try:
        return enqueue(
            store,
            purpose="notification",
            settings="primary",
            to=[f"user{number}@customer.example"],
            subject=f"Notice {number}",
            body="Hello.",
        )
    finally:
        store.close()


def stop(runner: subprocess.Popen[str]) -> None:
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=30) == 0


def events(delivery: Delivery) -> list[dict[str, Any]]:
    """The runner's JSON log, one event a line."""
    return [json.loads(line) for line in delivery.runner_log.splitlines()]


def test_approle_tokens_of_3_seconds_serve_a_runner_for_20_seconds_without_a_failure(
    delivery: Delivery, smtp_server: SmtpSink, runners: list[subprocess.Popen[str]]
) -> None:
    openbao = delivery.openbao
    mount = f"approle-{secrets.token_hex(4)}"  # its own, to count its logins
    role_id, secret_id = openbao.enable_approle(mount=mount, token_ttl="3s", token_max_ttl="6s")
    delivery.vault_env = {
        "VAULT_ADDR": openbao.addr,
        "SMTPCFG_VAULT_AUTH": "approle",
        "SMTPCFG_VAULT_AUTH_MOUNT": mount,
        "VAULT_ROLE_ID": role_id,
        "VAULT_SECRET_ID": secret_id,
    }
    renewals = openbao.count_requests("auth/token/renew-self")
    reads = openbao.count_reads(f"secret/data/{delivery.vault_path}")
    runner = delivery.start_runner("--poll-interval", "0.2", "--log-format", "json")
    runners.append(runner)

    # A job now and then for 20 s: the runner hangs up between them, so each job
    # connects again and reads the password from Vault with the token of the moment.
    started, sent = time.monotonic(), 0
    while time.monotonic() - started < 20:
        queue(delivery, sent)
        sent += 1
        wait_for(lambda n=sent: len(smtp_server.messages) == n, f"message {sent}", timeout=15)
        time.sleep(0.5)
    stop(runner)

    logged = events(delivery)
    attempts = [e for e in logged if e["event"] == "attempt"]
    assert [e["status"] for e in attempts] == ["sent"] * sent, delivery.runner_log
    # One read a job; a read refused because the token ran out before its renewal (a
    # loaded machine) is read again once after a fresh login, which the runner logs.
    refused = [e for e in logged if "after Vault refused the token" in e.get("message", "")]
    assert openbao.count_reads(f"secret/data/{delivery.vault_path}") - reads == sent + len(refused)
    # 20 s of tokens that live at most 6 s: logins and renewals, seen by Vault and logged.
    logins = openbao.count_requests(f"auth/{mount}/login")
    assert logins >= 4
    assert openbao.count_requests("auth/token/renew-self") - renewals >= 3
    said = [e["vault"] for e in logged if "vault" in e]
    assert said.count("login") == logins
    assert said.count("renewal") >= 3
    assert secret_id not in delivery.runner_log


def test_a_token_file_rewritten_while_the_runner_runs_is_picked_up(
    delivery: Delivery,
    smtp_server: SmtpSink,
    runners: list[subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    openbao = delivery.openbao
    old, new = (openbao.token_with_policy(READ_ALL) for _ in range(2))
    sink = tmp_path / "agent" / "token"
    sink.parent.mkdir()
    sink.write_text(old, encoding="utf-8")
    delivery.vault_env = {"VAULT_ADDR": openbao.addr, "SMTPCFG_VAULT_TOKEN_FILE": str(sink)}
    runner = delivery.start_runner("--poll-interval", "0.2", "--log-format", "json")
    runners.append(runner)
    queue(delivery, 1)
    wait_for(lambda: len(smtp_server.messages) == 1, "the first message")

    written = sink.with_name("token.tmp")  # Vault Agent renames its new token into place
    written.write_text(f"{new}\n", encoding="utf-8")
    os.replace(written, sink)
    openbao.admin.auth.token.revoke(old)
    queue(delivery, 2)
    wait_for(lambda: len(smtp_server.messages) == 2, "the second message")
    stop(runner)

    logged = events(delivery)
    assert [e["status"] for e in logged if e["event"] == "attempt"] == ["sent", "sent"]
    [picked_up] = [e for e in logged if e.get("vault") == "token-file"]
    assert picked_up["message"].startswith(f"Vault: read a new token from the token file {sink}")
    assert old not in delivery.runner_log and new not in delivery.runner_log


@pytest.mark.parametrize("refusal", ["token-invalid", "permission-denied"])
def test_a_refused_token_and_a_refused_path_are_retried_and_say_which(
    delivery: Delivery, smtp_server: SmtpSink, refusal: str
) -> None:
    openbao = delivery.openbao
    if refusal == "token-invalid":
        token = openbao.token_with_policy(READ_ALL)
        openbao.admin.auth.token.revoke(token)
        detail = (
            "the Vault token from VAULT_TOKEN is invalid or expired (Vault refuses to "
            "look it up); set VAULT_TOKEN to a valid token"
        )
    else:
        token = openbao.token_with_policy('path "secret/data/other/*" { capabilities = ["read"] }')
        detail = (
            "permission denied: the token's policy grants no read on "
            f"secret/data/{delivery.vault_path}"
        )
    delivery.vault_env = {"VAULT_ADDR": openbao.addr, "VAULT_TOKEN": token}
    job = queue(delivery, 1)

    result = delivery.deliver_once("--max-attempts", "2")

    assert result.code == 1
    shown = delivery.show(job)
    assert (shown["status"], shown["attempts"]) == ("failed", 2)
    assert [a["outcome"] for a in shown["attemptLog"]] == [f"vault-{refusal}"] * 2
    assert shown["failure"] == (
        f"gave up after 2 attempts: vault secret/{delivery.vault_path}#password: {detail}"
    )
    assert smtp_server.messages == []
