"""One conversation of a week: its mail, what the facts say about it, its summary.

Counts, links and local times are settled when a thread is built, so every renderer
(Markdown, JSON, HTML, mail) and the summarisers read the same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from lore_digest.facts.classify import Category
from lore_digest.facts.links import message_url
from lore_digest.facts.questions import Question
from lore_digest.facts.series_facts import SeriesFacts
from lore_digest.facts.status import StatusFacts
from lore_digest.model.summary import Summary
from lore_digest.vocabulary import is_bot


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    """One mail of a thread; `in_window` False marks history (earlier mail)."""

    message_id: str
    date: datetime  # in the report's time zone
    from_name: str
    from_email: str
    subject: str
    in_window: bool
    url: str
    parent_id: str | None
    # What the thread view shows of the mail: the subject of a posting, the first line
    # of the sender's own text for a reply (greetings and quotes skipped).
    gist: str = ""


MAX_TREE_DEPTH = 6  # reply levels; deeper mail is listed flat (Markdown parsers stop nesting at ~9)


@dataclass(frozen=True, slots=True)
class ReplyNode:
    """One mail in the reply tree of a thread, with the replies to it."""

    message: ThreadMessage
    replies: tuple[ReplyNode, ...] = ()


@dataclass(slots=True)
class Thread:
    """A conversation (or a series with unthreaded patches) with mail in the window.

    `status` is the thread's status: for a series the very object in `series.status`
    (computed once, never copied), for a pull request or a lone patch its own, else None.
    """

    id: str  # root Message-ID
    subject: str
    url: str
    url_base: str  # the list's archive, for links to mail outside this thread
    category: Category
    series: SeriesFacts | None
    messages: list[ThreadMessage]
    status: StatusFacts | None = None
    summary: Summary | None = None
    subsystems: tuple[str, ...] = ()  # what the series touches, by name (facts.subsystems)
    questions: tuple[Question, ...] = ()  # asked in the mail up to the window's end

    def url_of(self, message_id: str) -> str:
        """Archive link of a mail of this thread (or of any mail, by the same rule)."""
        for m in self.messages:
            if m.message_id == message_id:
                return m.url
        return message_url(self.url_base, message_id)

    @property
    def window_messages(self) -> list[ThreadMessage]:
        """Mail of this thread dated inside the report window."""
        return [m for m in self.messages if m.in_window]

    @property
    def participants(self) -> list[str]:
        """Distinct senders (by address) inside the window, in order of first mail.

        Robots are not participants: their findings are listed per series instead.
        """
        return list(
            dict.fromkeys(m.from_email for m in self.window_messages if not is_bot(m.from_email))
        )

    @property
    def chain(self) -> str:
        """The id of the thread's revision chain: the first posting of the oldest version
        known, so v2, v3 and v4 of a series share it, in every week's report (a thread
        that is no series is a chain of its own)."""
        series = self.series
        if series is None:
            return self.id
        return series.revisions[0].message_id if series.revisions else series.first_message_id

    @property
    def decided_in_window(self) -> bool:
        """The status rests on mail of the window: this week's news, not an old decision
        a later reply repeats (highlights, the TL;DR and the thread order go by it)."""
        if self.status is None:
            return False
        inside = {m.message_id for m in self.window_messages}
        return any(e in inside for e in self.status.evidence)

    def reply_tree(self) -> list[ReplyNode]:
        """The thread as lore shows it: each mail under the one it answers, oldest first.

        A mail whose parent is not in the thread (a ghost, or the root) starts a tree of
        its own; every mail is in the result exactly once, even if its parents loop.
        Below MAX_TREE_DEPTH levels the rest of a branch is listed flat, oldest first.
        """
        ids = {m.message_id for m in self.messages}
        ordered = sorted(self.messages, key=lambda m: (m.date, m.message_id))
        children: dict[str, list[ThreadMessage]] = {}
        tops: list[ThreadMessage] = []
        for m in ordered:
            if m.parent_id and m.parent_id in ids and m.parent_id != m.message_id:
                children.setdefault(m.parent_id, []).append(m)
            else:
                tops.append(m)
        placed: set[str] = set()

        def descendants(m: ThreadMessage) -> list[ThreadMessage]:
            """Everything below `m` not yet placed, oldest first (iteratively: a chain
            of a thousand replies must not exhaust the stack)."""
            found: list[ThreadMessage] = []
            stack = [m]
            while stack:
                for c in children.get(stack.pop().message_id, []):
                    if c.message_id not in placed:
                        placed.add(c.message_id)
                        found.append(c)
                        stack.append(c)
            return sorted(found, key=lambda x: (x.date, x.message_id))

        def node(m: ThreadMessage, depth: int) -> ReplyNode:
            placed.add(m.message_id)
            if depth >= MAX_TREE_DEPTH:  # deeper mail is listed flat under this one
                return ReplyNode(m, tuple(ReplyNode(d) for d in descendants(m)))
            kids = [c for c in children.get(m.message_id, []) if c.message_id not in placed]
            placed.update(c.message_id for c in kids)
            return ReplyNode(m, tuple(node(c, depth + 1) for c in kids))

        trees = [node(m, 0) for m in tops]
        for m in ordered:  # in a parent loop: no top reaches them; each loop's oldest leads
            if m.message_id not in placed:
                trees.append(node(m, 0))
        return trees

    @property
    def started(self) -> datetime:
        """Date of the thread's first known mail."""
        return self.messages[0].date


def posted_order(thread: Thread) -> tuple[int, str]:
    """Sort key: when the thread's series was posted (a thread that is none: its start)."""
    series = thread.series
    started = int(thread.started.timestamp())
    return (series.posted_utc if series is not None else started, thread.id)


def revision_lines(threads: Sequence[Thread]) -> list[list[Thread]]:
    """Threads grouped by series: each group one line of revisions in posting order (the
    newest last; version numbers restart, an RFC v2 comes before a PATCH v1), the groups
    in the order their first thread comes in `threads`.

    One chain id can hold two lines: a v1 split into two v2 series shares its chain with
    both. A thread joins a line only when that line's newest revision is among its own
    earlier revisions, so the two siblings stay apart.
    """
    first_seen = {t.id: n for n, t in enumerate(threads)}
    by_chain: dict[str, list[list[Thread]]] = {}
    for t in sorted(threads, key=posted_order):
        earlier = {r.message_id for r in t.series.revisions} if t.series is not None else set()
        lines = by_chain.setdefault(t.chain, [])
        for line in lines:
            newest = line[-1].series
            if newest is not None and newest.first_message_id in earlier:
                line.append(t)
                break
        else:
            lines.append([t])
    found = [line for lines in by_chain.values() for line in lines]
    return sorted(found, key=lambda line: min(first_seen[t.id] for t in line))
