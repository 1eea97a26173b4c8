"""MAINTAINERS read from a git repository's history: each week judged by its own file."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lore_digest.digest import Digest, DigestSettings
from lore_digest.facts.maintainers import MaintainersError
from lore_digest.facts.maintainers_history import MaintainersHistory, source_identity
from lore_digest.store.db import Store
from maintainers_repo import (
    DATA,
    commit_version,
    git,
    kvmarm_history,
    make_maintainers_repo,
)

PPC = ["arch/powerpc/kvm/book3s.c"]
PAUL = "paulus@ozlabs.org"
ONE = "A SUBSYSTEM\nM:\tOne Maintainer <one@example.org>\nF:\tdrivers/a/\n"
TWO = "A SUBSYSTEM\nM:\tTwo Maintainer <two@example.org>\nF:\tdrivers/a/\n"
THREE = "A SUBSYSTEM\nM:\tThree Maintainer <three@example.org>\nF:\tdrivers/a/\n"


def _utc(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def _appliers(history: MaintainersHistory, day: str, files: list[str]) -> frozenset[str]:
    return history.at(_utc(day)).appliers(files)


def test_each_week_sees_the_file_of_its_time(tmp_path: Path) -> None:
    history = MaintainersHistory.load(kvmarm_history(tmp_path / "linux"))
    assert history.versioned
    assert _appliers(history, "2020-05-31", PPC) == {PAUL}
    assert _appliers(history, "2021-10-26", PPC) == {PAUL}
    assert _appliers(history, "2021-10-28", PPC) == frozenset()  # the section is gone
    assert history.latest.appliers(PPC) == frozenset()
    assert history.at(None) is history.latest
    # the rest of the file is the same in both versions
    arm = ["arch/arm64/kvm/arm.c"]
    assert _appliers(history, "2020-05-31", arm) == history.latest.appliers(arm)
    # messages cite the version they read
    assert history.at(_utc("2020-05-31")).source.endswith(
        "MAINTAINERS@" + git(tmp_path / "linux", "rev-parse", "HEAD~1").strip()[:12]
    )


def test_a_file_is_parsed_once_per_version(tmp_path: Path) -> None:
    history = MaintainersHistory.load(kvmarm_history(tmp_path / "linux"))
    first, second = history.at(_utc("2020-01-06")), history.at(_utc("2021-03-01"))
    assert first is second
    assert history.at(_utc("2022-01-01")) is history.latest  # HEAD's blob, parsed once


def test_a_change_counts_from_its_merge_into_the_first_parent_history(tmp_path: Path) -> None:
    """A topic branch's commit of June is in the tree from the merge of December."""
    repo = make_maintainers_repo(tmp_path / "tree", [("2019-01-01T00:00:00+00:00", ONE)])
    git(repo, "checkout", "-q", "-b", "topic")
    commit_version(repo, TWO, "2021-06-01T00:00:00+00:00")
    git(repo, "checkout", "-q", "main")
    git(
        repo,
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge topic",
        "topic",
        date="2021-12-01T00:00:00+00:00",
    )
    history = MaintainersHistory.load(repo)
    files = ["drivers/a/x.c"]
    assert _appliers(history, "2021-08-01", files) == {"one@example.org"}
    assert _appliers(history, "2021-12-02", files) == {"two@example.org"}


def test_a_week_before_the_history_gets_its_oldest_version(tmp_path: Path) -> None:
    repo = make_maintainers_repo(
        tmp_path / "tree",
        [("2020-01-01T00:00:00+00:00", ONE), ("2021-01-01T00:00:00+00:00", TWO)],
    )
    history = MaintainersHistory.load(repo)
    assert _appliers(history, "2018-05-01", ["drivers/a/x.c"]) == {"one@example.org"}


def test_a_bare_clone_reads_the_same(tmp_path: Path) -> None:
    work = kvmarm_history(tmp_path / "linux")
    bare = tmp_path / "linux.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    history = MaintainersHistory.load(bare)
    assert _appliers(history, "2020-05-31", PPC) == {PAUL}


def test_a_plain_file_judges_every_week(tmp_path: Path) -> None:
    path = tmp_path / "MAINTAINERS"
    path.write_text(ONE, encoding="utf-8")
    history = MaintainersHistory.load(path)
    assert not history.versioned
    assert history.at(_utc("2018-01-01")) is history.latest is history.at(_utc("2030-01-01"))
    assert source_identity(path) == [str(path), hashlib.sha256(ONE.encode()).hexdigest()]


def test_a_new_commit_changes_the_identity(tmp_path: Path) -> None:
    """The rendered weeks are made again when the history moves (a pull of the clone)."""
    repo = make_maintainers_repo(tmp_path / "tree", [("2020-01-01T00:00:00+00:00", ONE)])
    before = source_identity(repo)
    assert before[1] == "git:" + git(repo, "rev-parse", "HEAD").strip()
    commit_version(repo, THREE, "2022-01-01T00:00:00+00:00")
    assert source_identity(repo) != before
    assert source_identity(tmp_path / "nowhere")[1] is None


def _plain_directory(root: Path) -> Path:
    return root


def _no_file_at_head(root: Path) -> Path:
    repo = make_maintainers_repo(root / "r", [("2020-01-01T00:00:00+00:00", ONE)])
    git(repo, "rm", "-q", "MAINTAINERS")
    git(repo, "commit", "-q", "-m", "MAINTAINERS: gone")
    return repo


def _no_commit(root: Path) -> Path:
    repo = root / "empty"
    repo.mkdir()
    git(repo, "init", "-q")
    return repo


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (_plain_directory, "neither a MAINTAINERS file nor a git repository"),
        (_no_file_at_head, "HEAD has no MAINTAINERS file at its top"),
        (_no_commit, "cannot read the repository's HEAD"),
    ],
)
def test_what_is_no_history_is_one_line(
    tmp_path: Path, make: Callable[[Path], Path], words: str
) -> None:
    with pytest.raises(MaintainersError) as error:
        MaintainersHistory.load(make(tmp_path))
    assert words in str(error.value)
    assert "\n" not in str(error.value)


# -- on the real corpus ----------------------------------------------------------------

TIANJIA = "20200427043514.16144-1-tianjia.zhang@linux.alibaba.com"


def test_a_2020_week_trusts_the_maintainer_of_2020(synced_db: Path, tmp_path: Path) -> None:
    """2020-W22: Paul Mackerras applies patches 3 and 4 of a seven-patch cleanup to his
    kvm-ppc-next branch. Today's cut-down file names nobody for KVM/powerpc (his apply
    is a claim); the history's file of 2020 names him (partly applied, his mail the
    evidence), and so does a report made from the same history after the change."""
    store_path = tmp_path / "store.sqlite3"
    shutil.copy(synced_db, store_path)
    history = kvmarm_history(tmp_path / "linux")
    apply_mail = "20200527042055.GG293451@thinks.paulus.ozlabs.org"
    results = {}
    for name, source in (("today", DATA / "MAINTAINERS-kvmarm"), ("history", history)):
        with (
            Store.open(store_path) as store,
            Digest(store, "kvmarm", DigestSettings(maintainers=source)) as digest,
        ):
            report = digest.week("2020-W22", lang="en")
        thread = next(t for t in report.threads if t.id == TIANJIA)
        assert thread.status is not None
        results[name] = thread.status
    assert str(results["today"].status) == "under review"
    assert [c.message_id for c in results["today"].claims] == [apply_mail]
    assert str(results["history"].status) == "partly applied"
    assert apply_mail in results["history"].evidence
    assert results["history"].applied is not None
    assert results["history"].applied.patches == (3, 4)
