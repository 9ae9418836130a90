"""`history` as a table, JSON or CSV: one row per apply, or per field change."""

from __future__ import annotations

import csv
import io
import json

import click

from reconciler.cli.output import echo_table
from reconciler.plan.model import ABSENT, FieldChange
from reconciler.plan.values import show_value
from reconciler.store.audit_query import FieldLine, HistoryAnswer

#: The CSV's columns: one row per field change, everything the record holds.
CSV_COLUMNS = (
    "revision",
    "appliedAt",
    "scope",
    "actor",
    "approvedBy",
    "resource",
    "action",
    "field",
    "before",
    "after",
    "passwordVersion",
    "source",
    "applyCommit",
    "ciRun",
    "planDigest",
    "hash",
)


def echo_history(answer: HistoryAnswer, output_format: str, *, by_change: bool) -> None:
    if output_format == "json":
        records = [entry.to_json() for entry in answer.entries]
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
    elif output_format == "csv":
        click.echo(history_csv(answer.lines), nl=False)
    elif by_change:
        echo_table(
            ["REVISION", "WHEN", "WHO", "RESOURCE", "FIELD", "CHANGE", "SOURCE", "PLAN"],
            [
                [
                    str(line.entry.revision),
                    line.entry.applied_at,
                    line.entry.actor,
                    line.resource,
                    _field_name(line),
                    describe_change(line),
                    line.entry.source,
                    _short(line.entry.plan_digest),
                ]
                for line in answer.lines
            ],
        )
    else:
        echo_table(
            [
                "REVISION",
                "APPLIED",
                "SCOPE",
                "ACTOR",
                "APPROVED BY",
                "SOURCE",
                "APPLY COMMIT",
                "CI RUN",
                "DIGEST",
                "CHANGES",
            ],
            [
                [
                    str(entry.revision),
                    entry.applied_at,
                    entry.scope,
                    entry.actor,
                    entry.context.approved_by or "-",
                    entry.source,
                    entry.context.commit or "-",
                    entry.context.ci_run or "-",
                    _short(entry.plan_digest),
                    entry.change_summary() or "password version recorded",
                ]
                for entry in answer.entries
            ],
        )


def describe_change(line: FieldLine) -> str:
    """`587 → 2525`, `+ "x"`, `- "x"`; a password as its reference and KV version."""
    version = _version(line)
    if line.field is None:
        return f"{line.reference}{version}" if line.action == "rotate" else line.action
    change = FieldChange.from_json(line.field)
    if change.before is ABSENT:
        text = f"+ {show_value(change.after)}"
    elif change.after is ABSENT:
        text = f"- {show_value(change.before)}"
    else:
        text = f"{show_value(change.before)} → {show_value(change.after)}"
    return text + version


def history_csv(lines: list[FieldLine]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        entry = line.entry
        change = FieldChange.from_json(line.field) if line.field else FieldChange("")
        writer.writerow(
            [
                entry.revision,
                entry.applied_at,
                entry.scope,
                entry.actor,
                entry.context.approved_by or "",
                line.resource,
                line.action,
                _field_name(line),
                _cell(change.before),
                _cell(change.after),
                "" if line.version is None else line.version,
                entry.source,
                entry.context.commit or "",
                entry.context.ci_run or "",
                entry.plan_digest,
                entry.record_hash or "",
            ]
        )
    return buffer.getvalue()


def _cell(value: object) -> str:
    """A CSV value: text as it is, anything else as the plan shows it (JSON, or a Vault
    reference); empty when absent."""
    if value is ABSENT:
        return ""
    return value if isinstance(value, str) else show_value(value)


def _field_name(line: FieldLine) -> str:
    if line.action == "rotate":
        return "spec.password"
    return line.path or ""


def _version(line: FieldLine) -> str:
    if line.version is None:
        return ""
    if line.previous_version is not None and line.previous_version != line.version:
        return f" (version {line.previous_version} → {line.version})"
    return f" (version {line.version})"


def _short(digest: str) -> str:
    return digest[:19]
