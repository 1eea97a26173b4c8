"""`sync --lore` and `--mirror URL` against the real public-inbox-httpd, on 127.0.0.1.

The served inbox is the first 1,200 messages of the kvmarm corpus (2019-04-29 →
2019-08-22), built and indexed by public-inbox itself (tests/publicinbox_server.py), so
"what the server has" is public-inbox's own over.sqlite3, not our guess.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from lore_digest.errors import LoreDigestError, SourceError
from lore_digest.ingest import sync_lore, sync_mirror
from lore_digest.sources.base import LoreCheckpoint
from lore_digest.sources.lore import Covered, WindowPolicy
from lore_digest.sources.lore_http import (
    USER_AGENT,
    LoreClient,
    normalize_base,
    split_mboxrd,
)
from lore_digest.sources.publicinbox import mirror_cache
from lore_digest.store.db import Store
from lore_digest.vocabulary import retry_after_seconds
from publicinbox_server import FaultProxy, Inbox, OverRow, Server, missing_tools, serve

BASE_COUNT = 1200
SINCE = date(2019, 4, 1)
UNTIL = date(2019, 9, 1)
JUNE = (datetime(2019, 6, 1, tzinfo=UTC), datetime(2019, 7, 1, tzinfo=UTC))
DAY = 86400


def _no_sleep(_seconds: float) -> None:
    """Backoff waits are recorded or skipped: the tests check them, not the clock."""


FAST = {"delay": 0.0, "backoff": 0.01, "sleep": _no_sleep}


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pi_inbox(corpus_git: Path, tmp_path_factory: pytest.TempPathFactory) -> Inbox:
    """The first 1,200 corpus messages as a public-inbox v2 inbox (indexed once)."""
    reason = missing_tools()
    if reason:
        pytest.skip(reason)
    return Inbox.create(corpus_git, tmp_path_factory.mktemp("pi"), "kvmarm", BASE_COUNT)


@pytest.fixture(scope="session")
def pi_server(pi_inbox: Inbox) -> Iterator[Server]:
    """public-inbox-httpd serving `pi_inbox` (never modified: tests that grow use a copy)."""
    with serve(pi_inbox) as server:
        yield server


@pytest.fixture(scope="session")
def served(pi_inbox: Inbox) -> list[OverRow]:
    """Every served message with its Received time and public-inbox thread id."""
    return pi_inbox.over()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "store.sqlite3") as opened:
        yield opened


class Recorder:
    """An httpx client that remembers what was asked: search queries and thread fetches."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.queries: list[str] = []
        self.threads: list[str] = []
        self.client = httpx.Client(timeout=timeout, event_hooks={"request": [self._record]})

    def _record(self, request: httpx.Request) -> None:
        if "q" in request.url.params:
            self.queries.append(request.url.params["q"])
        elif request.url.path.endswith("/t.mbox.gz"):
            self.threads.append(request.url.path)

    def starts(self) -> list[int]:
        """Start of each rt: window asked for."""
        return [int(q.removeprefix("rt:").split("..")[0]) for q in self.queries]


def _ts(when: date | datetime) -> int:
    if not isinstance(when, datetime):
        when = datetime(when.year, when.month, when.day, tzinfo=UTC)
    return int(when.timestamp())


def _stored_ids(store: Store, name: str = "kvmarm") -> set[str]:
    info = store.get_list(name)
    assert info is not None
    return {mid for _, mid, _, _, _ in store.threading_rows(info.id)}


def _received_in(served: list[OverRow], start: int, end: int) -> set[str]:
    return {r.message_id for r in served if start <= r.ts < end}


