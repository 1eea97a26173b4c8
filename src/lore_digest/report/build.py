"""Build the model of one window's report from the store (facts only, no LLM).

`ReportBuilder` keeps what is worth reusing across windows of one list (the revision
index), so reports for every week of a list cost one index build, not one per week.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from lore_digest.errors import StoreError, UsageError
from lore_digest.facts.build import mail_facts
from lore_digest.facts.classify import Category, classify, other_project
from lore_digest.facts.landed import PullPatch, PullPatchIndex
from lore_digest.facts.links import message_url
from lore_digest.facts.model import MailFacts
from lore_digest.facts.postings import MemoryPostings, PostingSource, StorePostings
from lore_digest.facts.questions import questions_in
from lore_digest.facts.revisions import RevisionIndex
from lore_digest.facts.series_facts import build_series_facts, mail_files, thread_status
from lore_digest.facts.status import APPLIED_STATES, Appliers, Status
from lore_digest.facts.subsystems import Subsystems, matches
from lore_digest.facts.week import Window
from lore_digest.mail.body import first_paragraph
from lore_digest.mail.subject import LoreSubject, parse_subject
from lore_digest.model import Thread, ThreadMessage
from lore_digest.report.highlights import (
    WAITING_DAYS,
    WAITING_HORIZON_DAYS,
    compute_highlights,
)
from lore_digest.report.merges import attach_merges
from lore_digest.report.model import CategoryStats, Report, ReportStats
from lore_digest.report.people import compute_people
from lore_digest.report.tldr import compute_tldr
from lore_digest.report.trust import TrustRules
from lore_digest.store.db import ListInfo, Store, StoredMessage
from lore_digest.store.postings import PostingRecords
from lore_digest.summarize.base import Summarizer
from lore_digest.summarize.offline import OfflineSummarizer
from lore_digest.threading.jwz import parent_map
from lore_digest.threading.series import merge_unthreaded_patches
from lore_digest.vocabulary import SERIES_SPREAD_S, is_bot, is_stable_posting

if TYPE_CHECKING:
    from lore_digest.facts.maintainers import Maintainers
    from lore_digest.facts.maintainers_history import MaintainersHistory
    from lore_digest.trees.matcher import TreeMatcher

LARGE_THREAD = 20
# A posting sent twice (an "RFC" copy of a "PATCH", a resend to a second address) is
# sent within this span of its twin.
TWIN_S = 2 * 86400
# A series in one of these states waits for nobody's review.
_DECIDED = frozenset(
    {
        Status.APPLIED,
        Status.PARTLY_APPLIED,
        Status.ACCEPTED,
        Status.NAKED,
        Status.DROPPED,
        Status.WITHDRAWN,
        Status.MERGED,
        Status.PARTLY_MERGED,
    }
)


_LANDED = frozenset({*APPLIED_STATES, Status.ACCEPTED, Status.MERGED, Status.PARTLY_MERGED})
_REFUSED = frozenset({Status.NAKED, Status.DROPPED, Status.WITHDRAWN})
_REVIEWED = frozenset({Status.UNDER_REVIEW, Status.CHANGES_REQUESTED})


def importance(thread: Thread, window: Window) -> int:
    """Where a thread goes in the list, lowest first: what a maintainer acts on before
    what is only busy. 0 applied or accepted this week; 1 NAKed, dropped or withdrawn
    this week; 2 a new revision posted this week that got review; 3 a new series or
    revision posted this week; 4 discussion among several people; 5 the rest; 6 a
    revision superseded by a newer one (read under the newest, not first)."""
    series = thread.series
    if series is not None and series.superseded_by is not None:
        return 6
    status = thread.status.status if thread.status is not None else None
    decided = thread.decided_in_window
    if decided and status in _LANDED:
        return 0
    if decided and status in _REFUSED:
        return 1
    if series is not None and window.start_utc <= series.posted_utc < window.end_utc:
        revised = series.version > 1 or len(series.revisions) > 1
        return 2 if revised and status in _REVIEWED else 3
    return 4 if len(thread.participants) >= 2 else 5


GIST_CHARS = 100  # of a reply's first line in the thread view
_LETTERS = re.compile(r"[^\W\d_]")


def gist(mail: MailFacts) -> str:
    """A mail's line in the thread view: a posting's subject; a reply's first line of its
    own text (greetings, quotes, diffs and trailers skipped), else its subject."""
    if not mail.subject.is_reply:
        return mail.subject.subject
    lines = first_paragraph(mail.segments).split("\n")
    lines += [t.split("\n", 1)[0] for t in (s.text for s in mail.segments if s.kind == "trailer")]
    for raw in lines:  # "()" or "--" alone says nothing: the first line with words
        line = " ".join(raw.split())
        if len(_LETTERS.findall(line)) >= 3:
            return line if len(line) <= GIST_CHARS else line[: GIST_CHARS - 1].rstrip() + "…"
    return mail.subject.subject


def _parents(messages: Sequence[StoredMessage]) -> dict[str, str | None]:
    return parent_map((m.message_id, m.in_reply_to, m.references) for m in messages)


def _pick_root(messages: list[StoredMessage], parents: dict[str, str | None]) -> StoredMessage:
    """The thread's title mail: the cover letter, else the first root that is not a reply."""
    roots = [m for m in messages if parents.get(m.message_id) is None]
    subjects = {m.message_id: parse_subject(m.subject) for m in roots}
    for predicate in (
        lambda m: subjects[m.message_id].is_cover and not subjects[m.message_id].is_reply,
        lambda m: not subjects[m.message_id].is_reply,
    ):
        chosen = [m for m in roots if predicate(m)]
        if chosen:
            return chosen[0]
    return roots[0] if roots else messages[0]


