"""What a source of mail is: batches of raw mail, each with the checkpoint it reaches.

A git mirror, an mbox or maildir, and lore over HTTP differ in how they find what is
new, but the ingester needs the same thing from each: raw bytes of mail, in batches,
and after each batch a checkpoint saying how far the source has got. The ingester
stores a batch and its checkpoint in one transaction, so a killed sync resumes exactly
after its last committed batch, whatever the source.

A source never touches the store: what it needs to know about its own progress (the
last commit of an epoch, the Received-time range lore already gave) it asks through a
`SyncState`, which the ingester implements over the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "Batch",
    "Checkpoint",
    "EpochCheckpoint",
    "LoreCheckpoint",
    "RawMail",
    "Source",
    "SyncState",
]


@dataclass(frozen=True, slots=True)
class RawMail:
    """One mail as a source delivers it."""

    ref: str  # where it came from: "0.git:<commit>", "mbox:name:12", "lore:rt:A..B#3"
    raw: bytes | None  # None: the source says this mail was deleted upstream
    fallback_time: int | None  # a time to use only when the Date header is unusable


@dataclass(frozen=True, slots=True)
class EpochCheckpoint:
    """A git epoch read up to `commit` (kept in the store's `epochs` table)."""

    repo: str
    commit: str


@dataclass(frozen=True, slots=True)
class LoreCheckpoint:
    """How far lore over HTTP has been read (kept in the store's `lore_progress` table).

    `covered_start`/`covered_end`: the Received-time range [start, end) whose mail is in
    the store; `threads_done_pk`: mail up to this store id had its threads completed.
    A None field leaves the stored value as it is.
    """

    base: str
    covered_start: int | None = None
    covered_end: int | None = None
    threads_done_pk: int | None = None


Checkpoint = EpochCheckpoint | LoreCheckpoint


@dataclass(frozen=True, slots=True)
class Batch:
    """Mail to store together, and the checkpoint to record in the same transaction."""

    mails: Sequence[RawMail]
    checkpoint: Checkpoint | None = None


class SyncState(Protocol):
    """What a source may ask about the list's stored progress (implemented by the ingester).

    The ingester writes batches on a thread of its own: a source asks these questions in
    `plan()`, and in `batches()` only after `settle()` (every batch handed over is then
    committed, and the writer waits), as the lore source does before completing threads.
    """

    def list_exists(self) -> bool:
        """Whether the store knows the list yet."""
        ...

    def epoch_commit(self, repo: str) -> str | None:
        """The last commit of an epoch already stored, or None."""
        ...

    def lore_progress(self, base: str) -> LoreCheckpoint | None:
        """What an earlier lore sync of this inbox recorded, or None."""
        ...

    def date_range(self) -> tuple[int, int] | None:
        """(oldest, newest) Date of the list's stored mail, or None."""
        ...

    def settle(self) -> None:
        """Wait until every batch handed over so far is committed."""
        ...

    def last_pk(self) -> int:
        """The store id of the newest stored mail of the list (0 when none)."""
        ...

    def orphans(self, after_pk: int) -> list[tuple[str, set[str]]]:
        """(Message-ID, parents not stored) of mail stored after `after_pk`, oldest first."""
        ...


class Source(Protocol):
    """A place mail comes from; `sources.registry` lists the kinds."""

    kind: str  # "mirror", "mbox" or "lore": the registry key
    list_name: str
    origin: str  # what the user gave (a URL, or an absolute path), recorded as the source
    url_base: str | None  # where the list's mail is read on the web, when given
    default_url_base: str  # …and where it is when not: for a new list

    def check(self) -> None:
        """Cheap checks needing no network (a path exists and is what it claims): run
        before any file, lock or store is created, so a typo leaves nothing behind."""
        ...

    def prepare(self) -> list[str]:
        """Check (and clone or fetch) before any list exists; SourceError when unusable.

        Returns the locations read (epoch repositories, the inbox URL) for the result.
        """
        ...

    def plan(self, state: SyncState) -> int | None:
        """Decide what to read; returns how many mails that is, when known (progress)."""
        ...

    def batches(self, state: SyncState) -> Iterator[Batch]:
        """The new mail, batch by batch; a list is created with the first batch."""
        ...
