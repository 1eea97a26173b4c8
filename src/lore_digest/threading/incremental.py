"""Threads kept up to date as mail arrives, in bounded memory.

`jwz.thread_ids` threads a whole list at once: every row in memory (405 MB for 100k
mails), redone after each sync. Here each new mail is threaded on its own, in the order
it was stored, through the store's `thread_keys` (every Message-ID a threaded mail names,
ghosts included, with its thread): the mail joins the threads its ids are already in —
merging them when there are several — or opens a new one. The result is the same as
`jwz.thread_ids` over all the mail (the connected components of the reference graph,
each named by its smallest store id), because a new mail's store id is larger than any
threaded one: a merged thread keeps the smallest id of those it merges.

Mail is threaded in chunks, each one transaction with the progress mark
(`thread_progress`), so a killed sync resumes where it stopped and nothing is half-done.
"""

from __future__ import annotations

from collections.abc import Callable

from lore_digest.store.db import Store
from lore_digest.threading.jwz import reply_chain

__all__ = ["CHUNK", "thread_new_mail"]

# Messages threaded per transaction (and held in memory at once).
CHUNK = 2000


def thread_new_mail(
    store: Store, list_id: int, progress: Callable[[int], None] | None = None
) -> int:
    """Thread the list's mail stored since the last call; returns how many messages got
    a thread id they did not have (new ones, and older ones moved by a merge).

    A store from before `thread_keys` (no progress mark) is threaded from its first mail;
    older messages keep their ids until their turn, so reports stay readable meanwhile.
    """
    after = store.threaded_pk(list_id)
    changed = 0
    while rows := store.threading_rows_after(list_id, after, CHUNK):
        with store.transaction():
            for pk, message_id, in_reply_to, refs, old in rows:
                keys = list(dict.fromkeys([message_id, *reply_chain(in_reply_to, refs.split())]))
                found = store.threads_of_keys(list_id, keys)
                thread = min(found) if found else pk
                if len(found) > 1:
                    changed += store.merge_threads(list_id, thread, found - {thread}, pk)
                store.add_thread_keys(list_id, keys, thread)
                if old != thread:
                    store.set_thread_ids([(pk, thread)])
                    changed += 1
            after = rows[-1][0]
            store.set_threaded_pk(list_id, after)
        if progress is not None:
            progress(after)
    return changed
