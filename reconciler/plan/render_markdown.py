"""The plan as a pull-request comment (GitHub-flavoured Markdown).

Values are free text, so they go inside `<code>` with HTML escaping, and `|`,
backticks and line breaks become entities: nothing a value holds can end the code
span or a table cell.
"""

from __future__ import annotations

import html

from reconciler.plan.model import ABSENT, Plan
from reconciler.plan.values import show_value


def render_markdown(plan: Plan) -> str:
    counts = plan.summary()
    title = (
        f"{counts['create']} to create, {counts['update']} to update, "
        f"{counts['replace']} to replace, {counts['delete']} to delete"
        if plan.has_changes
        else "no changes"
    )
    lines = [
        f"### smtpcfg plan: {title}",
        "",
        f"Store {_code(plan.store_url)} at revision {plan.store.revision}, "
        f"digest {_code(plan.digest())}",
        "",
    ]
    lines.extend(f"> **Warning:** {_escape(warning)}" for warning in plan.warnings)
    lines.extend(f"> **Note:** {_escape(note)}" for note in plan.notes)
    if plan.warnings or plan.notes:
        lines.append("")
    if plan.has_changes:
        lines.append("| Action | Resource | Field | Before | After |")
        lines.append("| --- | --- | --- | --- | --- |")
        for change in plan.changes:
            resource = str(change.key)
            if change.previous is not None:
                resource += f" (replaces {change.previous})"
            cells = [(field.path, field.before, field.after) for field in change.fields] or [
                ("", ABSENT, ABSENT)
            ]
            for path, before, after in cells:
                lines.append(
                    f"| {change.action} | {_code(resource)} | {_code(path)} "
                    f"| {_value(before)} | {_value(after)} |"
                )
    return "\n".join(lines)


def _value(value: object) -> str:
    return "" if value is ABSENT else _code(show_value(value))


def _code(text: str) -> str:
    return f"<code>{_escape(text)}</code>" if text else ""


def _escape(text: str) -> str:
    escaped = html.escape(text, quote=True)
    return (
        escaped.replace("|", "&#124;").replace("`", "&#96;").replace("\r", "").replace("\n", "<br>")
    )
