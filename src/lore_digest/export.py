"""Export a stored thread as an mboxrd file, byte for byte as it was archived.

A digest points at threads; a reader who wants to apply a series or check what the
digest says about it needs the mail itself, in the format kernel tools read (`b4 am
-m`, `git am`, mutt). The store keeps every message's original bytes, so the export is
exact: no re-encoding, no header rewriting, only the mboxrd framing that lore's own
`t.mbox.gz` downloads use, which is what lets our test hand the result to b4.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lore_digest.errors import UsageError
from lore_digest.store.db import Store

__all__ = ["MBOXRD_SEPARATOR", "mboxrd", "thread_mbox"]

# public-inbox writes this fixed envelope line: the real sender and date are in the
# headers, and a constant line keeps exports reproducible.
MBOXRD_SEPARATOR = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"

# mboxrd quoting: every line that an mbox reader could take for a separator, or that
# is already quoted ("From ", ">From ", ">>From "...), gets one more ">", so a reader
# removing one ">" restores the original line exactly (mboxo could not).
_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)

# Later than any real Date: messages_of_threads wants an upper bound.
_END_OF_TIME = 2**62


def thread_mbox(store: Store, list_name: str, message_id: str) -> bytes:
    """The whole thread containing `message_id` as an mboxrd file, oldest first.

    The thread is every stored message with the same thread id (the public-inbox
    notion: connected by References/In-Reply-To, ghosts included), ordered by Date as
    the store indexed it. `message_id` may carry its angle brackets.
    Raises UsageError for an unknown list or message.
    """
    info = store.get_list(list_name)
    if info is None:
        known = ", ".join(lst.name for lst in store.lists()) or "none"
        raise UsageError(f"unknown list {list_name!r} (known lists: {known})")
    wanted = _clean_message_id(message_id)
    pk = store.known_ids(info.id, [wanted]).get(wanted) if wanted else None
    if pk is None:
        raise UsageError(f"message <{wanted}> is not in list {list_name!r}")
    thread_id = store.thread_of(info.id, pk)
    if thread_id is None:  # stored but not threaded yet: the message alone is its thread
        pks = [pk]
    else:
        pks = [m.pk for m in store.messages_of_threads(info.id, [thread_id], _END_OF_TIME)]
    raws = store.raw_many(pks)
    return mboxrd(raws[p] for p in pks if p in raws)


def mboxrd(raw_messages: Iterable[bytes]) -> bytes:
    """Frame raw RFC 5322 messages as one mboxrd file (public-inbox's layout).

    Each message gets the fixed separator line, its ">*From " lines quoted once more,
    a final newline if it lacked one, and a blank line after it.
    """
    out = bytearray()
    for raw in raw_messages:
        if raw.startswith(b"From "):
            # An envelope line kept from an mbox source is not part of the message: the
            # separator replaces it (quoting it would turn it into a bogus first header).
            _, _, raw = raw.partition(b"\n")
        out += MBOXRD_SEPARATOR
        out += _FROM_LINE.sub(rb">\1", raw)
        if not raw.endswith(b"\n"):
            out += b"\n"
        out += b"\n"
    return bytes(out)


def _clean_message_id(message_id: str) -> str:
    """The id as the store keeps it: no blanks, no angle brackets."""
    return message_id.strip().removeprefix("<").removesuffix(">").strip()
