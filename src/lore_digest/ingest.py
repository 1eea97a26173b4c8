"""Ingest: any Source's raw mail → parsed headers + compressed raw bytes in the store.

One ingester for every source (git mirror, mbox, lore over HTTP). Each batch a source
yields is stored in one transaction together with its checkpoint, so an interrupted
sync resumes exactly where the last committed batch ended; then its new mail is threaded
(threading/incremental.py: joined to the threads it names, never the whole list again).
Every mail ends up in exactly one place: `messages` (new), the ingest log (a duplicate
Message-ID with other content, or bytes that are not a mail), or counted as `known` (the
same mail stored before, e.g. a re-synced mbox). Nothing is dropped silently.

A list is created when its source delivers its first batch, after the source checked
itself (`Source.prepare`): a mistyped path, a git repository that is no public-inbox or
a file that is no mbox leaves no empty list behind.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import zstandard

from lore_digest.errors import UsageError
from lore_digest.mail.headers import MessageHeaders, UnparsableMessage, parse_headers
from lore_digest.sources.base import (
    Batch,
    Checkpoint,
    EpochCheckpoint,
    LoreCheckpoint,
    RawMail,
    Source,
)
from lore_digest.store.db import NewMessage, Store, decompress
from lore_digest.store.postings import PostingRecords
from lore_digest.threading.incremental import CHUNK, thread_new_mail
from lore_digest.threading.jwz import reply_chain
from lore_digest.vocabulary import check_list_name

__all__ = ["SyncResult", "sync", "sync_lore", "sync_mbox", "sync_mirror", "update_threads"]

ProgressCallback = Callable[[int, int | None], None]
"""Called with (messages done, total or None) as ingest advances."""


@dataclass
class SyncResult:
    """Counts printed by `sync` (and returned by the API) for one list."""

    list_name: str
    new: int = 0
    known: int = 0
    duplicate: int = 0
    unparsable: int = 0
    repaired: int = 0
    deleted: int = 0
    epochs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth telling the user (a changed source)

    def as_dict(self) -> dict[str, object]:
        """Plain dict for `--json`."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A raw mail after header parsing (or the reason it could not be parsed)."""

    mail: RawMail
    raw: bytes
    headers: MessageHeaders | None
    error: str | None


def _parse(mail: RawMail, raw: bytes) -> _Parsed:
    try:
        return _Parsed(mail, raw, parse_headers(raw), None)
    except (UnparsableMessage, ValueError, LookupError, TypeError) as exc:
        return _Parsed(mail, raw, None, str(exc) or type(exc).__name__)


_Job = tuple[list[_Parsed], int, Checkpoint | None] | threading.Event | None