class ReportBuilder:
    """Builds reports of one list; reuse it for many windows."""

    def __init__(
        self,
        store: Store,
        list_name: str,
        maintainers: Maintainers | MaintainersHistory | None = None,
        *,
        projects: Mapping[str, Maintainers | MaintainersHistory] | None = None,
        stable_waits: bool = False,
        matcher: TreeMatcher | None = None,
        grace_days: int = 14,
        path_groups: Mapping[str, Sequence[str]] | None = None,
        other_projects: Sequence[str] | None = None,
    ) -> None:
        info = store.get_list(list_name)
        if info is None:
            names = ", ".join(i.name for i in store.lists()) or "none yet: run `lore-digest sync`"
            raise UsageError(f"unknown list {list_name!r} in {store.path} (known: {names})")
        self.store = store
        self.info: ListInfo = info
        self._revisions: RevisionIndex | None = None
        self._pulls: PullPatchIndex | None = None
        self._threads_of: dict[str, int | None] = {}  # Message-ID -> thread, as looked up
        self._postings: PostingSource | None = None
        # Who may apply: the list's MAINTAINERS, other projects' (kvm-unit-tests, QEMU).
        self.trust = TrustRules(store, info, maintainers, projects)
        self._files: dict[int, tuple[str, ...]] = {}  # patch pk → files, not stored yet
        # Stable-review and AUTOSEL postings are listed under "waiting for review" only
        # when a list asks for it (config `stable_waits = true`).
        self.stable_waits = stable_waits
        # Trees where merges are confirmed (None: none configured), and how long after
        # a maintainer's "applied" a tree may still not hold it before that is flagged.
        self.matcher = matcher
        self.grace_days = grace_days
        # Names of what each series touches: path groups, else MAINTAINERS (its newest
        # version: one name for a subsystem in every week), else directories.
        own = self.trust.maintainers
        self.subsystems = Subsystems(path_groups, own.latest if own is not None else None)
        # The list's bracket prefixes of other projects' patches (None: kvmarm's).
        self.other_projects = other_projects

    @property
    def revisions(self) -> RevisionIndex:
        """The list's revision index, made on first use."""
        if self._revisions is None:
            self._revisions = RevisionIndex(self.postings, self.store.raw_many, self._thread_of)
        return self._revisions

    @property
    def pulls(self) -> PullPatchIndex:
        """The patches maintainers carried in pull requests, made on first use."""
        if self._pulls is None:
            self._pulls = PullPatchIndex(self.postings)
        return self._pulls

    @property
    def postings(self) -> PostingSource:
        """Where both indexes look postings up: the store's posting index, brought up to
        date first (a no-op after a sync), or, when the store cannot be written, every
        posting of the list read into memory."""
        if self._postings is None:
            records = PostingRecords(self.store)
            with contextlib.suppress(sqlite3.OperationalError, StoreError):
                records.update(self.info.id)
            if records.is_current(self.info.id):
                self._postings = StorePostings(self.store, self.info.id)
            else:
                self._postings = MemoryPostings(
                    self.store.series_candidates(self.info.id), self.store.raw_many
                )
        return self._postings

    def _thread_of(self, message_id: str) -> int | None:
        """The thread of a stored Message-ID (None when it is not in the archive)."""
        if message_id not in self._threads_of:
            pk = self.store.known_ids(self.info.id, [message_id]).get(message_id)
            found = None if pk is None else self.store.thread_of(self.info.id, pk)
            self._threads_of[message_id] = found
        return self._threads_of[message_id]

    def collect_threads(
        self, window: Window
    ) -> tuple[list[StoredMessage], dict[int, list[StoredMessage]]]:
        """In-window mail and, per conversation, all its mail up to the window's end."""
        store, list_id = self.store, self.info.id
        in_window = store.messages_between(list_id, window.start_utc, window.end_utc)
        known = {m.thread_id for m in in_window if m.thread_id is not None}
        groups: dict[int, list[StoredMessage]] = {}
        for msg in store.messages_of_threads(list_id, known, window.end_utc):
            groups.setdefault(msg.thread_id or 0, []).append(msg)
        for msg in in_window:  # never threaded (store written by an interrupted sync)
            if msg.thread_id is None:
                groups[-msg.pk] = [msg]

        def neighbours(msg: StoredMessage) -> list[StoredMessage]:
            return store.messages_by_author_near(
                list_id,
                msg.from_email,
                msg.date_utc - SERIES_SPREAD_S,
                msg.date_utc + SERIES_SPREAD_S,
            )

        def load_thread(tid: int) -> list[StoredMessage]:
            return store.messages_of_threads(list_id, [tid], window.end_utc)

        return in_window, merge_unthreaded_patches(groups, _parents, neighbours, load_thread)

    def build_thread(
        self, messages: list[StoredMessage], raws: dict[int, bytes], window: Window
    ) -> tuple[Thread, list[MailFacts]]:
        """One report thread (facts computed, no summary yet) and its parsed mail."""
        zone = window.start.tzinfo
        assert isinstance(zone, ZoneInfo)
        url_base = self.info.url_base
        parents = _parents(messages)
        root = _pick_root(messages, parents)
        mails = mail_facts(messages, raws, parents, (window.start_utc, window.end_utc))
        self._note_patch_files(messages, mails)
        gists = {mail.message_id: gist(mail) for mail in mails}
        report_messages = [
            ThreadMessage(
                message_id=m.message_id,
                date=datetime.fromtimestamp(m.date_utc, zone),
                from_name=m.from_name,
                from_email=m.from_email,
                subject=m.subject,
                in_window=window.start_utc <= m.date_utc < window.end_utc,
                url=message_url(url_base, m.message_id),
                parent_id=parents.get(m.message_id),
                gist=gists.get(m.message_id, m.subject),
            )
            for m in messages
        ]
        root_subject = parse_subject(root.subject)
        project = other_project(root_subject, self.other_projects)

        def appliers_for(files: Sequence[str]) -> Appliers:
            # Learned from mail before the window (in an archive's first months, also
            # from the rest of them): this week's mails never vouch for themselves (two
            # forged b4 replies would otherwise make their sender one).
            return self.trust.appliers(files, window.start_utc, window.end_utc, project)

        def pulled_for(
            patches: Sequence[MailFacts], before_utc: int | None
        ) -> list[tuple[int, PullPatch]]:
            # Sent on in a pull request before the window's end: applied by then.
            end = window.end_utc if before_utc is None else min(before_utc, window.end_utc)
            return [
                (patch.subject.counter or 1, carried)
                for patch in patches
                for carried in self.pulls.carried(
                    patch.subject.normalized_title(), patch.date_utc, end
                )
            ]

        series = None
        status = None
        if root_subject.is_patch or any(
            m.subject.is_patch and not m.subject.is_reply for m in mails
        ):
            first = _series_anchor(messages)
            chain = self.revisions.chain(first, window.end_utc) if first is not None else None
            series = build_series_facts(mails, chain, window.end_utc, appliers_for, pulled_for)
        if series is not None:
            status = series.status  # the same facts, not a copy
        elif root_subject.is_pull or root_subject.is_patch:
            status = thread_status(mails, window.end_utc, appliers_for)
            if root_subject.is_reply and status.status not in _DECIDED and not status.claims:
                # The posting is not archived: which revision, and whether anyone but
                # its author answered, is unknown. Only a decision is worth a badge.
                status = None
        thread = Thread(
            id=root.message_id,
            subject=root_subject.subject,
            url=message_url(url_base, root.message_id),
            url_base=url_base,
            category=Category.PULL
            if status is not None and status.pull is not None
            else classify(
                root_subject,
                root.from_email,
                has_replies=len(messages) > 1,
                other_projects=self.other_projects,
            ),
            series=series,
            messages=report_messages,
            status=status,
            subsystems=self.subsystems.of(series.files) if series is not None else (),
            questions=questions_in(mails) if series is not None else (),
        )
        return thread, mails

    def _note_patch_files(
        self, messages: Sequence[StoredMessage], mails: Sequence[MailFacts]
    ) -> None:
        """Remember the files of each patch posting, to be stored once per report."""
        for msg, mail in zip(messages, mails, strict=True):
            if mail.subject.is_patch and not mail.subject.is_reply and msg.pk not in self._files:
                self._files[msg.pk] = mail_files(mail)

    def _save_patch_files(self) -> None:
        """Store the files of patches not stored yet (skipped on a read-only store)."""
        known = self.store.patch_files(self._files)
        fresh = {pk: paths for pk, paths in self._files.items() if pk not in known}
        with contextlib.suppress(sqlite3.OperationalError, StoreError):
            self.store.save_patch_files(fresh)  # a cache: a read-only store skips it
        self._files.clear()

    def build(
        self,
        window: Window,
        *,
        lang: str = "zh",
        now: datetime | None = None,
        summarizer: Summarizer | None = None,
        progress: Callable[[int, int], None] | None = None,
        subsystems: Sequence[str] = (),
        people: Sequence[str] = (),
    ) -> Report:
        """The complete report of the list for one window.

        Facts always; the prose of each thread's summary comes from `summarizer`
        (default: the offline one, from the facts alone). With `subsystems`, only the
        threads touching one of them (facts.subsystems.matches) are in it, and its
        highlights, TL;DR and figures are theirs; nothing else is summarised. For each
        address of `people`, a view of the week for them (report.people).
        """
        zone = window.start.tzinfo
        assert isinstance(zone, ZoneInfo)
        in_window, groups = self.collect_threads(window)
        raws = self.store.raw_many(m.pk for msgs in groups.values() for m in msgs)
        threads: list[Thread] = []
        parsed: dict[str, list[MailFacts]] = {}
        for messages in groups.values():
            if not any(window.start_utc <= m.date_utc < window.end_utc for m in messages):
                continue
            thread, mails = self.build_thread(messages, raws, window)
            threads.append(thread)
            parsed[thread.id] = mails
        self._save_patch_files()
        if subsystems:
            threads = [t for t in threads if matches(t.subsystems, subsystems)]
        if self.matcher is not None:
            every = [m for msgs in groups.values() for m in msgs]
            postings = {
                m.message_id: raws[m.pk] for m in every if m.pk in raws and _is_posting(m.subject)
            }
            attach_merges(
                threads,
                postings,
                self.matcher,
                dates={m.message_id: m.date_utc for m in every},
                now_utc=min(window.end_utc, int((now or datetime.now(UTC)).timestamp())),
                grace_days=self.grace_days,
            )
        writer = summarizer if summarizer is not None else OfflineSummarizer()
        summaries = writer.summarize(
            [(t, parsed[t.id]) for t in threads],
            lang=lang,
            window_start_utc=window.start_utc,
            progress=progress,
        )
        for thread in threads:
            thread.summary = summaries[thread.id]
        writer.remember(window.label, lang, window.end_utc, summaries)
        counts = Counter(m.message_id for t in threads for m in t.window_messages)
        assert (subsystems or len(counts) == len(in_window)) and all(
            c == 1 for c in counts.values()
        ), "every in-window message must be in exactly one thread"
        threads.sort(
            key=lambda t: (importance(t, window), -len(t.window_messages), t.started, t.id)
        )
        waiting = self._waiting(window)
        if subsystems:
            waiting = [t for t in waiting if matches(t.subsystems, subsystems)]
        highlights = compute_highlights(threads, parsed, waiting, window)
        return Report(
            list_name=self.info.name,
            label=window.label,
            start=window.start,
            end=window.end,
            tz=window.tz_name,
            lang=lang,
            generated_at=(now or datetime.now(UTC)).astimezone(zone),
            stats=_stats(threads),
            threads=threads,
            highlights=highlights,
            tldr=compute_tldr(threads, highlights, window),
            subsystems=tuple(subsystems),
            people=compute_people(
                people, threads, waiting, self._deciders(window), window, self._person_name
            )
            if people
            else (),
        )

    def _deciders(self, window: Window) -> Callable[[Thread], frozenset[str]]:
        """Who is asked to act on a series: its appliers (MAINTAINERS M:, else learned)
        and its MAINTAINERS R: reviewers."""

        def deciders(thread: Thread) -> frozenset[str]:
            files = thread.series.files if thread.series is not None else ()
            project = other_project(parse_subject(thread.subject), self.other_projects)
            emails = self.trust.appliers(files, window.start_utc, window.end_utc, project).emails
            emails = emails | self.trust.reviewers(files, project, window.end_utc)
            return frozenset(e.lower() for e in emails)

        return deciders

    def _person_name(self, email: str) -> str | None:
        """A name for an address that wrote nothing this week: MAINTAINERS', else the
        one it signed its mail on the list with (questions name people by it)."""
        for file in self.trust.files:
            for section in file.sections:
                for person in (*section.maintainers, *section.reviewers):
                    if person.email.lower() == email:
                        return person.name
        used = self.store.sender_names(self.info.id, [email]).get(email)
        names = sorted(n for n in used[0] if n.strip() and "@" not in n) if used else []
        return max(names, key=len) if names else None

    def _waiting(self, window: Window) -> list[Thread]:
        """Series posted 14–90 days before the window's end that only their author touched."""
        end = window.end_utc
        recent = self.store.senders_between(self.info.id, end - WAITING_HORIZON_DAYS * 86400, end)
        by_thread: dict[int, list[tuple[int, int | None, str, int, str]]] = {}
        for row in recent:
            if row[1] is not None:
                by_thread.setdefault(row[1], []).append(row)
        waiting = []
        for thread_id, rows in by_thread.items():
            first_pk, _, author, date, raw_subject = rows[0]
            subject = parse_subject(raw_subject)
            if (
                subject.is_reply
                or not subject.is_patch
                or is_bot(author)  # a robot's report waits for nobody
                or end - date < WAITING_DAYS * 86400
            ):
                continue
            if is_stable_posting(subject) and not self.stable_waits:
                continue  # backports are sent for information (see `stable_waits`)
            if any(r[2] != author and not is_bot(r[2]) for r in rows):
                continue
            full = self.store.messages_of_threads(self.info.id, [thread_id], end)
            if any(m.from_email != author and not is_bot(m.from_email) for m in full):
                continue
            first = next(m for m in full if m.pk == first_pk)
            anchor = _series_anchor(full)
            chain = self.revisions.chain(anchor, end) if anchor is not None else None
            if chain is not None and chain.newer is not None:
                continue  # superseded (build_thread would say so from the same chain)
            raws = self.store.raw_many(m.pk for m in full)
            thread, _ = self.build_thread(full, raws, window)
            if (
                thread.series is not None
                and not thread.series.status.reviewed
                and thread.series.superseded_by is None
                and thread.series.status.status not in _DECIDED
                and not self._twin_reviewed(first, subject, end)
            ):
                waiting.append(thread)
        return waiting

    def _twin_reviewed(self, posting: StoredMessage, subject: LoreSubject, end: int) -> bool:
        """Whether the same posting, sent again by its author within two days as another
        thread (an "RFC" re-post of a "PATCH", a copy to a second address), got an
        answer from someone else before `end`: then the work is not waiting for review.
        """
        title = subject.normalized_title()
        near = self.store.messages_by_author_near(
            self.info.id, posting.from_email, posting.date_utc - TWIN_S, posting.date_utc + TWIN_S
        )
        twins = {
            m.thread_id
            for m in near
            if m.thread_id is not None
            and m.thread_id != posting.thread_id
            and (other := parse_subject(m.subject)).is_patch
            and not other.is_reply
            and other.version == subject.version
            and other.counter == subject.counter
            and other.normalized_title() == title
        }
        if not twins:
            return False
        mails = self.store.messages_of_threads(self.info.id, twins, end)
        return any(m.from_email != posting.from_email and not is_bot(m.from_email) for m in mails)


