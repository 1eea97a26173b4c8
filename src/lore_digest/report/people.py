"""Per-person views of a week (`--person EMAIL`): my series, what waits for me, what I gave.

A maintainer or reviewer reads a busy week for three things: how their own series
stand, which series touching their files wait for a word from them, and the reviews
they gave (to check they were picked up). All three come from the facts:

- **their series**: series they wrote (the author of the revision chain), in this
  report or waiting for review, one entry per chain, with the status;
- **asked of them**: open series (not applied, accepted, NAKed, dropped, withdrawn or
  superseded, and not waiting for its author's new version after changes were
  requested) written by someone else whose files make them an M: (may apply) or R:
  (reviewer) of the MAINTAINERS file (`--maintainers`) — without a file, one of the
  appliers learned from the list — and in whose thread they have not written yet, or
  whose mail names them in a question they have not answered since ("Marc, any
  thoughts?", "OK, Will, can you review those?"); oldest posting first (the longest
  wait first), at most MAX_ASKED named;
- **given**: Reviewed-by / Acked-by / Tested-by they sent in this week's replies, per
  series, with the patches they cover.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final

from lore_digest.facts.questions import names_person
from lore_digest.facts.status import APPLIED_STATES, Status
from lore_digest.facts.week import Window
from lore_digest.model import Thread
from lore_digest.model.thread import revision_lines
from lore_digest.report.model import HighlightItem, PersonView
from lore_digest.vocabulary import REVIEW_TRAILERS

__all__ = ["CLOSED", "MAX_ASKED", "compute_people"]

MAX_ASKED: Final = 10
# A decision is made or the work moved on: nothing is asked of anyone any more.
CLOSED: Final = frozenset(
    {*APPLIED_STATES, Status.ACCEPTED, Status.NAKED, Status.DROPPED, Status.WITHDRAWN}
)

Deciders = Callable[[Thread], frozenset[str]]  # the M: and R: addresses of a series


def compute_people(
    emails: Iterable[str],
    threads: Sequence[Thread],
    waiting: Sequence[Thread],
    deciders: Deciders,
    window: Window,
    names: Callable[[str], str | None] = lambda _: None,
) -> tuple[PersonView, ...]:
    """One view per address asked for, in the order given (repeats dropped)."""
    candidates = _newest_per_chain([*threads, *waiting])
    known: dict[str, frozenset[str]] = {}

    def deciders_of(thread: Thread) -> frozenset[str]:
        # Once per series, not once per person: a MAINTAINERS lookup per file.
        if thread.id not in known:
            known[thread.id] = deciders(thread)
        return known[thread.id]

    out = []
    for email in dict.fromkeys(e.strip().lower() for e in emails if e.strip()):
        name = _name(email, [*threads, *waiting]) or names(email) or email
        asked = _asked(email, name, candidates, deciders_of, window)
        out.append(
            PersonView(
                email=email,
                name=name,
                series=tuple(_own(email, candidates)),
                asked=tuple(asked[:MAX_ASKED]),
                given=tuple(_given(email, threads)),
                more_asked=max(0, len(asked) - MAX_ASKED),
            )
        )
    return tuple(out)


def _newest_per_chain(threads: Sequence[Thread]) -> list[Thread]:
    """The newest posted revision of each series (model.revision_lines)."""
    return [line[-1] for line in revision_lines([t for t in threads if t.series is not None])]


def _own(email: str, candidates: Sequence[Thread]) -> list[HighlightItem]:
    out = []
    for t in candidates:
        assert t.series is not None
        if t.series.author_email.lower() == email:
            status = str(t.series.status.status)
            out.append(
                HighlightItem(t.subject, t.id, t.url, status, len(t.window_messages), t.chain)
            )
    return out


def _asked(
    email: str, name: str, candidates: Sequence[Thread], deciders: Deciders, window: Window
) -> list[HighlightItem]:
    found = []
    for t in candidates:
        series = t.series
        assert series is not None
        if (
            series.author_email.lower() == email
            or series.superseded_by is not None
            or series.status.status in CLOSED
            or series.status.status == Status.CHANGES_REQUESTED  # the author's turn
        ):
            continue
        wrote = [m.date.timestamp() for m in t.messages if m.from_email.lower() == email]
        owed = email in deciders(t) and not wrote
        if not owed and not _named_in_a_question(email, name, t, max(wrote, default=0)):
            continue
        days = max(0, (window.end_utc - series.posted_utc) // 86400)
        item = HighlightItem(t.subject, t.id, t.url, str(series.status.status), days, t.chain)
        found.append((series.posted_utc, t.id, item))
    return [item for _, _, item in sorted(found, key=lambda f: (f[0], f[1]))]


def _named_in_a_question(email: str, name: str, thread: Thread, answered_utc: float) -> bool:
    """Someone else's question in the thread names them, and they have not written since."""
    return any(
        q.from_email != email and q.date_utc > answered_utc and names_person(q.text, name)
        for q in thread.questions
    )


def _given(email: str, threads: Sequence[Thread]) -> list[HighlightItem]:
    out = []
    for t in threads:
        if t.series is None:
            continue
        window_ids = {m.message_id for m in t.window_messages}
        kinds: dict[str, set[int]] = {}
        for patch in t.series.patches:
            for tr in patch.trailers:
                if (
                    tr.kind in REVIEW_TRAILERS
                    and tr.credited
                    and tr.sent_by_email.lower() == email
                    and tr.message_id in window_ids
                    and tr.message_id != patch.message_id
                ):
                    kinds.setdefault(tr.kind, set()).add(patch.number)
        if kinds:
            detail = "; ".join(
                f"{kind} ({_numbers(numbers, len(t.series.patches))})"
                for kind, numbers in sorted(kinds.items())
            )
            count = sum(len(n) for n in kinds.values())
            out.append(HighlightItem(t.subject, t.id, t.url, detail, count, t.chain))
    return out


def _numbers(numbers: set[int], total: int) -> str:
    """ "1-4/4" or "1, 3/4": the patches covered, in any language."""
    ordered = sorted(numbers)
    spans: list[str] = []
    start = prev = ordered[0]
    for n in [*ordered[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        spans.append(f"{start}-{prev}" if prev > start else f"{start}")
        if n is not None:
            start = prev = n
    return f"{', '.join(spans)}/{total}"


def _name(email: str, threads: Sequence[Thread]) -> str | None:
    for t in threads:
        for m in t.messages:
            if m.from_email.lower() == email and m.from_name:
                return m.from_name
    return None
