"""Patches a maintainer carried in a pull request: applied, though nobody said so in reply.

Maintainers apply many patches without answering the posting: they show up weeks later
as one patch of the maintainer's pull request to the next tree up (Marc's "[PATCH 09/24]
KVM: arm64: ..." under "[GIT PULL] KVM/arm64 updates for 5.8", Andrew Jones's "[PULL
kvm-unit-tests 13/39]"). A posting whose patches all appear in such a pull is applied,
some of them partly applied; the pull's patches are the evidence.

Rules (heuristic: titles are compared, not code):
- a pull thread is a [GIT PULL]/[PULL] posting or a cover letter titled like one
  ("[PATCH 0/24] KVM/arm64 updates for 5.8"); its patches are the numbered postings of
  the same sender in that thread, and the commits its git request-pull shortlog lists
  (the indented titles between the two dashed lines) when the patches are not sent;
- a pull patch matches a posted patch when their normalized titles are equal and the
  pull patch was sent later (a maintainer may retitle; such a patch is simply missed);
- the caller decides whose pulls count (trusted appliers) and up to which date.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lore_digest.mail.mime import message_text
from lore_digest.mail.subject import LoreSubject, parse_subject
from lore_digest.store.db import StoredMessage
from lore_digest.vocabulary import is_pull_as_patches

__all__ = ["PullPatch", "PullPatchIndex"]


@dataclass(frozen=True, slots=True)
class PullPatch:
    """One patch sent as part of a pull request."""

    message_id: str
    date_utc: int
    from_name: str
    from_email: str
    pull_id: str  # the pull request's first mail (its cover letter)


class PullPatchIndex:
    """Every pull request patch of a list, by normalized title."""

    def __init__(
        self,
        postings: Iterable[StoredMessage],
        load_raw: Callable[[Iterable[int]], dict[int, bytes]],
        parse: Callable[[str], LoreSubject] = parse_subject,
    ) -> None:
        self._parse = parse  # a memo shared with the caller's other indexes, or the parser
        by_thread: dict[int, list[StoredMessage]] = defaultdict(list)
        for msg in postings:
            if msg.thread_id is not None:
                by_thread[msg.thread_id].append(msg)
        self._by_title: dict[str, list[PullPatch]] = defaultdict(list)
        covers = [c for messages in by_thread.values() for c in self._add_thread(messages)]
        raws = load_raw([c.pk for c in covers])
        for cover in covers:
            raw = raws.get(cover.pk)
            for title in _shortlog_titles(message_text(raw).text) if raw else ():
                self._add(title, cover, cover)

    def _add(self, title: str, msg: StoredMessage, cover: StoredMessage) -> None:
        patch = PullPatch(
            msg.message_id, msg.date_utc, msg.from_name, msg.from_email, cover.message_id
        )
        self._by_title[self._parse(title).normalized_title()].append(patch)

    def _add_thread(self, messages: list[StoredMessage]) -> list[StoredMessage]:
        """Index the pull patches of one thread; its pull mails sent without patches."""
        bare: list[StoredMessage] = []
        for cover in (m for m in messages if _opens_pull(self._parse(m.subject))):
            sender = cover.from_email.lower()
            sent = 0
            for msg in messages:
                subject = self._parse(msg.subject)
                if (
                    msg is cover
                    or subject.is_reply
                    or not subject.counter
                    or msg.from_email.lower() != sender
                ):
                    continue
                self._add(subject.title, msg, cover)
                sent += 1
            if not sent:
                bare.append(cover)
        return bare

    def carried(self, title: str, after_utc: int, before_utc: int) -> list[PullPatch]:
        """Pull patches titled `title` (normalized) sent between the two dates."""
        return [p for p in self._by_title.get(title, ()) if after_utc < p.date_utc < before_utc]


def _opens_pull(subject: LoreSubject) -> bool:
    """A pull request's first mail: [GIT PULL] 0/N, or a cover letter titled like one."""
    if subject.is_reply:
        return False
    if subject.is_pull:
        return subject.counter in (None, 0)
    return is_pull_as_patches(subject)


_DASHES = re.compile(r"^-{30,}\s*$")
_SHORTLOG_AUTHOR = re.compile(r"^\S.*\(\d+\):\s*$")
_DIFFSTAT_END = re.compile(r"^\s*\d+ files? changed")
_SHORTLOG_ENTRY = re.compile(r"^ {4,}(\S.*?)\s*$")


def _shortlog_titles(text: str) -> list[str]:
    """Commit titles of git request-pull's shortlog ("Marc Zyngier (3):" then titles).

    The shortlog follows the last dashed line (a signed tag's message sits between the
    first two) and ends at the diffstat.
    """
    lines = text.split("\n")
    dashes = [i for i, line in enumerate(lines) if _DASHES.match(line)]
    if not dashes:
        return []
    titles: list[str] = []
    author = False
    for line in lines[dashes[-1] + 1 :]:
        if " | " in line or _DIFFSTAT_END.match(line):
            break
        if _SHORTLOG_AUTHOR.match(line):
            author = True
            continue
        entry = _SHORTLOG_ENTRY.match(line)
        if author and entry:
            titles.append(entry.group(1))
    return titles
