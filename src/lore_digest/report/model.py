"""The model of one report: plain dataclasses every renderer (md, json, html) reads.

Nothing here is computed by a renderer: counts, links and local times are settled when
the model is built, so all output formats agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lore_digest.facts.classify import Category
from lore_digest.facts.links import message_url
from lore_digest.facts.series_facts import SeriesFacts
from lore_digest.facts.status import StatusFacts


@dataclass(frozen=True, slots=True)
class ReportMessage:
    """One mail of a thread; `in_window` False marks history (earlier mail)."""

    message_id: str
    date: datetime  # in the report's time zone
    from_name: str
    from_email: str
    subject: str
    in_window: bool
    url: str
    parent_id: str | None


@dataclass(frozen=True, slots=True)
class SummaryItem:
    """One statement of a summary and the messages it rests on."""

    text: str
    cites: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Summary:
    """Three parts, as readers of the old tool expect: original / history / this week."""

    lang: str
    original: tuple[SummaryItem, ...]
    history: tuple[SummaryItem, ...]
    this_week: tuple[SummaryItem, ...]
    source: str = "facts"
    model: str | None = None
    note: str | None = None


@dataclass(slots=True)
class ReportThread:
    """A conversation (or a series with unthreaded patches) with mail in the window."""

    id: str  # root Message-ID
    subject: str
    url: str
    url_base: str  # the list's archive, for links to mail outside this thread
    category: Category
    series: SeriesFacts | None
    messages: list[ReportMessage]
    status: StatusFacts | None = None  # for threads that are not a series (pull requests)
    summary: Summary | None = None

    def url_of(self, message_id: str) -> str:
        """Archive link of a mail of this thread (or of any mail, by the same rule)."""
        for m in self.messages:
            if m.message_id == message_id:
                return m.url
        return message_url(self.url_base, message_id)

    @property
    def window_messages(self) -> list[ReportMessage]:
        """Mail of this thread dated inside the report window."""
        return [m for m in self.messages if m.in_window]

    @property
    def participants(self) -> list[str]:
        """Distinct senders (by address) inside the window, in order of first mail."""
        return list(dict.fromkeys(m.from_email for m in self.window_messages))

    @property
    def started(self) -> datetime:
        """Date of the thread's first known mail."""
        return self.messages[0].date


@dataclass(frozen=True, slots=True)
class CategoryStats:
    """Threads and in-window mail of one category."""

    threads: int
    messages: int


@dataclass(frozen=True, slots=True)
class ReportStats:
    """Figures of the window; every in-window mail counted exactly once."""

    messages: int
    threads: int
    participants: int
    large_threads: int
    categories: dict[Category, CategoryStats]


@dataclass(frozen=True, slots=True)
class HighlightItem:
    """One line of the week's highlights: a thread or series, and why it is listed."""

    subject: str
    message_id: str
    url: str
    detail: str = ""  # e.g. "next: 4 commits", "v3", "21 days", "31 mails"
    count: int = 0


@dataclass(frozen=True, slots=True)
class Reviewer:
    """Someone who reviewed this week: trailers given and replies to others' patches."""

    name: str
    email: str
    trailers: int
    replies: int


@dataclass(frozen=True, slots=True)
class Highlights:
    """What a maintainer reads first."""

    applied: tuple[HighlightItem, ...]
    new_series: tuple[HighlightItem, ...]
    new_revisions: tuple[HighlightItem, ...]
    waiting_for_review: tuple[HighlightItem, ...]
    most_active: tuple[HighlightItem, ...]
    top_reviewers: tuple[Reviewer, ...]


@dataclass(slots=True)
class Report:
    """One list, one window."""

    list_name: str
    label: str  # "2022-W19"
    start: datetime
    end: datetime
    tz: str
    lang: str
    generated_at: datetime
    stats: ReportStats
    threads: list[ReportThread] = field(default_factory=list)
    highlights: Highlights | None = None

    def by_category(self) -> list[tuple[Category, list[ReportThread]]]:
        """Threads grouped by category, in the report's category order, empty ones left out."""
        out: list[tuple[Category, list[ReportThread]]] = []
        for category in Category:
            threads = [t for t in self.threads if t.category == category]
            if threads:
                out.append((category, threads))
        return out
