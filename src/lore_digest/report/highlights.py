"""The week's highlights: applied, new series, new revisions, waiting, active, reviewers."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

from lore_digest.facts.model import MailFacts
from lore_digest.facts.status import APPLIED_STATES, is_thank_you
from lore_digest.facts.week import Window
from lore_digest.model import Thread
from lore_digest.report.model import HighlightItem, Highlights, Reviewer
from lore_digest.vocabulary import REVIEW_TRAILERS, is_bot, plural

WAITING_DAYS = 14  # a series nobody but its author answered for this long is "waiting"
WAITING_HORIZON_DAYS = 90  # older silent series are considered abandoned, not waiting
TOP = 5


def _applied(threads: Sequence[Thread]) -> list[HighlightItem]:
    out = []
    for t in threads:
        if t.status is None or t.status.status not in APPLIED_STATES:
            continue
        if not t.decided_in_window:
            continue  # applied before this window: old news
        applied = t.status.applied
        detail = ""
        if applied is not None:
            detail = applied.branch or ""
            if applied.commits:
                detail += f" ({plural(len(applied.commits), 'commit')})"
        out.append(HighlightItem(t.subject, t.id, t.url, detail.strip()))
    return out


def _posted_in_window(
    threads: Sequence[Thread], window: Window
) -> tuple[list[HighlightItem], list[HighlightItem]]:
    new: list[HighlightItem] = []
    revised: list[HighlightItem] = []
    for t in threads:
        facts = t.series
        if facts is None or not window.start_utc <= facts.posted_utc < window.end_utc:
            continue
        item = HighlightItem(
            t.subject, facts.first_message_id, t.url_of(facts.first_message_id), f"v{facts.version}"
        )
        (revised if facts.earlier_revisions or facts.version > 1 else new).append(item)
    return new, revised


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
    active = sorted(threads, key=lambda t: (-len(t.window_messages), t.id))[:TOP]
    return Highlights(
        applied=tuple(_applied(threads)),
        new_series=tuple(new),
        new_revisions=tuple(revised),
        waiting_for_review=tuple(
            HighlightItem(
                t.subject,
                t.id,
                t.url,
                f"{(window.end_utc - t.series.posted_utc) // 86400}",
                (window.end_utc - t.series.posted_utc) // 86400,
            )
            for t in sorted(waiting, key=lambda t: t.series.posted_utc if t.series else 0)
            if t.series is not None
        ),
        most_active=tuple(
            HighlightItem(t.subject, t.id, t.url, "", len(t.window_messages)) for t in active
        ),
        top_reviewers=tuple(_reviewers(threads, parsed)),
    )
