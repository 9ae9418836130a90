"""A plan in the format `plan --format` asks for."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `--format` reads the choices without loading plans
    from reconciler.plan.model import Plan
    from reconciler.plan.render_markdown import MarkdownOptions

PLAN_FORMATS = ("text", "json", "markdown")
#: The size `plan --format markdown` keeps to by default: a GitHub comment holds 65,536
#: characters, and this leaves room for what a CI job wraps around the plan.
DEFAULT_MAX_CHARS = 60_000


def render_plan(
    plan: Plan,
    output_format: str,
    *,
    color: bool = False,
    markdown: MarkdownOptions | None = None,
) -> str:
    """`text` (coloured when `color`), `json` (the saved plan's content) or `markdown`.

    `markdown.hide_store` hides the store's address from text too; JSON is the saved
    plan, which names its store."""
    if output_format == "json":
        return json.dumps(plan.to_json(), indent=2, ensure_ascii=False)
    if output_format == "markdown":
        from reconciler.plan.render_markdown import render_markdown

        return render_markdown(plan, markdown)
    from reconciler.plan.render_text import render_text

    return render_text(plan, color=color, hide_store=markdown is not None and markdown.hide_store)
