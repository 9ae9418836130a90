"""Saved plans that CI can trust: apply checks a plan against the store, not only its
digest, and with a plan key only plans signed with it are applied.

Every forged plan here carries a correctly recomputed digest (its recipe is public), and
every refusal leaves the store exactly as it was.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from reconciler.model import ResourceKey
from reconciler.model.canonical import canonical_json
from reconciler.plan.model import digest_of
from reconciler.store.open import open_store
from tests.support.cli import Cli, Result
from tests.support.manifests import settings, template, user, write_manifests
from tests.support.stores import execute, postgres_schema, snapshot


def documents(**changes: Any) -> list[dict[str, Any]]:
    """The issue's set-up: a template that sends through `invoices-main`, and a spare."""
    main = {"port": 587, "notifyUser": "ops", **changes.pop("main", {})}
    found = [
        user("ops"),
        settings("invoices-main", **main),
        settings("spare", host="spare.example.com"),
        template("invoice", "invoices-main", subject="Invoice ${invoice}"),
    ]
    return [d for d in found if d["metadata"]["name"] not in changes.get("without", ())]


@pytest.fixture
def applied(cli: Cli, tmp_path: Path) -> Cli:
    write_manifests(tmp_path / "m.yaml", documents())
    result = cli("apply", "-f", "m.yaml", "--auto-approve")
    assert result.code == 0, result.output
    return cli


def save_plan(
    cli: Cli, docs: list[dict[str, Any]], name: str = "p.json", env: dict[str, str] | None = None
) -> dict[str, Any]:
    write_manifests(cli.cwd / "m.yaml", docs)
    result = cli("plan", "-f", "m.yaml", "--out", name, env=env)
    assert result.code == 0, result.output
    return json.loads((cli.cwd / name).read_text(encoding="utf-8"))


def forge(cli: Cli, plan: dict[str, Any], name: str = "p.json") -> None:
    """Write `plan` back with its digest recomputed by the published recipe."""
    body = {key: value for key, value in plan.items() if key not in ("digest", "signature")}
    plan["digest"] = digest_of(canonical_json(body))
    (cli.cwd / name).write_text(json.dumps(plan), encoding="utf-8")


def change_of(plan: dict[str, Any], name: str) -> dict[str, Any]:
    return next(change for change in plan["changes"] if change["name"] == name)


def stored_body(store_url: str, kind: str, name: str) -> dict[str, Any]:
    store = open_store(store_url, create=False)
    try:
        found = store.resource(ResourceKey(kind, name))
        assert found is not None
        return found.body()
    finally:
        store.close()


def refused(
    cli: Cli, store_url: str, message: str, *args: str, env: dict[str, str] | None = None
) -> Result:
    before = snapshot(store_url)
    result = cli("apply", "p.json", *args, env=env)
    assert result.code == 1, result.output
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(store_url) == before
    return result


def test_changed_delete_target_is_refused(applied: Cli, store_url: str) -> None:
    plan = save_plan(applied, documents(without=["spare"]))
    change_of(plan, "spare")["name"] = "invoices-main"
    forge(applied, plan)
    refused(
        applied,
        store_url,
        'SmtpSettings/invoices-main: the plan\'s "before" is not the'
        " store's row; nothing was changed",
    )


def test_changed_target_with_its_real_before_is_refused_as_dangling(
    applied: Cli, store_url: str
) -> None:
    plan = save_plan(applied, documents(without=["spare"]))
    delete = change_of(plan, "spare")
    delete["name"] = "invoices-main"
    delete["before"] = stored_body(store_url, "SmtpSettings", "invoices-main")
    delete["fields"] = [{"path": "spec.port", "before": 587}]
    forge(applied, plan)
    refused(
        applied,
        store_url,
        "the plan would leave references dangling: "
        "EmailTemplate/invoice: spec.smtpSettings refers to SmtpSettings/invoices-main",
    )


def test_changed_before_is_refused(applied: Cli, store_url: str) -> None:
    plan = save_plan(applied, documents(main={"port": 2525}))
    update = change_of(plan, "invoices-main")
    update["before"]["spec"]["port"] = 25
    update["fields"] = [{"path": "spec.port", "before": 25, "after": 2525}]
    forge(applied, plan)
    refused(
        applied,
        store_url,
        "SmtpSettings/invoices-main: the plan's \"before\" is not the store's row",
    )


