"""Ingest from real public-inbox data: faithful, deduplicated, incremental, resumable."""

from __future__ import annotations

import csv
import mailbox
import subprocess
from pathlib import Path

import pytest

from lore_digest.errors import SourceError
from lore_digest.ingest import sync_mbox, sync_mirror
from lore_digest.sources.publicinbox import default_list_name, local_epochs, mirror_cache
from lore_digest.store.db import Store


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def test_full_corpus_counts(synced_store: Store) -> None:
    info = synced_store.get_list("kvmarm")
    assert info is not None
    # 18,728 commits: one Message-ID appears twice with different bytes.
    assert synced_store.count_messages(info.id) == 18727
    logged = synced_store.ingest_log(info.id)
    assert [kind for kind, *_ in logged] == ["duplicate"]
    assert info.url_base == "https://lore.kernel.org/kvmarm/"


def test_dates_come_from_the_date_header(synced_store: Store, threads_tsv: Path) -> None:
    """public-inbox's Date-header times agree with ours for every message it indexed."""
    info = synced_store.get_list("kvmarm")
    assert info is not None
    ours = {m.message_id: m.date_utc for m in synced_store.messages_between(info.id, 0, 2**40)}
    with threads_tsv.open(encoding="utf-8") as handle:
        reference = {
            r["message_id"]: int(r["date_unix"]) for r in csv.DictReader(handle, delimiter="\t")
        }
    mismatched = [mid for mid, when in reference.items() if ours.get(mid) != when]
    assert mismatched == []


def test_rfc2047_sender_is_decoded(synced_store: Store) -> None:
    rows = synced_store.conn.execute(
        "SELECT DISTINCT from_name FROM messages WHERE from_email LIKE 'berrange@%'"
    ).fetchall()
    assert ("Daniel P. Berrangé",) in rows
    encoded = synced_store.conn.execute(
        "SELECT count(*) FROM messages WHERE from_name LIKE '%=?%' OR subject LIKE '%=?%?=%'"
    ).fetchone()[0]
    assert encoded == 0


@pytest.fixture
def partial_clone(corpus_git: Path, tmp_path: Path) -> Path:
    """A bare copy of the epoch whose master is rewound by 300 commits (a stale mirror)."""
    clone = tmp_path / "kvmarm" / "git" / "0.git"
    _git("clone", "--quiet", "--bare", str(corpus_git), str(clone))
    _git("--git-dir", str(clone), "tag", "full", "HEAD")
    _git("--git-dir", str(clone), "update-ref", "refs/heads/master", "HEAD~300")
    return clone


def test_incremental_sync_ingests_only_new_commits(partial_clone: Path, tmp_path: Path) -> None:
    inbox = partial_clone.parent.parent  # a v2 inbox dir: kvmarm/git/0.git
    with Store.open(tmp_path / "s.db") as store:
        first = sync_mirror(store, str(inbox))
        assert first.list_name == "kvmarm"
        assert first.new + first.duplicate == 18728 - 300
        again = sync_mirror(store, str(inbox))
        assert (again.new, again.duplicate, again.known) == (0, 0, 0)
        full_tip = _git("--git-dir", str(partial_clone), "rev-parse", "refs/tags/full").strip()
        _git("--git-dir", str(partial_clone), "update-ref", "refs/heads/master", full_tip)
        third = sync_mirror(store, str(inbox))
        assert third.new + third.duplicate == 300
        info = store.get_list("kvmarm")
        assert info is not None and store.count_messages(info.id) == 18727


