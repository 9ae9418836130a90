"""A plan in the format `plan --format` asks for."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `--format` reads the choices without loading plans
    from reconciler.plan.model import Plan

PLAN_FORMATS = ("text", "json", "markdown")


def render_plan(plan: Plan, output_format: str, *, color: bool = False) -> str:
    """`text` (coloured when `color`), `json` (the saved plan's content) or `markdown`."""
    if output_format == "json":
        return json.dumps(plan.to_json(), indent=2, ensure_ascii=False)
    if output_format == "markdown":
        from reconciler.plan.render_markdown import render_markdown

        return render_markdown(plan)
    from reconciler.plan.render_text import render_text

    return render_text(plan, color=color)
