"""Tree specs: `PATH_OR_URL[@BRANCH]`, as a user writes a maintainer's tree.

    https://git.kernel.org/pub/scm/linux/kernel/git/kvmarm/kvmarm.git@next
    /srv/git/linux.git                     (the repository's HEAD)
    ../kvmarm.git@fixes
    git@gitlab.com:kvmarm/kvmarm.git@next

The branch is what follows the last `@` *after* the last `/` and the last `:`, so the
`@` of `git@host:repo.git` or `https://user@host/x.git` is never taken for one. A
branch with a slash (arm64's `for-next/core`) is recognised after a `.git`:
`…/arm64/linux.git@for-next/core`. A path whose last component holds an `@`
(`./a@b.git`) reads as path `./a` and branch `b.git`: give such a tree with its
branch, `./a@b.git@master`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from lore_digest.errors import UsageError

# git check-ref-format's rules, the ones a typo meets: no spaces or control characters,
# none of ~^:?*[\, no "..", no "@{", no leading "-" or "/", no trailing "/", "." or ".lock".
_BAD_BRANCH = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|^[-/.]|/$|\.$|\.lock$|//|/\.")
# "….git@branch/with/slashes": the last ".git@" whose branch part has no "@" or ":".
_GIT_AT = re.compile(r"\.git@[^@:]+$")
# scp-like syntax of git ("[user@]host:path"): a colon before any slash.
_SCP_LIKE = re.compile(r"^[^/:]+:")


@dataclass(frozen=True, slots=True)
class TreeSpec:
    """A maintainer's tree: where it is and which branch (None: the remote's HEAD)."""

    location: str
    branch: str | None = None

    @property
    def is_remote(self) -> bool:
        """Whether the location is a URL or git's `host:path` form rather than a path."""
        return "://" in self.location or _SCP_LIKE.match(self.location) is not None

    @property
    def origin(self) -> str:
        """The location as the store and the clone cache know it: a path made absolute
        (`../kvmarm.git` from two folders is two trees), a URL without a trailing slash."""
        if self.is_remote:
            return self.location.rstrip("/")
        return str(Path(self.location).expanduser().resolve())

    @property
    def name(self) -> str:
        """The repository's last path component: `kvmarm.git`."""
        trimmed = self.location.rstrip("/")
        return re.split(r"[/:]", trimmed)[-1] or trimmed

    @property
    def label(self) -> str:
        """A short name for reports: `kvmarm.git@next`, or `linux.git` for its HEAD."""
        return f"{self.name}@{self.branch}" if self.branch else self.name

    @property
    def cache_name(self) -> str:
        """The clone's folder name: the repository's name and a hash of its origin, so
        two trees called linux.git never share a clone and a moved tree gets a new one."""
        digest = hashlib.sha1(self.origin.encode()).hexdigest()[:12]
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", self.name.removesuffix(".git")) or "tree"
        return f"{stem}-{digest}"


def parse_tree_spec(text: str) -> TreeSpec:
    """`PATH_OR_URL[@BRANCH]` → TreeSpec; UsageError (one line) for what cannot be one."""
    spec = text.strip()
    if not spec:
        raise UsageError("a tree is empty: give PATH_OR_URL[@BRANCH]")
    location, branch = spec, None
    at = spec.rfind("@")
    if not (at > spec.rfind("/") and at > spec.rfind(":")):
        slashed = _GIT_AT.search(spec)
        at = slashed.start() + len(".git") if slashed else -1
    if at >= 0:
        location, branch = spec[:at], spec[at + 1 :]
        if not branch:
            raise UsageError(f"tree {text!r}: nothing after '@' (give a branch or drop the '@')")
        if _BAD_BRANCH.search(branch):
            raise UsageError(f"tree {text!r}: {branch!r} is not a valid branch name")
    if not location or location.startswith("-"):
        raise UsageError(f"tree {text!r}: give a path or URL before '@{branch or ''}'")
    return TreeSpec(location, branch)
