"""`plan --format markdown` as a pull request shows it: rendered by GitHub's own cmark-gfm,
deletes and replaces first, each resource in a `<details>` block, text values as diffs,
and the size cap."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import cmarkgfm
from cmarkgfm.cmark import Options

from tests.support.cli import Cli
from tests.support.manifests import example_set, settings, template, user, write_manifests

WARNING = "\N{WARNING SIGN}\N{VARIATION SELECTOR-16}"


def render(markdown: str) -> str:
    """HTML as GitHub renders a comment (raw HTML kept: GitHub allows details, summary
    and code, which its sanitizer would leave as they are)."""
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


class Outline(HTMLParser):
    """The `<details>` blocks of rendered HTML: each summary's text, and the text of
    the code blocks inside each."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.depth = 0
        self.max_depth = 0
        self.summaries: list[str] = []
        self.code_blocks: list[str] = []
        self._in: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "details":
            self.depth += 1
            self.max_depth = max(self.max_depth, self.depth)
        if tag == "summary":
            self.summaries.append("")
        if tag == "pre":
            self.code_blocks.append("")
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            self.depth -= 1
        while self._in and self._in.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        if "summary" in self._in:
            self.summaries[-1] += data
        if "pre" in self._in:
            self.code_blocks[-1] += data


def reviewed_change(cli: Cli, tmp_path: Path) -> str:
    """A plan with one of each action; the template body changes, and holds a fence and
    a closing tag that would end the blocks if they were not escaped."""
    old_body = "Dear ${name},\nyour invoice is attached.\nRegards"
    new_body = "Dear ${name},\nyour invoice ``` is attached.\n</details>\nRegards"
    base = [*example_set(), user("old"), user("leaving")]
    base[2] = template("invoice", "primary", body=old_body)
    write_manifests(tmp_path / "m.yaml", base)
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    renamed = user("new", email="old@example.com")
    renamed["metadata"]["annotations"] = {"smtpcfg.dev/renamed-from": "old"}
    changed = [*example_set(port=2525), renamed, user("joining")]
    changed[2] = template("invoice", "primary", body=new_body)
    write_manifests(tmp_path / "m.yaml", changed)
    result = cli("plan", "-f", "m.yaml", "--format", "markdown", "--hide-store")
    assert result.code == 0, result.output
    return result.stdout


def test_summary_first_and_deletes_and_replaces_before_everything(
    cli: Cli, tmp_path: Path, store_url: str
) -> None:
    markdown = reviewed_change(cli, tmp_path)
    first = markdown.splitlines()[0]
    assert first == (
        f"### smtpcfg plan: 1 to create, 2 to update, **{WARNING} 1 to replace**,"
        f" **{WARNING} 1 to delete**"
    )
    outline = Outline(render(markdown))
    assert outline.max_depth == 1  # no block nested in another: every one was closed
    titles = [summary.split(" (")[0] for summary in outline.summaries]
    assert set(titles[:2]) == {"-/+ User/new", "- User/leaving"}
    assert set(titles[2:]) == {
        "+ User/joining",
        "~ SmtpSettings/primary",
        "~ EmailTemplate/invoice",
    }
    risky = markdown.index(f"**{WARNING} Deletes and replaces**")
    assert risky < markdown.index("<details>")
    assert f"- {WARNING} **replace** <code>User/old</code> → <code>User/new</code>" in markdown
    assert f"- {WARNING} **delete** <code>User/leaving</code>" in markdown
    assert store_url.split("?", maxsplit=1)[0] not in markdown and "sqlite:" not in markdown


def test_a_template_body_is_a_unified_diff_that_cannot_break_out(cli: Cli, tmp_path: Path) -> None:
    markdown = reviewed_change(cli, tmp_path)
    assert "````diff\n--- before\n+++ after\n" in markdown
    outline = Outline(render(markdown))
    [diff] = outline.code_blocks
    assert "-your invoice is attached.\n" in diff
    assert "+your invoice ``` is attached.\n+</details>\n" in diff
    assert " Dear ${name},\n" in diff
    invoice = next(s for s in outline.summaries if "EmailTemplate/invoice" in s)
    assert invoice.endswith("(1 field)")


def test_no_changes_is_said_in_the_summary_line(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", [user("ann")])
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    markdown = cli("plan", "-f", "m.yaml", "--format", "markdown").stdout
    assert markdown.startswith("### smtpcfg plan: no changes\n")
    assert "<details>" not in markdown and "Deletes" not in markdown


def test_the_store_is_named_unless_hidden(cli: Cli, tmp_path: Path, store_url: str) -> None:
    write_manifests(tmp_path / "m.yaml", [user("ann")])
    shown = cli("plan", "-f", "m.yaml", "--format", "markdown").stdout
    assert "Store <code>" in shown
    hidden = cli("plan", "-f", "m.yaml", "--format", "markdown", "--hide-store").stdout
    assert "Store revision 0, digest" in hidden
    text = cli("plan", "-f", "m.yaml", "--hide-store").stdout
    assert text.startswith("Store: (hidden) (revision 0)")


def test_a_large_plan_keeps_to_the_size_cap_deletes_first(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", [user(f"gone-{i:03}") for i in range(40)])
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    documents = [settings(f"s-{i:04}", description="x" * 40, notifyUser="ops") for i in range(1500)]
    write_manifests(tmp_path / "m.yaml", [user("ops"), *documents])
    result = cli("plan", "-f", "m.yaml", "--format", "markdown", "--out", "plan.json")
    assert result.code == 0, result.output
    markdown = result.stdout.rstrip("\n")
    assert len(markdown) <= 60_000
    assert markdown.startswith(
        f"### smtpcfg plan: 1501 to create, 0 to update, 0 to replace, **{WARNING} 40 to delete**"
    )
    assert all(f"**delete** <code>User/gone-{i:03}</code>" in markdown for i in range(40))
    outline = Outline(render(markdown))
    shown = len(outline.summaries)
    assert set(outline.summaries[:40]) == {f"- User/gone-{i:03} (1 field)" for i in range(40)}
    assert 40 < shown < 1541
    left_out = re.search(r"_The details of ([\d,]+) resources left out", markdown)
    assert left_out and int(left_out.group(1).replace(",", "")) == 1541 - shown, markdown[-400:]
    assert markdown.endswith(
        "left out to keep this comment under 60,000 characters; the full plan is in the"
        " saved plan artifact (`plan.json`)._"
    )
    everything = cli("plan", "-f", "m.yaml", "--format", "markdown", "--max-chars", "0")
    assert everything.stdout.count("<details>") == 1541


def test_a_tiny_cap_keeps_the_summary_and_cuts_even_the_deletes(cli: Cli, tmp_path: Path) -> None:
    write_manifests(tmp_path / "m.yaml", [user(f"gone-{i:03}") for i in range(40)])
    assert cli("apply", "-f", "m.yaml", "--auto-approve").code == 0
    write_manifests(tmp_path / "m.yaml", [user("kept")])
    result = cli("plan", "-f", "m.yaml", "--format", "markdown", "--max-chars", "1500")
    assert result.code == 0, result.output
    markdown = result.stdout.rstrip("\n")
    assert len(markdown) <= 1500
    assert markdown.startswith("### smtpcfg plan: 1 to create")
    kept = markdown.count("**delete**")
    assert 0 < kept < 40
    assert f"_{40 - kept} of the deletes and replaces and the details of 41 resources" in markdown
    assert "<details>" not in markdown
