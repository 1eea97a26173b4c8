"""Markdown rendering of a report (Jinja2 template `report.md.j2`).

Every string from mail reaches the template through one of the escaping filters of
`report.escape`: `md` (running text), `md_code` (a code span), `md_fence` (a code
block) and `md_url` (a link destination). Autoescape is off: the template is Markdown.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from lore_digest.facts.subsystems import MAX_SUBSYSTEMS
from lore_digest.report.escape import md_code_fence, md_code_span, md_inline, md_url
from lore_digest.report.labels import CATEGORY_LABELS, LABELS, STATUS_LABELS
from lore_digest.report.model import Report
from lore_digest.report.tldr import entry_detail, line_title, more_text
from lore_digest.summarize.i18n import PHRASES, claim_reason, claim_text, sent_by
from lore_digest.templatecache import template_cache
from lore_digest.vocabulary import VERDICT_TRAILERS, format_counted

# The name the rest of the code knows: running text, escaped to render literally.
md_escape = md_inline


# Entries of one highlight list a Markdown or text report names (the JSON and the site
# have them all): with the TL;DR, the first screen of a busy week stays under 60 lines.
HIGHLIGHTS_SHOWN = 5


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("lore_digest.report", "templates"),
        bytecode_cache=template_cache(),
        autoescape=False,  # Markdown, not HTML: escaping is the md* filters' job
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md_inline, md_code=md_code_span, md_fence=md_code_fence, md_url=md_url)
    env.globals["review_kinds"] = VERDICT_TRAILERS
    env.globals["subsystems_shown"] = MAX_SUBSYSTEMS
    env.globals["highlights_shown"] = HIGHLIGHTS_SHOWN
    env.filters["counted"] = format_counted
    env.filters["utcdate"] = lambda utc: datetime.fromtimestamp(utc, UTC).strftime("%Y-%m-%d")
    return env


def render_markdown(report: Report) -> str:
    """The report as Markdown, in the report's language."""
    template = _environment().get_template("report.md.j2")
    lang = report.lang
    text = template.render(
        claim_text=lambda claim: claim_text(claim, lang),
        claim_reason=lambda claim: claim_reason(claim, lang),
        sent_by=lambda trailer: sent_by(trailer, lang),
        tl_title=lambda line: line_title(line, lang),
        tl_detail=lambda line, item: entry_detail(line, item, lang),
        tl_more=lambda line: more_text(line, lang),
        r=report,
        L=LABELS[report.lang],
        C=CATEGORY_LABELS[report.lang],
        P=PHRASES[report.lang],
        S=STATUS_LABELS[report.lang],
    )
    return re.sub(r"\n{3,}", "\n\n", text)
