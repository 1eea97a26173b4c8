"""The SQLite store: the only module that speaks SQL.

Raw mail is kept zstd-compressed in `raw_messages` so every later stage (threading,
facts, summaries) can be recomputed after a fix without re-downloading anything.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from lore_digest.errors import StoreError
from lore_digest.mail.mime import message_text
from lore_digest.mail.shortlog import shortlog_titles
from lore_digest.mail.subject import SUBJECT_RULES, LoreSubject, parse_subject
from lore_digest.store.schema import MIGRATIONS, SCHEMA_VERSION
from lore_digest.vocabulary import opens_pull

_DECOMPRESSOR = zstandard.ZstdDecompressor()
PAGE_CACHE_KIB = 32 * 1024  # SQLite page cache per connection (see Store.open)


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One message's indexed fields, as the report stages consume them."""

    pk: int
    message_id: str
    date_utc: int
    date_offset: int | None
    date_source: str
    from_name: str
    from_email: str
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]
    thread_id: int | None


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A parsed message ready to insert (raw already compressed)."""

    message_id: str
    date_utc: int
    date_offset: int | None
    date_source: str
    from_name: str
    from_email: str
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]
    source_ref: str
    repairs: tuple[str, ...]
    compressed_raw: bytes


@dataclass(frozen=True, slots=True)
class ListInfo:
    """A mailing list known to the store."""

    id: int
    name: str
    url_base: str
    source: str


_MESSAGE_COLUMNS = (
    "id, message_id, date_utc, date_offset, date_source, from_name, from_email, subject,"
    " in_reply_to, refs, thread_id"
)


SUBJECT_MARKS = ",".join("?" * 11)  # the columns of a subject_parses row
# The rules a posting's index rows were made under: the subject parser's, and the
# layout of the index itself (store/postings.py). Rows of other rules are made again.
_INDEX_LAYOUT = 1
INDEX_RULES = SUBJECT_RULES * 100 + _INDEX_LAYOUT


def row_to_message(row: Sequence[Any]) -> StoredMessage:
    """A messages row (_MESSAGE_COLUMNS) as it is: SQLite gives each column its declared
    type, and a report turns some ten thousand rows into messages (no conversions)."""
    refs = row[9]
    return StoredMessage(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        tuple(refs.split()) if refs else (),
        row[10],
    )


def is_series_candidate(subject: str) -> bool:
    """Whether a subject may post a series: the Python twin of series_candidates' SQL."""
    return "[" in subject and subject[:3].lower() != "re:"


# LoreSubject's booleans, as bits of subject_parses.flags (never reorder: stored).
_FLAG_BITS = {
    name: 1 << bit
    for bit, name in enumerate(("is_reply", "is_patch", "is_rfc", "is_resend", "is_pull"))
}


def subject_row(pk: int, message_id: str, raw: str, parsed: LoreSubject) -> tuple[object, ...]:
    """A subject_parses row: the parse of `raw`, the subject of message `pk`, with the
    keys the posting index looks it up by (normalized title, lowercased Message-ID)."""
    flags = sum(bit for name, bit in _FLAG_BITS.items() if getattr(parsed, name))
    return (
        pk,
        INDEX_RULES,
        None if parsed.subject == raw else parsed.subject,
        parsed.title,
        flags,
        parsed.version,
        parsed.counter,
        parsed.total,
        "\n".join(parsed.extra_prefixes),
        parsed.normalized_title(),
        message_id.lower(),
    )


def shortlog_rows(pk: int, text: str) -> list[tuple[int, int, str]]:
    """pull_shortlogs rows of pull request `pk`: each commit title its shortlog lists,
    normalized as a patch's title is (so a posted patch finds the pull by its title)."""
    return [
        (pk, seq, parse_subject(title).normalized_title())
        for seq, title in enumerate(shortlog_titles(text))
    ]


