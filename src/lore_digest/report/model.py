"""The model of one report: plain dataclasses every renderer (md, json, html) reads.

Nothing here is computed by a renderer: counts, links and local times are settled when
the model is built, so all output formats agree by construction. The threads and their
summaries are `lore_digest.model` types, shared with the summarisers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lore_digest.facts.classify import Category
from lore_digest.model import Thread
from lore_digest.model.thread import revision_lines


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
    """One line of the week's highlights: a series (its newest revision of the week
    standing for the whole revision chain) or a thread, and why it is listed."""

    subject: str
    message_id: str
    url: str
    detail: str = ""  # e.g. "next (4 commits: 1a2b3c4 …)", "v2 → v4", "21 days"
    count: int = 0  # commits applied, postings of the chain, days waiting, mails
    chain: str = ""  # Thread.chain: the same for every revision of a series, every week


@dataclass(frozen=True, slots=True)
class TldrLine:
    """One line: what kind of news, a detail (a branch, a count of days), its entries."""

    kind: str  # "applied" | "new_series" | "new_revisions" | "decision" | "waiting" | "stuck"
    entries: tuple[HighlightItem, ...]
    detail: str = ""  # the branch for "applied", the status for "decision"
    more: int = 0  # entries not named


@dataclass(frozen=True, slots=True)
class Reviewer:
    """Someone who reviewed this week: trailers given and replies to others' patches."""

    name: str
    email: str
    trailers: int
    replies: int


@dataclass(frozen=True, slots=True)
class PersonView:
    """One reader's part of the week (`--person EMAIL`): what they wrote, what waits for
    them, what they gave."""

    email: str
    name: str
    series: tuple[HighlightItem, ...]  # their own series: detail = status, count = mails
    asked: tuple[HighlightItem, ...]  # their files, no word from them: count = days waiting
    given: tuple[HighlightItem, ...]  # review trailers they gave this week: detail = what
    more_asked: int = 0  # asked entries not listed


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
    threads: list[Thread] = field(default_factory=list)
    highlights: Highlights | None = None
    tldr: tuple[TldrLine, ...] = ()  # report.tldr: the first block, at most eight lines
    subsystems: tuple[str, ...] = ()  # the report holds only threads touching these
    people: tuple[PersonView, ...] = ()  # report.people: one block per --person
    detail: str = "full"  # "brief": each thread one line and its summary (busy weeks)

    def by_category(self) -> list[tuple[Category, list[Thread]]]:
        """Threads grouped by category, in the report's category order, empty ones left
        out; a revision folded under a newer one of this week (`folded`) is listed there,
        not here."""
        folded = {t.id for earlier in self.folded().values() for t in earlier}
        out: list[tuple[Category, list[Thread]]] = []
        for category in Category:
            threads = [t for t in self.threads if t.category == category and t.id not in folded]
            if threads:
                out.append((category, threads))
        return out

    def folded_in(self, category: Category) -> int:
        """How many threads of a category are folded under a newer revision (shown in its
        "earlier revisions", counted in the statistics)."""
        return sum(1 for ts in self.folded().values() for t in ts if t.category == category)

    def folded(self) -> dict[str, list[Thread]]:
        """Superseded revisions of the week, by the id of the newest revision of their
        series in this report (posting order): a series reads as one thread, its
        earlier postings' mail still counted and linked under it."""
        out: dict[str, list[Thread]] = {}
        for members in revision_lines([t for t in self.threads if t.series is not None]):
            lead = members[-1]
            earlier = [t for t in members[:-1] if t.series is not None and t.series.superseded_by]
            if earlier:
                out[lead.id] = earlier
        return out