def test_after_that_is_not_what_the_plan_shows_is_refused(applied: Cli, store_url: str) -> None:
    """A reviewer reads the field changes; a plan whose "after" says more is refused."""
    plan = save_plan(applied, documents(main={"port": 2525}))
    change_of(plan, "invoices-main")["after"]["spec"]["host"] = "attacker.example.net"
    forge(applied, plan)
    refused(
        applied,
        store_url,
        "SmtpSettings/invoices-main: the plan's update is not what the"
        " store calls for now (other field changes)",
    )


def test_forged_dangling_reference_is_refused(applied: Cli, store_url: str) -> None:
    plan = save_plan(
        applied,
        [*documents(without=["invoice"]), template("invoice", "invoices-main", subject="New")],
    )
    update = change_of(plan, "invoice")
    update["after"]["spec"]["smtpSettings"] = "nowhere"
    update["fields"].append(
        {"path": "spec.smtpSettings", "before": "invoices-main", "after": "nowhere"}
    )
    forge(applied, plan)
    refused(
        applied,
        store_url,
        "EmailTemplate/invoice: spec.smtpSettings refers to "
        "SmtpSettings/nowhere, which would no longer exist",
    )


def test_forged_resource_count_cannot_dodge_the_threshold(cli: Cli, store_url: str) -> None:
    users = [user(f"u{i:02d}") for i in range(20)]
    write_manifests(cli.cwd / "m.yaml", users)
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    plan = save_plan(cli, users[:12])  # deletes 8 of 20: over 30 %
    plan["store"]["resourceCount"] = 100
    forge(cli, plan)
    refused(
        cli, store_url, "the plan counts 100 resources of scope 'default', but the store holds 20"
    )
    plan["store"]["resourceCount"] = 20
    forge(cli, plan)
    refused(cli, store_url, "refusing to apply: the plan would delete 8 of 20 stored resources")


@contextmanager
def copy_of(store_url: str, folder: Path) -> Iterator[str]:
    """A copy of the store: the file, or every row in a schema of its own."""
    if store_url.startswith("sqlite"):
        shutil.copyfile(store_url.removeprefix("sqlite:///"), folder / "copy.db")
        yield f"sqlite:///{folder / 'copy.db'}"
        return
    original = store_url.rsplit("search_path%3D", 1)[1]
    with postgres_schema() as copy:
        execute(
            copy,
            [
                "DELETE FROM store_info",
                *(
                    f"INSERT INTO {table} SELECT * FROM {original}.{table}"
                    for table in ("store_info", "resources", "audit_log")
                ),
            ],
        )
        yield copy


def test_plan_from_a_diverged_copy_is_refused(applied: Cli, store_url: str, tmp_path: Path) -> None:
    """A copy keeps the store's id and revision; once both are written, they differ in
    their write id."""
    with copy_of(store_url, tmp_path) as copy:
        write_manifests(tmp_path / "m.yaml", documents(main={"port": 2525}))
        for target in (store_url, copy):
            result = applied("apply", "-f", "m.yaml", "--auto-approve", "--store", target)
            assert result.code == 0, result.output
        plan = save_plan(
            applied, [*documents(main={"port": 2525}), user("extra")], env={"SMTPCFG_STORE": copy}
        )
        assert execute(store_url, ["SELECT store_id, revision FROM store_info"]) == [
            (plan["store"]["id"], plan["store"]["revision"])
        ]
        refused(applied, store_url, "the plan was made against another copy of store")


def test_plan_from_an_unwritten_copy_applies(applied: Cli, store_url: str, tmp_path: Path) -> None:
    """Until either is written, a copy is the same store: its plan fits the original."""
    with copy_of(store_url, tmp_path) as copy:
        save_plan(applied, documents(main={"port": 2525}), env={"SMTPCFG_STORE": copy})
        result = applied("apply", "p.json")
        assert result.code == 0, result.output


# --- signed plans ------------------------------------------------------------------------


@pytest.fixture
def key() -> str:
    return f"plan-key-{secrets.token_hex(32)}"


def everything_written(cli: Cli, store_url: str, *results: Result) -> str:
    files = "".join(
        path.read_text(encoding="utf-8", errors="replace") for path in cli.cwd.glob("*.json")
    )
    rows = json.dumps(snapshot(store_url), default=str)
    return files + rows + "".join(result.output for result in results)


