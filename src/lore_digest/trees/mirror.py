"""Local clones of maintainers' trees: bare, one per location, only the wanted branches.

A tree is cloned once into `CACHE/trees/<name>-<hash of its origin>` (`git clone --bare
--single-branch`, into a `.partial` folder renamed when complete, so a killed first
clone is never taken for one), then fetched incrementally. Each branch is fetched into
a ref of its own (`refs/lore-digest/branch/next`, `refs/lore-digest/remote-head` for
HEAD), so `kvmarm.git@next` and `kvmarm.git@fixes` share one clone and its objects, and
no tag or other branch of a mainline-sized repository is downloaded.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from lore_digest.errors import SourceError
from lore_digest.sources.git import is_git_dir, run_git, run_git_bytes
from lore_digest.trees.spec import TreeSpec


class TreeMirror:
    """The local clone of one tree spec."""

    def __init__(self, spec: TreeSpec, cache_dir: Path) -> None:
        self.spec = spec
        self.path = cache_dir / "trees" / spec.cache_name

    @property
    def ref(self) -> str:
        """The local ref the spec's branch is fetched into."""
        if self.spec.branch is None:
            return "refs/lore-digest/remote-head"
        return f"refs/lore-digest/branch/{self.spec.branch.removeprefix('refs/heads/')}"

    def _source_ref(self) -> str:
        """The remote ref to fetch: HEAD, or the branch (a full `refs/…` name as given)."""
        branch = self.spec.branch
        if branch is None:
            return "HEAD"
        return branch if branch.startswith("refs/") else f"refs/heads/{branch}"

    def fetch(self) -> str:
        """Clone or fetch the spec's branch; its tip commit.

        Raises SourceError "cannot fetch LABEL from LOCATION: <git's reason>" (an
        unreachable URL, a path that is no repository, an unknown branch).
        """
        if is_git_dir(self.path):
            self._fetch_into(self.path)
        else:
            self._clone()
        tip = self.tip()
        if tip is None:
            raise SourceError(f"cannot fetch {self.spec.label}: {self._source_ref()} is no commit")
        return tip

    def tip(self) -> str | None:
        """The tip fetched last (None before the first fetch): no network, one git call."""
        if not is_git_dir(self.path):
            return None
        out = run_git(
            ["rev-parse", "--verify", "-q", f"{self.ref}^{{commit}}"],
            git_dir=self.path,
            check=False,
        )
        return out.strip() or None

    def _fetch_into(self, git_dir: Path) -> None:
        run_git_bytes(
            [
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                self.spec.origin,
                f"+{self._source_ref()}:{self.ref}",
            ],
            git_dir=git_dir,
            what=f"cannot fetch {self.spec.label} from {self.spec.location}",
        )

    def _clone_into(self, tmp: Path) -> None:
        """`git clone --bare --single-branch` of the wanted branch: the same download as a
        fetch, and a local tree's objects are hard-linked rather than packed again."""
        branch = self.spec.branch
        if (
            branch is not None
            and branch.startswith("refs/")
            and not branch.startswith("refs/heads/")
        ):
            run_git_bytes(["init", "--quiet", "--bare", str(tmp)], what=f"cannot create {tmp}")
            return  # not a branch: the fetch brings it
        only = [] if branch is None else ["--branch", branch.removeprefix("refs/heads/")]
        run_git_bytes(
            [
                "clone",
                "--quiet",
                "--bare",
                "--no-tags",
                "--single-branch",
                *only,
                self.spec.origin,
                str(tmp),
            ],
            what=f"cannot fetch {self.spec.label} from {self.spec.location}",
        )

    def _clone(self) -> None:
        made = [p for p in (self.path.parent, *self.path.parent.parents) if not p.exists()]
        tmp = self.path.with_name(self.path.name + ".partial")
        if tmp.exists():
            shutil.rmtree(tmp)  # a first fetch that was killed
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._clone_into(tmp)
            self._fetch_into(tmp)  # into the spec's own ref: nothing left to download
        except (SourceError, OSError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            for folder in made:  # leave no empty cache folders behind a failed clone
                with contextlib.suppress(OSError):
                    folder.rmdir()
            if isinstance(exc, OSError):
                raise SourceError(
                    f"cannot clone {self.spec.label} into {self.path}: {exc}"
                ) from exc
            raise
        tmp.rename(self.path)
