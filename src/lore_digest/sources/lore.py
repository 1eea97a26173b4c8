"""lore over HTTP as a Source: recent mail of a list from public-inbox's search, politely.

Mail is asked for by Received-time windows (`rt:A..B`), oldest first, each window one
batch whose checkpoint records how far the list is covered, so an interrupted run goes
on from the last committed window. Mail already stored (from a mirror or an earlier
run) is recognised by the ingester's Message-ID dedupe. Threads that began before the
horizon are completed afterwards with one `t.mbox.gz` per thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import unquote, urlsplit

import httpx

from lore_digest.errors import SourceError
from lore_digest.mail.headers import UnparsableMessage, parse_headers
from lore_digest.sources.base import Batch, LoreCheckpoint, RawMail, SyncState
from lore_digest.sources.lore_http import LoreClient, normalize_base

__all__ = ["Covered", "LoreSource", "WindowPolicy", "default_list_name"]

BATCH = 2000
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


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where this run starts, and the coverage it extends."""

    low: int  # start of the contiguous coverage after this run
    start: int  # first Received time to ask for
    end: int  # ask up to (excluding) this time
    known_end: int  # coverage end already recorded (never shrink it)…
    joins_at: int = 0  # …once the windows have reached this time (where it begins)


@dataclass(frozen=True, slots=True)
class WindowPolicy:
    """How big the search windows are: sized to the list's traffic, split when capped."""

    max_window: int = int(DEFAULT_WINDOW.total_seconds())
    target: int = 1000  # aim for about this many messages per request
    result_cap: int = 10_000  # this many (or more) answers: assume truncated, split


def default_list_name(base: str) -> str:
    """The inbox name is the last path component: `https://lore.kernel.org/kvmarm` → kvmarm."""
    name = unquote(urlsplit(base).path.rstrip("/").rsplit("/", 1)[-1])
    if not name:
        raise SourceError(f"cannot tell the list name from {base!r}: pass --list NAME")
    return name


def _timestamp(when: date | datetime) -> int:
    """Unix seconds; a date means its midnight UTC, a naive datetime is taken as UTC."""
    if not isinstance(when, datetime):
        when = datetime(when.year, when.month, when.day, tzinfo=UTC)
    elif when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


