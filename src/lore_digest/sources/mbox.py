"""mbox files and maildirs, for users who have mail but no public-inbox mirror."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from pathlib import Path

from lore_digest.errors import SourceError


def iter_mbox(path: Path) -> Iterator[tuple[str, bytes]]:
    """Yield (source_ref, raw bytes) for every message of an mbox file or a maildir."""
    if not path.exists():
        raise SourceError(f"{path} does not exist")
    box: mailbox.Mailbox
    if path.is_dir():
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise SourceError(f"{path} is a directory but not a maildir (no cur/ or new/)")
        box = mailbox.Maildir(path, factory=None, create=False)
        kind = "maildir"
    else:
        with path.open("rb") as handle:
            if not handle.read(5) == b"From ":
                raise SourceError(f"{path} is not an mbox file (it does not start with 'From ')")
        box = mailbox.mbox(path, factory=None, create=False)
        kind = "mbox"
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
