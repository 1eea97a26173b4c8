"""Markdown rendering of a report (Jinja2 template `report.md.j2`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from lore_digest.report.labels import CATEGORY_LABELS, LABELS, STATUS_LABELS
from lore_digest.report.model import Report
from lore_digest.summarize.i18n import PHRASES
from lore_digest.vocabulary import VERDICT_TRAILERS, format_counted

# Characters that would turn mail text into Markdown markup (links, emphasis, HTML, tables).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md_escape(text: object) -> str:
    """Escape text from mail so it renders literally (and on one line)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("lore_digest.report", "templates"),
        autoescape=False,  # Markdown, not HTML: escaping is md_escape's job
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    env.globals["review_kinds"] = VERDICT_TRAILERS
    env.filters["counted"] = format_counted
    env.filters["utcdate"] = lambda utc: datetime.fromtimestamp(utc, UTC).strftime("%Y-%m-%d")
    return env


def render_markdown(report: Report) -> str:
    """The report as Markdown, in the report's language."""
    template = _environment().get_template("report.md.j2")
    text = template.render(
        r=report,
        L=LABELS[report.lang],
        C=CATEGORY_LABELS[report.lang],
        P=PHRASES[report.lang],
        S=STATUS_LABELS[report.lang],
    )
    return re.sub(r"\n{3,}", "\n\n", text)