def test_signed_plan_applies_and_the_key_is_never_written(
    applied: Cli, store_url: str, key: str
) -> None:
    env = {"SMTPCFG_PLAN_KEY": key}
    write_manifests(applied.cwd / "m.yaml", documents(main={"port": 2525}))
    planned = applied("plan", "-f", "m.yaml", "--out", "p.json", env=env)
    assert "(signed with the plan key)" in planned.stdout
    plan = json.loads((applied.cwd / "p.json").read_text(encoding="utf-8"))
    assert plan["signature"].startswith("hmac-sha256:")
    result = applied("apply", "p.json", env=env)
    assert result.code == 0, result.output
    history = applied("history", "-o", "json", env=env)
    assert key not in everything_written(applied, store_url, planned, result, history)


def test_with_a_key_unsigned_and_badly_signed_plans_are_refused(
    applied: Cli, store_url: str, key: str
) -> None:
    env = {"SMTPCFG_PLAN_KEY": key}
    save_plan(applied, documents(main={"port": 2525}))
    refused(applied, store_url, "p.json: the plan is not signed, and a plan key is set", env=env)
    save_plan(
        applied,
        documents(main={"port": 2525}),
        env={"SMTPCFG_PLAN_KEY": f"another-{secrets.token_hex(32)}"},
    )
    refused(applied, store_url, "p.json: the plan's signature does not match", env=env)
    # Self-consistent edits (after and fields alike) fit the store; only the key tells.
    plan = save_plan(applied, documents(main={"port": 2525}), env=env)
    update = change_of(plan, "invoices-main")
    update["after"]["spec"]["port"] = 2526
    update["fields"] = [{"path": "spec.port", "before": 587, "after": 2526}]
    forge(applied, plan)
    refused(applied, store_url, "p.json: the plan's signature does not match", env=env)


def test_key_file_and_variable_are_the_same_key(applied: Cli, key: str) -> None:
    (applied.cwd / "plan.key").write_text(key + "\n", encoding="utf-8")
    write_manifests(applied.cwd / "m.yaml", documents(main={"port": 2525}))
    planned = applied("plan", "-f", "m.yaml", "--out", "p.json", "--plan-key-file", "plan.key")
    assert planned.code == 0, planned.output
    result = applied("apply", "p.json", env={"SMTPCFG_PLAN_KEY": key})
    assert result.code == 0, result.output


def test_signed_plan_without_a_key_applies_with_a_note(applied: Cli, key: str) -> None:
    save_plan(applied, documents(main={"port": 2525}), env={"SMTPCFG_PLAN_KEY": key})
    result = applied("apply", "p.json")
    assert result.code == 0, result.output
    assert "Note: p.json is signed, but no plan key is set" in result.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "SMTPCFG_PLAN_KEY is empty"),
        ("short", "the plan key is shorter than 32 bytes"),
    ],
)
def test_an_empty_or_short_key_is_an_error(
    applied: Cli, store_url: str, value: str, message: str
) -> None:
    write_manifests(applied.cwd / "m.yaml", documents(main={"port": 2525}))
    planned = applied("plan", "-f", "m.yaml", "--out", "p.json", env={"SMTPCFG_PLAN_KEY": value})
    assert planned.code == 1 and message in planned.stderr
    assert not (applied.cwd / "p.json").exists()
    save_plan(applied, documents(main={"port": 2525}))
    refused(applied, store_url, message, env={"SMTPCFG_PLAN_KEY": value})


# --- renames and the threshold -----------------------------------------------------------


def renamed(name: str, old: str) -> dict[str, Any]:
    document = user(name, f"{old}@example.com")
    document["metadata"]["annotations"] = {"smtpcfg.dev/renamed-from": old}
    return document


def test_renaming_every_resource_is_not_deleting_them(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", [user("a"), user("b")])
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    write_manifests(tmp_path / "m.yaml", [renamed("a2", "a"), renamed("b2", "b")])
    result = cli("apply", "-f", "m.yaml", "--auto-approve")
    assert result.code == 0, result.output
    assert "2 replaced" in result.stdout


def test_threshold_message_counts_replaces_as_replaces(cli: Cli, tmp_path: Path) -> None:
    users = [user(f"u{i:02d}") for i in range(10)]
    write_manifests(tmp_path / "m.yaml", users)
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    write_manifests(
        tmp_path / "m.yaml", [*users[2:8], renamed("v08", "u08"), renamed("v09", "u09")]
    )
    result = cli("apply", "-f", "m.yaml", "--auto-approve")
    assert result.code == 1
    assert "the plan would delete 2 and replace 2 of 10 stored resources (40 %)" in result.stderr