def _is_posting(subject: str) -> bool:
    """A patch as posted (not a reply to one)."""
    parsed = parse_subject(subject)
    return parsed.is_patch and not parsed.is_reply


def _series_anchor(messages: Sequence[StoredMessage]) -> StoredMessage | None:
    """The posting a revision chain starts from: newest cover letter, else newest patch 1."""
    best: tuple[int, int, StoredMessage] | None = None
    for msg in messages:
        s = parse_subject(msg.subject)
        if s.is_reply or not s.is_patch or (s.counter or 0) > 1:
            continue
        rank = (s.version, 1 if s.is_cover else 0)
        if best is None or rank >= best[:2]:
            best = (*rank, msg)
    return best[2] if best else None


def _stats(threads: list[Thread]) -> ReportStats:
    per_category: dict[Category, CategoryStats] = {}
    for category in Category:
        chosen = [t for t in threads if t.category == category]
        if chosen:
            per_category[category] = CategoryStats(
                threads=len(chosen), messages=sum(len(t.window_messages) for t in chosen)
            )
    window_mail = [m for t in threads for m in t.window_messages]
    return ReportStats(
        messages=len(window_mail),
        threads=len(threads),
        participants=len({m.from_email for m in window_mail if not is_bot(m.from_email)}),
        large_threads=sum(1 for t in threads if len(t.window_messages) > LARGE_THREAD),
        categories=per_category,
    )