def row_to_subject(raw: str, row: Sequence[object]) -> LoreSubject:
    """The LoreSubject a subject_parses row (subject, title, flags, version, counter,
    total, extra) holds for the raw subject `raw`."""
    cleaned, title, flags, version, counter, total, extra = row
    bits = int(flags)  # type: ignore[call-overload]
    return LoreSubject(
        subject=raw if cleaned is None else str(cleaned),
        title=str(title),
        is_reply=bool(bits & _FLAG_BITS["is_reply"]),
        is_patch=bool(bits & _FLAG_BITS["is_patch"]),
        is_rfc=bool(bits & _FLAG_BITS["is_rfc"]),
        is_resend=bool(bits & _FLAG_BITS["is_resend"]),
        is_pull=bool(bits & _FLAG_BITS["is_pull"]),
        version=int(version),  # type: ignore[call-overload]
        counter=None if counter is None else int(counter),  # type: ignore[call-overload]
        total=None if total is None else int(total),  # type: ignore[call-overload]
        extra_prefixes=tuple(str(extra).split("\n")) if extra else (),
    )


def check_store_path(path: Path) -> Path:
    """`path` if it can be a store: a regular file, or nothing yet (it will be created).

    Checked before anything is opened or locked, so `--db /dev/null` or a directory is one
    clear error and no side file (`-wal`, `.lock`) is ever created next to it.
    """
    if path.exists() and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise StoreError(f"--db {path} is {kind}: a store is an SQLite file (give a file path)")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise StoreError(f"--db {path}: {parent} is a file, not a directory")
            break
    return path


def decompress(data: bytes) -> bytes:
    """Raw mail bytes from their stored form."""
    return _DECOMPRESSOR.decompress(data)


