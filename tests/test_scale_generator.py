"""The scale generator writes epochs lore-digest reads like a real list's.

Scale benchmarks are only worth their figures if the generated mail costs what real
mail costs and exercises the same paths: every mail stored (none unparsable), threads
whole, series found with covers, revisions, trailers and "applied" replies, and sizes
and rates close to a real busy list.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

import scale_list as scale
from lore_digest.digest import Digest
from lore_digest.facts.week import week_of
from lore_digest.ingest import SyncResult, sync_mirror
from lore_digest.report.jsonout import render_json
from lore_digest.report.markdown import render_markdown
from lore_digest.store.db import Store
from scale_list import write_scale_epoch

COUNT = 2000
START = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday


def _git(git_dir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="module")
def epoch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scale") / "scale-0.git"
    write_scale_epoch(path, COUNT, seed=7, start=START)
    return path


@pytest.fixture(scope="module")
def synced(epoch: Path) -> tuple[Path, SyncResult]:
    db = epoch.parent / "scale.sqlite3"
    with Store.open(db) as store:
        result = sync_mirror(store, str(epoch), "scale")
    return db, result


def test_epoch_is_public_inbox_shaped(epoch: Path) -> None:
    assert int(_git(epoch, "rev-list", "--count", "HEAD")) == COUNT
    assert _git(epoch, "symbolic-ref", "HEAD").strip() == "refs/heads/master"
    assert not epoch.with_name(epoch.name + ".partial").exists()
    # One file `m` per commit, a linear history, author = sender at the Date header.
    for rev in ("HEAD", "HEAD~1000", f"HEAD~{COUNT - 1}"):
        assert _git(epoch, "ls-tree", "--name-only", rev).split() == ["m"]
    assert _git(epoch, "rev-list", "--min-parents=2", "HEAD") == ""
    head = _git(epoch, "cat-file", "-p", "HEAD:m")
    author = _git(epoch, "log", "-1", "--format=%an <%ae>").strip()
    assert f"\nFrom: {author}\n" in head or "=?UTF-8?" in head
    commit_times = [int(t) for t in _git(epoch, "log", "--reverse", "--format=%ct").split()]
    assert commit_times == sorted(commit_times)  # archived in arrival order


def test_sizes_and_rate_are_like_a_busy_real_list(epoch: Path) -> None:
    specs = _git(epoch, "rev-list", "HEAD").replace("\n", ":m\n")
    checked = subprocess.run(
        ["git", "--git-dir", str(epoch), "cat-file", "--batch-check"],
        input=specs,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    sizes = [int(line.split()[2]) for line in checked if line]
    assert len(sizes) == COUNT
    assert 5_000 <= sum(sizes) / len(sizes) <= 10_000
    assert max(sizes) > 20_000  # a few big patches, as on a real list
    times = [int(t) for t in _git(epoch, "log", "--format=%ct").split()]
    span_days = (max(times) - min(times)) / 86400
    assert 60 <= COUNT / span_days <= 250  # ~100 a day (more while the first threads grow)


def test_same_seed_same_epoch(tmp_path: Path) -> None:
    write_scale_epoch(tmp_path / "a.git", 300, seed=3)
    write_scale_epoch(tmp_path / "b.git", 300, seed=3)
    write_scale_epoch(tmp_path / "c.git", 300, seed=4)
    heads = [_git(tmp_path / f"{n}.git", "rev-parse", "HEAD") for n in "abc"]
    assert heads[0] == heads[1] != heads[2]


def test_interrupted_generation_leaves_no_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = scale._ScaleList.send
    sent = 0

    def failing(self: scale._ScaleList, *args: object, **kwargs: object) -> None:
        nonlocal sent
        sent += 1
        if sent > 150:
            raise KeyboardInterrupt
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(scale._ScaleList, "send", failing)
    with pytest.raises(KeyboardInterrupt):
        write_scale_epoch(tmp_path / "x.git", 300)
    assert list(tmp_path.iterdir()) == []


def test_every_mail_is_stored(synced: tuple[Path, SyncResult]) -> None:
    db, result = synced
    assert (result.new, result.unparsable, result.duplicate, result.known) == (COUNT, 0, 0, 0)
    with Store.open(db) as store:
        info = store.get_list("scale")
        assert info is not None
        assert store.count_messages(info.id) == COUNT


def test_threads_are_whole(synced: tuple[Path, SyncResult]) -> None:
    db, _ = synced
    with Store.open(db) as store:
        info = store.get_list("scale")
        assert info is not None
        rows = store.threading_rows(info.id)
    by_mid = {mid: (pk, tid) for pk, mid, _, _, tid in rows}
    assert all(tid is not None for _, _, _, _, tid in rows)
    replies = [(mid, irt, tid) for _, mid, irt, _, tid in rows if irt]
    in_archive = [(mid, irt, tid) for mid, irt, tid in replies if irt in by_mid]
    assert len(in_archive) >= 0.95 * len(replies)  # a few answer mail never archived here
    assert all(by_mid[irt][1] == tid for _, irt, tid in in_archive)
    threads = Counter(tid for *_, tid in rows)
    assert COUNT / 40 <= len(threads) <= COUNT / 3
    assert max(threads.values()) >= 20  # long review threads exist


def test_busiest_week_reports_series_reviews_and_applied(
    synced: tuple[Path, SyncResult],
) -> None:
    db, _ = synced
    with Store.open(db) as store:
        info = store.get_list("scale")
        assert info is not None
        everything = store.messages_between(info.id, 0, 2**62)
        weeks = Counter(week_of(datetime.fromtimestamp(m.date_utc, UTC)) for m in everything)
        week, mails = weeks.most_common(1)[0]
        report = Digest(store, "scale").week(week, lang="en")
    assert report.stats.messages == mails
    assert sum(c.messages for c in report.stats.categories.values()) == mails
    series = [t.series for t in report.threads if t.series is not None]
    statuses = Counter(str(s.status.status) for s in series)
    assert statuses["applied"] >= 1 and statuses["changes requested"] >= 1
    assert any(s.status.applied is not None and s.status.applied.commits for s in series)
    assert any(len(s.revisions) > 1 for s in series)
    assert any(p.reviewed for s in series for p in s.patches)
    assert any(s.total and s.total > 1 and s.cover_message_id for s in series)
    assert report.highlights is not None and report.highlights.top_reviewers
    assert render_markdown(report).startswith("# SCALE")
    assert '"week": "' + week + '"' in render_json(report)


def test_an_inbox_of_several_epochs_is_one_list_cut_in_pieces(
    synced: tuple[Path, SyncResult], tmp_path: Path
) -> None:
    inbox = tmp_path / "scale"
    epochs = scale.write_scale_inbox(inbox, COUNT, per_epoch=700, seed=7, start=START)
    assert [e.name for e in epochs] == ["0.git", "1.git", "2.git"]
    assert [int(_git(e, "rev-list", "--count", "HEAD")) for e in epochs] == [700, 700, 600]
    assert not inbox.with_name("scale.partial").exists()
    with Store.open(tmp_path / "inbox.sqlite3") as store:
        result = sync_mirror(store, str(inbox), "scale")
        info = store.get_list("scale")
        assert info is not None
        pieces = {mid: tid for _, mid, _, _, tid in store.threading_rows(info.id)}
    with Store.open(synced[0]) as store:
        info = store.get_list("scale")
        assert info is not None
        whole = {mid: tid for _, mid, _, _, tid in store.threading_rows(info.id)}
    assert result.new == COUNT
    assert pieces == whole  # the same mail in the same order: the same threads
