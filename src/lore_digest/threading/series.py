"""Series grouping: a cover letter and its patches are one unit, threaded or not.

Most series thread their patches under the cover letter, but some mailers send each
patch as its own root. Like patchwork, such patches are attached to the cover letter
(or, without one, to patch 1) from the same author with the same version and total,
sent within a short time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lore_digest.mail.subject import parse_subject
from lore_digest.store.db import StoredMessage
from lore_digest.vocabulary import same_posting


def find_anchor(
    patch: StoredMessage,
    candidates: Sequence[StoredMessage],
) -> StoredMessage | None:
    """The cover letter (or patch 1) a lone patch belongs to, among one author's mail.

    `candidates` are the author's messages near the patch; `vocabulary.same_posting`
    decides which of them are parts of the same posting. The cover wins over patch 1;
    among several, the one sent closest to the patch (covers go out first).
    """
    subject = parse_subject(patch.subject)
    if subject.counter is None or subject.counter == 0:
        return None
    mine = (patch.from_email, subject, patch.date_utc)
    best: tuple[int, int, StoredMessage] | None = None
    for other in candidates:
        if other.pk == patch.pk:
            continue
        other_subject = parse_subject(other.subject)
        counter = other_subject.counter
        if counter is None or counter not in (0, 1) or counter >= subject.counter:
            continue
        if not same_posting(mine, (other.from_email, other_subject, other.date_utc)):
            continue
        rank = (counter, abs(patch.date_utc - other.date_utc))  # cover (0) first, then nearest
        if best is None or rank < best[:2]:
            best = (*rank, other)
    return best[2] if best else None


def merge_unthreaded_patches(
    groups: dict[int, list[StoredMessage]],
    parents_of: Callable[[list[StoredMessage]], dict[str, str | None]],
    neighbours: Callable[[StoredMessage], Sequence[StoredMessage]],
    load_thread: Callable[[int], list[StoredMessage]],
) -> dict[int, list[StoredMessage]]:
    """Fold threads that are a lone patch of a series into their cover letter's thread.

    `groups` maps thread id → messages; `neighbours(msg)` returns the author's mail near
    it; `load_thread(tid)` fetches a thread not yet in `groups` (its messages become
    history of the merged unit).
    """
    target: dict[int, int] = {}
    for tid, messages in groups.items():
        parents = parents_of(messages)
        for root in (m for m in messages if parents.get(m.message_id) is None):
            anchor = find_anchor(root, neighbours(root))
            if anchor is not None and anchor.thread_id is not None and anchor.thread_id != tid:
                target[tid] = anchor.thread_id
                break
    merged = {tid: list(msgs) for tid, msgs in groups.items()}
    for tid in target:
        dest = _final_target(tid, target)
        if dest is None:
            continue
        if dest not in merged:
            merged[dest] = load_thread(dest)
        merged[dest].extend(merged.pop(tid))
    for messages in merged.values():
        messages.sort(key=lambda m: (m.date_utc, m.pk))
    return merged


def _final_target(tid: int, target: dict[int, int]) -> int | None:
    """Follow patch 2 → patch 1 → cover; None when the chain loops (then nothing merges)."""
    seen = {tid}
    dest = target[tid]
    while dest in target:
        if dest in seen:
            return None
        seen.add(dest)
        dest = target[dest]
    return dest
