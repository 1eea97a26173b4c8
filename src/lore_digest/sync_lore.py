"""`sync --lore URL`: ingest recent mail of a list from lore.kernel.org's search, politely.

Mail is asked for by Received-time windows (`rt:A..B`), oldest first, each window one
transaction that also records how far the list is covered, so an interrupted run goes on
from the last committed window. Messages go through the same ingester as a git mirror, so
mail already stored (from a mirror or an earlier run) is recognised by Message-ID and
counted as known. Threads that began before the horizon are completed afterwards with
one `t.mbox.gz` per thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import unquote, urlsplit

import httpx

from lore_digest.errors import SourceError
from lore_digest.mail.headers import UnparsableMessage, parse_headers
from lore_digest.sources.lore_http import LoreClient, normalize_base
from lore_digest.store.db import Store

# The ingest machinery is shared with the mirror and mbox sources on purpose (one dedupe,
# one transaction-per-batch design); importing its private names across our own modules is
# accepted here rather than making them public API.
from lore_digest.sync import (
    BATCH,
    ProgressCallback,
    RawItem,
    SyncResult,
    _batched,
    _Ingester,
    update_threads,
)

STATE_PREFIX = "lore:"
"""epoch_state key prefix: the Received-time range already fetched, "START..END" (ISO UTC)."""
THREADS_PREFIX = "lore-threads:"
"""epoch_state key prefix: messages up to this store id have had their threads completed."""

DEFAULT_HORIZON = timedelta(weeks=4)
DEFAULT_WINDOW = timedelta(days=7)
DEFAULT_OVERLAP = timedelta(days=1)
MIN_WINDOW = 60  # seconds; a window this small is never split further
MIN_TIMESTAMP = 100_000  # public-inbox reads shorter rt: numbers as approxidate strings


@dataclass(frozen=True, slots=True)
class Covered:
    """A contiguous Received-time range [start, end) whose mail is in the store."""

    start: int
    end: int

    def encode(self) -> str:
        """The stored form: readable ISO timestamps, so `epochs` rows explain themselves."""
        return f"{_iso(self.start)}..{_iso(self.end)}"

    @classmethod
    def decode(cls, value: str | None) -> Covered | None:
        """Parse a stored range; None when absent or unreadable (then start afresh)."""
        if not value or ".." not in value:
            return None
        first, _, last = value.partition("..")
        try:
            return cls(_parse_iso(first), _parse_iso(last))
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where this run starts, and the coverage it extends."""

    low: int  # start of the contiguous coverage after this run
    start: int  # first Received time to ask for
    end: int  # ask up to (excluding) this time
    known_end: int  # coverage end already recorded (never shrink it)


@dataclass(frozen=True, slots=True)
class WindowPolicy:
    """How big the search windows are: sized to the list's traffic, split when capped."""

    max_window: int = int(DEFAULT_WINDOW.total_seconds())
    target: int = 1000  # aim for about this many messages per request
    result_cap: int = 10_000  # this many (or more) answers: assume truncated, split


def sync_lore(
    store: Store,
    url: str,
    list_name: str | None = None,
    *,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    progress: ProgressCallback | None = None,
    client: httpx.Client | None = None,
    delay: float = 1.0,
    url_base: str | None = None,
    overlap: timedelta = DEFAULT_OVERLAP,
    windows: WindowPolicy | None = None,
    fetch_threads: bool = True,
    timeout: float = 120.0,
    attempts: int = 6,
    backoff: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[str, float], None] | None = None,
) -> SyncResult:
    """Fetch a list's mail since `since` from a public-inbox over HTTP; safe to interrupt.

    `since` defaults to where the last run ended (less `overlap`, for mail indexed late),
    else the newest stored mail less `overlap`, else four weeks ago. `until` (default: now)
    bounds the range. `delay` seconds pass between requests; failures are retried
    `attempts` times with exponential backoff from `backoff` seconds, each retry reported
    to `on_retry(reason, wait_seconds)` (for the CLI to show why it is waiting).
    """
    base = normalize_base(url)
    name = list_name or default_list_name(base)
    lists = _ListOpener(store, name, url_base or base + "/", base)
    result = SyncResult(list_name=name, epochs=[base])
    plan = _plan(store, lists.existing_id, base, since, until, overlap)
    watermark = _thread_watermark(store, lists.existing_id, base)
    lore = LoreClient(
        base,
        client=client,
        delay=delay,
        timeout=timeout,
        attempts=attempts,
        backoff=backoff,
        sleep=sleep,
        on_retry=on_retry,
    )
    with lore:
        if progress:
            progress(0, None)
        policy = windows or WindowPolicy()
        done = _fetch_windows(store, lists, lore, plan, policy, result, progress)
        if lists.id is not None and fetch_threads:
            _complete_threads(store, lists.id, lore, watermark, result, progress, done)
            _set_thread_watermark(store, lists.id, base)
    if lists.id is not None:
        # Unconditionally: mail committed by an interrupted earlier run is not threaded yet.
        update_threads(store, lists.id)
    return result


