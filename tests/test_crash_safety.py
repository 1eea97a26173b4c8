"""kill -9 at random points: the store and the output directories stay consistent.

A digest runs from cron on a shared box: it can be OOM-killed, rebooted or killed by a
timeout at any instruction. The promises checked here, each against a real slice of
the kvmarm corpus (the first SLICE mails, a bare --shared clone: no object copying):

1. sync: each batch and the epoch's progress commit together, so after any number of
   SIGKILLs a plain re-run ends with exactly the store an uninterrupted sync makes (same
   mails, same rejects in the ingest log, same threads) and SQLite's integrity check
   passes. After every kill, the committed mail is exactly the epoch's commits up to the
   recorded progress: no batch is half in, none is stored twice.
2. report and site: files are renamed into place whole, so a reader never meets a
   half-written page whatever the moment of the kill, and a normal re-run completes
   and yields the same set of files as a clean build.
3. lock: a second writer on the same store waits or stops with one clear line.

The kill delays come from a seeded RNG spread over the measured length of a clean run,
so a failure is reproducible with the same seed.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from lore_digest.errors import StoreError
from lore_digest.ingest import sync_mirror
from lore_digest.store.db import Store
from lore_digest.store.lock import StoreLocked, lock_path, read_holder, store_lock

SLICE = 6000  # 3 ingest batches: ~2 s to sync, enough for kills between and inside them
SEED = 20240607
LIST = "kvmarm"
SITE_RANGE = ("--since", "2019-06-03", "--until", "2019-08-25")  # 12 weeks of the slice
REPORT_RANGE = ("--since", "2019-05-01", "--until", "2019-12-31")  # a long (slow) report
# write_atomic's temp files: mkstemp(prefix=".NAME.", suffix=".tmp").
TEMP_FILE = re.compile(r"^\..+\.tmp$")


def _cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "lore_digest", *map(str, args)]


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_cli(*args), capture_output=True, text=True, timeout=120, check=False)


def _git(git_dir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), *args], check=True, capture_output=True, text=True
    ).stdout


def _kill_after(args: Sequence[str | Path], delay: float) -> bool:
    """Run the CLI and SIGKILL it after `delay` seconds; True if it was still running.

    Only the lore-digest process gets the SIGKILL, as from the OOM killer; its git
    children (in its own process group) are reaped afterwards so none outlives the test.
    """
    proc = subprocess.Popen(
        _cli(*args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        proc.wait(timeout=delay)
        killed = False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed = True
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    return killed


def _timed(*args: str | Path) -> float:
    start = time.perf_counter()
    result = _run(*args)
    assert result.returncode == 0, result.stderr
    return time.perf_counter() - start


# -- the store's state ------------------------------------------------------------------


@dataclass(frozen=True)
class StoreState:
    """What an ingest leaves behind, comparable between an interrupted and a clean store."""

    message_ids: frozenset[str]
    rejected: frozenset[tuple[str, str | None, str]]  # (kind, message_id, commit)
    threads: frozenset[frozenset[str]]  # each thread as its set of Message-IDs
    unthreaded: int
    last_commit: str | None


def _commit_of(source_ref: str) -> str:
    return source_ref.rsplit(":", 1)[1]


def _check_integrity(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        doubles = conn.execute(
            "SELECT list_id, message_id FROM messages GROUP BY 1, 2 HAVING count(*) > 1"
        ).fetchall()
        assert doubles == []
        orphans = conn.execute(
            "SELECT count(*) FROM messages m LEFT JOIN raw_messages r ON r.id = m.id"
            " WHERE r.id IS NULL"
        ).fetchone()[0]
        assert orphans == 0, "messages without their raw mail"
    finally:
        conn.close()


def _state(db: Path) -> StoreState:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT message_id, thread_id FROM messages").fetchall()
        rejected = conn.execute("SELECT kind, message_id, source_ref FROM ingest_log").fetchall()
        last = conn.execute("SELECT last_commit FROM epochs").fetchall()
    finally:
        conn.close()
    groups: dict[int, set[str]] = {}
    for mid, tid in rows:
        if tid is not None:
            groups.setdefault(tid, set()).add(mid)
    assert len(last) <= 1
    return StoreState(
        message_ids=frozenset(mid for mid, _ in rows),
        rejected=frozenset((k, m, _commit_of(s)) for k, m, s in rejected),
        threads=frozenset(frozenset(g) for g in groups.values()),
        unthreaded=sum(1 for _, tid in rows if tid is None),
        last_commit=last[0][0] if last else None,
    )


def _check_progress_matches_mail(db: Path, revs: Sequence[str]) -> int:
    """The committed mail is exactly the epoch's commits up to the recorded progress.

    This is the promise "each batch commits with the epoch's progress": a kill can lose
    the batch in flight, never store part of it or record progress past it.
    """
    conn = sqlite3.connect(db)
    try:
        refs = [r for (r,) in conn.execute("SELECT source_ref FROM messages")]
        refs += [r for (r,) in conn.execute("SELECT source_ref FROM ingest_log")]
        last = conn.execute("SELECT last_commit FROM epochs").fetchall()
    except sqlite3.OperationalError:  # killed before the schema was created
        return 0
    finally:
        conn.close()
    done = revs.index(last[0][0]) + 1 if last else 0
    commits = [_commit_of(r) for r in refs]
    assert len(commits) == len(set(commits)), "a commit was ingested twice"
    # (a "known" re-delivery of an identical mail is stored nowhere, so <= not ==)
    assert set(commits) <= set(revs[:done])
    assert done - len(commits) <= 5, f"{done - len(commits)} commits below progress are missing"
    return done


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slice_git(corpus_git: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare clone of the corpus whose master is reset to its SLICE-th mail."""
    path = tmp_path_factory.mktemp("slice") / "kvmarm-0.git"
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", "--shared", str(corpus_git), str(path)], check=True
    )
    revs = _git(path, "rev-list", "--reverse", "HEAD").split()
    _git(path, "update-ref", "HEAD", revs[SLICE - 1])
    return path


