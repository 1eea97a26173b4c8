"""Thread reconstruction: unit cases and agreement with public-inbox on the real corpus."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from lore_digest.store.db import Store
from lore_digest.threading.jwz import ancestors, parent_map, thread_ids


def test_ghost_parent_links_siblings() -> None:
    # Two replies to a mail that is not in the archive are still one conversation.
    ids = thread_ids(
        [(1, "a", "ghost", ["ghost"]), (2, "b", "ghost", ["ghost"]), (3, "c", None, [])]
    )
    assert ids[1] == ids[2] == 1
    assert ids[3] == 3


def test_reference_loop_terminates_and_has_a_root() -> None:
    parents = parent_map([("a", "b", ["b"]), ("b", "a", ["a"])])
    assert list(parents.values()).count(None) == 1
    assert ancestors(parents, "a") in (["b"], [])


def test_parent_skips_ghost_to_known_ancestor() -> None:
    parents = parent_map([("root", None, []), ("reply", "ghost", ["root", "ghost"])])
    assert parents["reply"] == "root"


def test_in_reply_to_wins_over_references_order() -> None:
    parents = parent_map([("p1", None, []), ("p2", None, []), ("r", "p1", ["p2", "p1"])])
    assert parents["r"] == "p1"


def _pair_counts(pairs: list[tuple[object, object]]) -> tuple[int, int, int]:
    def choose2(n: int) -> int:
        return n * (n - 1) // 2

    both = sum(choose2(n) for n in Counter(pairs).values())
    ours = sum(choose2(n) for n in Counter(p[0] for p in pairs).values())
    ref = sum(choose2(n) for n in Counter(p[1] for p in pairs).values())
    return both, ours, ref


def test_agreement_with_public_inbox_threads(synced_store: Store, threads_tsv: Path) -> None:
    """Pairwise precision/recall of "same thread" within each ISO week, whole corpus."""
    info = synced_store.get_list("kvmarm")
    assert info is not None
    ours = {mid: tid for _, mid, _, _, tid in synced_store.threading_rows(info.id)}
    weeks: dict[tuple[int, int], list[tuple[object, object]]] = defaultdict(list)
    with threads_tsv.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            mid = row["message_id"]
            assert mid in ours, f"{mid} is in public-inbox's index but not in the store"
            year, week, _ = datetime.fromtimestamp(int(row["date_unix"]), UTC).isocalendar()
            weeks[(year, week)].append((ours[mid], row["thread_id"]))
    both = ours_pairs = ref_pairs = 0
    for pairs in weeks.values():
        b, o, r = _pair_counts(pairs)
        both, ours_pairs, ref_pairs = both + b, ours_pairs + o, ref_pairs + r
    precision, recall = both / ours_pairs, both / ref_pairs
    print(
        f"\nthreading vs public-inbox over {len(weeks)} weeks: precision {precision:.4f}, "
        f"recall {recall:.4f} ({both} shared pairs, {ours_pairs} ours, {ref_pairs} theirs)"
    )
    assert precision >= 0.99
    assert recall >= 0.99
