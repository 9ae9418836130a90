"""The audit log's hash chain through the real CLI: applies extend it, `history --verify`
finds records edited, removed or inserted with the `sqlite3` and `psql` clients."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.store.audit_chain import seal
from reconciler.store.base import AuditEntry, PendingAudit
from reconciler.store.open import open_store
from reconciler.store.rows import AUDIT_COLUMNS, audit_values
from tests.support.cli import Cli, Result
from tests.support.manifests import example_set, user, write_manifests
from tests.support.stores import backend, execute, older_store, postgres_schema, sqlite_url

HEAD = re.compile(r"Audit log head: (sha256:[0-9a-f]{64})")


def sql_client(url: str, statement: str) -> None:
    """Run `statement` as someone with write access to the database would: with the
    database's own command-line client, not through smtpcfg."""
    if backend(url) == "sqlite":
        command = ["sqlite3", url.removeprefix("sqlite:///"), statement]
    else:
        command = ["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", statement]
    subprocess.run(command, check=True, capture_output=True, timeout=30)


def three_applies(cli: Cli, tmp_path: Path) -> list[str]:
    """Three applies by the CLI; the head hash each printed."""
    heads = []
    for documents in (example_set(), example_set(port=2525), [*example_set(), user("bob")]):
        write_manifests(tmp_path / "m.yaml", documents)
        result = cli("apply", "-f", "m.yaml", "--auto-approve")
        assert result.code == 0, result.output
        heads.append(head_of(result))
    return heads


def head_of(result: Result) -> str:
    match = HEAD.search(result.stdout)
    assert match, result.output
    return match.group(1)


def verify(cli: Cli, *args: str) -> Result:
    return cli("history", "--verify", *args)


def test_applies_build_a_chain_that_verifies(cli: Cli, tmp_path: Path) -> None:
    heads = three_applies(cli, tmp_path)
    assert len(set(heads)) == 3
    result = verify(cli)
    assert result.code == 0, result.output
    assert f"Audit chain intact: 3 records verified, head {heads[-1]}." in result.stdout
    history = json.loads(cli("history", "-o", "json").stdout)
    assert [entry["hash"] for entry in history] == heads
    assert [entry["previousHash"] for entry in history][1:] == heads[:2]
    assert verify(cli, "--expect-head", heads[-1]).code == 0
    older = verify(cli, "--expect-head", heads[0].removeprefix("sha256:"))
    assert older.code == 0, older.output
    assert "The expected head is revision 1; 2 records appended since." in older.stdout
    report = json.loads(verify(cli, "-o", "json").stdout)
    assert report["intact"] is True and report["head"] == heads[-1] and report["records"] == 3


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE revision = 2", "revision 2 was changed"),
        (
            "UPDATE audit_log SET changes = '[]' WHERE revision = 1",
            "revision 1 was changed",
        ),
        ("DELETE FROM audit_log WHERE revision = 2", "revision 2 was removed"),
        ("DELETE FROM audit_log WHERE revision = 1", "revision 1 was removed"),
        ("DELETE FROM audit_log WHERE revision = 3", "revision 3 was removed"),
        (
            "UPDATE store_info SET store_id = 'another-store'",
            "revision 1 does not follow the chain's start",
        ),
        (
            "UPDATE store_info SET audit_head = 'sha256:00'",
            "revision 3's hash sha256:",
        ),
        (
            f"INSERT INTO audit_log ({AUDIT_COLUMNS}) SELECT 7, applied_at, scope, actor,"
            " source, plan_digest, changes, secrets, apply_commit, ci_run, approved_by,"
            " previous_hash, record_hash FROM audit_log WHERE revision = 3",
            "revision 7 is out of order (the store is at revision 3): it was inserted",
        ),
        (
            f"INSERT INTO audit_log ({AUDIT_COLUMNS}) SELECT 0, applied_at, scope, actor,"
            " source, plan_digest, changes, secrets, apply_commit, ci_run, approved_by,"
            " previous_hash, record_hash FROM audit_log WHERE revision = 1",
            "revision 0 is out of order",
        ),
    ],
)
def test_verify_names_the_first_record_tampered_with(
    cli: Cli, tmp_path: Path, store_url: str, statement: str, named: str
) -> None:
    three_applies(cli, tmp_path)
    sql_client(store_url, statement)
    result = verify(cli)
    assert result.code == 1
    assert f"Error: audit chain broken: {named}" in result.stderr
    if "audit_head" in statement:
        assert "is not the head the store recorded (sha256:00)" in result.stderr
    assert "Traceback" not in result.output