class _Ingester:
    """Parses headers on the calling thread; compresses and writes on a writer thread.

    zstd and SQLite release the GIL, so the writer overlaps with parsing and with the
    source producing the next mail: ingest runs at close to the speed of `git cat-file`.
    The writer owns the connection while it runs; the caller only queries the store after
    `settle()`, when the writer waits for work.
    """

    def __init__(self, store: Store, source: Source, result: SyncResult) -> None:
        self.store = store
        self.source = source
        self.result = result
        found = store.get_list(source.list_name)
        self.list_id: int | None = None if found is None else found.id
        self.submitted = 0
        self.compressor = zstandard.ZstdCompressor(level=3)
        self.queue: queue.Queue[_Job] = queue.Queue(maxsize=2)
        self.failure: BaseException | None = None
        self.writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self.writer.start()

    def submit(self, batch: Batch) -> None:
        """Parse a batch here and hand it to the writer (blocks when the writer lags)."""
        self._raise_failure()
        parsed = [_parse(m, m.raw) for m in batch.mails if m.raw is not None]
        self.submitted += 1
        self.queue.put((parsed, len(batch.mails) - len(parsed), batch.checkpoint))

    def settle(self) -> None:
        """Wait until every submitted batch is committed."""
        done = threading.Event()
        self.queue.put(done)
        done.wait()
        self._raise_failure()

    def close(self) -> None:
        """Wait for every submitted batch to be committed; re-raise a writer failure."""
        self.queue.put(None)
        self.writer.join()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    def _write_loop(self) -> None:
        while (job := self.queue.get()) is not None:
            if isinstance(job, threading.Event):
                job.set()
                continue
            if self.failure is not None:
                continue  # drain: the main thread will raise
            try:
                self._write(*job)
            except BaseException as exc:  # handed to the main thread by close()/submit()
                self.failure = exc

    def _write(self, parsed: list[_Parsed], deleted: int, checkpoint: Checkpoint | None) -> None:
        self.result.deleted += deleted
        packed = self._compress([p.raw for p in parsed])
        with self.store.transaction():
            list_id = self._list()
            messages = []
            for entry, data in zip(parsed, packed, strict=True):
                if entry.headers is None:
                    if self.store.log_ingest(
                        list_id, "unparsable", None, entry.mail.ref, entry.error or "", data
                    ):
                        self.result.unparsable += 1
                    else:  # logged by an earlier sync of the same source
                        self.result.known += 1
                else:
                    messages.append(_new_message(entry.mail, entry.headers, data))
            fresh = self._dedupe(list_id, messages)
            self.store.insert_messages(list_id, fresh)
            self.result.new += len(fresh)
            self.result.repaired += sum(1 for m in fresh if m.repairs)
            if checkpoint is not None:
                self._record(list_id, checkpoint)

    def _list(self) -> int:
        """The list's id; the first batch of a new list creates it (a known list had its
        URL and source recorded by `sync` before any batch)."""
        if self.list_id is None:
            info = self.store.ensure_list(
                self.source.list_name,
                self.source.url_base,
                self.source.origin,
                self.source.default_url_base,
            )
            self.list_id = info.id
        return self.list_id

    def _record(self, list_id: int, checkpoint: Checkpoint) -> None:
        """Store a source's checkpoint where its kind is kept."""
        if isinstance(checkpoint, EpochCheckpoint):
            self.store.set_epoch_state(list_id, checkpoint.repo, checkpoint.commit)
        elif isinstance(checkpoint, LoreCheckpoint):
            covered = (
                (checkpoint.covered_start, checkpoint.covered_end)
                if checkpoint.covered_start is not None and checkpoint.covered_end is not None
                else None
            )
            self.store.set_lore_progress(
                list_id,
                checkpoint.base,
                covered=covered,
                threads_done_pk=checkpoint.threads_done_pk,
            )

    def _compress(self, raws: list[bytes]) -> list[bytes]:
        if len(raws) < 64:
            return [self.compressor.compress(r) for r in raws]
        inputs: list[bytes | bytearray | memoryview] = list(raws)
        buffers = self.compressor.multi_compress_to_buffer(inputs, threads=-1)
        return [buffers[i].tobytes() for i in range(len(raws))]

    def _dedupe(self, list_id: int, parsed: list[NewMessage]) -> list[NewMessage]:
        """Keep the first copy of each Message-ID; log later copies whose bytes differ."""
        stored = self.store.known_ids(list_id, (m.message_id for m in parsed))
        fresh: dict[str, NewMessage] = {}
        for msg in parsed:
            first = fresh.get(msg.message_id)
            if first is None and msg.message_id not in stored:
                fresh[msg.message_id] = msg
                continue
            first_raw = (
                decompress(first.compressed_raw)
                if first is not None
                else self.store.raw_bytes(stored[msg.message_id])
            )
            if first_raw == decompress(msg.compressed_raw):
                self.result.known += 1
            elif self.store.log_ingest(
                list_id,
                "duplicate",
                msg.message_id,
                msg.source_ref,
                "Message-ID already stored with different content",
                msg.compressed_raw,
            ):
                self.result.duplicate += 1
            else:
                self.result.known += 1
        return list(fresh.values())


def _new_message(mail: RawMail, headers: MessageHeaders, packed: bytes) -> NewMessage:
    """A store row; the Date header wins, the fallback time only stands in when it is unusable."""
    repairs = list(headers.repairs)
    date_utc, date_source = headers.date_utc, "header"
    if date_utc is None:
        date_utc = mail.fallback_time if mail.fallback_time is not None else 0
        date_source = "commit" if mail.fallback_time is not None else "none"
        repairs.append(f"date from {date_source}")
    return NewMessage(
        message_id=headers.message_id,
        date_utc=date_utc,
        date_offset=headers.date_offset_min,
        date_source=date_source,
        from_name=headers.from_name,
        from_email=headers.from_email,
        subject=headers.subject,
        in_reply_to=headers.in_reply_to,
        references=headers.references,
        source_ref=mail.ref,
        repairs=tuple(repairs),
        compressed_raw=packed,
    )