class _ListOpener:
    """The list's store id, created only once the server has answered.

    A mistyped URL then leaves no empty list behind (as with `--mirror`, whose clone
    happens before the list is created).
    """

    def __init__(self, store: Store, name: str, url_base: str, source: str) -> None:
        self.store = store
        self.name = name
        self.url_base = url_base
        self.source = source
        found = store.get_list(name)
        self.existing_id = None if found is None else found.id
        self.id: int | None = None
        if found is not None:
            self.open()  # known list: record the URL now

    def open(self) -> int:
        """ensure_list once; a new list starts with nothing to complete threads for."""
        if self.id is None:
            self.id = self.store.ensure_list(self.name, self.url_base, self.source).id
            if self.existing_id is None:
                with self.store.transaction():
                    self.store.set_epoch_state(self.id, THREADS_PREFIX + self.source, "0")
        return self.id


def default_list_name(base: str) -> str:
    """The inbox name is the last path component: `https://lore.kernel.org/kvmarm` → kvmarm."""
    name = unquote(urlsplit(base).path.rstrip("/").rsplit("/", 1)[-1])
    if not name:
        raise SourceError(f"cannot tell the list name from {base!r}: pass --list NAME")
    return name


# -- planning -------------------------------------------------------------------------------


def _plan(
    store: Store,
    list_id: int | None,
    base: str,
    since: date | datetime | None,
    until: date | datetime | None,
    overlap: timedelta,
) -> _Plan:
    """Resume inside the recorded coverage; otherwise start where the caller asked."""
    now = int(time.time())
    end = _timestamp(until) if until is not None else now
    lap = int(overlap.total_seconds())
    covered = None
    span = None
    if list_id is not None:
        covered = Covered.decode(store.epoch_state(list_id, STATE_PREFIX + base))
        span = store.date_range(list_id)
    if since is not None:
        wanted = _timestamp(since)
    elif covered is not None:
        wanted = covered.end - lap
    else:
        # A mail with a Date in the future must not push the start past today.
        wanted = min(span[1], now) - lap if span else now - int(DEFAULT_HORIZON.total_seconds())
    wanted = max(wanted, MIN_TIMESTAMP)
    if covered is not None and covered.start <= wanted <= covered.end:
        return _Plan(covered.start, max(wanted, covered.end - lap), end, covered.end)
    return _Plan(wanted, wanted, end, wanted)


def _timestamp(when: date | datetime) -> int:
    """Unix seconds; a date means its midnight UTC, a naive datetime is taken as UTC."""
    if not isinstance(when, datetime):
        when = datetime(when.year, when.month, when.day, tzinfo=UTC)
    elif when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


# -- windows --------------------------------------------------------------------------------


