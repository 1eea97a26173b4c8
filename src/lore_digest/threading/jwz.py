"""Reply trees from References / In-Reply-To (after Jamie Zawinski's algorithm).

Two results, for two uses:
- `thread_ids`: which messages form one conversation. Connected components of the
  reference graph, ghosts (ids referenced but never seen) included, exactly as
  public-inbox links threads; no subject merging, which is what glued unrelated
  "[PATCH v3 0/4]" series together in the old tool.
- `parent_map`: who replied to whom inside a thread, loops broken, so trailers can be
  attributed by climbing to the patch a reply answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class _UnionFind:
    """Disjoint sets over string keys, path-halving; small enough to keep here."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        parent = self.parent
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def union(self, a: str, b: str) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[root_b] = root_a


def reply_chain(in_reply_to: str | None, references: Sequence[str]) -> list[str]:
    """Ancestors oldest → nearest: References, with In-Reply-To as the direct parent."""
    chain = [r for r in references if r != in_reply_to]
    if in_reply_to:
        chain.append(in_reply_to)
    return chain


def thread_ids(rows: Iterable[tuple[int, str, str | None, Sequence[str]]]) -> dict[int, int]:
    """Map each message pk to its thread id (the smallest pk of its conversation).

    `rows` are (pk, message_id, in_reply_to, references).
    """
    sets = _UnionFind()
    pk_of: dict[str, int] = {}
    for pk, message_id, in_reply_to, references in rows:
        pk_of[message_id] = pk
        sets.find(message_id)
        for ancestor in reply_chain(in_reply_to, references):
            sets.union(message_id, ancestor)
    smallest: dict[str, int] = {}
    for message_id, pk in pk_of.items():
        root = sets.find(message_id)
        if pk < smallest.get(root, pk + 1):
            smallest[root] = pk
    return {pk: smallest[sets.find(mid)] for mid, pk in pk_of.items()}


def parent_map(
    messages: Iterable[tuple[str, str | None, Sequence[str]]],
) -> dict[str, str | None]:
    """Nearest *present* ancestor of each message (None for a root), loops broken.

    `messages` are (message_id, in_reply_to, references). A ghost parent (referenced,
    not in the archive) is skipped over to the next known ancestor; when none is known
    the message is a root.
    """
    items = list(messages)
    present = {mid for mid, _, _ in items}
    parent: dict[str, str | None] = {}
    for message_id, in_reply_to, references in items:
        chain = reply_chain(in_reply_to, references)
        parent[message_id] = next((a for a in reversed(chain) if a in present), None)
    # Break loops (A→B→A from broken clients): the oldest-listed member becomes a root.
    for start in parent:
        node: str | None = start
        on_path: set[str] = set()
        while node is not None and node not in on_path:
            on_path.add(node)
            node = parent.get(node)
        if node is not None:  # `node` is on a cycle: cut the edge that closes it
            parent[node] = None
    return parent


def roots(parents: dict[str, str | None]) -> list[str]:
    """Messages without a present parent, in the order given."""
    return [mid for mid, up in parents.items() if up is None]


def ancestors(parents: dict[str, str | None], message_id: str) -> list[str]:
    """Present ancestors of a message, nearest first."""
    out: list[str] = []
    node = parents.get(message_id)
    while node is not None and node not in out:
        out.append(node)
        node = parents.get(node)
    return out
