"""Store faults are one-line errors naming the cause, exit 1, and change nothing.

A read-only file system and a full disk are real tmpfs mounts; a corrupted file has its
pages overwritten; a newer schema is one a later smtpcfg would have migrated to.
"""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.delivery.conftest import Delivery
from tests.delivery.reconnect import runner_outlives
from tests.support.cli import Result
from tests.support.manifests import user, write_manifests
from tests.support.smtp import SmtpSink
from tests.support.stores import POSTGRES_URL, backend, execute

OUTBOX_TABLES = ("outbox_jobs", "outbox_attachments", "outbox_attempts")


def all_rows(url: str) -> list[Any]:
    tables = ("resources", "audit_log", "store_info", "schema_migrations", *OUTBOX_TABLES)
    return [execute(url, [f"SELECT * FROM {table} ORDER BY 1, 2"]) for table in tables]


def commands(delivery: Delivery, job: int) -> dict[str, list[str | Path]]:
    """Every command that touches the store; `apply` and `outbox add` have something to
    write, and `deliver --once` has a due job."""
    manifests = delivery.workdir / "manifests" / "smtp.yaml"
    changed = delivery.workdir / "changed" / "smtp.yaml"
    if not changed.exists():
        documents = [*_documents(manifests), user("joining", "joining@acme.example")]
        write_manifests(changed, documents)
    attachment = delivery.workdir / "INV-9.pdf"
    attachment.write_bytes(b"%PDF-1.4 " + b"x" * 4000)
    return {
        "outbox add": [
            "outbox",
            "add",
            "--purpose",
            "invoice",
            "--template",
            "invoice",
            "--to",
            "jane@customer.example",
            "--account",
            "A-1",
            "--invoice",
            "INV-9",
            "--var",
            "name=Jane",
            "--attach",
            attachment,
        ],
        "deliver": delivery.deliver_args("--once"),
        "apply": ["apply", "-f", changed, "--auto-approve"],
        "get": ["get"],
        "export": ["export"],
        "history": ["history"],
        "plan": ["plan", "-f", changed],
        "outbox list": ["outbox", "list"],
        "outbox show": ["outbox", "show", str(job)],
    }


WRITES = ("outbox add", "deliver", "apply")


def _documents(path: Path) -> list[dict[str, Any]]:
    import yaml

    return list(yaml.safe_load_all(path.read_text(encoding="utf-8")))


def error_line(result: Result) -> str:
    """The one error line (deliver's event log may come before it)."""
    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    [line] = [line for line in lines if line.startswith("Error: ")]
    assert lines[-1] == line, lines
    return line


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a disk that fills up, and can be made read-only."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mount_point],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        print(f"SKIPPED: cannot mount a tmpfs here: {mounted.stderr.strip()}")
        pytest.skip(f"mounting a tmpfs is not permitted here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", mount_point], check=False)


def move_store_to(delivery: Delivery, store_url: str, folder: Path) -> str:
    """Copy the SQLite store into `folder`; point the CLI there; return the new URL."""
    source = Path(store_url.removeprefix("sqlite:///"))
    target = folder / "store.db"
    target.write_bytes(source.read_bytes())
    target.chmod(0o600)
    url = f"sqlite:///{target}"
    delivery.cli.env["SMTPCFG_STORE"] = url
    return url


def digest(url: str) -> str:
    return hashlib.sha256(Path(url.removeprefix("sqlite:///")).read_bytes()).hexdigest()


def test_a_newer_schema_is_refused_by_every_command(delivery: Delivery, store_url: str) -> None:
    job = delivery.add_invoice("INV-1")
    execute(
        store_url,
        [
            "INSERT INTO schema_migrations (version, applied_at) VALUES (99, "
            + ("'2030-01-01'" if backend(store_url) == "sqlite" else "now()")
            + ")"
        ],
    )
    before = all_rows(store_url)

    for name, args in commands(delivery, job).items():
        line = error_line(delivery.run(*args))
        assert "has schema version 99, newer than this smtpcfg knows" in line, name
        assert "upgrade smtpcfg" in line, name

    assert all_rows(store_url) == before


#: Files are SQLite's: PostgreSQL's disk and files are its server's business.
sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@sqlite_only
def test_a_read_only_store_refuses_writes_and_still_reads(
    delivery: Delivery, store_url: str, tmpfs: Path
) -> None:
    job = delivery.add_invoice("INV-1")
    url = move_store_to(delivery, store_url, tmpfs)
    subprocess.run(["mount", "-o", "remount,ro", tmpfs], check=True)
    before = digest(url)

    for name, args in commands(delivery, job).items():
        result = delivery.run(*args)
        if name in WRITES:
            line = error_line(result)
            assert f"store {url}: the store is read-only" in line, (name, line)
        else:
            assert result.code == 0, (name, result.output)

    assert digest(url) == before
    assert delivery.show(job)["status"] == "queued"