def _fetch_windows(
    store: Store,
    lists: _ListOpener,
    lore: LoreClient,
    plan: _Plan,
    policy: WindowPolicy,
    result: SyncResult,
    progress: ProgressCallback | None,
) -> int:
    """Ask for each window in turn, oldest first; returns how many messages came."""
    key = STATE_PREFIX + lore.base
    ingester: _Ingester | None = None
    done = 0
    size = policy.max_window
    current = plan.start
    try:
        while current < plan.end:
            stop = min(current + size, plan.end)
            query = f"rt:{current}..{stop - 1}"  # rt: ranges include both ends
            raws = lore.search(query)
            if len(raws) >= policy.result_cap and stop - current > MIN_WINDOW:
                size = max(MIN_WINDOW, (stop - current) // 2)
                continue  # possibly truncated: ask again for half the time
            if ingester is None:  # the server answered: the list may exist now
                list_id = lists.open()
                ingester = _Ingester(store, list_id, result)
            covered = Covered(plan.low, max(stop, plan.known_end))
            # The window's start stands in for a missing or broken Date: the mail reached
            # the archive within the window, so this is off by at most its width.
            items = [RawItem(f"lore:{query}#{i}", raw, current) for i, raw in enumerate(raws)]
            _submit_window(ingester, items, _marker(store, list_id, key, covered))
            done += len(raws)
            if progress:
                progress(done, None)
            current = stop
            size = _next_size(size, len(raws), policy)
    finally:
        if ingester is not None:
            ingester.close()  # commits what was submitted, even on Ctrl-C
    return done


def _submit_window(ingester: _Ingester, items: list[RawItem], mark: Callable[[], None]) -> None:
    """Submit a window's mail; only its last batch records the progress."""
    batches = list(_batched(items, BATCH)) or [[]]  # an empty window still records progress
    for index, batch in enumerate(batches):
        ingester.submit(batch, mark if index == len(batches) - 1 else None)


def _marker(store: Store, list_id: int, key: str, covered: Covered) -> Callable[[], None]:
    """Records coverage inside the transaction that stores the window's last batch."""
    value = covered.encode()
    return lambda: store.set_epoch_state(list_id, key, value)


def _next_size(size: int, count: int, policy: WindowPolicy) -> int:
    """Halve after a busy window, double after a quiet one (within [MIN_WINDOW, max])."""
    if count > policy.target:
        return max(MIN_WINDOW, size // 2)
    if count < policy.target // 4:
        return min(policy.max_window, size * 2)
    return size


# -- threads that began before the horizon --------------------------------------------------


def _thread_watermark(store: Store, list_id: int | None, base: str) -> int:
    """Store id after which messages still need their threads completed.

    The first lore run of a list starts at the newest message already stored, so mail
    from a mirror (complete by construction) never triggers thread downloads.
    """
    if list_id is None:
        return 0  # a new list: _ListOpener records 0 when it creates it
    key = THREADS_PREFIX + base
    stored = store.epoch_state(list_id, key)
    if stored is not None and stored.isdigit():
        return int(stored)
    newest = max((row[0] for row in store.threading_rows(list_id)), default=0)
    with store.transaction():
        store.set_epoch_state(list_id, key, str(newest))
    return newest


def _set_thread_watermark(store: Store, list_id: int, base: str) -> None:
    newest = max((row[0] for row in store.threading_rows(list_id)), default=0)
    with store.transaction():
        store.set_epoch_state(list_id, THREADS_PREFIX + base, str(newest))


def missing_ancestors(store: Store, list_id: int, after_pk: int) -> list[tuple[str, set[str]]]:
    """(Message-ID, unknown parents) of mail stored after `after_pk` that refers to mail not stored.

    Oldest first. A parent is In-Reply-To or any References entry: public-inbox threads by
    the same links, so the thread of such a message contains each parent it has.
    """
    rows = store.threading_rows(list_id)
    known = {mid for _, mid, _, _, _ in rows}
    found = []
    for pk, mid, in_reply_to, refs, _ in sorted(rows):
        if pk <= after_pk:
            continue
        parents = set(refs.split())
        if in_reply_to:
            parents.add(in_reply_to)
        missing = parents - known
        if missing:
            found.append((mid, missing))
    return found


def _complete_threads(
    store: Store,
    list_id: int,
    lore: LoreClient,
    after_pk: int,
    result: SyncResult,
    progress: ProgressCallback | None,
    done: int,
) -> None:
    """Fetch the thread of messages whose parents are missing: one request per thread.

    A message is skipped when every parent it lacks came with a thread fetched before, or
    was already looked for (a parent lore does not have either): the replies of one
    thread share their missing root, so this asks once per thread, not once per reply.
    """
    looked_for: set[str] = set()
    ingester = _Ingester(store, list_id, result)
    try:
        for message_id, missing in missing_ancestors(store, list_id, after_pk):
            if missing <= looked_for:
                continue
            raws = lore.thread(message_id)
            looked_for |= missing
            looked_for.update(_message_ids(raws))
            ref = f"lore:{message_id}/t.mbox.gz"
            items = [RawItem(f"{ref}#{i}", raw, None) for i, raw in enumerate(raws)]
            for batch in _batched(items, BATCH):
                ingester.submit(batch, None)
            done += len(raws)
            if progress:
                progress(done, None)
    finally:
        ingester.close()


def _message_ids(raws: list[bytes]) -> set[str]:
    """Message-IDs of fetched mail (those the ingester will store or find stored)."""
    ids = set()
    for raw in raws:
        try:
            ids.add(parse_headers(raw).message_id)
        except (UnparsableMessage, ValueError, LookupError, TypeError):
            continue  # the ingester logs it as unparsable
    return ids
