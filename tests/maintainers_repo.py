"""Git repositories holding a MAINTAINERS history, for the tests that read one.

`--maintainers` may name a clone of the tree that holds the file; each week is then
judged by the version of that week's end (lore_digest.facts.maintainers_history).
These repositories are real git, built with the git command line: one commit per
version, dated as given (author and committer), on the branch HEAD names.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

DATA = Path(__file__).parent / "data"
# The KVM/powerpc section of the kernel's file until late 2021 (see the file's header).
POWERPC_UNTIL_2021 = DATA / "MAINTAINERS-kvm-powerpc-until-2021"
# When "MAINTAINERS: Update powerpc KVM entry" was posted (it reached mainline later).
POWERPC_CHANGE = "2021-10-27T06:16:46+00:00"


def git(repo: Path, *args: str, date: str | None = None) -> str:
    """Run git in `repo` as a test identity (dated `date`), returning its output."""
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent)}
    if date is not None:
        env |= {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    return subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test Maintainer",
            "-c",
            "user.email=test@example.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
            *args,
        ],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def commit_version(repo: Path, text: str, date: str, message: str = "MAINTAINERS: update") -> str:
    """Write MAINTAINERS with `text` and commit it at `date`; the commit id."""
    (repo / "MAINTAINERS").write_text(text, encoding="utf-8")
    git(repo, "add", "MAINTAINERS")
    git(repo, "commit", "-q", "-m", message, date=date)
    return git(repo, "rev-parse", "HEAD").strip()


def make_maintainers_repo(repo: Path, versions: Sequence[tuple[str, str]]) -> Path:
    """A repository at `repo` with one commit per (ISO date, MAINTAINERS text), in order."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q")
    for date, text in versions:
        commit_version(repo, text, date)
    return repo


def powerpc_section() -> str:
    """The KVM/powerpc section of POWERPC_UNTIL_2021, without the file's header."""
    text = POWERPC_UNTIL_2021.read_text(encoding="utf-8")
    return text[text.index("KERNEL VIRTUAL MACHINE FOR POWERPC") :]


def kvmarm_history(repo: Path) -> Path:
    """The cut-down kernel file's history: with the KVM/powerpc section of the time from
    2019-01-01, without it from POWERPC_CHANGE (the cut-down file of today)."""
    today = (DATA / "MAINTAINERS-kvmarm").read_text(encoding="utf-8")
    before = today.rstrip("\n") + "\n\n" + powerpc_section()
    return make_maintainers_repo(
        repo, [("2019-01-01T00:00:00+00:00", before), (POWERPC_CHANGE, today)]
    )