class LoreSource:
    """A list read from a public-inbox over HTTP (see the module docstring)."""

    kind = "lore"

    def __init__(
        self,
        url: str,
        list_name: str | None = None,
        *,
        url_base: str | None = None,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        first_since: date | datetime | None = None,
        client: httpx.Client | None = None,
        delay: float = 1.0,
        overlap: timedelta = DEFAULT_OVERLAP,
        windows: WindowPolicy | None = None,
        fetch_threads: bool = True,
        timeout: float = 120.0,
        attempts: int = 6,
        backoff: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[str, float], None] | None = None,
    ) -> None:
        """`since` defaults to where the last run ended (less `overlap`, for mail indexed
        late), else the newest stored mail less `overlap`, else `first_since` (the
        config's `since`, for a list's first fetch), else four weeks ago. `until`
        (default: now) bounds the range. `delay` seconds pass between requests; failures
        are retried `attempts` times with exponential backoff from `backoff` seconds,
        each retry reported to `on_retry(reason, wait_seconds)`."""
        self.base = normalize_base(url)
        self.list_name = list_name or default_list_name(self.base)
        self.origin = self.base
        # The server the mail is read from is where readers find it: recorded as given.
        self.url_base: str | None = url_base or self.base + "/"
        self.default_url_base = self.base + "/"
        self.since, self.until, self.first_since = since, until, first_since
        self.overlap = int(overlap.total_seconds())
        self.policy = windows or WindowPolicy()
        self.fetch_threads = fetch_threads
        self._client_options = {
            "client": client,
            "delay": delay,
            "timeout": timeout,
            "attempts": attempts,
            "backoff": backoff,
            "sleep": sleep,
            "on_retry": on_retry,
        }
        self._plan: _Plan | None = None
        self._watermark: tuple[int, bool] = (0, False)  # (pk, already recorded)

    def check(self) -> None:
        """The URL was checked when the source was made; the dates are checked here."""
        since, until = self.since, self.until
        if since is not None and until is not None and _timestamp(until) < _timestamp(since):
            raise SourceError(f"--until {until} is before --since {since}")

    def prepare(self) -> list[str]:
        """Nothing to fetch before the first search: the search itself is the probe."""
        self.check()
        return [self.base]

    def plan(self, state: SyncState) -> int | None:
        """Resume inside the recorded coverage; otherwise start where the caller asked."""
        stored = state.lore_progress(self.base)
        now = int(time.time())
        end = _timestamp(self.until) if self.until is not None else now
        covered = (
            Covered(stored.covered_start, stored.covered_end)
            if stored is not None
            and stored.covered_start is not None
            and stored.covered_end is not None
            else None
        )
        span = state.date_range() if state.list_exists() else None
        if self.since is not None:
            wanted = _timestamp(self.since)
        elif covered is not None:
            wanted = covered.end - self.overlap
        elif span is None and self.first_since is not None:
            wanted = _timestamp(self.first_since)
        else:
            # A mail with a Date in the future must not push the start past today.
            horizon = now - int(DEFAULT_HORIZON.total_seconds())
            wanted = min(span[1], now) - self.overlap if span else horizon
        wanted = max(wanted, MIN_TIMESTAMP)
        if covered is not None and covered.start <= wanted <= covered.end:
            self._plan = _Plan(
                covered.start, max(wanted, covered.end - self.overlap), end, covered.end
            )
        elif covered is not None and wanted < covered.start <= end:
            # Earlier mail asked for: the coverage grows backwards, and keeps its end once
            # the windows reach where it began (not before: an interruption leaves a gap).
            self._plan = _Plan(wanted, wanted, end, covered.end, joins_at=covered.start)
        else:
            self._plan = _Plan(wanted, wanted, end, wanted)
        # Mail up to here needs no thread completion: a new list has none, and mail of a
        # list already stored (from a mirror) is complete by construction.
        if stored is not None and stored.threads_done_pk is not None:
            self._watermark = (stored.threads_done_pk, True)
        else:
            self._watermark = (state.last_pk() if state.list_exists() else 0, False)
        return None

    def batches(self, state: SyncState) -> Iterator[Batch]:
        """Each window's mail, then the threads that began before the first window."""
        plan = self._plan
        assert plan is not None, "plan() first"
        watermark, recorded = self._watermark
        with LoreClient(self.base, **self._client_options) as lore:  # type: ignore[arg-type]
            size = self.policy.max_window
            current = plan.start
            while current < plan.end:
                stop = min(current + size, plan.end)
                query = f"rt:{current}..{stop - 1}"  # rt: ranges include both ends
                raws = lore.search(query)
                if len(raws) >= self.policy.result_cap and stop - current > MIN_WINDOW:
                    size = max(MIN_WINDOW, (stop - current) // 2)
                    continue  # possibly truncated: ask again for half the time
                checkpoint = LoreCheckpoint(
                    self.base,
                    covered_start=plan.low,
                    covered_end=max(stop, plan.known_end) if stop >= plan.joins_at else stop,
                    threads_done_pk=None if recorded else watermark,
                )
                recorded = True
                # The window's start stands in for a missing or broken Date: the mail
                # reached the archive within the window, so this is off by at most its width.
                mails = [RawMail(f"lore:{query}#{i}", raw, current) for i, raw in enumerate(raws)]
                yield from _split(mails, checkpoint)
                current = stop
                size = _next_size(size, len(raws), self.policy)
            if self.fetch_threads and state.list_exists():
                yield from self._complete_threads(state, lore, watermark)

    def _complete_threads(
        self, state: SyncState, lore: LoreClient, after_pk: int
    ) -> Iterator[Batch]:
        """Fetch the thread of messages whose parents are missing: one request per thread.

        A message is skipped when every parent it lacks came with a thread fetched before,
        or was already looked for (a parent lore does not have either): the replies of one
        thread share their missing root, so this asks once per thread, not once per reply.
        """
        state.settle()
        looked_for: set[str] = set()
        for message_id, missing in state.orphans(after_pk):
            if missing <= looked_for:
                continue
            raws = lore.thread(message_id)
            looked_for |= missing
            looked_for.update(_message_ids(raws))
            ref = f"lore:{message_id}/t.mbox.gz"
            yield from _split([RawMail(f"{ref}#{i}", raw, None) for i, raw in enumerate(raws)])
        state.settle()
        yield Batch((), LoreCheckpoint(self.base, threads_done_pk=state.last_pk()))


def _split(mails: list[RawMail], checkpoint: LoreCheckpoint | None = None) -> Iterator[Batch]:
    """Batches of at most BATCH mails; only the last records the checkpoint (an empty
    window still records its progress)."""
    starts = range(0, len(mails), BATCH) if mails else [0]
    last = starts[-1]
    for start in starts:
        yield Batch(mails[start : start + BATCH], checkpoint if start == last else None)


def _next_size(size: int, count: int, policy: WindowPolicy) -> int:
    """Halve after a busy window, double after a quiet one (within [MIN_WINDOW, max])."""
    if count > policy.target:
        return max(MIN_WINDOW, size // 2)
    if count < policy.target // 4:
        return min(policy.max_window, size * 2)
    return size


def _message_ids(raws: list[bytes]) -> set[str]:
    """Message-IDs of fetched mail (those the ingester will store or find stored)."""
    ids = set()
    for raw in raws:
        try:
            ids.add(parse_headers(raw).message_id)
        except (UnparsableMessage, ValueError, LookupError, TypeError):
            continue  # the ingester logs it as unparsable
    return ids
