"""Thin wrappers over the git command line (the only module that runs git)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from lore_digest.errors import SourceError


def run_git(args: Sequence[str], *, git_dir: Path | None = None, check: bool = True) -> str:
    """Run git and return stdout; failures become a SourceError with git's own words."""
    cmd = ["git"]
    if git_dir is not None:
        cmd += ["--git-dir", str(git_dir)]
    cmd += list(args)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise SourceError(
            "git is not installed (it is needed to read public-inbox mirrors)"
        ) from exc
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


def commits_since(git_dir: Path, since: str | None, head: str) -> list[tuple[str, int]]:
    """(commit, committer time) of commits after `since` up to `head`, oldest first."""
    spec = f"{since}..{head}" if since else head
    out = run_git(["log", "--reverse", "--format=%H %ct", spec], git_dir=git_dir)
    commits = []
    for line in out.splitlines():
        sha, _, ctime = line.partition(" ")
        commits.append((sha, int(ctime or 0)))
    return commits


def cat_blobs(git_dir: Path, specs: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
    """Stream objects named by `specs` (e.g. "<commit>:m") through one `git cat-file --batch`.

    One long-lived process instead of one `git show` per mail: the difference between
    seconds and minutes on a real list. Yields (spec, None) for a missing object (a
    public-inbox commit that deletes a mail has no `m`).
    """
    proc = subprocess.Popen(
        ["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
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
