"""mbox files and maildirs, for users who have mail but no public-inbox mirror."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from pathlib import Path

from lore_digest.errors import SourceError
from lore_digest.sources.base import Batch, RawMail, SyncState
from lore_digest.vocabulary import DEFAULT_URL_BASE

BATCH = 2000


def check_mbox(path: Path) -> str:
    """ "mbox" or "maildir" for a path that is one; SourceError saying why not."""
    if not path.exists():
        raise SourceError(f"{path} does not exist")
    if path.is_dir():
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise SourceError(f"{path} is a directory but not a maildir (no cur/ or new/)")
        return "maildir"
    try:
        with path.open("rb") as handle:
            start = handle.read(5)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if start != b"From ":
        raise SourceError(f"{path} is not an mbox file (it does not start with 'From ')")
    return "mbox"


def iter_mbox(path: Path) -> Iterator[tuple[str, bytes]]:
    """Yield (source_ref, raw bytes) for every message of an mbox file or a maildir."""
    kind = check_mbox(path)
    box: mailbox.Mailbox
    if kind == "maildir":
        box = mailbox.Maildir(path, factory=None, create=False)
    else:
        box = mailbox.mbox(path, factory=None, create=False)
    try:
        for key in sorted(box.keys(), key=str) if kind == "maildir" else box.keys():
            raw = box.get_bytes(key)
            yield f"{kind}:{path.name}:{key}", _unquote_mboxrd(raw) if kind == "mbox" else raw
    finally:
        box.close()


_MBOXRD_QUOTED = re.compile(rb"^>(>*From )", re.MULTILINE)


def _unquote_mboxrd(raw: bytes) -> bytes:
    """Undo mboxrd "From " quoting (lore's t.mbox.gz and our exports are mboxrd)."""
    return _MBOXRD_QUOTED.sub(rb"\1", raw) if b">From " in raw else raw


class MboxSource:
    """An mbox file or a maildir as a Source; re-reading it stores nothing twice (the
    ingester's Message-ID dedupe), so it needs no checkpoint."""

    kind = "mbox"

    def __init__(self, path: Path | str, list_name: str, *, url_base: str | None = None) -> None:
        self.path = Path(path)
        self.origin = str(self.path.resolve()) if str(path).strip() else ""
        self.list_name = list_name
        self.url_base = url_base
        self.default_url_base = DEFAULT_URL_BASE.format(name=list_name)

    def check(self) -> None:
        """Refuse what is no mbox or maildir before any file is created."""
        if not self.origin.strip():
            raise SourceError("the mbox location is empty: give a file or a maildir")
        check_mbox(self.path)

    def prepare(self) -> list[str]:
        """Check that the path is an mbox or a maildir before any list is created."""
        self.check()
        return [str(self.path)]

    def plan(self, state: SyncState) -> int | None:
        """The number of messages is not known without reading the whole file."""
        return None

    def batches(self, state: SyncState) -> Iterator[Batch]:
        """Every message, BATCH at a time."""
        batch: list[RawMail] = []
        for ref, raw in iter_mbox(self.path):
            batch.append(RawMail(ref, raw, None))
            if len(batch) >= BATCH:
                yield Batch(batch)
                batch = []
        if batch or not state.list_exists():
            yield Batch(batch)
