"""public-inbox mirrors: a v2 inbox directory, a single epoch, or a git URL to clone.

Layout (public-inbox-v2-format(5)): `INBOX/git/0.git`, `1.git`, … each epoch a bare repo
with one commit per message and the raw mail in the blob `m` of that commit's tree (a
commit that deletes a mail has a `d` instead). `MirrorSource` reads such epochs for the
ingester, each batch ending at a commit it records as the epoch's checkpoint.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from lore_digest.config import cache_dir
from lore_digest.errors import SourceError
from lore_digest.sources.base import Batch, EpochCheckpoint, RawMail, SyncState
from lore_digest.sources.git import (
    Commits,
    cat_blobs,
    commits_since,
    head_commit,
    is_ancestor,
    is_git_dir,
    ls_remote_head,
    run_git,
)
from lore_digest.vocabulary import DEFAULT_URL_BASE

BATCH = 2000

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
        return
    made = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        run_git(["clone", "--quiet", "--mirror", url, str(tmp)])
    except SourceError:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in made:  # leave no empty cache folders behind a failed clone
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    tmp.rename(dest)  # a half-cloned epoch never looks complete


def _remote_exists(url: str) -> bool:
    """Whether the epoch at `url` exists; SourceError when the server cannot be asked.

    A missing epoch is how the list of epochs ends (…/kvmarm/1 after …/kvmarm/0), so
    "not found" is an answer; a refused connection or a DNS failure is not.
    """
    answered, text = ls_remote_head(url)
    if answered:
        return bool(text.strip())
    reason = text
    if "not found" in reason or "does not appear to be a git repository" in reason:
        return False
    raise SourceError(f"cannot reach {url}: {reason}")


def mirror_cache(url: str, name: str, cache: Path | None = None) -> Path:
    """Where the clones of an inbox URL are kept: one folder per URL, not per list name,
    so a list whose --mirror changes gets the new URL's mail, not the old clone's."""
    root = cache or cache_dir() / "mirrors"
    digest = hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:12]
    keyed = root / f"{name}-{digest}"
    legacy = root / name  # before 0.2 the cache was keyed by the list name alone
    if not keyed.exists() and _clone_of(legacy, url):
        legacy.rename(keyed)  # the same URL: keep the clone rather than fetch it again
    return keyed


def _clone_of(folder: Path, url: str) -> bool:
    """Whether `folder` holds clones (git/0.git …) of the inbox at `url`."""
    epoch = folder / "git" / "0.git"
    if not is_git_dir(epoch):
        return False
    origin = run_git(["config", "--get", "remote.origin.url"], git_dir=epoch, check=False)
    url = url.rstrip("/")
    return origin.strip() in (url, f"{url}/0", f"{url}/0.git")


def remote_epochs(url: str, name: str, cache: Path | None = None) -> tuple[Path, ...]:
    """Clone or fetch every epoch of an inbox URL (`…/NAME` → `…/NAME/0`, `/1`, …)."""
    base = mirror_cache(url, name, cache)
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
    for epoch in epochs:
        check_public_inbox(epoch, location)
    return Mirror(name=name, epochs=epochs, origin=location)


def check_public_inbox(epoch: Path, location: str) -> None:
    """SourceError unless `epoch` is empty or its newest commit holds a mail (`m`/`d`).

    Any git repository would otherwise be read as an archive of zero mails and leave
    an empty list behind; public-inbox writes one mail per commit, as the blob `m`.
    """
    head = head_commit(epoch)
    if head is None:
        return
    names = run_git(["ls-tree", "--name-only", head], git_dir=epoch, check=False).split()
    if "m" not in names and "d" not in names:
        raise SourceError(
            f"{location} is a git repository but not a public-inbox archive "
            "(its commits hold no mail blob `m`)"
        )


def _legacy_key(epoch: Path) -> str:
    """Where an epoch's checkpoint was kept before the clone cache was keyed by URL
    (mirrors/NAME/git/0.git, now mirrors/NAME-<hash>/git/0.git): a moved clone resumes."""
    folder = epoch.resolve().parent.parent  # …/mirrors/NAME-<hash>
    match = re.fullmatch(r"(.+)-[0-9a-f]{12}", folder.name)
    if match is None:
        return ""
    return str(folder.with_name(match.group(1)) / "git" / epoch.name)


class MirrorSource:
    """A public-inbox mirror (local inbox, one epoch, or a URL to clone) as a Source."""

    kind = "mirror"

    def __init__(
        self, location: str, list_name: str | None = None, *, url_base: str | None = None
    ) -> None:
        self.location = location
        # A path is recorded absolute: the CLI's relative path and the config's absolute
        # one for the same mirror are the same source.
        local = location.strip() and not is_url(location)
        self.origin = str(Path(location).resolve()) if local else location
        self.list_name = list_name or default_list_name(location)
        self.url_base = url_base
        self.default_url_base = DEFAULT_URL_BASE.format(name=self.list_name)
        self._mirror: Mirror | None = None
        self._plans: list[tuple[Path, str, Commits]] = []

    def check(self) -> None:
        """A local mirror is checked whole (it costs nothing); a URL only for its form."""
        if not self.location.strip():
            raise SourceError("the mirror location is empty: give a path or a URL")
        if not is_url(self.location):
            epochs = local_epochs(Path(self.location))
            for epoch in epochs:
                check_public_inbox(epoch, self.location)
            self._mirror = Mirror(self.list_name, epochs, self.location)  # prepared, too

    def prepare(self) -> list[str]:
        """Clone or fetch (for a URL) and check every epoch; returns their paths."""
        if self._mirror is None:
            self._mirror = resolve_mirror(self.location, self.list_name)
        return [str(epoch.resolve()) for epoch in self._mirror.epochs]

    def plan(self, state: SyncState) -> int | None:
        """The commits of each epoch after its checkpoint; their count."""
        assert self._mirror is not None, "prepare() first"
        self._plans = []
        for epoch in self._mirror.epochs:
            key = str(epoch.resolve())
            head = head_commit(epoch)
            last = state.epoch_commit(key) or state.epoch_commit(_legacy_key(epoch))
            if head is None or head == last:
                continue
            # After a purge or rewrite the old tip is gone: rescan; dedupe keeps it idempotent.
            since = last if last and is_ancestor(epoch, last, head) else None
            self._plans.append((epoch, key, commits_since(epoch, since, head)))
        return sum(len(commits) for _, _, commits in self._plans)

    def batches(self, state: SyncState) -> Iterator[Batch]:
        """Blobs of the planned commits, BATCH at a time, each ending at its commit."""
        if not self._plans and not state.list_exists():
            yield Batch(())  # an empty inbox is still a list
        for epoch, key, commits in self._plans:
            batch: list[RawMail] = []
            for index, (spec, data) in enumerate(cat_blobs(epoch, commits)):
                sha = spec[:-2]
                batch.append(RawMail(f"{epoch.name}:{sha}", data, commits.time(index)))
                if len(batch) >= BATCH:
                    yield Batch(batch, EpochCheckpoint(key, sha))
                    batch = []
            if batch:
                yield Batch(batch, EpochCheckpoint(key, batch[-1].ref.rsplit(":", 1)[1]))