def test_a_record_inserted_by_hand_has_no_hash(cli: Cli, tmp_path: Path, store_url: str) -> None:
    three_applies(cli, tmp_path)
    sql_client(
        store_url,
        f"INSERT INTO audit_log ({AUDIT_COLUMNS}) SELECT 4, applied_at, scope, 'mallory', source,"
        " plan_digest, changes, secrets, NULL, NULL, NULL, NULL, NULL FROM audit_log"
        " WHERE revision = 3",
    )
    sql_client(store_url, "UPDATE store_info SET revision = 4")
    result = verify(cli)
    assert result.code == 1
    assert "revision 4 has no hash: it was inserted or changed outside smtpcfg" in result.stderr


def test_a_record_moved_to_another_place_is_found(cli: Cli, tmp_path: Path, store_url: str) -> None:
    three_applies(cli, tmp_path)
    sql_client(store_url, "DELETE FROM audit_log WHERE revision = 2")
    sql_client(store_url, "UPDATE audit_log SET revision = 2 WHERE revision = 3")
    result = verify(cli)
    assert result.code == 1
    assert "revision 2 was changed" in result.stderr


def test_truncation_with_the_store_fixed_up_needs_the_anchor(
    cli: Cli, tmp_path: Path, store_url: str
) -> None:
    heads = three_applies(cli, tmp_path)
    sql_client(store_url, "DELETE FROM audit_log WHERE revision = 3")
    sql_client(store_url, f"UPDATE store_info SET revision = 2, audit_head = '{heads[1]}'")
    assert verify(cli).code == 0  # consistent again: only an anchor outside the store tells
    anchored = verify(cli, "--expect-head", heads[2])
    assert anchored.code == 1
    assert f"the expected head {heads[2]} is not in the chain" in anchored.stderr


def test_a_chain_rewritten_with_the_code_is_caught_by_the_anchor(
    cli: Cli, tmp_path: Path, store_url: str
) -> None:
    """Someone with smtpcfg's code can recompute every hash: the chain verifies, and only
    the head an apply printed (kept in a CI log) shows the rewrite."""
    heads = three_applies(cli, tmp_path)
    store = open_store(store_url, create=False)
    try:
        chain, entries = store.chain_state(), store.history()
    finally:
        store.close()
    sql_client(store_url, "DELETE FROM audit_log")
    head = None
    for entry in entries:
        forged = seal(
            PendingAudit(
                entry.scope,
                "mallory" if entry.revision == 2 else entry.actor,
                entry.source,
                entry.plan_digest,
                entry.changes,
                entry.secrets,
                entry.context,
            ),
            entry.revision,
            entry.applied_at,
            replace(chain, head=head),
        )
        head = forged.record_hash
        insert_record(store_url, forged)
    execute(store_url, ["UPDATE store_info SET audit_head = ?"], [head])
    assert verify(cli).code == 0
    assert verify(cli, "--expect-head", heads[-1]).code == 1


def insert_record(url: str, entry: AuditEntry) -> None:
    """Write a record as a forger with smtpcfg's code would."""
    execute(
        url,
        [f"INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ({', '.join('?' * 13)})"],
        audit_values(entry, json.dumps),
    )


def test_a_record_replaced_with_a_hash_of_its_own_breaks_the_next_link(
    cli: Cli, tmp_path: Path, store_url: str
) -> None:
    three_applies(cli, tmp_path)
    store = open_store(store_url, create=False)
    try:
        chain, entries = store.chain_state(), store.history()
    finally:
        store.close()
    second = entries[1]
    forged = seal(
        PendingAudit(
            second.scope, "mallory", second.source, second.plan_digest, [], [], second.context
        ),
        2,
        second.applied_at,
        replace(chain, head=entries[0].record_hash),
    )
    sql_client(store_url, "DELETE FROM audit_log WHERE revision = 2")
    insert_record(store_url, forged)
    result = verify(cli)
    assert result.code == 1
    assert "revision 3 does not follow revision 2: revision 2 was inserted or replaced" in (
        result.stderr
    )


