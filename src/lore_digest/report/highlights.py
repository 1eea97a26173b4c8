"""The week's highlights: applied, new series, new revisions, waiting, active, reviewers.

One entry per series, not per posting: v2, v3 and v4 of a series posted in one week are
one "new revisions" entry ("v2 → v3 → v4"), their mails one "most active" count, each
entry carrying the chain's stable id (`Thread.chain`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

from lore_digest.facts.model import MailFacts
from lore_digest.facts.status import APPLIED_STATES, is_thank_you
from lore_digest.facts.week import Window
from lore_digest.model import Thread
from lore_digest.model.thread import revision_lines
from lore_digest.report.model import HighlightItem, Highlights, Reviewer
from lore_digest.vocabulary import REVIEW_TRAILERS, is_bot, plural

WAITING_DAYS = 14  # a series nobody but its author answered for this long is "waiting"
WAITING_HORIZON_DAYS = 90  # older silent series are considered abandoned, not waiting
TOP = 5


SHOWN_COMMITS = 3  # short commit ids named in an "applied" entry; the rest is "…"


def _versions(members: Sequence[Thread]) -> str:
    """ "v2 → v3 → v4": the versions of a chain in this group."""
    versions = [f"v{t.series.version}" for t in members if t.series is not None]
    return " → ".join(dict.fromkeys(versions))


def applied_detail(branch: str | None, commits: Sequence[tuple[str, str]]) -> str:
    """ "next (4 commits: 3cb8a091a701 e987a4c60f97 84d751a019a9 …)": where it went and
    the commits it made (12-character ids, as the kernel's Fixes: tags cite them)."""
    detail = branch or ""
    if commits:
        shas = [sha[:12] for _, sha in commits[:SHOWN_COMMITS] if sha]
        more = " …" if len(commits) > SHOWN_COMMITS else ""
        named = f": {' '.join(shas)}{more}" if shas else ""
        detail += f" ({plural(len(commits), 'commit')}{named})"
    return detail.strip()


def _applied(threads: Sequence[Thread]) -> list[HighlightItem]:
    """Applied this week, one entry per revision chain (its newest applied revision)."""
    decided = [
        t
        for t in threads
        if t.status is not None and t.status.status in APPLIED_STATES and t.decided_in_window
    ]
    out = []
    for members in revision_lines(decided):
        t = members[-1]
        assert t.status is not None
        applied = t.status.applied
        commits = applied.commits if applied is not None else ()
        branch = applied.branch if applied is not None else None
        out.append(
            HighlightItem(
                t.subject, t.id, t.url, applied_detail(branch, commits), len(commits), t.chain
            )
        )
    return out


def _posted_in_window(
    threads: Sequence[Thread], window: Window
) -> tuple[list[HighlightItem], list[HighlightItem]]:
    """New series and new revisions, one entry per revision chain: its newest posting of
    the week, the versions posted in its detail ("v2 → v3 → v4"). A chain that starts
    this week (v1, nothing earlier) is new, even when v2 followed within the week."""
    posted = [
        t
        for t in threads
        if t.series is not None and window.start_utc <= t.series.posted_utc < window.end_utc
    ]
    new: list[HighlightItem] = []
    revised: list[HighlightItem] = []
    for members in revision_lines(posted):
        first, newest = members[0].series, members[-1].series
        assert first is not None and newest is not None
        item = HighlightItem(
            members[-1].subject,
            newest.first_message_id,
            members[-1].url_of(newest.first_message_id),
            _versions(members),
            len(members),
            members[-1].chain,
        )
        (revised if first.earlier_revisions or first.version > 1 else new).append(item)
    return new, revised


def _most_active(threads: Sequence[Thread]) -> list[HighlightItem]:
    """The chains with the most mail this week (every revision's mail counted once)."""
    ranked = sorted(
        revision_lines(threads),
        key=lambda members: (-sum(len(t.window_messages) for t in members), members[-1].id),
    )
    return [
        HighlightItem(
            members[-1].subject,
            members[-1].id,
            members[-1].url,
            _versions(members) if len(members) > 1 else "",
            sum(len(t.window_messages) for t in members),
            members[-1].chain,
        )
        for members in ranked[:TOP]
    ]


def _waiting(waiting: Sequence[Thread], window: Window) -> list[HighlightItem]:
    """Silent series, oldest first, one per chain (its newest revision)."""
    out = []
    for members in revision_lines([t for t in waiting if t.series is not None]):
        t = members[-1]
        assert t.series is not None
        days = (window.end_utc - t.series.posted_utc) // 86400
        out.append(
            (t.series.posted_utc, HighlightItem(t.subject, t.id, t.url, f"{days}", days, t.chain))
        )
    return [item for _, item in sorted(out, key=lambda pair: pair[0])]


def _reviewers(
    threads: Sequence[Thread], parsed: Mapping[str, Sequence[MailFacts]]
) -> list[Reviewer]:
    """Trailers given in the window (from replies) and in-window replies to others' series.

    Both are counted per mail and credited to its sender's address: people sign with
    another address than they send from ("Russell King (Oracle) <rmk+kernel@...>" sent
    from linux@...), so a trailer in the sender's own name counts for the sender (never
    for the address it names: anyone can type a display name). Thank-you mails are
    decisions, not reviews: they count as neither.
    """
    trailers: Counter[str] = Counter()
    replies: Counter[str] = Counter()
    names: dict[str, str] = {}
    for t in threads:
        author = t.series.author_email if t.series else None
        window_ids = {m.message_id for m in t.window_messages}
        if t.series:
            # Given in a reply this week; trailers carried inside a patch are old news.
            given = {
                (tr.sent_by_email, tr.message_id, tr.sent_by_name)
                for p in t.series.patches
                for tr in p.trailers
                if tr.kind in REVIEW_TRAILERS
                and (tr.credited or _own_name(tr.name, tr.sent_by_name))
                and tr.message_id in window_ids
                and tr.message_id != p.message_id
                and tr.sent_by_email
                and tr.sent_by_email != author
            }
            for email, _, name in given:
                trailers[email] += 1
                names.setdefault(email, name or email)
        for mail in parsed.get(t.id, ()):
            names[mail.from_email] = mail.from_name
            if (
                mail.in_window
                and author
                and mail.from_email != author
                and not is_bot(mail.from_email)
                and not is_thank_you(mail)
            ):
                replies[mail.from_email] += 1
    people = set(trailers) | set(replies)
    ranked = sorted(people, key=lambda e: (-(trailers[e] * 2 + replies[e]), e))
    return [Reviewer(names.get(e, e), e, trailers[e], replies[e]) for e in ranked[:TOP]]


def _own_name(signed: str, sender: str) -> bool:
    """A trailer signed with the sender's own display name (another address of theirs).

    Compared as words, in any order and with additions to the sender's name: "Alexander
    Graf" signs for "Graf (AWS), Alexander", "Russell King (Oracle" (a parenthesis lost
    in parsing) for "Russell King (Oracle)". At least two words: a first name is no one.
    """
    mine, theirs = (set(re.findall(r"\w+", name.lower())) for name in (signed, sender))
    return len(mine) >= 2 and mine <= theirs


def compute_highlights(
    threads: Sequence[Thread],
    parsed: Mapping[str, Sequence[MailFacts]],
    waiting: Sequence[Thread],
    window: Window,
) -> Highlights:
    """Highlights of a report's threads; `waiting` are silent series found in the store."""
    new, revised = _posted_in_window(threads, window)
    return Highlights(
        applied=tuple(_applied(threads)),
        new_series=tuple(new),
        new_revisions=tuple(revised),
        waiting_for_review=tuple(_waiting(waiting, window)),
        most_active=tuple(_most_active(threads)),
        top_reviewers=tuple(_reviewers(threads, parsed)),
    )
