"""A probe report as a terminal table, a markdown section and JSON; and with a plan.

`plan --probe` prints the plan as `--format` renders it and appends the probe's section
(`render_probed_plan`): the plan renderers are not touched.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING

import click

from reconciler.delivery.probe import ProbeReport, ProbeResult
from reconciler.plan.render_markdown import MarkdownOptions, escape_inline, fitting, inline_code

if TYPE_CHECKING:
    from reconciler.plan.model import Plan

PROBE_FORMATS = ("text", "json")
_COLOURS = {"ok": "green", "warning": "yellow", "error": "red", "skipped": None}
_HEADER = ["STEP", "RESULT", "TIME", "DETAIL"]
_SEPARATOR = "\n\n"


def render_report(report: ProbeReport, output_format: str, *, color: bool = False) -> str:
    if output_format == "json":
        return json.dumps(report.to_json(), indent=2, ensure_ascii=False)
    return probe_text(report, color=color)


def render_probed_plan(
    plan: Plan,
    report: ProbeReport,
    output_format: str,
    *,
    color: bool = False,
    markdown: MarkdownOptions | None = None,
) -> str:
    """The plan as `plan --format` prints it, with the probe's findings.

    Under `markdown.max_chars` the probe's summary and findings are kept whole, like the
    plan's summary and deletes; the plan's details come next, then the probe's tables."""
    from reconciler.plan.render import render_plan

    if output_format == "json":
        document = {**plan.to_json(), "probe": report.to_json()}
        return json.dumps(document, indent=2, ensure_ascii=False)
    if output_format != "markdown":
        rendered = render_plan(plan, output_format, color=color, markdown=markdown)
        return rendered + _SEPARATOR + probe_text(report, color=color)
    if markdown is None or markdown.max_chars is None:
        return (
            render_plan(plan, "markdown", markdown=markdown) + _SEPARATOR + probe_markdown(report)
        )
    room = markdown.max_chars - len(_SEPARATOR)
    budget = max(room - len(_markdown_findings(report)), 1)
    rendered = render_plan(plan, "markdown", markdown=replace(markdown, max_chars=budget))
    return rendered + _SEPARATOR + probe_markdown(report, room - len(rendered))


def summary(report: ProbeReport) -> str:
    if not report.results:
        return "Probe: no SmtpSettings to probe."
    count = len(report.results)
    return (
        f"Probe: {count} SmtpSettings, {_plural(report.errors, 'error')}, "
        f"{_plural(report.warnings, 'warning')}."
    )


def probe_text(report: ProbeReport, *, color: bool) -> str:
    def paint(text: str, status: str) -> str:
        colour = _COLOURS.get(status)
        return click.style(text, fg=colour) if color and colour else text

    lines: list[str] = []
    for result in report.results:
        lines.append(f"{result.key} ({_server(result)})")
        rows = [[s.step, s.status, _time(s.seconds), s.detail] for s in result.steps]
        widths = [max(len(row[i]) for row in [_HEADER, *rows]) for i in range(3)]
        for row in [_HEADER, *rows]:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            cells[1] = paint(cells[1], row[1])
            lines.append(("  " + "  ".join([*cells, row[3]])).rstrip())
        lines.extend(
            paint(f"  {finding.level}: {finding.step}: {finding.message}", finding.level)
            for finding in result.findings
        )
        lines.append("")
    lines.append(summary(report))
    return "\n".join(lines)


def probe_markdown(report: ProbeReport, max_chars: int | None = None) -> str:
    """The summary and every finding, then a collapsed table of steps per settings: as
    many tables as fit in `max_chars`, with a note on those left out."""
    findings = _markdown_findings(report)
    tables = [_markdown_steps(result) for result in report.results]
    if max_chars is None:
        return "\n\n".join([findings, *tables])
    note = _tables_left_out(len(tables))
    kept = fitting(tables, max_chars - len(findings) - len(note) - 2, "\n\n")
    left_out = [_tables_left_out(len(tables) - kept)] if kept < len(tables) else []
    return "\n\n".join([findings, *tables[:kept], *left_out])


def _markdown_findings(report: ProbeReport) -> str:
    lines = [f"### smtpcfg probe: {summary(report).removeprefix('Probe: ').rstrip('.')}"]
    found = [(result, f) for result in report.results for f in result.findings]
    if found:
        lines.append("")
    lines.extend(
        f"- **{finding.level.capitalize()}:** {inline_code(str(result.key))} "
        f"{finding.step}: {escape_inline(finding.message)}"
        for result, finding in found
    )
    return "\n".join(lines)


def _markdown_steps(result: ProbeResult) -> str:
    errors = sum(1 for finding in result.findings if finding.level == "error")
    warnings = len(result.findings) - errors
    counts = [_plural(errors, "error")] if errors else []
    counts += [_plural(warnings, "warning")] if warnings else []
    verdict = ", ".join(counts)
    title = f"{inline_code(str(result.key))} ({escape_inline(_server(result))}): {verdict or 'ok'}"
    rows = [
        f"| {step.step} | {step.status} | {_time(step.seconds)} | {inline_code(step.detail)} |"
        for step in result.steps
    ]
    table = "\n".join(["| Step | Result | Time | Detail |", "| --- | --- | --- | --- |", *rows])
    return f"<details><summary>{title}</summary>\n\n{table}\n\n</details>"


def _tables_left_out(count: int) -> str:
    return (
        f"_The steps of {count} SmtpSettings left out to keep this comment short; "
        "`smtpcfg probe` shows them all._"
    )


def _server(result: ProbeResult) -> str:
    endpoint = result.endpoint
    how = "implicit TLS" if endpoint.uses_implicit_tls else "STARTTLS"
    required = ", startTlsOnly" if endpoint.start_tls_only else ""
    return f"{endpoint.address}, {how}{required}"


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
