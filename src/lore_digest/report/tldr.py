"""The TL;DR: at most eight lines a maintainer reads before anything else, from facts.

What landed where (one line per branch), the week's new series, new revisions (one
entry per revision chain: "v2 → v4", never three entries for one series), decisions
(NAKed, dropped, withdrawn), and what is stuck: the series that has waited longest for a
first review, and series whose reviewers asked for changes that got no new version.
Every entry links the mail it rests on; nothing here is written by a model.
"""

from __future__ import annotations

from collections.abc import Sequence

from lore_digest.facts.status import APPLIED_STATES, Status
from lore_digest.facts.week import Window
from lore_digest.mail.subject import parse_subject
from lore_digest.model import Thread
from lore_digest.model.thread import revision_lines
from lore_digest.report.labels import LABELS, STATUS_LABELS
from lore_digest.report.model import HighlightItem, Highlights, TldrLine
from lore_digest.vocabulary import format_counted, is_stable_posting

MAX_LINES = 8
PER_LINE = 3  # entries named on one line; the rest are counted ("+2 more")
STUCK_DAYS = 14  # changes asked this long ago, and no new version since: stuck

DECISIONS = (Status.NAKED, Status.DROPPED, Status.WITHDRAWN)


def compute_tldr(
    threads: Sequence[Thread], highlights: Highlights, window: Window
) -> tuple[TldrLine, ...]:
    """The TL;DR of a week, from its threads and highlights."""
    lines: list[TldrLine] = []
    lines += _applied(threads)[:2]
    if highlights.new_series:
        ranked = sorted(highlights.new_series, key=lambda i: _notable(threads, i.message_id))
        lines.append(_line("new_series", ranked))
    chains = sorted(highlights.new_revisions, key=lambda i: (-i.count, i.subject))
    if chains:
        lines.append(_line("new_revisions", chains))
    lines += _decisions(threads)
    if highlights.waiting_for_review:
        oldest = sorted(highlights.waiting_for_review, key=lambda i: -i.count)
        lines.append(_line("waiting", oldest[:1]))
    stuck = _stuck(threads, window)
    if stuck:
        lines.append(_line("stuck", stuck))
    return tuple(lines[:MAX_LINES])


def _line(kind: str, items: Sequence[HighlightItem], detail: str = "") -> TldrLine:
    return TldrLine(kind, tuple(items[:PER_LINE]), detail, max(0, len(items) - PER_LINE))


def _notable(threads: Sequence[Thread], message_id: str) -> tuple[bool, int, int]:
    """Sort key of a new series: for review before stable backports, then the most
    discussed this week, then the biggest."""
    for t in threads:
        s = t.series
        if s is not None and s.first_message_id == message_id:
            stable = is_stable_posting(parse_subject(t.subject))
            return stable, -len(t.window_messages), -(s.total or 1)
    return True, 0, 0


def _applied(threads: Sequence[Thread]) -> list[TldrLine]:
    """One line per branch, the branch with the most series first."""
    by_branch: dict[str, list[HighlightItem]] = {}
    decided = [
        t
        for t in threads
        if t.status is not None and t.status.status in APPLIED_STATES and t.decided_in_window
    ]
    # A series' entry is its newest applied revision, as in the highlights.
    newest = {line[-1].id for line in revision_lines(decided)}
    for t in decided:
        status = t.status
        if status is None or t.id not in newest:
            continue
        applied = status.applied
        branch = (applied.branch if applied is not None else "") or ""
        commits = len(applied.commits) if applied is not None else 0
        detail = f"{commits}" if commits else ""
        item = HighlightItem(t.subject, t.id, t.url, detail, commits, t.chain)
        by_branch.setdefault(branch, []).append(item)
    ordered = sorted(by_branch.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [_line("applied", items, branch) for branch, items in ordered]


def _decisions(threads: Sequence[Thread]) -> list[TldrLine]:
    out = []
    for decision in DECISIONS:
        items = [
            HighlightItem(t.subject, t.id, t.url, str(decision), chain=t.chain)
            for t in threads
            if t.status is not None and t.status.status == decision and t.decided_in_window
        ]
        if items:
            out.append(_line("decision", items, str(decision)))
    return out


def _stuck(threads: Sequence[Thread], window: Window) -> list[HighlightItem]:
    """Changes requested at least STUCK_DAYS before the week's end, and no new version."""
    out = []
    for t in threads:
        s = t.series
        if s is None or s.status.status != Status.CHANGES_REQUESTED or s.superseded_by is not None:
            continue
        dates = [m.date for m in t.messages if m.message_id in s.status.changes_requested]
        if not dates:
            continue
        days = int((window.end_utc - max(dates).timestamp()) // 86400)
        if days >= STUCK_DAYS:
            out.append(HighlightItem(t.subject, t.id, t.url, "", days, t.chain))
    out.sort(key=lambda i: (-i.count, i.subject))
    return out


def line_title(line: TldrLine, lang: str) -> str:
    """What a line is about, in the report's language ("Applied to next", "NAKed")."""
    labels = LABELS[lang]
    if line.kind == "applied":
        return (
            labels["tl_applied"].format(branch=line.detail)
            if line.detail
            else labels["tl_applied_any"]
        )
    if line.kind == "decision":
        return STATUS_LABELS[lang].get(line.detail, line.detail)
    return labels[f"tl_{line.kind}"]


def entry_detail(line: TldrLine, item: HighlightItem, lang: str) -> str:
    """What follows an entry in brackets: commits, versions, days; "" for none."""
    labels = LABELS[lang]
    if line.kind == "applied" and item.count:
        return format_counted(labels["tl_commits"], commits=item.count)
    if line.kind == "new_revisions":
        return item.detail
    if line.kind in ("waiting", "stuck"):
        return format_counted(labels["hl_days"], days=item.count)
    return ""


def more_text(line: TldrLine, lang: str) -> str:
    """ "+2 more" when the line names fewer entries than it has."""
    return LABELS[lang]["tl_more"].format(more=line.more) if line.more else ""
