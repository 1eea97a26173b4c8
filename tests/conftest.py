"""Shared fixtures: the real kvmarm corpus from ../shared, skipped with a message when absent."""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS_GIT = SHARED / "corpus" / "kvmarm-0.git"
THREADS_TSV = SHARED / "reference" / "publicinbox-threads-kvmarm-0.tsv"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared kvmarm corpus is needed for this test")
    return path


@pytest.fixture(scope="session")
def corpus_git() -> Path:
    """Path of the real public-inbox epoch (bare git repository) of the kvmarm list."""
    return _require(CORPUS_GIT)


@pytest.fixture(scope="session")
def threads_tsv() -> Path:
    """public-inbox's own thread ids for every message of the corpus."""
    return _require(THREADS_TSV)


_FROM_LINE = re.compile(rb"^>*From ")


def write_mboxrd(path: Path, raws: Iterable[bytes]) -> Path:
    """An mboxrd file of these raw mails ("From " lines in bodies quoted with ">")."""
    with path.open("wb") as out:
        for raw in raws:
            out.write(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n")
            for line in raw.replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n"):
                out.write((b">" if _FROM_LINE.match(line) else b"") + line + b"\n")
            out.write(b"\n")
    return path


def iter_corpus_blobs(git_dir: Path) -> Iterator[tuple[str, bytes]]:
    """Yield (commit, raw mail) for every message of an epoch, oldest first.

    A test-side reader independent of lore_digest.sources, so tests of the parser do not
    depend on the ingest code they may be checking.
    """
    revs = subprocess.run(
        ["git", "-C", str(git_dir), "rev-list", "--reverse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    proc = subprocess.Popen(
        ["git", "-C", str(git_dir), "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin and proc.stdout
    stdin = proc.stdin

    def feed() -> None:
        # A separate writer: cat-file stops reading once its output pipe is full.
        stdin.write("".join(f"{r}:m\n" for r in revs).encode())
        stdin.close()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    for rev in revs:
        header = proc.stdout.readline().split()
        size = int(header[2])
        data = proc.stdout.read(size)
        proc.stdout.read(1)
        yield rev, data
    proc.wait()


@pytest.fixture(scope="session")
def corpus_blobs(corpus_git: Path) -> list[tuple[str, bytes]]:
    """All (commit, raw mail) pairs of the corpus, read once per test session (~180 MB)."""
    return list(iter_corpus_blobs(corpus_git))


@pytest.fixture(scope="session")
def synced_db(corpus_git: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the whole corpus synced as list "kvmarm" (built once per session)."""
    from lore_digest.ingest import sync_mirror
    from lore_digest.store.db import Store

    path = tmp_path_factory.mktemp("store") / "kvmarm.sqlite3"
    with Store.open(path) as store:
        sync_mirror(store, str(corpus_git), "kvmarm")
    return path


@pytest.fixture
def writable_store(synced_db: Path, tmp_path: Path) -> Iterator[object]:
    """A private copy of the synced store, for tests that write (LLM cache, summaries)."""
    import shutil

    from lore_digest.store.db import Store

    copy = tmp_path / "store.sqlite3"
    shutil.copy(synced_db, copy)
    with Store.open(copy) as opened:
        yield opened


@pytest.fixture
def synced_store(synced_db: Path) -> Iterator[object]:
    """An open connection to the session's synced store (read-only use expected)."""
    from lore_digest.store.db import Store

    with Store.open(synced_db) as store:
        yield store
