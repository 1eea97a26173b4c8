"""Which weekly reports a change of mail can alter, without building every report.

Rebuilding all reports of a list takes tens of seconds; after a sync that brought one
mail, a site should recompute the one or two weeks that mail can change. A week's report
reads more than its own mail, so the rules below follow each way `ReportBuilder` reaches
outside the window (kept conservative: a week listed needlessly costs a rebuild whose
content hash then matches; a week missed would leave a stale page). These rules mirror
report/build.py: a change there that reads more of the store needs a rule here, and
tests/test_site.py compares an updated site with a fresh build to catch a missing one.

1. the mail's own week;
2. every later week in which its thread (new and previous thread id, since a mail can
   join two threads) has mail: the thread's history there changed;
3. a series posting (cover letter or patch): the threads of the same author's mail
   within the series spread, since lone patches are folded into their cover's thread;
4. a cover letter or patch 1: the threads of the revisions its chain links to (earlier
   ones, and every newer one, since a v5 lists a late v3 through v4), from its date on:
   their "superseded by" and "earlier revisions" facts follow from it;
5. "waiting for review": weeks up to 90 days later whose highlights list series that
   only their author touched, when the thread is such a series at the mail's date;
6. a reply dated in the archive's first BOOTSTRAP_S (or mail that moves the archive's
   start) that may be a decision (b4 commit list, "pulled"/"merged": report.trust's
   prefilter): every week of that span, whose appliers are learned from all of it
   (facts.appliers), a bounded set of at most 35 weeks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lore_digest.digest import Digest
from lore_digest.facts.appliers import BOOTSTRAP_S
from lore_digest.facts.revisions import RevisionIndex
from lore_digest.mail.subject import parse_subject
from lore_digest.report.highlights import WAITING_HORIZON_DAYS
from lore_digest.report.trust import may_decide
from lore_digest.store.db import Store, StoredMessage
from lore_digest.vocabulary import SERIES_SPREAD_S

DAY = 86400
FOREVER = 2**62


class _Lookups:
    """The list's mail as weeks_touched reaches it: by thread, by author near a date, by
    Message-ID; each a store lookup, kept for the call (the work follows the change)."""

    def __init__(self, store: Store, list_id: int) -> None:
        self.store = store
        self.list_id = list_id
        self._threads: dict[int, list[StoredMessage]] = {}
        self._ids: dict[str, StoredMessage | None] = {}

    def thread(self, tid: int | None) -> list[StoredMessage]:
        """Every mail of a thread, by date."""
        if tid is None:
            return []
        if tid not in self._threads:
            self._threads[tid] = self.store.messages_of_threads(self.list_id, [tid], FOREVER)
        return self._threads[tid]

    def near(self, email: str, utc: int) -> list[StoredMessage]:
        """The author's mail within the series spread of `utc`."""
        return self.store.messages_by_author_near(
            self.list_id, email, utc - SERIES_SPREAD_S, utc + SERIES_SPREAD_S + 1
        )

    def by_id(self, message_id: str) -> StoredMessage | None:
        """The stored mail with this Message-ID."""
        if message_id not in self._ids:
            pk = self.store.known_ids(self.list_id, [message_id]).get(message_id)
            found = self.store.messages_by_pks([pk]) if pk is not None else []
            self._ids[message_id] = found[0] if found else None
        return self._ids[message_id]

    def thread_of(self, message_id: str) -> int | None:
        msg = self.by_id(message_id)
        return None if msg is None else msg.thread_id


def weeks_touched(
    digest: Digest,
    changed: Iterable[StoredMessage],
    previous: Mapping[int, tuple[int | None, int]] | None = None,
) -> set[str]:
    """ISO weeks (in the Digest's zone) whose report may differ after `changed` mail
    appeared or moved.

    `changed` is the new or re-threaded mail (as stored now), `previous` maps a pk to
    its (thread id, date) before the change, for mail that moved to another thread. The
    rest of the list is looked up in the store, as far as the rules reach.
    """
    index = _Lookups(digest.store, digest.info.id)
    _week = digest.week_of
    weeks: set[str] = set()
    previous = previous or {}
    span = digest.store.date_range(digest.info.id)
    first_utc, last_utc = span if span is not None else (0, 0)

    def thread_weeks(tid: int | None, since: int) -> None:
        for msg in index.thread(tid):
            if msg.date_utc >= since:
                weeks.add(_week(msg.date_utc))

    def waiting_weeks(tid: int | None, since: int, exclude: int) -> None:
        thread = index.thread(tid)
        # The thread's first mail decides; with and without the changed mail, if it is first.
        firsts = thread[:2] if thread and thread[0].pk == exclude else thread[:1]
        for first in firsts:
            subject = parse_subject(first.subject)
            if subject.is_reply or not subject.is_patch:
                continue
            foreign = [
                m.date_utc for m in thread if m.pk != exclude and m.from_email != first.from_email
            ]
            limit = min(first.date_utc + (WAITING_HORIZON_DAYS + 1) * DAY, *foreign, FOREVER)
            start = digest.week_start_utc(since)
            while start < limit and start <= last_utc:
                label = _week(start)
                weeks.add(label)
                start = digest.window(label).end_utc  # the next Monday 00:00, DST or not

    bootstrap_end = first_utc + BOOTSTRAP_S

    def bootstrap_weeks() -> None:
        start = digest.week_start_utc(first_utc)
        while start < bootstrap_end and start <= last_utc:
            label = _week(start)
            weeks.add(label)
            start = digest.window(label).end_utc

    early = [m for m in changed if m.date_utc < bootstrap_end and parse_subject(m.subject).is_reply]
    if early and any(map(may_decide, digest.store.raw_many(m.pk for m in early).values())):
        bootstrap_weeks()
    for pk, (tid, utc) in previous.items():
        weeks.add(_week(utc))
        thread_weeks(tid, utc)
        waiting_weeks(tid, utc, pk)
    for msg in changed:
        utc = msg.date_utc
        weeks.add(_week(utc))
        thread_weeks(msg.thread_id, utc)
        waiting_weeks(msg.thread_id, utc, msg.pk)
        subject = parse_subject(msg.subject)
        if subject.is_reply or not subject.is_patch:
            continue
        for near in index.near(msg.from_email, utc):
            thread_weeks(near.thread_id, utc - SERIES_SPREAD_S)
        if (subject.counter or 0) > 1:
            continue
        for message_id in _revisions(digest.revisions, index, msg):
            tid = index.thread_of(message_id)
            thread_weeks(tid, utc)
            waiting_weeks(tid, utc, msg.pk)
    return weeks


def _revisions(revisions: RevisionIndex, index: _Lookups, posting: StoredMessage) -> set[str]:
    """Message-IDs of every revision linked to `posting`: its earlier ones, and the newer
    ones followed one by one (a v5 lists v3 through v4, so a late v3 changes v5 too)."""
    found: set[str] = set()
    chain = revisions.chain(posting, FOREVER)
    if chain is None:
        return found
    found.update(r.message_id for r in chain.earlier)
    newer = chain.newer
    while newer is not None and newer.message_id not in found:
        found.add(newer.message_id)
        msg = index.by_id(newer.message_id)
        following = revisions.chain(msg, FOREVER) if msg is not None else None
        newer = following.newer if following is not None else None
    return found


__all__ = ["weeks_touched"]