class Store:
    """A lore-digest SQLite database (WAL mode); open it with `Store.open(path)`."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating and migrating as needed) the store at `path`."""
        check_store_path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # The ingest writer thread uses the connection while the caller waits: never both.
            conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            # SQLite's default page cache is 2 MB; a million-mail list's Message-ID and
            # title indexes take random inserts, and with 2 MB each one went back to the
            # OS for its pages: 32 MB took a 1M sync from 288 s to 251 s (peak RSS 186 MB
            # -> 221 MB, under the 250 MB bound). The cache only grows as it is used.
            conn.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                raise StoreError(f"{path} is not a lore-digest store ({exc})") from exc
            if "malformed" in str(exc):
                raise StoreError(
                    f"store {path} is damaged ({exc}): run `lore-digest doctor` to check it, "
                    "or sync into a new store (--db NEW)"
                ) from exc
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        except (sqlite3.Error, OSError) as exc:
            hint = (
                " (a store needs a writable file and folder: SQLite keeps -wal and -shm beside it)"
                if "unable to open" in str(exc) or isinstance(exc, PermissionError)
                else ""
            )
            raise StoreError(f"cannot open store {path}: {exc}{hint}") from exc
        store = cls(conn, path)
        store._migrate()
        return store

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        try:
            version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a lore-digest store: {exc}") from exc
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this lore-digest "
                f"({SCHEMA_VERSION}); upgrade lore-digest"
            )
        for number in range(version, SCHEMA_VERSION):
            with self.transaction():
                self._apply(number)

    def _apply(self, number: int) -> None:
        for statement in MIGRATIONS[number].split(";"):
            if statement.strip():
                self.conn.execute(statement)
        self.conn.execute(f"PRAGMA user_version={number + 1}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing block: a crash inside leaves the store as it was before."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- lists and per-epoch progress -------------------------------------------------

    def ensure_list(
        self, name: str, url_base: str | None, source: str, default_url_base: str | None = None
    ) -> ListInfo:
        """Create the list if new (with `url_base`, else `default_url_base`) and record its
        source; an existing list keeps its URL base unless one is given again."""
        if url_base is None and default_url_base is None:
            raise ValueError("a list needs a URL base: give url_base or default_url_base")
        self.conn.execute(
            "INSERT INTO lists(name, url_base, source) VALUES (?, coalesce(?, ?), ?) "
            "ON CONFLICT(name) DO UPDATE SET url_base=coalesce(?, url_base), source=excluded.source",
            (name, url_base, default_url_base, source, url_base),
        )
        found = self.get_list(name)
        assert found is not None
        return found

    def get_list(self, name: str) -> ListInfo | None:
        """The list called `name`, or None."""
        row = self.conn.execute(
            "SELECT id, name, url_base, source FROM lists WHERE name=?", (name,)
        ).fetchone()
        return ListInfo(*row) if row else None

    def lists(self) -> list[ListInfo]:
        """Every list in the store, by name."""
        rows = self.conn.execute("SELECT id, name, url_base, source FROM lists ORDER BY name")
        return [ListInfo(*row) for row in rows]

    def epoch_state(self, list_id: int, repo: str) -> str | None:
        """Last ingested commit of one epoch repository, or None if never synced."""
        row = self.conn.execute(
            "SELECT last_commit FROM epochs WHERE list_id=? AND repo=?", (list_id, repo)
        ).fetchone()
        return str(row[0]) if row else None

    def set_epoch_state(self, list_id: int, repo: str, commit: str) -> None:
        """Record progress; call inside the transaction that stored the commits' mail."""
        self.conn.execute(
            "INSERT INTO epochs(list_id, repo, last_commit) VALUES (?, ?, ?) "
            "ON CONFLICT(list_id, repo) DO UPDATE SET last_commit=excluded.last_commit",
            (list_id, repo, commit),
        )

    def remove_list(self, list_id: int) -> int:
        """Delete a list and everything stored for it; returns how many mails went."""
        with self.transaction():
            count = self.count_messages(list_id)
            for table in ("raw_messages", "patch_files", "subject_parses", "pull_shortlogs"):
                key = "id" if table == "raw_messages" else "message_pk"
                self.conn.execute(
                    f"DELETE FROM {table} WHERE {key} IN (SELECT id FROM messages WHERE list_id=?)",
                    (list_id,),
                )
            for table in (
                "applier_events",
                "applier_scan",
                "thread_keys",
                "thread_progress",
                "thread_moves",
                "posting_index",
                "messages",
                "ingest_log",
                "epochs",
                "lore_progress",
                "report_summaries",
            ):
                self.conn.execute(f"DELETE FROM {table} WHERE list_id=?", (list_id,))
            self.conn.execute("DELETE FROM lists WHERE id=?", (list_id,))
        return count

    def integrity_problems(self, limit: int = 5) -> list[str]:
        """What SQLite's integrity check finds wrong with the file ([] when it is sound)."""
        rows = self.conn.execute(f"PRAGMA integrity_check({int(limit)})").fetchall()
        found = [str(row[0]) for row in rows]
        return [] if found == ["ok"] else found

    def lore_progress(
        self, list_id: int, base: str
    ) -> tuple[int | None, int | None, int | None] | None:
        """(covered_start, covered_end, threads_done_pk) of an inbox read over HTTP, or None."""
        row = self.conn.execute(
            "SELECT covered_start, covered_end, threads_done_pk FROM lore_progress"
            " WHERE list_id=? AND base=?",
            (list_id, base),
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def set_lore_progress(
        self,
        list_id: int,
        base: str,
        *,
        covered: tuple[int, int] | None = None,
        threads_done_pk: int | None = None,
    ) -> None:
        """Record lore progress (None keeps a value); inside the batch's transaction."""
        self.conn.execute(
            "INSERT INTO lore_progress(list_id, base, covered_start, covered_end, threads_done_pk)"
            " VALUES (?,?,?,?,?) ON CONFLICT(list_id, base) DO UPDATE SET"
            " covered_start=coalesce(excluded.covered_start, covered_start),"
            " covered_end=coalesce(excluded.covered_end, covered_end),"
            " threads_done_pk=coalesce(excluded.threads_done_pk, threads_done_pk)",
            (
                list_id,
                base,
                covered[0] if covered else None,
                covered[1] if covered else None,
                threads_done_pk,
            ),
        )

    def last_pk(self, list_id: int) -> int:
        """The store id of the list's newest stored mail (0 when none)."""
        row = self.conn.execute(
            "SELECT max(id) FROM messages WHERE list_id=?", (list_id,)
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # -- ingest -------------------------------------------------------------------------

    def known_ids(self, list_id: int, message_ids: Iterable[str]) -> dict[str, int]:
        """Which of these Message-IDs are stored already (id → pk)."""
        ids = list(dict.fromkeys(message_ids))
        found: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT message_id, id FROM messages WHERE list_id=? AND message_id IN ({marks})",
                (list_id, *chunk),
            )
            found.update((str(mid), int(pk)) for mid, pk in rows)
        return found

    def insert_messages(self, list_id: int, messages: Sequence[NewMessage]) -> None:
        """Insert new messages and their raw bytes (caller ensures ids are new)."""
        cursor = self.conn.cursor()
        for msg in messages:
            cursor.execute(
                "INSERT INTO messages(list_id, message_id, date_utc, date_offset, date_source,"
                " from_name, from_email, subject, in_reply_to, refs, source_ref, repairs)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    list_id,
                    msg.message_id,
                    msg.date_utc,
                    msg.date_offset,
                    msg.date_source,
                    msg.from_name,
                    msg.from_email,
                    msg.subject,
                    msg.in_reply_to,
                    " ".join(msg.references),
                    msg.source_ref,
                    "; ".join(msg.repairs),
                ),
            )
            pk = cursor.lastrowid
            cursor.execute(
                "INSERT INTO raw_messages(id, data) VALUES (?, ?)", (pk, msg.compressed_raw)
            )
            if pk is not None and is_series_candidate(msg.subject):
                parsed = parse_subject(msg.subject)
                cursor.execute(
                    f"INSERT INTO subject_parses VALUES ({SUBJECT_MARKS})",
                    subject_row(pk, msg.message_id, msg.subject, parsed),
                )
                if opens_pull(parsed):
                    text = message_text(decompress(msg.compressed_raw)).text
                    cursor.executemany(
                        "INSERT INTO pull_shortlogs VALUES (?, ?, ?)", shortlog_rows(pk, text)
                    )

    def log_ingest(
        self,
        list_id: int,
        kind: str,
        message_id: str | None,
        source_ref: str,
        reason: str,
        compressed_raw: bytes | None,
    ) -> bool:
        """Record a duplicate or unparsable mail with its raw bytes; False if already logged."""
        cursor = self.conn.execute(
            "INSERT OR IGNORE INTO ingest_log(list_id, kind, message_id, source_ref, reason, raw)"
            " VALUES (?,?,?,?,?,?)",
            (list_id, kind, message_id, source_ref, reason, compressed_raw),
        )
        return cursor.rowcount > 0

    def ingest_log(self, list_id: int) -> list[tuple[str, str | None, str, str]]:
        """(kind, message_id, source_ref, reason) of every mail not stored as a message."""
        rows = self.conn.execute(
            "SELECT kind, message_id, source_ref, reason FROM ingest_log WHERE list_id=? ORDER BY id",
            (list_id,),
        )
        return [(str(k), m, str(s), str(r)) for k, m, s, r in rows]

    def raw_bytes(self, pk: int) -> bytes:
        """The original bytes of a stored message."""
        row = self.conn.execute("SELECT data FROM raw_messages WHERE id=?", (pk,)).fetchone()
        if row is None:
            raise StoreError(f"raw mail of message {pk} is missing")
        return decompress(bytes(row[0]))

    def raw_many(self, pks: Iterable[int]) -> dict[int, bytes]:
        """Original bytes of several messages at once (pk → bytes)."""
        ids = list(pks)
        out: dict[int, bytes] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT id, data FROM raw_messages WHERE id IN ({marks})", chunk
            )
            out.update((int(pk), decompress(bytes(data))) for pk, data in rows)
        return out

    # -- files touched by patches ---------------------------------------------------------

    def patch_files(self, pks: Iterable[int]) -> dict[int, tuple[str, ...]]:
        """Files already recorded for these patch mails (pk → paths); unknown pks absent."""
        ids = list(pks)
        out: dict[int, tuple[str, ...]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT message_pk, paths FROM patch_files WHERE message_pk IN ({marks})", chunk
            )
            out.update((int(pk), tuple(filter(None, str(paths).split("\n")))) for pk, paths in rows)
        return out

    def save_patch_files(self, files: Mapping[int, Sequence[str]]) -> None:
        """Record the files of patch mails (read from their raw mail once)."""
        if not files:
            return
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO patch_files(message_pk, paths) VALUES (?, ?)",
                [(pk, "\n".join(paths)) for pk, paths in files.items()],
            )

    # -- who may apply: events learned from the list's history ----------------------------

    def applier_scan_pk(self, list_id: int) -> int:
        """The last message id already scanned for applier events (0: none yet)."""
        row = self.conn.execute(
            "SELECT last_pk FROM applier_scan WHERE list_id=?", (list_id,)
        ).fetchone()
        return int(row[0]) if row else 0

    def messages_after(self, list_id: int, pk: int) -> list[StoredMessage]:
        """Messages stored after message id `pk`, in storage order."""
        rows = self.conn.execute(
            # "+list_id": walk the rowid range, not the list's index (then a sort of all of it)
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE +list_id=? AND id>? ORDER BY id",
            (list_id, pk),
        )
        return [row_to_message(row) for row in rows]

    def applier_events(self, list_id: int) -> list[tuple[str, str, str, int, str]]:
        """(kind, email, thread, date_utc, other) of every applier event, by date."""
        rows = self.conn.execute(
            "SELECT kind, email, thread, date_utc, other FROM applier_events WHERE list_id=? "
            "ORDER BY date_utc, message_pk",
            (list_id,),
        )
        return [(str(k), str(e), str(t), int(d), str(o)) for k, e, t, d, o in rows]

    def save_applier_events(
        self, list_id: int, events: Sequence[tuple[int, str, str, str, int, str]], last_pk: int
    ) -> None:
        """Record (message_pk, kind, email, thread, date_utc, other) events, and the scan's end."""
        with self.transaction():
            self.conn.executemany(
                "INSERT OR IGNORE INTO applier_events"
                "(list_id, message_pk, kind, email, thread, date_utc, other)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(list_id, *event) for event in events],
            )
            self.conn.execute(
                "INSERT INTO applier_scan(list_id, last_pk) VALUES (?, ?) "
                "ON CONFLICT(list_id) DO UPDATE SET last_pk=excluded.last_pk",
                (list_id, last_pk),
            )

    # -- threading ----------------------------------------------------------------------

    def threading_rows(self, list_id: int) -> list[tuple[int, str, str | None, str, int | None]]:
        """(pk, message_id, in_reply_to, refs, thread_id) of every message of a list: the
        whole list in memory, for checks; threading reads threading_rows_after."""
        rows = self.conn.execute(
            "SELECT id, message_id, in_reply_to, refs, thread_id FROM messages WHERE list_id=?",
            (list_id,),
        )
        return [(int(a), str(b), c, str(d), e) for a, b, c, d, e in rows]

    def sender_names(
        self, list_id: int, emails: Iterable[str]
    ) -> dict[str, tuple[set[str], int, int]]:
        """For each of these (lowercased, as stored) addresses: the display names it sent
        mail under, and the dates of its first and last mail."""
        wanted = sorted({e.lower() for e in emails})
        found: dict[str, tuple[set[str], int, int]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT from_email, from_name, min(date_utc), max(date_utc) FROM messages "
                f"WHERE list_id=? AND from_email IN ({marks}) GROUP BY from_email, from_name",
                (list_id, *chunk),
            )
            for email, name, first, last in rows:
                names, low, high = found.get(str(email), (set(), first, last))
                names.add(str(name))
                found[str(email)] = (names, min(low, first), max(high, last))
        return found

    def thread_of(self, list_id: int, pk: int) -> int | None:
        """Thread id of one stored message (None if unknown or not threaded yet)."""
        row = self.conn.execute(
            "SELECT thread_id FROM messages WHERE list_id=? AND id=?", (list_id, pk)
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    # -- threads, kept as mail arrives (threading/incremental.py) ------------------------

    def threaded_pk(self, list_id: int) -> int:
        """The store id up to which the list's mail is threaded (0: none yet)."""
        row = self.conn.execute(
            "SELECT threaded_pk FROM thread_progress WHERE list_id=?", (list_id,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def set_threaded_pk(self, list_id: int, pk: int) -> None:
        """Record that mail up to store id `pk` is threaded (inside the caller's transaction)."""
        self.conn.execute(
            "INSERT INTO thread_progress(list_id, threaded_pk) VALUES (?, ?)"
            " ON CONFLICT(list_id) DO UPDATE SET threaded_pk=excluded.threaded_pk",
            (list_id, pk),
        )

    def threading_rows_after(
        self, list_id: int, after_pk: int, limit: int
    ) -> list[tuple[int, str, str | None, str, int | None]]:
        """threading_rows of at most `limit` messages stored after `after_pk`, oldest first."""
        rows = self.conn.execute(
            "SELECT id, message_id, in_reply_to, refs, thread_id FROM messages"
            # "+list_id": walk the rowid range from `after_pk`; through the list's index
            # SQLite would read and sort all of the list's rows for each chunk
            " WHERE +list_id=? AND id>? ORDER BY id LIMIT ?",
            (list_id, after_pk, limit),
        )
        return [(int(a), str(b), c, str(d), e) for a, b, c, d, e in rows]

    def thread_keys_of(self, list_id: int, keys: Sequence[str]) -> dict[str, int]:
        """Message-ID -> thread of those of these ids (present or ghosts) that are known."""
        ids = list(dict.fromkeys(keys))
        found: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                "SELECT message_id, thread_id FROM thread_keys"
                f" WHERE list_id=? AND message_id IN ({marks})",
                (list_id, *chunk),
            )
            found.update((str(mid), int(tid)) for mid, tid in rows)
        return found

    def merge_threads(self, list_id: int, into: int, others: Iterable[int], below_pk: int) -> int:
        """Move the threads `others` into `into`: their keys, and their messages stored
        before `below_pk` (later ones are threaded after); returns how many messages moved."""
        ids = sorted(set(others))
        marks = ",".join("?" * len(ids))
        self.conn.execute(
            f"UPDATE thread_keys SET thread_id=? WHERE list_id=? AND thread_id IN ({marks})",
            (into, list_id, *ids),
        )
        self.conn.execute(
            "INSERT INTO thread_moves(list_id, message_pk, old_thread_id, date_utc)"
            f" SELECT list_id, id, thread_id, date_utc FROM messages INDEXED BY messages_by_thread"
            f" WHERE list_id=? AND thread_id IN ({marks}) AND id<? ORDER BY id",
            (list_id, *ids, below_pk),
        )
        cursor = self.conn.execute(
            f"UPDATE messages SET thread_id=? WHERE list_id=? AND thread_id IN ({marks}) AND id<?",
            (into, list_id, *ids, below_pk),
        )
        return cursor.rowcount

    def set_thread_keys(self, list_id: int, keys: Iterable[tuple[str, int]]) -> None:
        """Record that these Message-IDs are in these threads ((id, thread) pairs)."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO thread_keys(list_id, message_id, thread_id) VALUES (?,?,?)",
            ((list_id, key, thread_id) for key, thread_id in keys),
        )

    def set_thread_ids(self, changes: Iterable[tuple[int, int | None, int]]) -> None:
        """Apply (pk, old thread, new thread) changes; one from another thread is a move."""
        changes = list(changes)
        self.conn.executemany(
            "INSERT INTO thread_moves(list_id, message_pk, old_thread_id, date_utc)"
            " SELECT list_id, id, ?, date_utc FROM messages WHERE id=?",
            ((old, pk) for pk, old, _ in changes if old is not None),
        )
        self.conn.executemany(
            "UPDATE messages SET thread_id=? WHERE id=?", ((new, pk) for pk, _, new in changes)
        )

    def last_move(self, list_id: int) -> int:
        """The number of the list's last thread move (0: none yet)."""
        row = self.conn.execute(
            "SELECT max(seq) FROM thread_moves WHERE list_id=?", (list_id,)
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def moves_after(self, list_id: int, seq: int) -> dict[int, tuple[int, int]]:
        """pk -> (thread id, date) before its first move after move `seq`: where the mail
        that moved since then was."""
        found: dict[int, tuple[int, int]] = {}
        for pk, tid, date in self.conn.execute(
            "SELECT message_pk, old_thread_id, date_utc FROM thread_moves"
            " WHERE list_id=? AND seq>? ORDER BY seq",
            (list_id, seq),
        ):
            found.setdefault(int(pk), (int(tid), int(date)))
        return found

    def messages_by_pks(self, pks: Iterable[int]) -> list[StoredMessage]:
        """These stored messages, by date."""
        ids = sorted(set(pks))
        out: list[StoredMessage] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id IN ({marks})", chunk
            )
            out.extend(row_to_message(r) for r in rows)
        return sorted(out, key=lambda m: (m.date_utc, m.pk))

    def has_mail_between(self, list_id: int, start_utc: int, end_utc: int) -> bool:
        """Whether any message is dated in [start_utc, end_utc) (one index probe)."""
        row = self.conn.execute(
            "SELECT 1 FROM messages WHERE list_id=? AND date_utc>=? AND date_utc<? LIMIT 1",
            (list_id, start_utc, end_utc),
        ).fetchone()
        return row is not None

    # -- queries for reports --------------------------------------------------------------

    def messages_between(self, list_id: int, start_utc: int, end_utc: int) -> list[StoredMessage]:
        """Messages whose Date falls in [start_utc, end_utc)."""
        rows = self.conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages"
            " WHERE list_id=? AND date_utc>=? AND date_utc<? ORDER BY date_utc, id",
            (list_id, start_utc, end_utc),
        )
        return [row_to_message(r) for r in rows]

    def senders_between(
        self, list_id: int, start_utc: int, end_utc: int
    ) -> list[tuple[int, int | None, str, int, str]]:
        """(pk, thread id, sender, date, subject) of the messages dated in [start_utc,
        end_utc), by date: who wrote in which thread, without whole rows (months of mail)."""
        rows = self.conn.execute(
            "SELECT id, thread_id, from_email, date_utc, subject FROM messages"
            " WHERE list_id=? AND date_utc>=? AND date_utc<? ORDER BY date_utc, id",
            (list_id, start_utc, end_utc),
        )
        return [
            (int(pk), None if tid is None else int(tid), str(sender), int(date), str(subject))
            for pk, tid, sender, date, subject in rows
        ]

    def count_between(self, list_id: int, start_utc: int, end_utc: int) -> int:
        """How many messages have their Date in [start_utc, end_utc)."""
        row = self.conn.execute(
            "SELECT count(*) FROM messages WHERE list_id=? AND date_utc>=? AND date_utc<?",
            (list_id, start_utc, end_utc),
        ).fetchone()
        return int(row[0])

    def message_dates(self, list_id: int) -> list[int]:
        """The Date (Unix time) of every message of a list, oldest first."""
        rows = self.conn.execute(
            "SELECT date_utc FROM messages WHERE list_id=? ORDER BY date_utc", (list_id,)
        )
        return [int(row[0]) for row in rows]

    def series_candidates(self, list_id: int) -> list[StoredMessage]:
        """Messages that may post a series: a "[" in the subject and no leading "Re:".

        A superset of what RevisionIndex keeps (it applies the exact rules), cut in SQL
        so a report on a large list does not load every reply of it.
        """
        rows = self.conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE list_id=?"
            " AND instr(subject, '[') > 0 AND subject NOT LIKE 're:%'"
            " ORDER BY date_utc, id",
            (list_id,),
        )
        return [row_to_message(r) for r in rows]

    def messages_of_threads(
        self, list_id: int, thread_ids: Iterable[int], before_utc: int
    ) -> list[StoredMessage]:
        """All messages of these threads dated before `before_utc` (window plus history)."""
        ids = sorted(set(thread_ids))
        out: list[StoredMessage] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            # Without ANALYZE statistics SQLite takes the date index (for the ORDER BY)
            # and reads every earlier mail of the list: 80x slower on 100k mails.
            rows = self.conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages INDEXED BY messages_by_thread"
                f" WHERE list_id=? AND thread_id IN ({marks}) AND date_utc<?"
                " ORDER BY date_utc, id",
                (list_id, *chunk, before_utc),
            )
            out.extend(row_to_message(r) for r in rows)
        return out

    def messages_by_author_near(
        self, list_id: int, from_email: str, start_utc: int, end_utc: int
    ) -> list[StoredMessage]:
        """One author's messages in a time range (to find covers of unthreaded patches)."""
        rows = self.conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE list_id=? AND from_email=?"
            " AND date_utc>=? AND date_utc<? ORDER BY date_utc, id",
            (list_id, from_email, start_utc, end_utc),
        )
        return [row_to_message(r) for r in rows]

    def date_range(self, list_id: int) -> tuple[int, int] | None:
        """(oldest, newest) Date of a list's messages, or None when empty."""
        row = self.conn.execute(
            "SELECT min(date_utc), max(date_utc) FROM messages WHERE list_id=?", (list_id,)
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return int(row[0]), int(row[1])

    def count_messages(self, list_id: int) -> int:
        """Number of stored messages of a list."""
        return int(
            self.conn.execute(
                "SELECT count(*) FROM messages WHERE list_id=?", (list_id,)
            ).fetchone()[0]
        )

    def repaired(self, list_id: int) -> list[tuple[str, str]]:
        """(message_id, repairs) of messages stored after a repair (missing Date, …)."""
        rows = self.conn.execute(
            "SELECT message_id, repairs FROM messages WHERE list_id=? AND repairs!='' ORDER BY id",
            (list_id,),
        )
        return [(str(m), str(r)) for m, r in rows]

    # -- summaries: LLM cache and memory between reports --------------------------------

    def cached_summary(self, key: str) -> str | None:
        """The cached summary JSON for a cache key, or None."""
        row = self.conn.execute("SELECT summary_json FROM llm_cache WHERE key=?", (key,)).fetchone()
        return str(row[0]) if row else None

    def cache_summary(self, key: str, model: str, created_utc: int, summary_json: str) -> None:
        """Store one thread's summary at once, so an interrupted run loses nothing done."""
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO llm_cache(key, model, created_utc, summary_json) VALUES (?,?,?,?)",
                (key, model, created_utc, summary_json),
            )

    def llm_response(self, key: str) -> tuple[str, int, int] | None:
        """A batch answer kept for a request key: (text, input tokens, output tokens)."""
        row = self.conn.execute(
            "SELECT text, input_tokens, output_tokens FROM llm_responses WHERE key=?", (key,)
        ).fetchone()
        return (str(row[0]), int(row[1]), int(row[2])) if row else None

    def save_llm_responses(
        self, model: str, created_utc: int, answers: Iterable[tuple[str, str, int, int]]
    ) -> None:
        """Keep a batch's answers: (request key, text, input tokens, output tokens)."""
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO llm_responses"
                "(key, model, created_utc, text, input_tokens, output_tokens) VALUES (?,?,?,?,?,?)",
                ((key, model, created_utc, text, i, o) for key, text, i, o in answers),
            )

    def add_llm_batch(
        self, backend: str, batch_id: str, list_id: int, created_utc: int, keys: Iterable[str]
    ) -> None:
        """Record a submitted batch before waiting for it, so a crash cannot lose it."""
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO llm_batches"
                "(backend, batch_id, list_id, created_utc, request_keys) VALUES (?,?,?,?,?)",
                (backend, batch_id, list_id, created_utc, json.dumps(sorted(keys))),
            )

    def open_llm_batches(self, backend: str, list_id: int) -> list[tuple[str, int, list[str]]]:
        """Batches of this backend and list not yet collected: (id, created, request keys)."""
        rows = self.conn.execute(
            "SELECT batch_id, created_utc, request_keys FROM llm_batches"
            " WHERE backend=? AND list_id=? AND collected_utc IS NULL ORDER BY created_utc, batch_id",
            (backend, list_id),
        )
        return [(str(b), int(c), [str(k) for k in json.loads(keys)]) for b, c, keys in rows]

    def collect_llm_batch(self, backend: str, batch_id: str, collected_utc: int) -> None:
        """Mark a batch collected (its answers are in llm_responses)."""
        with self.transaction():
            self.conn.execute(
                "UPDATE llm_batches SET collected_utc=? WHERE backend=? AND batch_id=?",
                (collected_utc, backend, batch_id),
            )

    def save_report_summaries(
        self,
        list_id: int,
        label: str,
        lang: str,
        end_utc: int,
        summaries: Iterable[tuple[str, str]],
    ) -> None:
        """Remember each thread's summary in a report: (thread root id, summary JSON)."""
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO report_summaries"
                "(list_id, thread_root, label, lang, end_utc, summary_json) VALUES (?,?,?,?,?,?)",
                ((list_id, root, label, lang, end_utc, text) for root, text in summaries),
            )

    def previous_summary(
        self, list_id: int, thread_root: str, lang: str, before_utc: int
    ) -> str | None:
        """The latest remembered summary of a thread from a report that ended by `before_utc`."""
        row = self.conn.execute(
            "SELECT summary_json FROM report_summaries WHERE list_id=? AND thread_root=? AND lang=?"
            " AND end_utc<=? ORDER BY end_utc DESC LIMIT 1",
            (list_id, thread_root, lang, before_utc),
        ).fetchone()
        return str(row[0]) if row else None
