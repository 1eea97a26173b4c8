"""The SQL of the posting index (schema 11): a list's postings found by what links them.

A report asks about the revisions and pull requests of the week's series only, yet
linking them needs the list's other postings: those with the same title, by the same
author near a date, in one thread, or named by a link whatever its case. Each of these
is an indexed lookup here, so the cost of a report follows the week, not the list.

What is kept per posting (a subject with "[" and no leading "Re:"): the subject's parse
with its normalized title and lowercased Message-ID (`subject_parses`), and for pull
requests the commit titles their shortlog lists (`pull_shortlogs`). Mail stored by
`Store.insert_messages` gets both as it arrives; `update` completes a list after a rule
change or for mail stored by an older lore-digest. `posting_index` stamps each list with
INDEX_RULES and the store id up to which its index is complete, so a report knows
whether it may trust the index (`is_current`) without counting anything.

Kept out of db.py, which holds the mail itself: `PostingRecords(store)` works on the
same connection and transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Final

from lore_digest.mail.mime import message_text
from lore_digest.mail.subject import LoreSubject, parse_subject
from lore_digest.store.db import (
    INDEX_RULES,
    SUBJECT_MARKS,
    StoredMessage,
    decompress,
    is_series_candidate,
    row_to_message,
    row_to_subject,
    shortlog_rows,
    subject_row,
)
from lore_digest.vocabulary import opens_pull

if TYPE_CHECKING:
    from lore_digest.store.db import Store

__all__ = ["Posted", "PostingRecords"]

Posted = tuple[StoredMessage, LoreSubject]
"""A posting as the index returns it: the message and its subject's stored parse."""

_CHUNK: Final = 500  # SQLite's host parameters per statement, with room to spare
_UPDATE_CHUNK: Final = 5000  # messages per transaction when (re)building the index
_COLUMNS: Final = (
    "m.id, m.message_id, m.date_utc, m.date_offset, m.date_source, m.from_name,"
    " m.from_email, m.subject, m.in_reply_to, m.refs, m.thread_id,"
    " p.subject, p.title, p.flags, p.version, p.counter, p.total, p.extra"
)
# CROSS JOIN keeps the order written: without ANALYZE statistics SQLite would rather
# walk the list's messages by date and probe each one (a scan of the list per lookup).
_FROM_PARSES: Final = "subject_parses p CROSS JOIN messages m ON m.id = p.message_pk"
_FROM_MESSAGES: Final = "messages m CROSS JOIN subject_parses p ON p.message_pk = m.id"


def _posted(row: Sequence[object]) -> Posted:
    msg = row_to_message(row[:11])
    return msg, row_to_subject(msg.subject, row[11:18])


