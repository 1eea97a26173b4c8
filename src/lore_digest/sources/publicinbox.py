"""public-inbox mirrors: a v2 inbox directory, a single epoch, or a git URL to clone.

Layout (public-inbox-v2-format(5)): `INBOX/git/0.git`, `1.git`, … each epoch a bare repo
with one commit per message and the raw mail in the blob `m` of that commit's tree.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from lore_digest.config import cache_dir
from lore_digest.errors import SourceError
from lore_digest.sources.git import is_git_dir, run_git

_EPOCH_RE = re.compile(r"^(\d+)\.git$")
_EPOCH_SUFFIX_RE = re.compile(r"-\d+$")


@dataclass(frozen=True, slots=True)
class Mirror:
    """A resolved mirror: its epochs in order and the list name it implies."""

    name: str
    epochs: tuple[Path, ...]
    origin: str  # what the user gave (path or URL), for the store's record


def is_url(location: str) -> bool:
    """Whether `location` names a remote git URL rather than a local path."""
    return urlparse(location).scheme in {"http", "https", "git", "ssh", "file"}


def default_list_name(location: str) -> str:
    """The inbox's directory name: `…/kvmarm`, `…/kvmarm/git/0.git`, `kvmarm-0.git` → kvmarm."""
    raw_path = urlparse(location).path if is_url(location) else str(Path(location).resolve())
    parts = [p for p in PurePosixPath(raw_path).parts if p != "/"]
    # Drop epoch components so every epoch of one inbox maps to the same list name.
    while parts and (_EPOCH_RE.match(parts[-1]) or parts[-1] == "git" or parts[-1].isdigit()):
        parts.pop()
    if not parts:
        raise SourceError(f"cannot tell the list name from {location!r}: pass --list NAME")
    name = parts[-1]
    if name.endswith(".git"):
        name = _EPOCH_SUFFIX_RE.sub("", name.removesuffix(".git"))
    return name


def local_epochs(path: Path) -> tuple[Path, ...]:
    """Epoch repositories of a local inbox (v2 dir) or the epoch itself (a bare repo)."""
    if not path.exists():
        raise SourceError(f"mirror {path} does not exist")
    git_sub = path / "git"
    if git_sub.is_dir():
        found = sorted(
            (int(m.group(1)), p)
            for p in git_sub.iterdir()
            if (m := _EPOCH_RE.match(p.name)) and is_git_dir(p)
        )
        if found:
            return tuple(p for _, p in found)
    if is_git_dir(path):
        return (path,)
    if is_git_dir(path / ".git"):
        return (path / ".git",)
    raise SourceError(
        f"{path} is neither a public-inbox v2 inbox (with git/0.git …) nor a git repository"
    )


def _clone_or_fetch(url: str, dest: Path) -> None:
    if is_git_dir(dest):
        run_git(["fetch", "--quiet", "--prune", "origin", "+refs/*:refs/*"], git_dir=dest)
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".partial")
        if tmp.exists():
            shutil.rmtree(tmp)
        run_git(["clone", "--quiet", "--mirror", url, str(tmp)])
        tmp.rename(dest)  # a half-cloned epoch never looks complete


def _remote_exists(url: str) -> bool:
    return bool(run_git(["ls-remote", url, "HEAD"], check=False).strip())


def remote_epochs(url: str, name: str, cache: Path | None = None) -> tuple[Path, ...]:
    """Clone or fetch every epoch of an inbox URL (`…/NAME` → `…/NAME/0`, `/1`, …)."""
    base = (cache or cache_dir() / "mirrors") / name
    url = url.rstrip("/")
    last = url.rsplit("/", 1)[-1]
    if last.endswith(".git") or last.isdigit():
        stem = last.removesuffix(".git")
        dest = base / "git" / f"{stem if stem.isdigit() else 0}.git"
        _clone_or_fetch(url, dest)
        return (dest,)
    epochs: list[Path] = []
    number = 0
    while True:
        dest = base / "git" / f"{number}.git"
        if not is_git_dir(dest) and not _remote_exists(f"{url}/{number}"):
            break
        _clone_or_fetch(f"{url}/{number}", dest)
        epochs.append(dest)
        number += 1
    if not epochs:
        raise SourceError(f"no public-inbox epochs found at {url} (tried {url}/0)")
    return tuple(epochs)


def resolve_mirror(location: str, list_name: str | None = None) -> Mirror:
    """Turn the user's `--mirror` argument into epochs on local disk."""
    name = list_name or default_list_name(location)
    epochs = remote_epochs(location, name) if is_url(location) else local_epochs(Path(location))
    return Mirror(name=name, epochs=epochs, origin=location)
