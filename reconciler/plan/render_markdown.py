"""The plan as a pull-request comment (GitHub-flavoured Markdown).

A reviewer reads it top down: the summary line (deletes and replaces in bold, with a
warning sign), then every delete and replace, then one collapsed `<details>` block per
resource with its fields; a multi-line value (a template body) is a unified diff in a
`diff` code block. `max_chars` keeps the comment under a size (a GitHub comment holds
65,536 characters): the summary and the deletes and replaces come first, then as many
resources' details as fit, then a line saying what was left out.

Values are free text. In a table cell they go inside `<code>` with HTML escaping, and
`|`, backticks and line breaks become entities; in a diff block the fence is longer than
any run of backticks in the value. Nothing a value holds can end a cell, a code span, a
code block or a `<details>` block.
"""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass

from reconciler.plan.model import ABSENT, Change, FieldChange, Plan
from reconciler.plan.render import DEFAULT_MAX_CHARS
from reconciler.plan.values import show_value

WARNING_SIGN = "\N{WARNING SIGN}\N{VARIATION SELECTOR-16}"
SYMBOLS = {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}
RISKY = ("delete", "replace")


@dataclass(frozen=True)
class MarkdownOptions:
    """`max_chars` None: no limit. `artifact`: where the full plan was saved, if known."""

    max_chars: int | None = DEFAULT_MAX_CHARS
    hide_store: bool = False
    artifact: str | None = None


def render_markdown(plan: Plan, options: MarkdownOptions | None = None) -> str:
    options = options or MarkdownOptions()
    risky = [change for change in plan.changes if change.action in RISKY]
    ordered = risky + [change for change in plan.changes if change.action not in RISKY]
    head = _head(plan, options)
    risky_lines = [_risky_line(change) for change in risky]
    details = [_details(change) for change in ordered]
    return _fit(head, risky_lines, details, options)


def _head(plan: Plan, options: MarkdownOptions) -> str:
    lines = [f"### smtpcfg plan: {_summary(plan)}", ""]
    where = "" if options.hide_store else f"Store {inline_code(plan.store_url)} at "
    lines.append(
        f"{where or 'Store '}revision {plan.store.revision}, digest {inline_code(plan.digest())}"
    )
    if plan.warnings or plan.notes:
        lines.append("")
    lines.extend(f"> **Warning:** {escape_inline(warning)}  " for warning in plan.warnings)
    lines.extend(f"> **Note:** {escape_inline(note)}  " for note in plan.notes)
    return "\n".join(lines)


def _summary(plan: Plan) -> str:
    if not plan.has_changes:
        return "no changes"
    counts = plan.summary()
    parts = []
    for action, word in (
        ("create", "create"),
        ("update", "update"),
        ("replace", "replace"),
        ("delete", "delete"),
    ):
        text = f"{counts[action]} to {word}"
        parts.append(f"**{WARNING_SIGN} {text}**" if action in RISKY and counts[action] else text)
    return ", ".join(parts)


def _risky_line(change: Change) -> str:
    if change.previous is not None:
        old, new = inline_code(str(change.previous)), inline_code(str(change.key))
        return f"- {WARNING_SIGN} **replace** {old} → {new}"
    return f"- {WARNING_SIGN} **delete** {inline_code(str(change.key))}"


def _details(change: Change) -> str:
    title = inline_code(f"{SYMBOLS[change.action]} {change.key}")
    if change.previous is not None:
        title += f" (replaces {inline_code(str(change.previous))})"
    count = len(change.fields)
    title += f" ({count} field{'s' if count != 1 else ''})"
    single = [field for field in change.fields if not _multi_line(field)]
    multi = [field for field in change.fields if _multi_line(field)]
    parts = [f"<details><summary>{title}</summary>"]
    if single:
        rows = ["| Field | Before | After |", "| --- | --- | --- |"]
        rows.extend(
            f"| {inline_code(field.path)} | {_value(field.before)} | {_value(field.after)} |"
            for field in single
        )
        parts.append("\n".join(rows))
    parts.extend(f"{inline_code(field.path)}:\n\n{_diff(field)}" for field in multi)
    parts.append("</details>")
    return "\n\n".join(parts)


def _multi_line(field: FieldChange) -> bool:
    return any(isinstance(value, str) and "\n" in value for value in (field.before, field.after))


def _diff(field: FieldChange) -> str:
    """A unified diff of a text value, in a fenced block no line of it can close."""
    before = _text_lines(field.before)
    after = _text_lines(field.after)
    body = "\n".join(difflib.unified_diff(before, after, "before", "after", lineterm=""))
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}diff\n{body}\n{fence}"


def _text_lines(value: object) -> list[str]:
    return [] if value is ABSENT else str(value).splitlines()


def _fit(head: str, risky: list[str], details: list[str], options: MarkdownOptions) -> str:
    """Everything, or as much as fits in `options.max_chars`, most important first: the
    head, the deletes and replaces, then the details in order."""
    listed = [f"**{WARNING_SIGN} Deletes and replaces**", "", *risky] if risky else []
    text = _join(head, listed, details)
    if options.max_chars is None or len(text) <= options.max_chars:
        return text
    # Room for the longest note on what was left out (the counts only get smaller).
    budget = options.max_chars - len(_left_out(len(risky), len(details), options)) - 2
    essential = _join(head, listed, [])
    kept_lines, kept_details = len(listed), 0
    if len(essential) > budget:
        kept_lines = fitting(listed, budget - len(head) - 2, "\n")
        kept_lines = kept_lines if kept_lines > 2 else 0  # never a heading alone
    else:
        kept_details = fitting(details, budget - len(essential), "\n\n")
    omitted_risky = len(risky) - max(0, kept_lines - 2)
    text = _join(head, listed[:kept_lines], details[:kept_details])
    return text + "\n\n" + _left_out(omitted_risky, len(details) - kept_details, options)


def fitting(items: list[str], budget: int, separator: str) -> int:
    """How many of `items`, from the first, fit in `budget` characters with separators."""
    used, count = 0, 0
    for item in items:
        used += len(item) + len(separator)
        if used > budget:
            break
        count += 1
    return count


def _join(head: str, risky: list[str], details: list[str]) -> str:
    blocks = [head]
    if risky:
        blocks.append("\n".join(risky))
    blocks.extend(details)
    return "\n\n".join(blocks)


def _left_out(risky: int, details: int, options: MarkdownOptions) -> str:
    where = f" (`{options.artifact}`)" if options.artifact else ""
    parts = []
    if risky:
        parts.append(f"{risky:,} of the deletes and replaces")
    if details:
        parts.append(f"the details of {details:,} resource{'s' if details != 1 else ''}")
    what = " and ".join(parts)
    return (
        f"_{what[0].upper()}{what[1:]} left out to keep this comment under "
        f"{options.max_chars:,} characters; the full plan is in the saved plan artifact{where}._"
    )


def _value(value: object) -> str:
    return "" if value is ABSENT else inline_code(show_value(value))


def inline_code(text: str) -> str:
    """`text` as inline code that nothing in it can break out of (see `escape_inline`)."""
    return f"<code>{escape_inline(text)}</code>" if text else ""


def escape_inline(text: str) -> str:
    """Text safe in a table cell or a line: HTML-escaped, no `|`, backtick or line break."""
    escaped = html.escape(text, quote=True)
    return (
        escaped.replace("|", "&#124;").replace("`", "&#96;").replace("\r", "").replace("\n", "<br>")
    )
