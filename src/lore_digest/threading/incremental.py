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
            changed += _thread_chunk(store, list_id, rows)
            after = rows[-1][0]
            store.set_threaded_pk(list_id, after)
        if progress is not None:
            progress(after)
    return changed


def _thread_chunk(
    store: Store, list_id: int, rows: list[tuple[int, str, str | None, str, int | None]]
) -> int:
    """Thread one chunk of mail, in store order, as if one mail at a time: the threads
    its ids are in are looked up in one go, merges are followed in memory (each thread
    merged into the smallest id) and written once at the end."""
    chains = [
        (pk, list(dict.fromkeys([mid, *reply_chain(irt, refs.split())])), old)
        for pk, mid, irt, refs, old in rows
    ]
    known = store.thread_keys_of(list_id, [key for _, keys, _ in chains for key in keys])
    stored_threads = set(known.values())  # threads with keys (and mail) in the store
    merged: dict[int, int] = {}  # a thread merged into another -> that other

    def current(thread: int) -> int:
        root = thread
        while root in merged:
            root = merged[root]
        while thread != root:  # shorten the path for the next lookups
            merged[thread], thread = root, merged[thread]
        return root

    threads: dict[int, int] = {}
    for pk, keys, _ in chains:
        found = {current(known[key]) for key in keys if key in known}
        thread = min(found) if found else pk
        for other in found - {thread}:
            merged[other] = thread
        for key in keys:
            known[key] = thread
        threads[pk] = thread
    moved = 0
    targets: dict[int, list[int]] = {}
    for other in merged:
        if other in stored_threads:
            targets.setdefault(current(other), []).append(other)
    first_pk = rows[0][0]
    for into, others in targets.items():
        moved += store.merge_threads(list_id, into, others, first_pk)
    store.set_thread_keys(list_id, ((key, current(thread)) for key, thread in known.items()))
    changes = [(pk, old, current(threads[pk])) for pk, _, old in chains]
    store.set_thread_ids([(pk, old, new) for pk, old, new in changes if old != new])
    return moved + sum(old != new for _, old, new in changes)
