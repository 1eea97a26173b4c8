"""Who may apply on one list, for every series of its reports (see facts.appliers).

With a MAINTAINERS file, a series' appliers are the M: people of the sections that
cover the files it touches, plus those of the sections whose L: is the list. Other
projects whose patches the list carries keep MAINTAINERS files of the same format
(kvm-unit-tests, QEMU): a series is judged by its project's file, named by its subject
prefix ("[kvm-unit-tests PATCH]") or, without one, by the first file that covers what it
touches (QEMU's target/arm/ patches carry no prefix on kvmarm). Without any file, the
appliers are learned from the list's history; the events they are learned from are
scanned once per new mail and kept in the store, so a weekly report reads only the
week's new mail for it. A file read from a git repository's history judges each week
by the version of that week's end (facts.maintainers_history).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Final

from lore_digest.errors import StoreError
from lore_digest.facts.appliers import (
    BOOTSTRAP_MIN_THREADS,
    BOOTSTRAP_S,
    ApplierEvent,
    applier_events,
    learn_appliers,
)
from lore_digest.facts.build import mail_facts
from lore_digest.facts.classify import project_name
from lore_digest.facts.maintainers import Maintainers, person_name
from lore_digest.facts.maintainers_history import MaintainersHistory
from lore_digest.facts.model import MailFacts
from lore_digest.facts.status import Appliers
from lore_digest.store.db import ListInfo, Store, StoredMessage
from lore_digest.threading.jwz import parent_map

__all__ = ["TrustRules", "may_decide"]

# Mail that can hold an applier event: an "applied"/"queued" reply (a b4 thank-you, or
# words naming the branch) or a merge reply ("pulled"/"merged"); the rest (13 in 14 of
# kvmarm's mails; "supplied" passes too, and is parsed for nothing) is not parsed.
# Plain substring tests: a regex over every raw mail is slower.
_DECISION_WORDS: Final = (b"pplied", b"ueued", b"PPLIED", b"UEUED", b"ulled", b"erged")
_CHUNK: Final = 2000
# How long an old address may still send after the new one's first mail (a move takes
# a while: replies to old threads, a second machine).
ALIAS_OVERLAP_S: Final = 180 * 86400
_FOREVER: Final = 2**62


def may_decide(raw: bytes) -> bool:
    """Whether raw mail may hold an applier event (a cheap prefilter, no parsing)."""
    return any(word in raw for word in _DECISION_WORDS)


class TrustRules:
    """The appliers of each series of one list (one per ReportBuilder)."""

    def __init__(
        self,
        store: Store,
        info: ListInfo,
        maintainers: Maintainers | MaintainersHistory | None,
        projects: Mapping[str, Maintainers | MaintainersHistory] | None = None,
    ) -> None:
        self.store = store
        self.info = info
        self.maintainers = _history(maintainers) if maintainers is not None else None
        # Other projects' MAINTAINERS files by project_name (one per project), in config order.
        self.projects = {
            project_name(name): _history(file) for name, file in (projects or {}).items()
        }
        self._events: list[ApplierEvent] | None = None
        self._learned: dict[tuple[int, int | None], frozenset[str]] = {}
        self._aliases: dict[tuple[str, frozenset[str], frozenset[str]], frozenset[str]] = {}

    @property
    def rule(self) -> str:
        """ "maintainers" (MAINTAINERS files) or "learned" (the list's history)."""
        return "maintainers" if self.files else "learned"

    @property
    def files(self) -> tuple[Maintainers, ...]:
        """Every MAINTAINERS file, newest version: the list's own, then the other projects'."""
        return self.files_at(None)

    def files_at(self, when_utc: int | None) -> tuple[Maintainers, ...]:
        """Every MAINTAINERS file as it stood just before `when_utc` (None: newest)."""
        own = (self.maintainers,) if self.maintainers is not None else ()
        return tuple(history.at(when_utc) for history in (*own, *self.projects.values()))

    def maintainers_for(
        self, files: Sequence[str], project: str | None, when_utc: int | None = None
    ) -> Maintainers | None:
        """The MAINTAINERS file that judges a series, as it stood just before `when_utc`
        (None: the newest): for another project's posting (`project`, from its subject:
        facts.classify.other_project) that project's file, None without one (the
        kernel's says nothing about kvmtool: learned appliers); else the list's own when
        it has a section for what the series touches, else the first other project's
        that has (QEMU's target/arm/ patches carry no prefix on kvmarm), else the
        list's own (which then covers nothing: learned appliers)."""
        if project is not None:
            history = self.projects.get(project_name(project))
            return history.at(when_utc) if history is not None else None
        own = self.maintainers.at(when_utc) if self.maintainers is not None else None
        if files and not (own is not None and own.covers(files)):
            for candidate in self.projects.values():
                version = candidate.at(when_utc)
                if version.covers(files):
                    return version
        return own

    def appliers(
        self,
        files: Sequence[str],
        until_utc: int,
        window_end: int | None = None,
        project: str | None = None,
    ) -> Appliers:
        """Who may apply a series touching `files` (another project's: `project`), as
        known before `until_utc` (the window's start; for an archive's first months,
        see `learned`).

        With MAINTAINERS files: the M: people of the series' file (maintainers_for) for
        the files and the list (for another project's file, with the learned appliers).
        Files no section covers (a project without a file: kvmtool) fall back to the
        learned appliers, and so does the merging of pull requests (upstream trees are
        not in MAINTAINERS). The files are those in effect at the window's end.
        """
        learned = self.learned(until_utc, window_end)
        when = window_end if window_end is not None else until_utc
        chosen = self.maintainers_for(files, project, when)
        if chosen is None:
            return Appliers(learned, "learned", learned)
        emails = chosen.appliers(files, self.info.name)
        own = self.maintainers.at(when) if self.maintainers is not None else None
        if chosen is not own:
            # Another project's file names its maintainers from the first day; the
            # learned appliers still count: such files say "not who owns what"
            # (kvm-unit-tests' header), its administrators apply anywhere, and a path
            # that only looks like the project's (QEMU's */*/kvm* matches virt/kvm/)
            # must not take the list's own appliers away.
            return Appliers(emails | learned, "maintainers", learned)
        if not files or not chosen.covers(files):
            emails = emails | learned  # files unknown (a ghost thread) or no one's
        else:
            emails = emails | self._other_addresses(chosen, emails, learned)
        return Appliers(emails, "maintainers", learned)

    def reviewers(
        self, files: Sequence[str], project: str | None = None, when_utc: int | None = None
    ) -> frozenset[str]:
        """The R: people of the series' MAINTAINERS file for these files (none without),
        as it stood just before `when_utc` (None: the newest)."""
        chosen = self.maintainers_for(files, project, when_utc)
        return chosen.reviewers(files, self.info.name) if chosen is not None else frozenset()

    def _other_addresses(
        self, chosen: Maintainers, emails: frozenset[str], learned: frozenset[str]
    ) -> frozenset[str]:
        """Learned appliers who are these maintainers under another address.

        A MAINTAINERS file names today's address (maz@kernel.org); an archive holds the
        older ones (marc.zyngier@arm.com) that the list's history shows applying under
        the same full name. Only learned appliers, never any sender using the name, and
        only an address the person had left by the time the file's address first wrote
        to the list (ALIAS_OVERLAP_S): a handover, not a second person of that name.
        """
        key = (chosen.source, emails, learned)
        if key not in self._aliases:
            names = chosen.names_of(emails)
            spans = self.store.sender_names(self.info.id, learned | emails) if names else {}
            current = [spans[e][1] for e in emails if e in spans]
            handover = min(current, default=_FOREVER)
            self._aliases[key] = frozenset(
                email
                for email, (used, _, last) in spans.items()
                if email not in emails
                and last <= handover + ALIAS_OVERLAP_S
                and any(person_name(name) in names for name in used)
            )
        return self._aliases[key]

    def learned(self, until_utc: int, window_end: int | None = None) -> frozenset[str]:
        """The appliers the list's history shows before `until_utc`.

        In the archive's first BOOTSTRAP_S, the events of that whole span count too
        (three threads needed), except those of the window [until_utc, window_end)
        itself, which must be given: an archive that starts in the middle of a list's
        life has maintainers from its first day. A mail with an absurd old date moves
        the archive's start and so only turns this off: the stricter rule remains.
        """
        key = (until_utc, window_end)
        if key not in self._learned:
            learned = learn_appliers(self.events(), until_utc)
            span = self.store.date_range(self.info.id)
            if window_end is not None and span is not None and until_utc < span[0] + BOOTSTRAP_S:
                also = (max(until_utc, window_end), span[0] + BOOTSTRAP_S)
                learned |= learn_appliers(
                    self.events(), until_utc, also, min_threads=BOOTSTRAP_MIN_THREADS
                )
            self._learned[key] = learned
        return self._learned[key]

    def events(self) -> list[ApplierEvent]:
        """Every applier event of the list, the store's copy brought up to date first."""
        if self._events is None:
            fresh = self._scan()
            stored = [
                ApplierEvent(kind, email, thread, date, other)
                for kind, email, thread, date, other in self.store.applier_events(self.info.id)
            ]
            self._events = stored + fresh
        return self._events

    def _scan(self) -> list[ApplierEvent]:
        """Events of mail stored since the last scan; saved when the store is writable.

        Returns the events it could not save (a read-only store): they are used for
        this run and found again by the next one.
        """
        list_id = self.info.id
        new = self.store.messages_after(list_id, self.store.applier_scan_pk(list_id))
        if not new:
            return []
        rows: list[tuple[int, str, str, str, int, str]] = []
        for start in range(0, len(new), _CHUNK):
            rows.extend(self._events_of(new[start : start + _CHUNK]))
        # Mail not threaded yet (an interrupted sync) is scanned again next time.
        unthreaded = [m.pk for m in new if m.thread_id is None]
        last = unthreaded[0] - 1 if unthreaded else new[-1].pk
        rows = [row for row in rows if row[0] <= last]
        try:
            self.store.save_applier_events(list_id, rows, last)
        except (sqlite3.OperationalError, StoreError):
            return [ApplierEvent(k, e, t, d, o) for _, k, e, t, d, o in rows]
        return []

    def _events_of(
        self, messages: Sequence[StoredMessage]
    ) -> list[tuple[int, str, str, str, int, str]]:
        raws = self.store.raw_many(m.pk for m in messages)
        candidates = [
            m for m in messages if m.thread_id is not None and may_decide(raws.get(m.pk, b""))
        ]
        if not candidates:
            return []
        threads = {m.thread_id for m in candidates if m.thread_id is not None}
        by_thread: dict[int, list[StoredMessage]] = {}
        for msg in self.store.messages_of_threads(self.info.id, threads, _FOREVER):
            by_thread.setdefault(msg.thread_id or 0, []).append(msg)
        roots: dict[int, tuple[StoredMessage, dict[str, str | None]]] = {}
        for tid in threads:
            thread = by_thread.get(tid, [])
            parents = parent_map((m.message_id, m.in_reply_to, m.references) for m in thread)
            root = next((m for m in thread if parents.get(m.message_id) is None), None)
            if root is not None:
                roots[tid] = (root, parents)
        root_raws = self.store.raw_many({root.pk for root, _ in roots.values()})
        root_facts: dict[int, MailFacts] = {}
        rows: list[tuple[int, str, str, str, int, str]] = []
        for msg in candidates:
            if msg.thread_id not in roots:
                continue
            root, parents = roots[msg.thread_id]
            if root.pk == msg.pk:
                continue
            if root.pk not in root_facts:
                root_facts[root.pk] = mail_facts([root], root_raws, parents, (0, _FOREVER))[0]
            mail = mail_facts([msg], raws, parents, (0, _FOREVER))[0]
            for event in applier_events(mail, root_facts[root.pk]):
                rows.append(
                    (msg.pk, event.kind, event.email, event.thread, event.date_utc, event.by)
                )
        return rows


def _history(file: Maintainers | MaintainersHistory) -> MaintainersHistory:
    """A parsed file stands for every moment; a history is kept as it is."""
    return file if isinstance(file, MaintainersHistory) else MaintainersHistory.fixed(file)
