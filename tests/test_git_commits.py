"""An epoch's commits are planned in packed form, oldest first, as `git log --reverse`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lore_digest.errors import SourceError
from lore_digest.sources.git import commits_since


def _log(git_dir: Path, *spec: str) -> list[tuple[str, int]]:
    """The reference: git's own oldest-first listing."""
    out = subprocess.run(
        ["git", "--git-dir", str(git_dir), "log", "--reverse", "--format=%H %ct", *spec],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [(sha, int(time)) for sha, time in (line.split() for line in out.splitlines())]


def test_every_commit_oldest_first_with_its_time(corpus_git: Path) -> None:
    reference = _log(corpus_git, "HEAD")
    commits = commits_since(corpus_git, None, "HEAD")
    assert len(commits) == len(reference) == 18728
    assert [(commits.sha(i), commits.time(i)) for i in range(len(commits))] == reference
    # as a Sequence: the names of the mail blobs, what cat_blobs reads
    assert list(commits[:3]) == [f"{sha}:m" for sha, _ in reference[:3]]
    assert commits[-1] == f"{reference[-1][0]}:m"
    assert list(commits)[5000] == f"{reference[5000][0]}:m"
    with pytest.raises(IndexError):
        commits.sha(len(commits))


def test_only_the_commits_after_a_checkpoint(corpus_git: Path) -> None:
    reference = _log(corpus_git, "HEAD")
    since = reference[99][0]
    commits = commits_since(corpus_git, since, "HEAD")
    assert len(commits) == len(reference) - 100
    assert commits.sha(0) == reference[100][0]
    assert len(commits_since(corpus_git, reference[-1][0], reference[-1][0])) == 0


def test_an_unknown_commit_is_one_line_with_gits_reason(corpus_git: Path) -> None:
    with pytest.raises(SourceError, match=r"git log failed: bad object 0{40}$"):
        commits_since(corpus_git, None, "0" * 40)