class _State:
    """The `SyncState` a source reads: the list's stored progress, through the ingester."""

    def __init__(self, store: Store, ingester: _Ingester) -> None:
        self.store = store
        self.ingester = ingester

    def list_exists(self) -> bool:
        return self.ingester.list_id is not None or self.ingester.submitted > 0

    def epoch_commit(self, repo: str) -> str | None:
        list_id = self.ingester.list_id
        return None if list_id is None else self.store.epoch_state(list_id, repo)

    def lore_progress(self, base: str) -> LoreCheckpoint | None:
        list_id = self.ingester.list_id
        row = None if list_id is None else self.store.lore_progress(list_id, base)
        return None if row is None else LoreCheckpoint(base, *row)

    def date_range(self) -> tuple[int, int] | None:
        list_id = self.ingester.list_id
        return None if list_id is None else self.store.date_range(list_id)

    def settle(self) -> None:
        self.ingester.settle()

    def last_pk(self) -> int:
        list_id = self.ingester.list_id
        return 0 if list_id is None else self.store.last_pk(list_id)

    def orphans(self, after_pk: int) -> list[tuple[str, set[str]]]:
        """Mail stored after `after_pk` that refers to mail not stored (In-Reply-To or any
        References entry: public-inbox threads by the same links), oldest first."""
        list_id = self.ingester.list_id
        if list_id is None:
            return []
        found = []
        # Chunk by chunk, known ids looked up: memory bounded whatever the list's size.
        while rows := self.store.threading_rows_after(list_id, after_pk, CHUNK):
            wanted = {pk: set(reply_chain(irt, refs.split())) for pk, _, irt, refs, _ in rows}
            known = self.store.known_ids(list_id, {p for ps in wanted.values() for p in ps})
            for pk, mid, _, _, _ in rows:
                missing = wanted[pk] - known.keys()
                if missing:
                    found.append((mid, missing))
            after_pk = rows[-1][0]
        return found


def update_threads(store: Store, list_id: int) -> int:
    """Thread the list's new mail (threading/incremental.py); returns how many changed."""
    return thread_new_mail(store, list_id)


def sync(store: Store, source: Source, *, progress: ProgressCallback | None = None) -> SyncResult:
    """Ingest what is new from one source; safe to interrupt and run again.

    The source checks itself first (and clones or fetches a remote mirror); then each
    batch it yields is committed with its checkpoint; then its new mail is threaded.
    """
    try:
        check_list_name(source.list_name)
    except ValueError as exc:
        raise UsageError(f"{exc}: choose another with --list NAME") from None
    result = SyncResult(list_name=source.list_name)
    result.epochs = source.prepare()
    known = store.get_list(source.list_name)
    if known is not None:
        if known.source and known.source != source.origin:
            result.notes.append(f"source changed: was {known.source}, now {source.origin}")
        # Recorded now, not with a first batch that an up-to-date source never yields.
        with store.transaction():
            store.ensure_list(
                source.list_name, source.url_base, source.origin, source.default_url_base
            )
    ingester = _Ingester(store, source, result)
    done = 0
    try:
        state = _State(store, ingester)
        total = source.plan(state)
        if progress:
            progress(0, total)
        for batch in source.batches(state):
            ingester.submit(batch)
            done += len(batch.mails)
            if progress:
                progress(done, total)
    finally:
        ingester.close()  # commits what was submitted, even on Ctrl-C
    list_id = ingester.list_id
    if list_id is not None and store.threaded_pk(list_id) < store.last_pk(list_id):
        # Also after a killed run: its committed mail is not threaded yet.
        update_threads(store, list_id)
    if list_id is not None:
        # Stamps the new mail's postings, indexed as stored (after a rule change, or for a
        # store of an older lore-digest, indexes them all again).
        PostingRecords(store).update(list_id)
    return result


# -- one line per kind, for callers that know which source they want ----------------------


def sync_mirror(
    store: Store,
    location: str,
    list_name: str | None = None,
    *,
    url_base: str | None = None,
    progress: ProgressCallback | None = None,
) -> SyncResult:
    """Ingest what is new in a public-inbox mirror (path or URL)."""
    from lore_digest.sources.publicinbox import MirrorSource

    return sync(store, MirrorSource(location, list_name, url_base=url_base), progress=progress)


def sync_mbox(
    store: Store,
    path: Path,
    list_name: str,
    *,
    url_base: str | None = None,
    progress: ProgressCallback | None = None,
) -> SyncResult:
    """Ingest an mbox file or maildir; re-running it stores nothing twice."""
    from lore_digest.sources.mbox import MboxSource

    return sync(store, MboxSource(path, list_name, url_base=url_base), progress=progress)


def sync_lore(
    store: Store,
    url: str,
    list_name: str | None = None,
    *,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> SyncResult:
    """Fetch a list's mail from a public-inbox over HTTP; `options` are those of
    `sources.lore.LoreSource` (since, until, delay, windows, client, …)."""
    from lore_digest.sources.lore import LoreSource  # and with it, an HTTP client

    return sync(store, LoreSource(url, list_name, **options), progress=progress)