@sqlite_only
def test_a_full_disk_is_reported_as_such_and_changes_nothing(
    delivery: Delivery, store_url: str, tmpfs: Path
) -> None:
    job = delivery.add_invoice("INV-1")
    url = move_store_to(delivery, store_url, tmpfs)
    filler = tmpfs / "filler"
    with filler.open("wb") as file, pytest.raises(OSError, match="No space left"):
        file.write(b"\0" * (2 << 20))
    before = all_rows(url)

    for name, args in commands(delivery, job).items():
        result = delivery.run(*args)
        if name in WRITES:
            line = error_line(result)
            # The first error, not a failed rollback after it.
            assert "the disk is full" in line, (name, line)
            assert "rollback" not in line, (name, line)
        else:
            assert result.code == 0, (name, result.output)

    assert all_rows(url) == before
    assert delivery.show(job)["status"] == "queued"


@sqlite_only
@pytest.mark.parametrize("damage", ["garbage", "pages"])
def test_a_corrupted_store_file_is_an_error(
    delivery: Delivery, store_url: str, damage: str
) -> None:
    job = delivery.add_invoice("INV-1")
    path = Path(store_url.removeprefix("sqlite:///"))
    data = path.read_bytes()
    # Garbage everywhere, or a valid header and schema page with every later page wiped.
    keep = 0 if damage == "garbage" else 4096
    path.write_bytes(data[:keep] + b"\xa5" * (len(data) - keep))
    before = digest(store_url)

    for name, args in commands(delivery, job).items():
        line = error_line(delivery.run(*args))
        assert f"store {store_url}" in line, (name, line)
        assert "the file is corrupted" in line, (name, line)

    assert digest(store_url) == before


postgresql_only = pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)


@postgresql_only
def test_runner_outlives_pg_terminate_backend(
    delivery: Delivery,
    smtp_server: SmtpSink,
    runners: list[subprocess.Popen[str]],
    store_url: str,
) -> None:
    """A failover or an administrator ends the runner's session: it reconnects."""
    name = f"smtpcfg-runner-{uuid.uuid4().hex[:12]}"

    def terminate() -> None:
        [(ended,)] = execute(
            POSTGRES_URL,
            [
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = ?"
            ],
            [name],
        )
        assert ended == 1
        smtp_server.release()

    runner_outlives(
        delivery, smtp_server, runners, terminate, store=f"{store_url}&application_name={name}"
    )


# The server ends the session of whoever reads `resources` or `audit_log`, or writes an
# outbox job: every command meets a lost connection halfway through.
CUT_CONNECTION = [
    "CREATE FUNCTION cut() RETURNS boolean LANGUAGE sql VOLATILE"
    " AS 'SELECT pg_terminate_backend(pg_backend_pid())'",
    "CREATE FUNCTION cut_row() RETURNS trigger LANGUAGE plpgsql"
    " AS 'BEGIN PERFORM cut(); RETURN NEW; END'",
    "CREATE TRIGGER cut BEFORE INSERT OR UPDATE ON outbox_jobs"
    " FOR EACH ROW EXECUTE FUNCTION cut_row()",
    *(
        statement
        for table in ("resources", "audit_log", "outbox_attempts")
        for statement in (
            f"ALTER TABLE {table} RENAME TO {table}_rows",
            f"CREATE VIEW {table} AS SELECT * FROM {table}_rows WHERE cut()",
        )
    ),
]
MEND_CONNECTION = [
    *(
        statement
        for table in ("resources", "audit_log", "outbox_attempts")
        for statement in (f"DROP VIEW {table}", f"ALTER TABLE {table}_rows RENAME TO {table}")
    ),
    "DROP TRIGGER cut ON outbox_jobs",
    "DROP FUNCTION cut_row()",
    "DROP FUNCTION cut()",
]


@postgresql_only
def test_a_lost_connection_is_a_one_line_error(delivery: Delivery, store_url: str) -> None:
    sent = delivery.add_invoice("INV-1")
    delivery.run(*delivery.deliver_args("--once"))  # an attempt for outbox show to read
    delivery.add_invoice("INV-2")  # due, for deliver
    every = commands(delivery, sent)
    before = all_rows(store_url)
    execute(store_url, CUT_CONNECTION)
    try:
        for name, args in every.items():
            line = error_line(delivery.run(*args))
            assert "terminating connection due to administrator command" in line, (name, line)
            assert "Error: lost the connection to store postgresql://" in line or (
                name == "apply" and "apply failed and was rolled back" in line
            ), (name, line)
    finally:
        execute(store_url, MEND_CONNECTION)
    assert all_rows(store_url) == before
