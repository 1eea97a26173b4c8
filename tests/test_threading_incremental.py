"""Threads kept as mail arrives agree with threading the whole list at once.

`threading.incremental` threads each new mail through the store's `thread_keys`; these
tests hold it to `jwz.thread_ids` over all the mail (which test_threading holds to
public-inbox's own thread ids): on the whole corpus synced in one go, on the corpus
synced in random pieces, in random order (replies before the mail they answer: ghosts
that later arrive), and on a store from before the index, threaded afresh.
"""

from __future__ import annotations

import mailbox
import random
from pathlib import Path

import pytest

from lore_digest.ingest import sync_mbox
from lore_digest.store.db import Store
from lore_digest.threading.incremental import thread_new_mail
from lore_digest.threading.jwz import thread_ids

SEED = 20261203
PIECE_LIST = "kv"


def _by_message_id(store: Store, name: str) -> dict[str, int]:
    """Message-ID → thread id of a list's stored mail."""
    info = store.get_list(name)
    assert info is not None
    return {mid: tid for _, mid, _, _, tid in store.threading_rows(info.id)}


def _whole_list(store: Store, name: str) -> dict[str, int]:
    """What threading the whole list at once gives (Message-ID → thread id)."""
    info = store.get_list(name)
    assert info is not None
    rows = store.threading_rows(info.id)
    full = thread_ids((pk, mid, irt, refs.split()) for pk, mid, irt, refs, _ in rows)
    return {mid: full[pk] for pk, mid, _, _, _ in rows}


def _partition(threads: dict[str, int]) -> set[frozenset[str]]:
    """The conversations, as sets of Message-IDs (ids differ with the order mail came)."""
    groups: dict[int, set[str]] = {}
    for mid, tid in threads.items():
        groups.setdefault(tid, set()).add(mid)
    return {frozenset(group) for group in groups.values()}


def _sync_pieces(tmp: Path, pieces: list[list[bytes]]) -> Path:
    """A store that got `pieces` one sync after another (each piece an mbox, which
    keeps the order of its mail)."""
    tmp.mkdir(parents=True, exist_ok=True)
    db = tmp / "pieces.sqlite3"
    with Store.open(db) as store:
        for number, piece in enumerate(pieces):
            box = mailbox.mbox(tmp / f"piece{number}.mbox")
            for raw in piece:
                box.add(raw)
            box.close()
            sync_mbox(store, tmp / f"piece{number}.mbox", PIECE_LIST)
    return db


def _cut(mails: list[bytes], pieces: int, rng: random.Random) -> list[list[bytes]]:
    cuts = sorted(rng.sample(range(1, len(mails)), pieces - 1))
    return [mails[a:b] for a, b in zip([0, *cuts], [*cuts, len(mails)], strict=True)]


def test_the_synced_corpus_is_threaded_as_a_whole_list_would_be(synced_store: Store) -> None:
    threads = _by_message_id(synced_store, "kvmarm")
    assert len(threads) > 18000
    assert threads == _whole_list(synced_store, "kvmarm")
    assert len(set(threads.values())) > 1000, "a thousand conversations and more"


@pytest.mark.parametrize("shuffled", [False, True], ids=["in-order", "replies-first"])
def test_pieces_synced_one_after_another_give_the_same_threads(
    corpus_blobs: list[tuple[str, bytes]], tmp_path: Path, shuffled: bool
) -> None:
    rng = random.Random(SEED + shuffled)
    mails = [raw for _, raw in corpus_blobs[:4000]]
    with Store.open(_sync_pieces(tmp_path / "whole", [mails])) as store:
        whole = _by_message_id(store, PIECE_LIST)
    if shuffled:
        rng.shuffle(mails)
    with Store.open(_sync_pieces(tmp_path, _cut(mails, 5, rng))) as store:
        pieces = _by_message_id(store, PIECE_LIST)
        assert pieces == _whole_list(store, PIECE_LIST)  # ids too: smallest store id
    assert pieces.keys() == whole.keys()
    assert _partition(pieces) == _partition(whole)
    if not shuffled:
        assert pieces == whole  # same order, same store ids: the very same thread ids
    merged = sum(len(group) > 1 for group in _partition(whole))
    assert merged > 200, "the sample has conversations to join"


def test_a_store_from_before_the_index_is_threaded_afresh(
    corpus_blobs: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    mails = [raw for _, raw in corpus_blobs[:3000]]
    db = _sync_pieces(tmp_path, [mails])
    with Store.open(db) as store:
        before = _by_message_id(store, PIECE_LIST)
        info = store.get_list(PIECE_LIST)
        assert info is not None
        with store.transaction():  # what migration 10 leaves: no keys, no progress mark
            store.conn.execute("DELETE FROM thread_keys")
            store.conn.execute("DELETE FROM thread_progress")
            store.conn.execute("UPDATE messages SET thread_id = id")  # and stale ids
        assert thread_new_mail(store, info.id) > 0
        assert _by_message_id(store, PIECE_LIST) == before
        assert thread_new_mail(store, info.id) == 0  # nothing new: nothing done


def test_every_move_to_another_thread_is_recorded(
    corpus_blobs: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    """What a site asks the store for (site/build.py): the mail whose thread changed
    since a sync, with the thread it was in."""
    rng = random.Random(SEED + 2)
    mails = [raw for _, raw in corpus_blobs[:3000]]
    rng.shuffle(mails)  # replies first: their threads merge when the parents come
    db = tmp_path / "moves.sqlite3"
    moved = 0
    with Store.open(db) as store:
        before: dict[int, int | None] = {}
        seen = 0
        for number, piece in enumerate(_cut(mails, 4, rng)):
            box = mailbox.mbox(tmp_path / f"piece{number}.mbox")
            for raw in piece:
                box.add(raw)
            box.close()
            sync_mbox(store, tmp_path / f"piece{number}.mbox", PIECE_LIST)
            info = store.get_list(PIECE_LIST)
            assert info is not None
            now = {pk: tid for pk, _, _, _, tid in store.threading_rows(info.id)}
            changed = {pk: tid for pk, tid in before.items() if now[pk] != tid}
            moves = store.moves_after(info.id, seen)
            # mail of this sync may move too (a later mail of it joins two threads)
            older = {pk: old for pk, (old, _) in moves.items() if pk in before}
            assert {pk: old for pk, old in older.items() if now[pk] != old} == changed
            moved += len(changed)
            before, seen = now, store.last_move(info.id)
    assert moved > 10, "shuffled mail joins threads"