def test_concurrent_applies_make_one_valid_chain(cli: Cli, tmp_path: Path) -> None:
    """Applies in parallel threads: each apply chains to the head inside the store's lock,
    so however they interleave the chain holds, one record per apply."""
    write_manifests(tmp_path / "m.yaml", example_set())
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    for index in range(4):
        write_manifests(tmp_path / f"p{index}.yaml", [*example_set(), user(f"u{index}")])
    results: list[Result] = []

    def apply(index: int) -> None:
        results.append(cli.subprocess("apply", "-f", f"p{index}.yaml", "--auto-approve"))

    threads = [threading.Thread(target=apply, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    applied = [result for result in results if result.code == 0]
    assert applied, [result.stderr for result in results]
    history = json.loads(cli("history", "-o", "json").stdout)
    assert len(history) == 1 + len(applied)
    result = verify(cli)
    assert result.code == 0, result.output


def test_an_older_store_starts_its_chain_at_the_migration(
    bare_cli: Cli, tmp_path: Path, old_url: str
) -> None:
    """Records from before migration 8 are kept, and said not to be covered."""
    execute(
        old_url,
        [
            "INSERT INTO audit_log (revision, applied_at, scope, actor, source, plan_digest,"
            " changes, secrets) VALUES (1, '2026-01-01T00:00:00Z', 'default', 'old', 'git:1',"
            " 'sha256:00', '[]', '[]')",
            "UPDATE store_info SET revision = 1, write_id = 'w'",
        ],
    )
    cli = Cli(tmp_path, {**bare_cli.env, "SMTPCFG_STORE": old_url})
    first = verify(cli)
    assert first.code == 0, first.output
    assert "Revision 1 predates the hash chain, which this store got when it was migrated at" in (
        first.stdout
    )
    assert "Audit chain intact: 0 records verified, head (none yet)." in first.stdout
    write_manifests(tmp_path / "m.yaml", example_set())
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    after = verify(cli)
    assert after.code == 0, after.output
    assert "Audit chain intact: 1 record verified" in after.stdout
    sql_client(old_url, "UPDATE audit_log SET actor = 'mallory' WHERE revision = 1")
    assert verify(cli).code == 0  # before the chain: not covered, as the README says
    sql_client(old_url, "UPDATE audit_log SET actor = 'mallory' WHERE revision = 2")
    assert "revision 2 was changed" in verify(cli).stderr
    sql_client(old_url, "UPDATE store_info SET audit_chain_start = 0")
    assert verify(cli).code == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def old_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store left by an smtpcfg that knew migrations up to 6 (before the chain)."""
    if request.param == "sqlite":
        yield older_store(sqlite_url(tmp_path), 6)
        return
    with postgres_schema(initialise=False) as url:
        yield older_store(url, 6)


def test_verify_refuses_filters_and_bad_heads(cli: Cli) -> None:
    with_filter = cli("history", "--verify", "--actor", "x")
    assert with_filter.code == 1 and "takes no filters" in with_filter.stderr
    bad = cli("history", "--verify", "--expect-head", "abc")
    assert bad.code == 1 and "'abc' is not a head hash" in bad.stderr
    empty = verify(cli)
    assert empty.code == 0 and "0 records verified" in empty.stdout


def test_verify_while_applies_land_reports_no_false_break(cli: Cli, tmp_path: Path) -> None:
    """The chain's state and the records are read apart; an apply between the reads must
    not look like a removed or inserted record."""
    for index in range(6):
        write_manifests(tmp_path / f"a{index}.yaml", [user(f"u{index}")])
    stop = threading.Event()
    applies: list[Result] = []

    def keep_applying() -> None:
        for index in range(6):
            applies.append(cli.subprocess("apply", "-f", f"a{index}.yaml", "--auto-approve"))
        stop.set()

    applier = threading.Thread(target=keep_applying)
    applier.start()
    verifies = []
    while not stop.is_set():
        verifies.append(cli.subprocess("history", "--verify"))
    applier.join()
    assert [result.code for result in applies] == [0] * 6, [r.stderr for r in applies]
    assert verifies and all(result.code == 0 for result in verifies), [
        result.stderr for result in verifies if result.code
    ]
    assert "6 records verified" in verify(cli).stdout