def _partial_mirror(corpus_git: Path, dest: Path, count: int) -> Path:
    """A bare copy of the corpus epoch rewound to its `count`-th message."""
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", str(corpus_git), str(dest)],
        check=True,
        capture_output=True,
    )
    revs = subprocess.run(
        ["git", "--git-dir", str(dest), "rev-list", "--reverse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    subprocess.run(
        ["git", "--git-dir", str(dest), "update-ref", "refs/heads/master", revs[count - 1]],
        check=True,
    )
    return dest


# -- (a) search windows: exactly the served mail, deduplicated against a mirror -------------


def test_lore_sync_fetches_the_served_inbox_and_dedupes_against_a_mirror(
    pi_server: Server, served: list[OverRow], corpus_git: Path, store: Store, tmp_path: Path
) -> None:
    mirror = _partial_mirror(corpus_git, tmp_path / "kvmarm-0.git", 600)
    assert sync_mirror(store, str(mirror), "kvmarm").new == 600

    result = sync_lore(store, pi_server.url, "kvmarm", since=SINCE, until=UNTIL, **FAST)

    assert _stored_ids(store) == {r.message_id for r in served}
    assert result.new == BASE_COUNT - 600
    # Byte-identical to the mirror's copies: known, never logged as a differing duplicate.
    assert result.known >= 600
    assert (result.duplicate, result.unparsable) == (0, 0)
    info = store.get_list("kvmarm")
    assert info is not None
    assert store.ingest_log(info.id) == []
    progress = store.lore_progress(info.id, pi_server.url)
    assert progress is not None and progress[:2] == (_ts(SINCE), _ts(UNTIL))
    assert info.url_base == pi_server.url + "/"


def test_a_date_range_yields_exactly_the_mail_received_in_it(
    pi_server: Server, served: list[OverRow], store: Store
) -> None:
    """With a result cap of 40 the weekly windows must split, and still lose nothing."""
    recorder = Recorder()
    sync_lore(
        store,
        pi_server.url,
        since=JUNE[0],
        until=JUNE[1],
        client=recorder.client,
        windows=WindowPolicy(result_cap=40),
        fetch_threads=False,
        **FAST,
    )
    expected = _received_in(served, _ts(JUNE[0]), _ts(JUNE[1]))
    assert len(expected) > 100
    assert _stored_ids(store) == expected
    assert len(recorder.queries) > 5  # more than the 5 weekly windows: capped ones were split
    assert recorder.queries[0] == f"rt:{_ts(JUNE[0])}..{_ts(JUNE[0]) + 7 * DAY - 1}"


def test_threads_that_began_before_the_range_are_completed(
    pi_server: Server, served: list[OverRow], store: Store
) -> None:
    recorder = Recorder()
    sync_lore(store, pi_server.url, since=JUNE[0], until=JUNE[1], client=recorder.client, **FAST)

    in_range = _received_in(served, _ts(JUNE[0]), _ts(JUNE[1]))
    stored = _stored_ids(store)
    tid = {r.message_id: r.tid for r in served}
    earlier = stored - in_range
    assert in_range < stored and earlier
    # Only whole threads of in-range mail were added, …
    assert {tid[mid] for mid in earlier} <= {tid[mid] for mid in in_range}
    # … every parent the server has is now stored, …
    info = store.get_list("kvmarm")
    assert info is not None
    served_ids = set(tid)
    for _, mid, in_reply_to, refs, _ in store.threading_rows(info.id):
        parents = {*refs.split(), *([in_reply_to] if in_reply_to else [])}
        assert parents & served_ids <= stored, mid
    # … asking once per thread at most.
    assert 0 < len(recorder.threads) <= len({tid[mid] for mid in in_range})

    again = Recorder()
    rerun = sync_lore(store, pi_server.url, until=JUNE[1], client=again.client, **FAST)
    assert rerun.new == 0
    assert again.threads == []  # threads are completed once, not on every sync
    assert again.starts()[0] == _ts(JUNE[1]) - DAY  # resumes where it ended, less the overlap


def test_default_start_is_the_newest_stored_mail_or_four_weeks_ago(
    pi_server: Server, corpus_git: Path, store: Store, tmp_path: Path
) -> None:
    empty = Recorder()
    before = int(time.time())
    result = sync_lore(store, pi_server.url, "other", client=empty.client, **FAST)
    assert result.new == 0  # the served mail is from 2019; "No results found" is no error
    assert abs(empty.starts()[0] - (before - 28 * DAY)) < 120

    mirror = _partial_mirror(corpus_git, tmp_path / "kvmarm-0.git", 600)
    sync_mirror(store, str(mirror), "kvmarm")
    info = store.get_list("kvmarm")
    assert info is not None
    span = store.date_range(info.id)
    assert span is not None
    from_mirror = _stored_ids(store)
    recorder = Recorder()
    sync_lore(store, pi_server.url, "kvmarm", until=UNTIL, client=recorder.client, **FAST)
    assert recorder.starts()[0] == span[1] - DAY
    # Threads are completed for the new mail only: the mirror's is complete by construction.
    asked = {unquote(path.split("/")[2]) for path in recorder.threads}
    assert asked and not asked & from_mirror


# -- (c) interrupted and resumed ------------------------------------------------------------


def test_an_interrupted_sync_resumes_without_loss_or_duplicates(
    pi_server: Server, served: list[OverRow], store: Store
) -> None:
    calls = 0

    def interrupt_after_ten_windows(done: int, total: int | None) -> None:
        nonlocal calls
        calls += 1
        if calls > 10:  # the first call is (0, None), before any window
            raise KeyboardInterrupt

    policy = WindowPolicy(max_window=3 * DAY)
    with pytest.raises(KeyboardInterrupt):
        sync_lore(
            store,
            pi_server.url,
            since=SINCE,
            until=UNTIL,
            progress=interrupt_after_ten_windows,
            windows=policy,
            **FAST,
        )
    info = store.get_list("kvmarm")
    assert info is not None
    covered = _covered(store, info.id, pi_server.url)
    assert covered is not None
    assert covered.start == _ts(SINCE) < covered.end < _ts(UNTIL)
    # Windows commit atomically with their progress: the store holds exactly the covered span.
    partial = _stored_ids(store)
    assert partial == _received_in(served, covered.start, covered.end)
    assert 0 < len(partial) < BASE_COUNT

    recorder = Recorder()
    result = sync_lore(
        store,
        pi_server.url,
        since=SINCE,
        until=UNTIL,
        client=recorder.client,
        windows=policy,
        **FAST,
    )
    assert recorder.starts()[0] == covered.end - DAY
    assert _stored_ids(store) == {r.message_id for r in served}
    assert store.count_messages(info.id) == BASE_COUNT
    assert result.new == BASE_COUNT - len(partial)
    assert (result.duplicate, result.unparsable) == (0, 0)
    assert store.ingest_log(info.id) == []


# -- (b) the git mirror path over public-inbox-httpd's smart HTTP ---------------------------


def test_mirror_url_clones_epochs_over_http_and_fetches_only_new_mail(
    pi_inbox: Inbox,
    corpus_git: Path,
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    inbox = pi_inbox.copy(tmp_path / "pi")
    with serve(inbox) as server:
        first = sync_mirror(store, server.url, "kvmarm")
        assert first.new == BASE_COUNT
        cache = tmp_path / "cache" / "lore-digest" / "mirrors"
        assert first.epochs == [str(mirror_cache(server.url, "kvmarm", cache) / "git" / "0.git")]
        assert first.epochs[0].startswith(str(cache / "kvmarm-"))

        inbox.grow(BASE_COUNT + 300)  # new mail arrives: appended commits, re-indexed
        second = sync_mirror(store, server.url, "kvmarm")
        assert (second.new, second.known, second.duplicate) == (300, 0, 0)
        assert sync_mirror(store, server.url, "kvmarm").new == 0

        # The search path sees the same 300 as byte-identical copies of the mirror's.
        server.reload()
        lore = sync_lore(
            store, server.url, "kvmarm", since=date(2019, 8, 20), until=date(2019, 10, 1), **FAST
        )
        assert lore.new == 0 and lore.known >= 300 and lore.duplicate == 0
    info = store.get_list("kvmarm")
    assert info is not None
    assert store.count_messages(info.id) == BASE_COUNT + 300


# -- (d) faults: retried until they pass, or one clear line ---------------------------------


def test_retries_recover_from_429_500_truncation_drops_and_stalls(
    pi_server: Server, served: list[OverRow], store: Store
) -> None:
    faults = ["429:7", "500", "truncate", "drop", "stall:3", "503:1"]
    waits: list[float] = []
    reasons: list[str] = []
    with FaultProxy(pi_server.origin) as proxy:
        proxy.queue = list(faults)
        result = sync_lore(
            store,
            proxy.url("kvmarm"),
            "kvmarm",
            since=JUNE[0],
            until=JUNE[1],
            delay=0.0,
            timeout=0.5,
            attempts=len(faults) + 1,
            backoff=0.01,
            sleep=waits.append,
            on_retry=lambda reason, _wait: reasons.append(reason),
            fetch_threads=False,
        )
        assert proxy.faults_seen() == faults
        assert {r.user_agent for r in proxy.seen} == {USER_AGENT}
    # Each fault was recognised for what it is, and retried.
    assert reasons[:2] == ["HTTP 429", "HTTP 500"]
    assert reasons[2].startswith("damaged gzip body")
    assert reasons[3].startswith("RemoteProtocolError")  # body shorter than Content-Length
    assert reasons[4].startswith("timed out (ReadTimeout)")
    assert reasons[5:] == ["HTTP 503"]
    assert _stored_ids(store) == _received_in(served, _ts(JUNE[0]), _ts(JUNE[1]))
    assert (result.duplicate, result.unparsable) == (0, 0)
    assert 7.0 in waits and 1.0 in waits  # Retry-After honoured
    assert all(w < 1.0 for w in waits if w not in (7.0, 1.0))  # the rest: short backoff


def test_a_permanent_failure_ends_with_one_clear_line(pi_server: Server, store: Store) -> None:
    with FaultProxy(pi_server.origin) as proxy:
        proxy.always = "500"
        with pytest.raises(LoreDigestError) as failed:
            sync_lore(store, proxy.url("kvmarm"), since=JUNE[0], until=JUNE[1], attempts=3, **FAST)
        assert len(proxy.seen) == 3
        message = str(failed.value)
        assert "\n" not in message and "HTTP 500" in message and "3 attempts" in message

        proxy.always = "429:3600"
        with pytest.raises(LoreDigestError, match=r"asks to wait 3600 s"):
            sync_lore(store, proxy.url("kvmarm"), since=JUNE[0], until=JUNE[1], **FAST)

    assert store.get_list("kvmarm") is None  # nothing stored, no progress recorded

    with pytest.raises(LoreDigestError, match="not a public-inbox archive"):
        sync_lore(store, pi_server.origin + "/nosuch", since=JUNE[0], until=JUNE[1], **FAST)
    assert store.get_list("nosuch") is None  # a mistyped URL leaves no empty list behind


def test_a_failure_midway_keeps_the_committed_windows(
    pi_server: Server, served: list[OverRow], store: Store
) -> None:
    with FaultProxy(pi_server.origin) as proxy:

        def break_after_three_windows(done: int, total: int | None) -> None:
            if len(proxy.seen) == 3:
                proxy.always = "502"  # the server goes down for good

        with pytest.raises(LoreDigestError, match="HTTP 502"):
            sync_lore(
                store,
                proxy.url("kvmarm"),
                since=SINCE,
                until=UNTIL,
                progress=break_after_three_windows,
                attempts=2,
                **FAST,
            )
        info = store.get_list("kvmarm")
        assert info is not None
        covered = _covered(store, info.id, proxy.url("kvmarm"))
        assert covered == Covered(_ts(SINCE), _ts(SINCE) + 3 * 7 * DAY)
        assert _stored_ids(store) == _received_in(served, covered.start, covered.end)

        proxy.always = None  # back up: the next run completes the range
        sync_lore(store, proxy.url("kvmarm"), since=SINCE, until=UNTIL, **FAST)
    assert _stored_ids(store) == {r.message_id for r in served}


def test_requests_are_spaced_by_the_delay(pi_server: Server) -> None:
    waits: list[float] = []
    with LoreClient(pi_server.url, delay=1.0, sleep=waits.append) as lore:
        assert lore.search(f"rt:{_ts(JUNE[0])}..{_ts(JUNE[0]) + 7 * DAY - 1}")
        assert lore.thread("no-such-message@example.org") == []
    assert len(waits) == 1 and 0.5 < waits[0] <= 1.0


# -- pure helpers ---------------------------------------------------------------------------


def test_split_mboxrd_undoes_from_quoting_and_the_added_newline() -> None:
    data = (
        b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"
        b"Subject: a\n\n>From here\n>>From there\n>Fromage\n\n"
        b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"
        b"Subject: b\r\n\r\nbody\r\n\n"
    )
    assert split_mboxrd(data) == [
        b"Subject: a\n\nFrom here\n>From there\n>Fromage\n",
        b"Subject: b\r\n\r\nbody\r\n",
    ]
    assert split_mboxrd(b"") == []
    with pytest.raises(SourceError):
        split_mboxrd(b"<html>")


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds("120") == 120.0
    now = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    assert retry_after_seconds("Mon, 01 Jan 2024 00:00:30 GMT", now=now) == 30.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_inbox_urls_are_checked() -> None:
    assert normalize_base("https://lore.kernel.org/kvmarm/") == "https://lore.kernel.org/kvmarm"
    for bad in ("lore.kernel.org/kvmarm", "https://lore.kernel.org/", "https://x/k?q=1"):
        with pytest.raises(SourceError):
            normalize_base(bad)


def _covered(store: Store, list_id: int, base: str) -> Covered | None:
    progress = store.lore_progress(list_id, base)
    if progress is None or progress[0] is None or progress[1] is None:
        return None
    return Covered(progress[0], progress[1])


def test_progress_kept_in_epochs_by_older_versions_is_migrated(tmp_path: Path) -> None:
    """Schema 3 moves "lore:"/"lore-threads:" rows of `epochs` into `lore_progress`."""
    import sqlite3

    from lore_digest.store.schema import MIGRATIONS

    path = tmp_path / "v2.sqlite3"
    with sqlite3.connect(path) as conn:
        for number in range(2):
            conn.executescript(MIGRATIONS[number])
        conn.execute("PRAGMA user_version=2")
        conn.execute("INSERT INTO lists(id, name, url_base) VALUES (1, 'kvmarm', 'x')")
        base = "https://lore.kernel.org/kvmarm"
        rows = [
            (f"lore:{base}", "2019-04-01T00:00:00Z..2019-09-01T00:00:00Z"),
            (f"lore-threads:{base}", "1234"),
            ("/srv/kvmarm/git/0.git", "a" * 40),
        ]
        conn.executemany("INSERT INTO epochs VALUES (1, ?, ?)", rows)
    with Store.open(path) as store:
        assert store.lore_progress(1, base) == (_ts(SINCE), _ts(UNTIL), 1234)
        assert store.epoch_state(1, "/srv/kvmarm/git/0.git") == "a" * 40
        assert store.epoch_state(1, f"lore:{base}") is None
    covered = Covered(_ts(SINCE), _ts(UNTIL))
    assert timedelta(seconds=covered.end - covered.start).days == 153


class _NoProgress:
    """A SyncState of a list that has no lore progress recorded (pure planning tests)."""

    def __init__(self, span: tuple[int, int] | None) -> None:
        self.span = span

    def list_exists(self) -> bool:
        return self.span is not None

    def epoch_commit(self, repo: str) -> str | None:
        return None

    def lore_progress(self, base: str) -> None:
        return None

    def date_range(self) -> tuple[int, int] | None:
        return self.span

    def settle(self) -> None:
        pass

    def last_pk(self) -> int:
        return 7 if self.span else 0

    def orphans(self, after_pk: int) -> list[tuple[str, set[str]]]:
        return []


def test_the_configs_since_starts_only_a_lists_first_fetch() -> None:
    from lore_digest.sources.lore import LoreSource

    source = LoreSource("https://lore.kernel.org/kvmarm", first_since=SINCE, overlap=timedelta(0))
    source.plan(_NoProgress(None))  # nothing stored yet: start at `since`
    assert source._plan is not None and source._plan.start == _ts(SINCE)
    stored = (_ts(SINCE), _ts(UNTIL))
    source.plan(_NoProgress(stored))  # mail stored (from a mirror, say): resume after it
    assert source._plan is not None and source._plan.start == _ts(UNTIL)
    assert source._watermark == (7, False)  # mirror mail needs no thread completion


class _Covered(_NoProgress):
    """A list whose lore progress covers [start, end)."""

    def __init__(self, start: int, end: int) -> None:
        super().__init__((start, end))
        self.range = (start, end)

    def lore_progress(self, base: str) -> LoreCheckpoint:  # type: ignore[override]
        return LoreCheckpoint(base, self.range[0], self.range[1], 3)


def test_earlier_mail_asked_for_grows_the_coverage_backwards() -> None:
    from lore_digest.sources.lore import LoreSource

    june, july = _ts(date(2019, 6, 1)), _ts(date(2019, 7, 1))
    source = LoreSource("https://lore.kernel.org/kvmarm", since=SINCE, until=UNTIL)
    source.plan(_Covered(june, july))
    plan = source._plan
    assert plan is not None
    assert (plan.low, plan.start, plan.known_end, plan.joins_at) == (
        _ts(SINCE),
        _ts(SINCE),
        july,
        june,
    )
    assert source._watermark == (3, True)
