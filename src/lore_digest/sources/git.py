"""Thin wrappers over the git command line (the only module that runs git)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import overload

from lore_digest.errors import SourceError

# git maps pack files into memory in windows of up to 1 GiB and keeps every window it
# touched (packedGitLimit 8 GiB): reading a 100k-mail epoch grew cat-file to 415 MB of
# resident pages (and `git log --reverse` 364 MB), most of a sync's peak, growing with
# the epoch. Small windows under a low limit keep it bounded (cat-file 112 MB, log 62 MB
# without --reverse) at no measurable cost in speed. Every command that reads a mirror
# (`_mirror_git`) gets them.
_BOUNDED_MEMORY = (
    "-c",
    "core.packedGitWindowSize=16m",
    "-c",
    "core.packedGitLimit=64m",
    "-c",
    "core.deltaBaseCacheLimit=32m",
)
_NO_GIT = "git is not installed (it is needed to read public-inbox mirrors)"


def _mirror_git(args: Sequence[str], git_dir: Path | None) -> list[str]:
    """The command line of one git command on a mirror, its memory bounded."""
    return [
        "git",
        *(["--git-dir", str(git_dir)] if git_dir is not None else []),
        *_BOUNDED_MEMORY,
        *args,
    ]


def run_git(args: Sequence[str], *, git_dir: Path | None = None, check: bool = True) -> str:
    """Run git and return stdout; failures become a SourceError with git's own words."""
    try:
        proc = subprocess.run(
            _mirror_git(args, git_dir), capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise SourceError(_NO_GIT) from exc
    if check and proc.returncode != 0:
        raise SourceError(
            f"git {' '.join(args[:2])} failed: {git_reason(proc.stderr, proc.returncode)}"
        )
    return proc.stdout


def git_reason(stderr: str, returncode: int) -> str:
    """The line of git's stderr that says what went wrong: the first "fatal:" one (git
    adds hints after it, such as "Please make sure you have the correct access rights")."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    reason = (fatal or lines or [f"exit status {returncode}"])[0]
    return reason.removeprefix("fatal: ").removeprefix("error: ")


def ls_remote_head(url: str) -> tuple[bool, str]:
    """(True, output) when `git ls-remote URL HEAD` worked, else (False, git's reason)."""
    try:
        proc = subprocess.run(
            ["git", "ls-remote", url, "HEAD"], capture_output=True, text=True, check=False
        )
    except FileNotFoundError as exc:
        raise SourceError(
            "git is not installed (it is needed to read public-inbox mirrors)"
        ) from exc
    if proc.returncode == 0:
        return True, proc.stdout
    return False, git_reason(proc.stderr, proc.returncode)


def is_git_dir(path: Path) -> bool:
    """True if `path` is a (bare) git repository."""
    return (path / "HEAD").is_file() and (path / "objects").is_dir()


def head_commit(git_dir: Path) -> str | None:
    """The commit HEAD points to, or None for an empty repository."""
    out = run_git(["rev-parse", "--verify", "-q", "HEAD^{commit}"], git_dir=git_dir, check=False)
    return out.strip() or None


def is_ancestor(git_dir: Path, older: str, newer: str) -> bool:
    """Whether `older` is reachable from `newer` (false after a history rewrite or purge)."""
    proc = subprocess.run(
        ["git", "--git-dir", str(git_dir), "merge-base", "--is-ancestor", older, newer],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


class Commits(Sequence[str]):
    """Commits of an epoch, oldest first, packed: 28 bytes a commit, so the plan of a
    million mails takes 28 MB (as (id, time) tuples of str and int it took ~180 MB).

    As a Sequence it holds the names of the commits' mail blobs ("<commit>:m"), what
    `cat_blobs` reads; `sha` and `time` give a commit's id and committer time.
    """

    def __init__(self) -> None:
        self._ids = bytearray()  # 20 bytes a commit, newest first (git log's order)
        self._times = array("q")

    def add_newer_first(self, sha: str, time: int) -> None:
        """Record the next commit of `git log`'s output (each older than the last)."""
        self._ids += bytes.fromhex(sha)
        self._times.append(time)

    def __len__(self) -> int:
        return len(self._times)

    def _slot(self, index: int) -> int:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return len(self) - 1 - (index % len(self))

    def sha(self, index: int) -> str:
        """The id of the `index`-th commit, oldest first."""
        slot = self._slot(index)
        return self._ids[20 * slot : 20 * slot + 20].hex()

    def time(self, index: int) -> int:
        """The committer time of the `index`-th commit, oldest first."""
        return self._times[self._slot(index)]

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [f"{self.sha(i)}:m" for i in range(*index.indices(len(self)))]
        return f"{self.sha(index)}:m"


def commits_since(git_dir: Path, since: str | None, head: str) -> Commits:
    """The commits after `since` up to `head`, oldest first (see Commits)."""
    spec = f"{since}..{head}" if since else head
    # Newest first, read as git writes it: --reverse (and a captured output) would hold
    # every commit's text at once.
    commits = Commits()
    # git's complaints go to a file: a pipe nobody reads while stdout streams could fill.
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(
                _mirror_git(["log", "--format=%H %ct", spec], git_dir),
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                env=_git_env(),
            )
        except FileNotFoundError as exc:
            raise SourceError(_NO_GIT) from exc
        assert proc.stdout is not None
        for line in proc.stdout:
            sha, _, ctime = line.rstrip("\n").partition(" ")
            commits.add_newer_first(sha, int(ctime or 0))
        if proc.wait() != 0:
            errors.seek(0)
            stderr = errors.read().decode("utf-8", "replace")
            raise SourceError(f"git log failed: {git_reason(stderr, proc.returncode)}")
    return commits


def cat_blobs(git_dir: Path, specs: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
    """Stream objects named by `specs` (e.g. "<commit>:m") through one `git cat-file --batch`.

    One long-lived process instead of one `git show` per mail: the difference between
    seconds and minutes on a real list. Yields (spec, None) for a missing object (a
    public-inbox commit that deletes a mail has no `m`).
    """
    proc = subprocess.Popen(
        _mirror_git(["cat-file", "--batch"], git_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=1 << 20,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def feed() -> None:
        # cat-file stops reading once its output pipe is full: write from another thread.
        try:
            for start in range(0, len(specs), 4096):
                stdin.write("".join(f"{s}\n" for s in specs[start : start + 4096]).encode())
            stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    out = proc.stdout
    try:
        for spec in specs:
            header = out.readline()
            if not header:
                raise SourceError(f"git cat-file ended early in {git_dir}")
            parts = header.split()
            if len(parts) < 3 or parts[-1] == b"missing":
                yield spec, None
                continue
            size = int(parts[2])
            data = out.read(size)
            out.read(1)
            yield spec, data
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        writer.join(timeout=1)


def _git_env() -> dict[str, str]:
    """The environment git runs in: never a credential prompt (an unattended weekly run
    would hang on one), and a fixed locale so git's reasons read the same everywhere."""
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


def _failure(what: str, stderr: bytes, returncode: int) -> SourceError:
    return SourceError(f"{what}: {git_reason(stderr.decode('utf-8', 'replace'), returncode)}")


def run_git_bytes(
    args: Sequence[str],
    *,
    git_dir: Path | None = None,
    input: bytes | None = None,
    what: str | None = None,
) -> bytes:
    """Run git with bytes in and out; failures become a SourceError "WHAT: git's reason".

    For what is not always UTF-8 (commit messages, diffs of any file) and for commands
    that read stdin (`git patch-id`); `what` says what failed in the user's words
    ("cannot fetch kvmarm.git@next from …"), git's first fatal line says why.
    """
    cmd = ["git", *(["--git-dir", str(git_dir)] if git_dir is not None else []), *args]
    try:
        proc = subprocess.run(cmd, input=input, capture_output=True, check=False, env=_git_env())
    except FileNotFoundError as exc:
        raise SourceError("git is not installed (it is needed to read git trees)") from exc
    if proc.returncode != 0:
        raise _failure(what or f"git {' '.join(args[:2])} failed", proc.stderr, proc.returncode)
    return proc.stdout


def git_records(args: Sequence[str], *, git_dir: Path, sep: bytes = b"\0") -> Iterator[bytes]:
    """Stream the `sep`-separated records of one git command (`git log -z …`).

    A mainline tree's log is gigabytes: it is read a megabyte at a time, never whole.
    Raises SourceError (git's reason) if git fails, after the records it did write.
    """
    cmd = ["git", "--git-dir", str(git_dir), *args]
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, env=_git_env())
        assert proc.stdout is not None
        pending = b""
        finished = False
        try:
            while chunk := proc.stdout.read(1 << 20):
                *done, pending = (pending + chunk).split(sep)
                yield from done
            finished = True
        finally:
            if not finished:
                proc.kill()  # the caller stopped early
            proc.wait()
        if pending.strip():
            yield pending
        if proc.returncode != 0:
            errors.seek(0)
            raise _failure(f"git {' '.join(args[:2])} failed", errors.read(), proc.returncode)


def git_pipeline(first: Sequence[str], second: Sequence[str], *, git_dir: Path) -> bytes:
    """The output of `git FIRST | git SECOND`, e.g. `git log -p | git patch-id --stable`:
    two processes for a whole range of commits instead of one per commit."""
    base = ["git", "--git-dir", str(git_dir)]
    with tempfile.TemporaryFile() as errors:
        producer = subprocess.Popen(
            [*base, *first], stdout=subprocess.PIPE, stderr=errors, env=_git_env()
        )
        try:
            consumer = subprocess.run(
                [*base, *second],
                stdin=producer.stdout,
                capture_output=True,
                check=False,
                env=_git_env(),
            )
        finally:
            assert producer.stdout is not None
            producer.stdout.close()
            producer.wait()
        if producer.returncode != 0:
            errors.seek(0)
            raise _failure(f"git {' '.join(first[:2])} failed", errors.read(), producer.returncode)
    if consumer.returncode != 0:
        raise _failure(f"git {' '.join(second[:2])} failed", consumer.stderr, consumer.returncode)
    return consumer.stdout
