"""Ingest: raw mail from a source → parsed headers + compressed raw bytes in the store.

Every mail ends up in exactly one place: `messages` (new), the ingest log (a duplicate
Message-ID with other content, or bytes that are not a mail), or counted as `known` (the
same mail stored before, e.g. a re-synced mbox). Nothing is dropped silently.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import zstandard

from lore_digest.mail.headers import MessageHeaders, UnparsableMessage, parse_headers
from lore_digest.sources.git import cat_blobs, commits_since, head_commit, is_ancestor
from lore_digest.sources.mbox import iter_mbox
from lore_digest.sources.publicinbox import resolve_mirror
from lore_digest.store.db import NewMessage, Store, decompress
from lore_digest.threading.jwz import thread_ids

BATCH = 2000
DEFAULT_URL_BASE = "https://lore.kernel.org/{name}/"

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

    def as_dict(self) -> dict[str, object]:
        """Plain dict for `--json`."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RawItem:
    """One mail as a source delivers it."""

    source_ref: str
    raw: bytes | None  # None: the source says this mail was deleted
    fallback_time: int | None  # commit time, used only when the Date header is unusable


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A raw item after header parsing (or the reason it could not be parsed)."""

    item: RawItem
    raw: bytes
    headers: MessageHeaders | None
    error: str | None


def _parse(item: RawItem, raw: bytes) -> _Parsed:
    try:
        return _Parsed(item, raw, parse_headers(raw), None)
    except (UnparsableMessage, ValueError, LookupError, TypeError) as exc:
        return _Parsed(item, raw, None, str(exc) or type(exc).__name__)


class _Ingester:
    """Parses headers on the calling thread; compresses and writes on a writer thread.

    zstd and SQLite release the GIL, so the writer overlaps with parsing and with git
    producing the next blobs: ingest runs at close to the speed of `git cat-file`.
    Each batch is one transaction that also records the source's progress, so an
    interrupted sync resumes exactly where the last committed batch ended.
    """

    def __init__(self, store: Store, list_id: int, result: SyncResult) -> None:
        self.store = store
        self.list_id = list_id
        self.result = result
        self.compressor = zstandard.ZstdCompressor(level=3)
        self.queue: queue.Queue[tuple[list[_Parsed], int, Callable[[], None] | None] | None] = (
            queue.Queue(maxsize=2)
        )
        self.failure: BaseException | None = None
        self.writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self.writer.start()

    def submit(self, items: list[RawItem], on_commit: Callable[[], None] | None) -> None:
        """Parse a batch here and hand it to the writer (blocks when the writer lags)."""
        if self.failure is not None:
            raise self.failure
        parsed = [_parse(it, it.raw) for it in items if it.raw is not None]
        self.queue.put((parsed, len(items) - len(parsed), on_commit))

    def close(self) -> None:
        """Wait for every submitted batch to be committed; re-raise a writer failure."""
        self.queue.put(None)
        self.writer.join()
        if self.failure is not None:
            raise self.failure

    def _write_loop(self) -> None:
        while (job := self.queue.get()) is not None:
            if self.failure is not None:
                continue  # drain: the main thread will raise
            try:
                self._write(*job)
            except BaseException as exc:  # handed to the main thread by close()/submit()
                self.failure = exc

    def _write(
        self, parsed: list[_Parsed], deleted: int, on_commit: Callable[[], None] | None
    ) -> None:
        self.result.deleted += deleted
        packed = self._compress([p.raw for p in parsed])
        with self.store.transaction():
            messages = []
            for entry, data in zip(parsed, packed, strict=True):
                if entry.headers is None:
                    if self.store.log_ingest(
                        self.list_id,
                        "unparsable",
                        None,
                        entry.item.source_ref,
                        entry.error or "",
                        data,
                    ):
                        self.result.unparsable += 1
                    else:  # logged by an earlier sync of the same source
                        self.result.known += 1
                else:
                    messages.append(_new_message(entry.item, entry.headers, data))
            fresh = self._dedupe(messages)
            self.store.insert_messages(self.list_id, fresh)
            self.result.new += len(fresh)
            self.result.repaired += sum(1 for m in fresh if m.repairs)
            if on_commit is not None:
                on_commit()

    def _compress(self, raws: list[bytes]) -> list[bytes]:
        if len(raws) < 64:
            return [self.compressor.compress(r) for r in raws]
        inputs: list[bytes | bytearray | memoryview] = list(raws)
        buffers = self.compressor.multi_compress_to_buffer(inputs, threads=-1)
        return [buffers[i].tobytes() for i in range(len(raws))]

    def _dedupe(self, parsed: list[NewMessage]) -> list[NewMessage]:
        """Keep the first copy of each Message-ID; log later copies whose bytes differ."""
        stored = self.store.known_ids(self.list_id, (m.message_id for m in parsed))
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
                self.list_id,
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


def _new_message(item: RawItem, headers: MessageHeaders, packed: bytes) -> NewMessage:
    """A store row; the Date header wins, the commit time only stands in when it is unusable."""
    repairs = list(headers.repairs)
    date_utc, date_source = headers.date_utc, "header"
    if date_utc is None:
        date_utc = item.fallback_time if item.fallback_time is not None else 0
        date_source = "commit" if item.fallback_time is not None else "none"
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
        source_ref=item.source_ref,
        repairs=tuple(repairs),
        compressed_raw=packed,
    )


def _batched(items: Iterable[RawItem], size: int) -> Iterator[list[RawItem]]:
    batch: list[RawItem] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _epoch_marker(store: Store, list_id: int, repo: str, commit: str) -> Callable[[], None]:
    """Records an epoch's progress inside the batch's transaction."""
    return lambda: store.set_epoch_state(list_id, repo, commit)


def update_threads(store: Store, list_id: int) -> int:
    """Recompute thread ids of a list after new mail; returns how many changed."""
    rows = store.threading_rows(list_id)
    assigned = thread_ids((pk, mid, irt, refs.split()) for pk, mid, irt, refs, _ in rows)
    changes = [(pk, assigned[pk]) for pk, _, _, _, old in rows if assigned[pk] != old]
    if changes:
        with store.transaction():
            store.set_thread_ids(changes)
    return len(changes)


def sync_mirror(
    store: Store,
    location: str,
    list_name: str | None = None,
    *,
    url_base: str | None = None,
    progress: ProgressCallback | None = None,
) -> SyncResult:
    """Ingest what is new in a public-inbox mirror (path or URL); safe to interrupt and re-run."""
    mirror = resolve_mirror(location, list_name)
    info = store.ensure_list(
        mirror.name, url_base or DEFAULT_URL_BASE.format(name=mirror.name), mirror.origin
    )
    result = SyncResult(list_name=mirror.name)
    plans: list[tuple[Path, str, list[tuple[str, int]]]] = []
    for epoch in mirror.epochs:
        key = str(epoch.resolve())
        result.epochs.append(key)
        head = head_commit(epoch)
        last = store.epoch_state(info.id, key)
        if head is None or head == last:
            continue
        # After a purge or rewrite the old tip is gone: rescan; dedupe keeps it idempotent.
        since = last if last and is_ancestor(epoch, last, head) else None
        plans.append((epoch, key, commits_since(epoch, since, head)))
    total = sum(len(commits) for _, _, commits in plans)
    done = 0
    if progress:
        progress(0, total)
    ingester = _Ingester(store, info.id, result)
    try:
        for epoch, key, commits in plans:
            times = dict(commits)
            specs = [f"{sha}:m" for sha, _ in commits]
            items = (
                RawItem(f"{epoch.name}:{spec[:-2]}", data, times[spec[:-2]])
                for spec, data in cat_blobs(epoch, specs)
            )
            for batch in _batched(items, BATCH):
                tip = batch[-1].source_ref.rsplit(":", 1)[1]
                ingester.submit(batch, _epoch_marker(store, info.id, key, tip))
                done += len(batch)
                if progress:
                    progress(done, total)
    finally:
        ingester.close()  # commits what was submitted, even on Ctrl-C
    if result.new or store.has_unthreaded(info.id):  # or a killed run's mail is unthreaded
        update_threads(store, info.id)
    return result


def sync_mbox(
    store: Store,
    path: Path,
    list_name: str,
    *,
    url_base: str | None = None,
    progress: ProgressCallback | None = None,
) -> SyncResult:
    """Ingest an mbox file or maildir; re-running it stores nothing twice."""
    info = store.ensure_list(
        list_name, url_base or DEFAULT_URL_BASE.format(name=list_name), str(path)
    )
    result = SyncResult(list_name=list_name)
    ingester = _Ingester(store, info.id, result)
    done = 0
    if progress:
        progress(0, None)
    items = (RawItem(ref, raw, None) for ref, raw in iter_mbox(path))
    try:
        for batch in _batched(items, BATCH):
            ingester.submit(batch, None)
            done += len(batch)
            if progress:
                progress(done, None)
    finally:
        ingester.close()
    if result.new or store.has_unthreaded(info.id):  # or a killed run's mail is unthreaded
        update_threads(store, info.id)
    return result
