"""A probe report as a terminal table, a markdown section and JSON; and with a plan.

`plan --probe` prints the plan as `--format` renders it and appends the probe's section
(`render_probed_plan`): the plan renderers are not touched.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING

import click

from reconciler.delivery.probe import ProbeReport, ProbeResult

if TYPE_CHECKING:
    from reconciler.plan.model import Plan

PROBE_FORMATS = ("text", "json")
_COLOURS = {"ok": "green", "warning": "yellow", "error": "red", "skipped": None}
_HEADER = ["STEP", "RESULT", "TIME", "DETAIL"]


def render_report(report: ProbeReport, output_format: str, *, color: bool = False) -> str:
    if output_format == "json":
        return json.dumps(report.to_json(), indent=2, ensure_ascii=False)
    return probe_text(report, color=color)


def render_probed_plan(
    plan: Plan, report: ProbeReport, output_format: str, *, color: bool = False
) -> str:
    """The plan as `plan --format` prints it, with the probe's findings."""
    from reconciler.plan.render import render_plan

    if output_format == "json":
        document = {**plan.to_json(), "probe": report.to_json()}
        return json.dumps(document, indent=2, ensure_ascii=False)
    section = (
        probe_markdown(report) if output_format == "markdown" else probe_text(report, color=color)
    )
    return render_plan(plan, output_format, color=color) + "\n\n" + section


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


def probe_markdown(report: ProbeReport) -> str:
    lines = [f"### smtpcfg probe: {summary(report).removeprefix('Probe: ').rstrip('.')}", ""]
    if report.results:
        lines.append("| Settings | Step | Result | Time | Detail |")
        lines.append("| --- | --- | --- | --- | --- |")
        for result in report.results:
            for step in result.steps:
                lines.append(
                    f"| {_code(str(result.key))} | {step.step} | {step.status} "
                    f"| {_time(step.seconds)} | {_code(step.detail)} |"
                )
        findings = [(result, f) for result in report.results for f in result.findings]
        if findings:
            lines.append("")
        lines.extend(
            f"- **{f.level.capitalize()}:** {_code(str(result.key))} {f.step}: {_cell(f.message)}"
            for result, f in findings
        )
    return "\n".join(lines)


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


def _code(text: str) -> str:
    return f"<code>{_cell(text)}</code>" if text else ""


def _cell(text: str) -> str:
    """Server text, safe in a table cell: HTML-escaped, no `|`, backtick or line break."""
    return (
        html.escape(text, quote=True)
        .replace("|", "&#124;")
        .replace("`", "&#96;")
        .replace("\r", "")
        .replace("\n", "<br>")
    )