class PostingRecords:
    """The posting index of one store: lookups, and keeping it complete."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = store.conn

    # -- state ----------------------------------------------------------------------

    def state(self, list_id: int) -> tuple[int, int] | None:
        """(rules, indexed_pk) of the list's index, None before its first update."""
        row = self.conn.execute(
            "SELECT rules, indexed_pk FROM posting_index WHERE list_id=?", (list_id,)
        ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    def is_current(self, list_id: int) -> bool:
        """Whether every posting of the list is indexed under today's INDEX_RULES."""
        state = self.state(list_id)
        return (
            state is not None
            and state[0] == INDEX_RULES
            and state[1] >= self.store.last_pk(list_id)
        )

    def update(
        self,
        list_id: int,
        *,
        rebuild: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Bring the list's index up to date; returns how many postings were (re)indexed.

        Mail past the stamp is checked, and whatever lacks a row under INDEX_RULES is
        parsed again (from the raw mail, for pull requests' shortlogs); after a rule
        change, or in a store an older lore-digest wrote, that is every posting. With
        `rebuild`, every posting is indexed again whatever its rules. Each chunk commits
        with its stamp, so an interrupted update resumes where it stopped. `progress`
        hears (messages checked, messages to check).
        """
        state = self.state(list_id)
        last = self.store.last_pk(list_id)
        start = 0 if rebuild or state is None or state[0] != INDEX_RULES else state[1]
        if start >= last and state is not None and state[0] == INDEX_RULES:
            return 0
        done = 0
        chunks = 0
        checked = 0
        total = 0
        if progress is not None:
            row = self.conn.execute(
                "SELECT count(*) FROM messages WHERE list_id=? AND id>?", (list_id, start)
            ).fetchone()
            total = int(row[0])
            progress(0, total)
        while True:
            rows = self.conn.execute(
                "SELECT m.id, m.message_id, m.subject, p.rules FROM messages m"
                " LEFT JOIN subject_parses p ON p.message_pk = m.id"
                # "+": the rowid range from `start`, not a sort of the list's every row
                " WHERE +m.list_id=? AND m.id>? ORDER BY m.id LIMIT ?",
                (list_id, start, _UPDATE_CHUNK),
            ).fetchall()
            if not rows:
                break
            stale = [
                (int(pk), str(mid), str(subject))
                for pk, mid, subject, rules in rows
                if is_series_candidate(str(subject)) and (rebuild or rules != INDEX_RULES)
            ]
            with self.store.transaction():
                self._index(stale)
                start = int(rows[-1][0])
                self.conn.execute(
                    "INSERT OR REPLACE INTO posting_index VALUES (?, ?, ?)",
                    (list_id, INDEX_RULES, start),
                )
            done += len(stale)
            chunks += 1
            checked += len(rows)
            if progress is not None:
                progress(checked, total)
        if not chunks:  # a list without mail: stamped all the same
            with self.store.transaction():
                self.conn.execute(
                    "INSERT OR REPLACE INTO posting_index VALUES (?, ?, ?)",
                    (list_id, INDEX_RULES, last),
                )
        return done

    def _index(self, stale: Sequence[tuple[int, str, str]]) -> None:
        """Parse and keep these postings (pk, Message-ID, subject); read pull requests."""
        parses = [(pk, mid, subject, parse_subject(subject)) for pk, mid, subject in stale]
        self.conn.executemany(
            f"INSERT OR REPLACE INTO subject_parses VALUES ({SUBJECT_MARKS})",
            [subject_row(pk, mid, subject, parsed) for pk, mid, subject, parsed in parses],
        )
        pulls = [pk for pk, _, _, parsed in parses if opens_pull(parsed)]
        for chunk in _chunks(pulls):
            marks = ",".join("?" * len(chunk))
            self.conn.execute(f"DELETE FROM pull_shortlogs WHERE message_pk IN ({marks})", chunk)
            for pk, data in self.conn.execute(
                f"SELECT id, data FROM raw_messages WHERE id IN ({marks})", chunk
            ).fetchall():
                text = message_text(decompress(bytes(data))).text
                self.conn.executemany(
                    "INSERT INTO pull_shortlogs VALUES (?, ?, ?)", shortlog_rows(int(pk), text)
                )

    # -- lookups (all ordered by date, then store id) -------------------------------

    def by_ids(self, list_id: int, message_ids: Iterable[str]) -> dict[str, Posted]:
        """The postings with these exact Message-IDs."""
        ids = list(dict.fromkeys(message_ids))
        found: dict[str, Posted] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT {_COLUMNS} FROM {_FROM_MESSAGES}"
                f" WHERE m.list_id=? AND m.message_id IN ({marks})",
                (list_id, *chunk),
            ):
                posted = _posted(row)
                found[posted[0].message_id] = posted
        return found

    def by_lower_id(self, list_id: int, lowered: str) -> list[Posted]:
        """The postings whose Message-ID, lowercased, is `lowered` (b4 lowercases links)."""
        return self._select("p.lower_id=? AND m.list_id=?", (lowered, list_id))

    def titled(self, list_id: int, title: str) -> list[Posted]:
        """The postings whose normalized title is `title`."""
        return self._select("p.norm_title=? AND m.list_id=?", (title, list_id))

    def by_author(self, list_id: int, email: str, start_utc: int, end_utc: int) -> list[Posted]:
        """The postings sent from `email` with start_utc <= Date <= end_utc."""
        return self._select(
            "m.list_id=? AND m.from_email=? AND m.date_utc BETWEEN ? AND ?",
            (list_id, email, start_utc, end_utc),
            hint="messages_by_author",
        )

    def in_thread(self, list_id: int, thread_id: int) -> list[Posted]:
        """The postings of one thread."""
        return self._select(
            "m.list_id=? AND m.thread_id=?", (list_id, thread_id), hint="messages_by_thread"
        )

    def shortlog_pulls(self, list_id: int, title: str) -> list[Posted]:
        """Pull requests whose shortlog lists a commit titled `title` (once per line)."""
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM pull_shortlogs s CROSS JOIN messages m ON m.id = s.message_pk"
            " CROSS JOIN subject_parses p ON p.message_pk = m.id"
            " WHERE s.title=? AND m.list_id=? ORDER BY m.date_utc, m.id, s.seq",
            (title, list_id),
        )
        return [_posted(row) for row in rows]

    def _select(self, where: str, params: tuple[object, ...], hint: str = "") -> list[Posted]:
        # From messages through the named index, else from the parses' own index.
        source = (
            f"messages m INDEXED BY {hint} CROSS JOIN subject_parses p ON p.message_pk = m.id"
            if hint
            else _FROM_PARSES
        )
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM {source} WHERE {where} ORDER BY m.date_utc, m.id", params
        )
        return [_posted(row) for row in rows]


def _chunks(items: Sequence[int] | Sequence[str]) -> Iterable[Sequence[object]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
