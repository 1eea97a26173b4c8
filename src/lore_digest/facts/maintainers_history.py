"""MAINTAINERS as it stood at a moment: one file for all time, or a git tree's history.

Who may apply changes over the years: Paul Mackerras took KVM/powerpc patches into his
kvm-ppc-next branch until the kernel's MAINTAINERS dropped him in late 2021 ("Paul is
no longer handling patches for kvmppc"); today's file names other people. Judged by
today's file, his 2020 applies are a stranger's claims; by the file of 2020 they are a
maintainer's decisions. "Every week stays true" asks for the second: a week is judged
by what was known by its end, and who maintained what is part of that.

So `--maintainers` (and each `project_maintainers` entry) may name, instead of a file,
a git repository of the project (a kernel clone, bare or not). The week ending at T is
then judged by the MAINTAINERS of the last commit before T on the first-parent history
of the repository's HEAD: a mainline merge's date is when a change reached the tree,
where a topic branch's commit dates say when it was written. Each distinct file is
parsed once (by blob id); each week's lookup is two quick git commands, remembered.

A week older than the repository's history (a shallow clone) is judged by the oldest
version it has, as a plain file judges every week: the best the data says, and the
same answer the tool gave before.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from lore_digest.errors import SourceError
from lore_digest.facts.maintainers import Maintainers, MaintainersError
from lore_digest.sources.git import run_git_bytes

__all__ = ["MAINTAINERS_PATH", "MaintainersHistory", "source_identity"]

# Where the kernel, QEMU and kvm-unit-tests keep the file: the top of the tree.
MAINTAINERS_PATH: Final = "MAINTAINERS"


class MaintainersHistory:
    """The MAINTAINERS file in effect at any moment (see the module docstring).

    Made with `load` (a file or a git repository) or `fixed` (one parsed file, for
    every moment). `source` is the path messages cite.
    """

    def __init__(self, latest: Maintainers, git_dir: Path | None = None, head: str = "") -> None:
        self._latest = latest
        self._git_dir = git_dir
        self._head = head  # the commit HEAD named when loaded: what `identity` hashes
        self.source = latest.source if git_dir is None else str(git_dir)
        self._by_blob: dict[str, Maintainers] = {}
        self._at: dict[int, Maintainers] = {}
        self._oldest: Maintainers | None = None

    @classmethod
    def fixed(cls, maintainers: Maintainers) -> MaintainersHistory:
        """One file for every moment (a plain MAINTAINERS file)."""
        return cls(maintainers)

    @classmethod
    def load(cls, path: str | Path) -> MaintainersHistory:
        """A MAINTAINERS file, or a git repository whose history holds one.

        MaintainersError ("PATH: ...", one line) for a directory that is no git
        repository, a repository without the file at HEAD, or an unreadable file.
        """
        path = Path(path)
        if not path.is_dir():
            return cls.fixed(Maintainers.load(path))
        git_dir = _git_dir(path)
        if git_dir is None:
            raise MaintainersError(
                f"{path}: neither a MAINTAINERS file nor a git repository "
                "(give the file, or a clone of the tree that holds it)"
            )
        try:
            head = run_git_bytes(["rev-parse", "--verify", "HEAD^{commit}"], git_dir=git_dir)
        except SourceError as exc:
            raise MaintainersError(f"{path}: cannot read the repository's HEAD: {exc}") from None
        history = cls(Maintainers(()), git_dir, head.decode().strip())
        history.source = str(path)
        latest = history._version(history._head)
        if latest is None:
            raise MaintainersError(f"{path}: HEAD has no {MAINTAINERS_PATH} file at its top")
        history._latest = latest
        return history

    @property
    def latest(self) -> Maintainers:
        """The newest version (HEAD's, or the one file): names for today's readers."""
        return self._latest

    @property
    def versioned(self) -> bool:
        """Whether the file changes over time (read from a repository's history)."""
        return self._git_dir is not None

    def at(self, when_utc: int | None) -> Maintainers:
        """The file in effect just before `when_utc` (None: the newest)."""
        if self._git_dir is None or when_utc is None:
            return self._latest
        found = self._at.get(when_utc)
        if found is None:
            found = self._lookup(when_utc)
            self._at[when_utc] = found
        return found

    # -- reading the repository -------------------------------------------------------

    def _lookup(self, when_utc: int) -> Maintainers:
        before = datetime.fromtimestamp(when_utc, UTC).strftime("%Y-%m-%d %H:%M:%S +0000")
        commit = self._git(
            ["rev-list", "-1", "--first-parent", f"--before={before}", self._head]
        ).strip()
        if not commit:
            return self._oldest_version()
        return self._version(commit) or self._oldest_version()

    def _oldest_version(self) -> Maintainers:
        """The oldest version the repository has (a week before its history starts)."""
        if self._oldest is None:
            commits = self._git(["rev-list", "--first-parent", self._head]).split()
            for commit in reversed(commits):
                version = self._version(commit)
                if version is not None:
                    self._oldest = version
                    break
            else:
                self._oldest = self._latest
        return self._oldest

    def _version(self, commit: str) -> Maintainers | None:
        """The file at `commit`, parsed once per distinct content; None without one."""
        blob = self._git(
            ["rev-parse", "--verify", "-q", f"{commit}:{MAINTAINERS_PATH}"], check=False
        ).strip()
        if not blob:
            return None
        if blob not in self._by_blob:
            text = self._git(["cat-file", "blob", blob])
            self._by_blob[blob] = Maintainers.parse(
                text, source=f"{self.source}:{MAINTAINERS_PATH}@{commit[:12]}"
            )
        return self._by_blob[blob]

    def _git(self, args: list[str], *, check: bool = True) -> str:
        try:
            out = run_git_bytes(args, git_dir=self._git_dir)
        except SourceError as exc:
            if not check:
                return ""
            raise MaintainersError(f"{self.source}: {exc}") from None
        return out.decode("utf-8", "replace")


def source_identity(path: Path) -> list[str | None]:
    """What a `--maintainers` source is, for the caches of rendered weeks, without
    parsing it: the path and a hash of the file's content, or for a repository
    "git:" and its HEAD commit (a pull that changes the history changes it); None
    for what cannot be read (loading it says why)."""
    if path.is_dir():
        git_dir = _git_dir(path)
        head = b""
        if git_dir is not None:
            try:
                head = run_git_bytes(["rev-parse", "--verify", "HEAD^{commit}"], git_dir=git_dir)
            except SourceError:
                head = b""
        return [str(path), f"git:{head.decode().strip()}" if head.strip() else None]
    content = path.read_bytes() if path.is_file() else None
    return [str(path), hashlib.sha256(content).hexdigest() if content is not None else None]


def _git_dir(path: Path) -> Path | None:
    """The git directory of a clone (PATH/.git, a directory or a worktree's file) or of
    a bare repository (PATH itself); None for any other directory."""
    dot_git = path / ".git"
    if dot_git.exists():
        return dot_git
    if (path / "HEAD").is_file() and (path / "objects").is_dir():
        return path
    return None
