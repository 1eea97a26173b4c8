"""What a chat message says of a week: the TL;DR and highlights, as plain data.

Each channel writes the same content in its own markup (channels.formats), so this is
the one place that decides what a chat reader sees: the report's title and figures, the
TL;DR lines (what landed, new series and revisions, decisions, what is stuck), the most
active threads and the top reviewers, and a link to the full report on the site. All
of it comes from the report's facts; every subject and name in it is a stranger's text,
kept as text here and escaped by each format.
"""

from __future__ import annotations

from dataclasses import dataclass

from lore_digest.report.labels import LABELS
from lore_digest.report.model import Report
from lore_digest.report.tldr import entry_detail, line_title, more_text
from lore_digest.vocabulary import format_counted, report_stem

__all__ = ["ChatDigest", "Entry", "Section", "chat_digest", "week_page_url"]

HIGHLIGHTS_SHOWN = 5  # most active threads and top reviewers named in a chat message

CHAT_LABELS = {
    "zh": {
        "full_report": "完整周报",
        "part": "（第 {part}/{parts} 部分）",
        "figures": "{messages} 封邮件，{threads} 个 thread，{people} 位参与者",
        "tldr": "本周要点",
        "nothing": "本周没有邮件。",
    },
    "en": {
        "full_report": "Full report",
        "part": " (part {part}/{parts})",
        "figures": "{messages} mail{messages_s}, {threads} thread{threads_s}, "
        "{people} participant{people_s}",
        "tldr": "TL;DR",
        "nothing": "No mail this week.",
    },
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a section: untrusted text (a subject, a name), an optional link and
    detail ("3 commits", "v2 → v4", "21 days") written by us."""

    text: str
    url: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Section:
    """A titled group of entries; `more` counts entries not named."""

    title: str
    entries: tuple[Entry, ...]
    more: str = ""


@dataclass(frozen=True, slots=True)
class ChatDigest:
    """The content of a week's chat message(s), in the report's language."""

    lang: str
    title: str
    figures: str
    sections: tuple[Section, ...]
    link: str  # the week's page on the site, or "" when no site_url is configured
    link_text: str

    def part_title(self, part: int, parts: int) -> str:
        """The title, numbered when the message is split."""
        if parts <= 1:
            return self.title
        return self.title + CHAT_LABELS[self.lang]["part"].format(part=part, parts=parts)


def week_page_url(site_url: str, report: Report) -> str:
    """The week's page under `site_url` (the site's own file name), "" without one."""
    if not site_url:
        return ""
    return f"{site_url.rstrip('/')}/{report_stem(report.list_name, report.label, report.lang)}.html"


def chat_digest(report: Report, site_url: str = "") -> ChatDigest:
    """The chat content of a report (see the module docstring)."""
    lang = report.lang
    labels, chat = LABELS[lang], CHAT_LABELS[lang]
    stats = report.stats
    figures = format_counted(
        chat["figures"],
        messages=stats.messages,
        threads=stats.threads,
        people=stats.participants,
    )
    sections: list[Section] = []
    for line in report.tldr:
        entries = tuple(
            Entry(item.subject, item.url, entry_detail(line, item, lang)) for item in line.entries
        )
        sections.append(Section(line_title(line, lang), entries, more_text(line, lang)))
    highlights = report.highlights
    if highlights is not None and highlights.most_active:
        sections.append(
            Section(
                labels["hl_active"],
                tuple(
                    Entry(i.subject, i.url, format_counted(labels["hl_mails"], count=i.count))
                    for i in highlights.most_active[:HIGHLIGHTS_SHOWN]
                ),
            )
        )
    if highlights is not None and highlights.top_reviewers:
        sections.append(
            Section(
                labels["hl_reviewers"],
                tuple(
                    Entry(
                        p.name or p.email,
                        "",
                        format_counted(
                            labels["hl_reviewer"], trailers=p.trailers, replies=p.replies
                        ),
                    )
                    for p in highlights.top_reviewers[:HIGHLIGHTS_SHOWN]
                ),
            )
        )
    if not sections:
        sections.append(Section(chat["tldr"], (Entry(chat["nothing"]),)))
    return ChatDigest(
        lang=lang,
        title=labels["title"].format(list=report.list_name.upper(), label=report.label),
        figures=figures,
        sections=tuple(sections),
        link=week_page_url(site_url, report),
        link_text=chat["full_report"],
    )
