"""The plan as a terminal reads it, Terraform style."""

from __future__ import annotations

from collections.abc import Callable

import click

from reconciler.plan.model import ABSENT, Change, FieldChange, Plan
from reconciler.plan.values import show_value

SYMBOLS = {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}
COLOURS = {"create": "green", "update": "yellow", "replace": "magenta", "delete": "red"}


def render_text(plan: Plan, *, color: bool, hide_store: bool = False) -> str:
    def paint(text: str, colour: str, bold: bool = False) -> str:
        return click.style(text, fg=colour, bold=bold) if color else text

    where = "(hidden)" if hide_store else plan.store_url
    lines = [f"Store: {where} (revision {plan.store.revision})", ""]
    if not plan.has_changes:
        lines.append("No changes. The store matches the manifests.")
    else:
        lines.append("smtpcfg will perform these actions:")
        for change in plan.changes:
            lines.append("")
            lines.append(
                paint(
                    f"  {SYMBOLS[change.action]} {_title(change)}",
                    COLOURS[change.action],
                    bold=True,
                )
            )
            lines.extend(f"      {_field_line(field, paint)}" for field in change.fields)
        lines.append("")
        counts = plan.summary()
        lines.append(
            f"Plan: {counts['create']} to create, {counts['update']} to update, "
            f"{counts['replace']} to replace, {counts['delete']} to delete."
        )
    lines.extend(f"Note: {note}" for note in plan.notes)
    lines.extend(paint(f"Warning: {warning}", "yellow") for warning in plan.warnings)
    lines.append(f"Digest: {plan.digest()}")
    return "\n".join(lines)


def _title(change: Change) -> str:
    if change.previous is not None:
        return f"{change.key} (replaces {change.previous})"
    return str(change.key)


def _field_line(field: FieldChange, paint: Callable[[str, str], str]) -> str:
    if field.before is ABSENT:
        return paint(f"+ {field.path}: {show_value(field.after)}", "green")
    if field.after is ABSENT:
        return paint(f"- {field.path}: {show_value(field.before)}", "red")
    return paint(
        f"~ {field.path}: {show_value(field.before)} → {show_value(field.after)}", "yellow"
    )