def test_interrupted_sync_resumes_without_loss(partial_clone: Path, tmp_path: Path) -> None:
    db = tmp_path / "s.db"

    calls = {"n": 0}

    def explode(done: int, total: int | None) -> None:
        calls["n"] += 1
        if done >= 6000:
            raise KeyboardInterrupt

    with Store.open(db) as store, pytest.raises(KeyboardInterrupt):
        sync_mirror(store, str(partial_clone), "kvmarm", progress=explode)
    with Store.open(db) as store:
        info = store.get_list("kvmarm")
        assert info is not None
        stored = store.count_messages(info.id)
        assert 0 < stored < 18428
        resumed = sync_mirror(store, str(partial_clone), "kvmarm")
        assert resumed.known == 0  # resumed after the last committed batch, nothing re-read
        assert store.count_messages(info.id) + len(store.ingest_log(info.id)) == 18428


def test_clone_from_url(corpus_git: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with Store.open(tmp_path / "s.db") as store:
        result = sync_mirror(store, corpus_git.resolve().as_uri(), "kvmarm")
        assert result.new == 18727
        cache = tmp_path / "cache" / "lore-digest" / "mirrors"
        assert (mirror_cache(corpus_git.resolve().as_uri(), "kvmarm", cache) / "git/0.git").is_dir()
        assert sync_mirror(store, corpus_git.resolve().as_uri(), "kvmarm").new == 0


def _slice(corpus_git: Path, dest: Path, commits: int) -> str:
    """A bare clone of the corpus whose history ends after `commits` commits; its URL."""
    subprocess.run(["git", "clone", "-q", "--bare", str(corpus_git), str(dest)], check=True)
    revs = subprocess.run(
        ["git", "--git-dir", str(dest), "rev-list", "--reverse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    head = subprocess.run(
        ["git", "--git-dir", str(dest), "symbolic-ref", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        ["git", "--git-dir", str(dest), "update-ref", head, revs[commits - 1]], check=True
    )
    return dest.resolve().as_uri()


def test_a_changed_mirror_url_is_noticed_and_used(
    corpus_git: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clone cache is per URL: a list whose --mirror moves reads the new URL's mail
    (a cache per list name would keep fetching the old remote and find nothing new)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    old_url = _slice(corpus_git, tmp_path / "old" / "kvmarm.git", 300)
    new_url = _slice(corpus_git, tmp_path / "new" / "kvmarm.git", 500)
    with Store.open(tmp_path / "s.db") as store:
        assert sync_mirror(store, old_url, "kvmarm").new == 300
        moved = sync_mirror(store, new_url, "kvmarm")
        assert (moved.new, moved.known) == (200, 300)
        assert moved.notes == [f"source changed: was {old_url}, now {new_url}"]
        info = store.get_list("kvmarm")
        assert info is not None and info.source == new_url
        assert sync_mirror(store, new_url, "kvmarm").new == 0
    mirrors = sorted(p.name for p in (tmp_path / "cache" / "lore-digest" / "mirrors").iterdir())
    assert len(mirrors) == 2 and all(name.startswith("kvmarm-") for name in mirrors)


def test_clone_cache_of_older_versions_is_reused(corpus_git: Path, tmp_path: Path) -> None:
    """A clone kept under mirrors/NAME (before the cache was per URL) is moved, not
    cloned again, when it is a clone of the same URL."""
    url = _slice(corpus_git, tmp_path / "src" / "kvmarm.git", 50)
    legacy = tmp_path / "mirrors" / "kvmarm" / "git" / "0.git"
    subprocess.run(["git", "clone", "-q", "--mirror", url, str(legacy)], check=True)
    keyed = mirror_cache(url, "kvmarm", tmp_path / "mirrors")
    assert (keyed / "git" / "0.git").is_dir() and not legacy.exists()
    other = mirror_cache("https://example.org/other", "kvmarm", tmp_path / "mirrors")
    assert other != keyed and not other.exists()


def test_mbox_and_maildir(corpus_blobs: list[tuple[str, bytes]], tmp_path: Path) -> None:
    sample = [raw for _, raw in corpus_blobs[:200]]
    mbox_path = tmp_path / "list.mbox"
    box = mailbox.mbox(mbox_path)
    for raw in sample:
        box.add(raw)
    box.close()
    maildir = mailbox.Maildir(tmp_path / "md")
    for raw in sample[:50]:
        maildir.add(raw)
    maildir.close()
    with Store.open(tmp_path / "s.db") as store:
        first = sync_mbox(store, mbox_path, "kv")
        assert first.new == 200
        again = sync_mbox(store, mbox_path, "kv")
        assert (again.new, again.known) == (0, 200)
        from_maildir = sync_mbox(store, tmp_path / "md", "kv")
        assert (from_maildir.new, from_maildir.known) == (0, 50)


def test_unparsable_and_repaired_mail_is_kept(tmp_path: Path) -> None:
    mbox_path = tmp_path / "bad.mbox"
    mbox_path.write_bytes(
        b"From x@y Thu Jan  1 00:00:00 1970\n"
        b"Subject: no id, no date\nFrom: A <a@example.org>\n\nbody\n\n"
        b"From x@y Thu Jan  1 00:00:00 1970\n"
        b"\x00\x01\x02 garbage without any header\n"
    )
    with Store.open(tmp_path / "s.db") as store:
        result = sync_mbox(store, mbox_path, "bad")
        assert (result.new, result.unparsable, result.repaired) == (1, 1, 1)
        info = store.get_list("bad")
        assert info is not None
        ((kind, _, _, reason),) = store.ingest_log(info.id)
        assert kind == "unparsable" and reason
        ((_mid, repairs),) = store.repaired(info.id)
        assert "missing Message-ID" in repairs and "missing Date" in repairs


def test_list_name_defaults() -> None:
    assert default_list_name("/srv/lore/kvmarm") == "kvmarm"
    assert default_list_name("/srv/lore/kvmarm/git/0.git") == "kvmarm"
    assert default_list_name("../shared/corpus/kvmarm-0.git") == "kvmarm"
    assert default_list_name("https://lore.kernel.org/kvmarm") == "kvmarm"
    assert default_list_name("https://lore.kernel.org/kvmarm/1") == "kvmarm"


def test_bad_mirror_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        local_epochs(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="neither"):
        local_epochs(tmp_path / "empty")


def test_a_custom_url_base_is_kept_and_changed_only_when_given(
    corpus_blobs: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    box = mailbox.mbox(tmp_path / "l.mbox")
    for _, raw in corpus_blobs[:20]:
        box.add(raw)
    box.close()
    custom = "https://mail.example.org/kvmarm/"
    with Store.open(tmp_path / "s.db") as store:
        sync_mbox(store, tmp_path / "l.mbox", "kvmarm", url_base=custom)
        again = sync_mbox(store, tmp_path / "l.mbox", "kvmarm")  # nothing new, no --url-base
        assert again.new == 0 and again.notes == []
        info = store.get_list("kvmarm")
        assert info is not None and info.url_base == custom
        moved = "https://archive.example.org/kvmarm/"
        sync_mbox(store, tmp_path / "l.mbox", "kvmarm", url_base=moved)  # still nothing new
        info = store.get_list("kvmarm")
        assert info is not None and info.url_base == moved


def test_a_moved_old_clone_keeps_its_checkpoint(
    corpus_git: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clone of an older version (mirrors/NAME) is moved to mirrors/NAME-<hash>: its
    epochs resume from the checkpoint kept under the old path, nothing is read again."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    url = _slice(corpus_git, tmp_path / "src" / "kvmarm.git", 80)
    legacy = tmp_path / "cache" / "lore-digest" / "mirrors" / "kvmarm" / "git" / "0.git"
    subprocess.run(["git", "clone", "-q", "--mirror", url, str(legacy)], check=True)
    with Store.open(tmp_path / "s.db") as store:
        assert sync_mirror(store, str(legacy), "kvmarm").new == 80  # as the old cache did
        resumed = sync_mirror(store, url, "kvmarm")
    assert (resumed.new, resumed.known) == (0, 0)
    assert not legacy.exists()