@pytest.fixture(scope="module")
def slice_revs(slice_git: Path) -> list[str]:
    revs = _git(slice_git, "rev-list", "--reverse", "HEAD").split()
    assert len(revs) == SLICE
    return revs


@dataclass(frozen=True)
class Reference:
    db: Path
    seconds: float
    state: StoreState


@pytest.fixture(scope="module")
def reference(slice_git: Path, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """An uninterrupted sync of the slice through the CLI, and how long it took."""
    db = tmp_path_factory.mktemp("reference") / "ref.sqlite3"
    seconds = _timed("--db", db, "sync", "--mirror", slice_git, "--list", LIST, "--json")
    return Reference(db, seconds, _state(db))


# -- 1. sync ----------------------------------------------------------------------------


def test_sync_killed_repeatedly_then_resumed_equals_a_clean_sync(
    slice_git: Path, slice_revs: list[str], reference: Reference, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    db = tmp_path / "killed.sqlite3"
    args = ("--db", db, "sync", "--mirror", slice_git, "--list", LIST, "--json")
    progress = []
    # Short delays land in start-up, schema creation and the first batch; longer ones
    # in later batches, the thread update and the final commit. A kill that comes after
    # the whole slice is in (a fast hour ingests it before the first kill) leaves the
    # later ones nothing to cut: then the store starts again, with kills before that
    # delay, until one lands mid-ingest (at most 12 kills in all).
    latest = max(0.5, reference.seconds * 0.9)
    for _ in range(12):
        mid_ingest = any(0 < done < SLICE for *_, done in progress)
        if len(progress) >= 6 and mid_ingest:
            break
        delay = rng.uniform(0.25, latest)
        killed = _kill_after(args, delay)
        if db.exists():
            _check_integrity(db)
            done = _check_progress_matches_mail(db, slice_revs)
            progress.append((round(delay, 2), killed, done))
            if done == SLICE and not mid_ingest:
                for path in db.parent.glob(db.name + "*"):  # the store, its WAL and lock
                    path.unlink()
                latest = max(0.3, delay)
    assert any(killed for _, killed, _ in progress), progress
    assert any(0 < done < SLICE for *_, done in progress), f"no kill landed mid-ingest: {progress}"
    result = _run(*args)
    assert result.returncode == 0, result.stderr
    _check_integrity(db)
    state = _state(db)
    assert len(state.message_ids) == len(reference.state.message_ids)
    assert state.message_ids == reference.state.message_ids
    assert state.rejected == reference.state.rejected
    assert state.last_commit == slice_revs[-1]
    assert state.unthreaded == 0
    assert state.threads == reference.state.threads
    print(f"\nsync kills (delay s, killed, commits done): {progress}")


def test_kill_between_last_batch_and_threading_is_repaired(
    slice_git: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one window random kills rarely hit: every batch committed, threads not yet."""
    import lore_digest.ingest as ingest

    db = tmp_path / "store.sqlite3"

    def killed(*_: object) -> int:
        raise KeyboardInterrupt  # stands for the SIGKILL: nothing after this point runs

    with Store.open(db) as store:
        monkeypatch.setattr(ingest, "update_threads", killed)
        with pytest.raises(KeyboardInterrupt):
            sync_mirror(store, str(slice_git), LIST)
        monkeypatch.undo()
        sync_mirror(store, str(slice_git), LIST)  # the re-run after the crash
    assert _state(db).unthreaded == 0


# -- 2. report and site -----------------------------------------------------------------


def _walk(root: Path) -> Iterator[Path]:
    return (p for p in sorted(root.rglob("*")) if p.is_file())


def _check_outputs(root: Path) -> list[str]:
    """Assert every visible file is whole; return the temp files a kill left behind."""
    leftovers = []
    for path in _walk(root):
        rel = str(path.relative_to(root))
        if TEMP_FILE.match(path.name):
            leftovers.append(rel)
            continue
        data = path.read_bytes()
        assert data, f"{rel} is empty"
        text = data.decode("utf-8")
        if path.suffix == ".json":
            json.loads(text)
        elif path.suffix == ".html":
            assert text.lstrip().lower().startswith("<!doctype html"), rel
            assert text.rstrip().endswith("</html>"), f"{rel} is cut short"
        elif path.suffix in (".atom", ".svg"):
            ET.fromstring(data)
        elif path.suffix == ".js" and path.name.startswith("search-index"):
            json.loads(text.split("=", 1)[1].strip().rstrip(";"))
        elif path.suffix == ".md":
            assert text.endswith("\n") and text.startswith("# "), f"{rel} is cut short"
    return leftovers


def _visible(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in _walk(root) if not TEMP_FILE.match(p.name)}


@pytest.fixture
def store_copy(reference: Reference, tmp_path: Path) -> Path:
    """A private copy of the reference store (a killed run must not touch the shared one)."""
    db = tmp_path / "store.sqlite3"
    shutil.copy(reference.db, db)
    return db


def test_report_killed_repeatedly_never_leaves_a_half_written_file(
    store_copy: Path, tmp_path: Path
) -> None:
    clean, out = tmp_path / "clean", tmp_path / "out"
    args = ("--db", store_copy, "report", "--list", LIST, *REPORT_RANGE, "--lang", "en")
    seconds = _timed(*args, "--out", clean)
    rng = random.Random(SEED + 1)
    leftovers: list[str] = []
    rounds = []
    for _ in range(3):
        delay = rng.uniform(0.3, seconds * 1.05)
        killed = _kill_after((*args, "--out", out), delay)
        if out.exists():
            leftovers += _check_outputs(out)
        rounds.append((round(delay, 2), killed, len(_visible(out)) if out.exists() else 0))
    result = _run(*args, "--out", out)
    assert result.returncode == 0, result.stderr
    leftovers += _check_outputs(out)
    assert _visible(out) == _visible(clean)
    for name in _visible(clean):
        if name.endswith(".json"):
            fresh, whole = (json.loads((d / name).read_text("utf-8")) for d in (out, clean))
            fresh.pop("generated_at"), whole.pop("generated_at")
            assert fresh == whole
    print(f"\nreport: {seconds:.2f} s clean; kills (delay s, killed, files): {rounds}")
    print(f"temp files left by the kills: {leftovers or 'none'}")


def test_site_killed_repeatedly_never_leaves_a_half_written_page(
    store_copy: Path, tmp_path: Path
) -> None:
    clean, out = tmp_path / "clean", tmp_path / "site"
    args = ("--db", store_copy, "site", "--list", LIST, *SITE_RANGE, "--lang", "en")
    seconds = _timed(*args, "--out", clean, "--json")
    rng = random.Random(SEED + 2)
    leftovers: list[str] = []
    rounds = []
    # First builds killed (no manifest yet), then forced rebuilds of a complete site.
    for round_ in range(4):
        extra = ("--force",) if round_ >= 2 else ()
        if round_ == 2:
            assert _run(*args, "--out", out).returncode == 0
        delay = rng.uniform(0.3, seconds * 1.05)
        killed = _kill_after((*args, *extra, "--out", out), delay)
        if out.exists():
            leftovers += _check_outputs(out)
        rounds.append((round(delay, 2), killed, len(_visible(out)) if out.exists() else 0))
    result = _run(*args, "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    leftovers += _check_outputs(out)
    assert _visible(out) == _visible(clean)
    print(f"\nsite: {seconds:.2f} s clean, {len(_visible(clean))} files; kills: {rounds}")
    print(f"temp files left by the kills: {leftovers or 'none'}")


_WRITER = """
import os, sys, time
from pathlib import Path
from lore_digest import fsutil
def slow_fsync(fd):
    print("writing", flush=True)
    time.sleep(60)
fsutil.os.fsync = slow_fsync
fsutil.write_atomic(Path(sys.argv[1]), "# new\\n" * 1000)
"""


def _kill_inside_write_atomic(target: Path) -> None:
    """SIGKILL a process while write_atomic is writing `target` (between write and rename)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_sigkill_inside_write_atomic_keeps_the_old_file_whole(tmp_path: Path) -> None:
    """The atomicity promise itself: the old content or the new, never a mix.

    The temp file the killed process was writing does stay behind (nothing runs after
    SIGKILL to remove it): see the next test for who should clean it.
    """
    target = tmp_path / "kvmarm-2019-W40.md"
    target.write_text("# old\n", encoding="utf-8")
    _kill_inside_write_atomic(target)
    assert target.read_text(encoding="utf-8") == "# old\n"
    leftovers = [p.name for p in tmp_path.iterdir() if TEMP_FILE.match(p.name)]
    assert len(leftovers) == 1 and leftovers[0].startswith(".kvmarm-2019-W40.md.")


def test_next_run_removes_temp_files_left_by_a_kill(store_copy: Path, tmp_path: Path) -> None:
    out, site = tmp_path / "out", tmp_path / "site"
    out.mkdir()
    _kill_inside_write_atomic(out / "kvmarm-2019-W40.md")
    site_args = ("--db", store_copy, "site", "--list", LIST, "--weeks", "2019-W40")
    assert _run(*site_args, "--out", site).returncode == 0
    _kill_inside_write_atomic(site / "index.html")
    report = _run("--db", store_copy, "report", "--list", LIST, "--week", "2019-W40", "--out", out)
    assert report.returncode == 0, report.stderr
    assert _run(*site_args, "--out", site).returncode == 0
    assert _check_outputs(out) == []
    assert _check_outputs(site) == []


# -- 3. the run lock --------------------------------------------------------------------

_HOLDER = """
import sys, time
from pathlib import Path
from lore_digest.store.lock import store_lock
with store_lock(Path(sys.argv[1]), wait=None):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold_lock(db: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the store's lock for `seconds` (started and holding)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_refuses_a_second_holder_naming_the_first(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    holder = _hold_lock(db, 30)
    try:
        assert read_holder(db)[0] == holder.pid
        with pytest.raises(StoreLocked) as failed, store_lock(db, wait=None):
            pytest.fail("the lock was taken twice")
        message = str(failed.value)
        assert isinstance(failed.value, StoreError) and failed.value.holder_pid == holder.pid
        assert f"pid {holder.pid}" in message and str(db) in message and "\n" not in message
        start = time.monotonic()
        with pytest.raises(StoreLocked, match=r"after waiting 0\.5 s"), store_lock(db, wait=0.5):
            pass
        assert 0.5 <= time.monotonic() - start < 2.5
    finally:
        holder.kill()
        holder.wait()
    # The kernel drops a dead holder's lock: no stale lock to delete by hand.
    with store_lock(db, wait=None):
        assert read_holder(db)[0] == os.getpid()
    assert read_holder(db) == (None, "")
    assert lock_path(db).exists()


def test_lock_waits_for_a_holder_that_finishes(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    holder = _hold_lock(db, 0.5)
    try:
        start = time.monotonic()
        with store_lock(db, wait=20):
            waited = time.monotonic() - start
        assert 0.2 <= waited < 10
    finally:
        holder.wait()


def test_two_concurrent_syncs_leave_one_consistent_store(
    slice_git: Path, reference: Reference, tmp_path: Path
) -> None:
    """The second sync waits for the first (or, past its wait, stops with one line)."""
    db = tmp_path / "store.sqlite3"
    args = _cli("--db", db, "sync", "--mirror", slice_git, "--list", LIST, "--json")
    first_err = tmp_path / "first.stderr"
    with first_err.open("w") as err:
        first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 20
        while read_holder(db)[0] != first.pid:  # start the second once the first holds it
            assert first.poll() is None and time.monotonic() < deadline, first_err.read_text()
            time.sleep(0.01)
        second = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    finally:
        first_rc = first.wait(timeout=120)
    assert first_rc == 0, first_err.read_text()
    if second.returncode == 0:  # it waited, then found nothing left to do
        assert json.loads(second.stdout)["new"] == 0
    else:  # the first outlasted the wait (a very slow machine)
        _assert_refused(second, first.pid)
    _check_integrity(db)
    state = _state(db)
    assert state.message_ids == reference.state.message_ids
    assert state.unthreaded == 0 and state.threads == reference.state.threads


# The CLI as installed, with a shorter wait for the lock than its 30 s, so the refusal
# path is tested through the real command (error handling and exit code included).
_SHORT_WAIT_CLI = """
import sys
import lore_digest.cli as cli
cli.WRITER_LOCK_WAIT_S = 0.5
sys.argv = ["lore-digest", *sys.argv[1:]]
cli.main()
"""


def _error_lines(stderr: str) -> list[str]:
    """stderr without the notice that the command waits for the lock (said at once)."""
    return [line for line in stderr.strip().splitlines() if not line.startswith("waiting ")]


def _assert_refused(result: subprocess.CompletedProcess[str], holder: int) -> None:
    """Exit 1 with the error message naming the holder, and no traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    waiting = result.stderr.splitlines()[0]
    assert waiting.startswith("waiting ") and f"(pid {holder})" in waiting, result.stderr
    message = " ".join(" ".join(_error_lines(result.stderr)).split())
    assert message.startswith("error: store ") and "in use" in message, message
    assert f"pid {holder}" in message and "run again" in message, message


def _refused_sync(slice_git: Path, db: Path) -> tuple[subprocess.CompletedProcess[str], int]:
    """A sync through the CLI while another process holds the lock past the wait."""
    holder = _hold_lock(db, 30)
    try:
        args = ["--db", str(db), "sync", "--mirror", str(slice_git), "--list", LIST]
        result = subprocess.run(
            [sys.executable, "-c", _SHORT_WAIT_CLI, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        holder.kill()
        holder.wait()
    return result, holder.pid


def test_refusal_is_one_physical_line(slice_git: Path, store_copy: Path) -> None:
    """Cron mail and log greps see one line per error, however long the path."""
    result, holder = _refused_sync(slice_git, store_copy)
    _assert_refused(result, holder)
    assert len(_error_lines(result.stderr)) == 1, result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("sync", "--mirror", "{git}", "--list", LIST),
        ("report", "--list", LIST, "--week", "2019-W40", "--out", "{tmp}/out"),
        ("site", "--list", LIST, "--weeks", "2019-W40", "--out", "{tmp}/site"),
    ],
    ids=["sync", "report", "site"],
)
def test_writer_refused_past_its_wait_with_one_line(
    command: tuple[str, ...], slice_git: Path, store_copy: Path, tmp_path: Path
) -> None:
    before = store_copy.read_bytes()
    holder = _hold_lock(store_copy, 30)
    try:
        args = [a.format(git=slice_git, tmp=tmp_path) for a in command]
        start = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-c", _SHORT_WAIT_CLI, "--db", str(store_copy), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert time.monotonic() - start >= 0.5
        _assert_refused(result, holder.pid)
    finally:
        holder.kill()
        holder.wait()
    assert store_copy.read_bytes() == before  # refused before opening the store
    assert not (tmp_path / "out").exists() and not (tmp_path / "site").exists()
