"""The model of one report: plain dataclasses every renderer (md, json, html) reads.

Nothing here is computed by a renderer: counts, links and local times are settled when
the model is built, so all output formats agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lore_digest.facts.classify import Category


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


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """What the subject of the thread's root says about its series."""

    version: int
    total: int | None
    is_rfc: bool
    prefixes: tuple[str, ...]
    cover_message_id: str | None
    patches_seen: int


@dataclass(slots=True)
class ReportThread:
    """A conversation (or a series with unthreaded patches) with mail in the window."""

    id: str  # root Message-ID
    subject: str
    url: str
    category: Category
    series: SeriesInfo | None
    messages: list[ReportMessage]
    summary: Summary | None = None

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

    def by_category(self) -> list[tuple[Category, list[ReportThread]]]:
        """Threads grouped by category, in the report's category order, empty ones left out."""
        out: list[tuple[Category, list[ReportThread]]] = []
        for category in Category:
            threads = [t for t in self.threads if t.category == category]
            if threads:
                out.append((category, threads))
        return out
