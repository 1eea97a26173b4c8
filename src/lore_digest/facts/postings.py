"""Where the revision and pull-request indexes find a list's postings.

RevisionIndex and PullPatchIndex ask a handful of questions (postings by Message-ID,
by normalized title, by author near a date, in a thread, replying to a message, pull
requests whose shortlog names a title) and nothing else, so the same rules run over
two sources that answer alike:

- `StorePostings`: indexed lookups in the store (store/postings.py), remembered for
  one report: what a report costs follows its week's series, not the list's size;
- `MemoryPostings`: the same answers from a list of messages held in memory, for a
  store whose index cannot be brought up to date, and for tests on a few mails.

A posting here is a message whose subject has a "[" and no leading "Re:"; the indexes
apply the finer rules (replies, patches, cover letters) themselves.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Protocol

from lore_digest.mail.mime import message_text
from lore_digest.mail.shortlog import shortlog_titles
from lore_digest.mail.subject import LoreSubject, parse_subject
from lore_digest.store.db import Store, StoredMessage, is_series_candidate
from lore_digest.store.postings import Posted, PostingRecords
from lore_digest.vocabulary import opens_pull

__all__ = ["MemoryPostings", "Posted", "PostingSource", "StorePostings"]


class PostingSource(Protocol):
    """The postings of one list, looked up the ways linking revisions needs."""

    def by_ids(self, message_ids: Collection[str]) -> dict[str, Posted]:
        """The postings with these exact Message-IDs."""
        ...

    def by_lower_id(self, lowered: str) -> Sequence[Posted]:
        """The postings whose lowercased Message-ID is `lowered`."""
        ...

    def titled(self, title: str) -> Sequence[Posted]:
        """The postings with this normalized title, by date."""
        ...

    def by_author(self, email: str, start_utc: int, end_utc: int) -> Sequence[Posted]:
        """The postings sent from `email` with start_utc <= Date <= end_utc, by date."""
        ...

    def in_thread(self, thread_id: int) -> Sequence[Posted]:
        """The postings of one thread, by date."""
        ...

    def replying_to(self, message_id: str, thread_id: int | None) -> Sequence[Posted]:
        """The postings whose In-Reply-To or References name `message_id` (a message of
        thread `thread_id`), by date."""
        ...

    def shortlog_pulls(self, title: str) -> Sequence[Posted]:
        """Pull requests whose shortlog lists a commit with this normalized title, once
        per such line, by date."""
        ...


def _names(msg: StoredMessage, message_id: str) -> bool:
    return msg.in_reply_to == message_id or message_id in msg.references


class StorePostings:
    """A list's postings through the store's posting index, each answer kept for reuse."""

    def __init__(self, store: Store, list_id: int) -> None:
        self._records = PostingRecords(store)
        self._list = list_id
        self._ids: dict[str, Posted | None] = {}
        self._titled: dict[str, list[Posted]] = {}
        self._threads: dict[int, list[Posted]] = {}
        self._authors: dict[tuple[str, int, int], list[Posted]] = {}

    def by_ids(self, message_ids: Collection[str]) -> dict[str, Posted]:
        missing = [mid for mid in message_ids if mid not in self._ids]
        if missing:
            found = self._records.by_ids(self._list, missing)
            for mid in missing:
                self._ids[mid] = found.get(mid)
        return {mid: p for mid in message_ids if (p := self._ids[mid]) is not None}

    def by_lower_id(self, lowered: str) -> Sequence[Posted]:
        return self._records.by_lower_id(self._list, lowered)

    def titled(self, title: str) -> Sequence[Posted]:
        if title not in self._titled:
            self._titled[title] = self._records.titled(self._list, title)
        return self._titled[title]

    def by_author(self, email: str, start_utc: int, end_utc: int) -> Sequence[Posted]:
        key = (email, start_utc, end_utc)
        if key not in self._authors:
            self._authors[key] = self._records.by_author(self._list, email, start_utc, end_utc)
        return self._authors[key]

    def in_thread(self, thread_id: int) -> Sequence[Posted]:
        if thread_id not in self._threads:
            self._threads[thread_id] = self._records.in_thread(self._list, thread_id)
        return self._threads[thread_id]

    def replying_to(self, message_id: str, thread_id: int | None) -> Sequence[Posted]:
        # A reply is threaded with what it names, so the thread holds every one of them.
        if thread_id is None:
            return []
        return [p for p in self.in_thread(thread_id) if _names(p[0], message_id)]

    def shortlog_pulls(self, title: str) -> Sequence[Posted]:
        return self._records.shortlog_pulls(self._list, title)


class MemoryPostings:
    """The same answers from messages in memory (every posting of them is indexed)."""

    def __init__(
        self,
        messages: Iterable[StoredMessage],
        load_raw: Callable[[list[int]], dict[int, bytes]] | None = None,
        parse: Callable[[str], LoreSubject] = parse_subject,
    ) -> None:
        self._load_raw = load_raw
        self._all: list[Posted] = sorted(
            ((m, parse(m.subject)) for m in messages if is_series_candidate(m.subject)),
            key=lambda p: (p[0].date_utc, p[0].pk),
        )
        self._ids = {p[0].message_id: p for p in self._all}
        self._lower: dict[str, list[Posted]] = defaultdict(list)
        self._titles: dict[str, list[Posted]] = defaultdict(list)
        self._authors: dict[str, list[Posted]] = defaultdict(list)
        self._threads: dict[int, list[Posted]] = defaultdict(list)
        self._replies: dict[str, list[Posted]] = defaultdict(list)
        for posted in self._all:
            msg, subject = posted
            self._lower[msg.message_id.lower()].append(posted)
            self._titles[subject.normalized_title()].append(posted)
            self._authors[msg.from_email].append(posted)
            if msg.thread_id is not None:
                self._threads[msg.thread_id].append(posted)
            for ref in dict.fromkeys((msg.in_reply_to, *msg.references)):
                if ref is not None:
                    self._replies[ref].append(posted)
        self._shortlogs: dict[str, list[Posted]] | None = None

    def by_ids(self, message_ids: Collection[str]) -> dict[str, Posted]:
        return {mid: self._ids[mid] for mid in message_ids if mid in self._ids}

    def by_lower_id(self, lowered: str) -> Sequence[Posted]:
        return self._lower.get(lowered, [])

    def titled(self, title: str) -> Sequence[Posted]:
        return self._titles.get(title, [])

    def by_author(self, email: str, start_utc: int, end_utc: int) -> Sequence[Posted]:
        group = self._authors.get(email, [])
        low = bisect.bisect_left(group, start_utc, key=lambda p: p[0].date_utc)
        high = bisect.bisect_right(group, end_utc, key=lambda p: p[0].date_utc)
        return group[low:high]

    def in_thread(self, thread_id: int) -> Sequence[Posted]:
        return self._threads.get(thread_id, [])

    def replying_to(self, message_id: str, thread_id: int | None) -> Sequence[Posted]:
        return self._replies.get(message_id, [])

    def shortlog_pulls(self, title: str) -> Sequence[Posted]:
        if self._shortlogs is None:
            self._shortlogs = defaultdict(list)
            pulls = [p for p in self._all if opens_pull(p[1])]
            raws = self._load_raw([p[0].pk for p in pulls]) if self._load_raw and pulls else {}
            for posted in pulls:
                raw = raws.get(posted[0].pk)
                for line in shortlog_titles(message_text(raw).text) if raw else ():
                    self._shortlogs[parse_subject(line).normalized_title()].append(posted)
        return self._shortlogs.get(title, [])
