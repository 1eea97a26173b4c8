"""The SQL of maintainers' git trees: their indexed commits, Link: trailers, the patch-ids
of posted mails and the matches found (schema 5).

Kept out of db.py, which holds the mail itself: `TreeRecords(store)` works on the same
connection and transactions. A tree's commits, links and tip change together, in one
transaction, so a killed index run leaves the tree as it was and the next run redoes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from lore_digest.store.db import Store

_CHUNK = 500  # SQLite's host parameters per statement, with room to spare
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class TreeRow:
    """A tree known to the store: `tip` is the last commit indexed ('' before the first)."""

    id: int
    location: str
    branch: str
    tip: str


@dataclass(frozen=True, slots=True)
class TreeCommit:
    """One indexed commit: what the three matching rules compare (see lore_digest.trees)."""

    sha: str
    author_email: str
    author_name: str
    subject: str
    patch_id: str
    commit_utc: int
    links: tuple[str, ...] = ()  # Message-IDs named by its Link: trailers


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _marks(chunk: Sequence[object]) -> str:
    return ",".join("?" * len(chunk))


class TreeRecords:
    """Trees, commits, links, mail patch-ids and matches of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = store.conn

    # -- trees and their commits ---------------------------------------------------------

    def ensure_tree(self, location: str, branch: str) -> TreeRow:
        """The tree at `location` and `branch` ('' = the remote's HEAD), created if new."""
        self.conn.execute(
            "INSERT OR IGNORE INTO trees(location, branch) VALUES (?, ?)", (location, branch)
        )
        found = self.find_tree(location, branch)
        assert found is not None
        return found

    def find_tree(self, location: str, branch: str) -> TreeRow | None:
        """The tree at `location` and `branch`, or None if it was never updated."""
        row = self.conn.execute(
            "SELECT id, location, branch, tip FROM trees WHERE location=? AND branch=?",
            (location, branch),
        ).fetchone()
        return None if row is None else TreeRow(int(row[0]), str(row[1]), str(row[2]), str(row[3]))

    def add_commits(
        self, tree_id: int, commits: Iterable[TreeCommit], tip: str, *, reindex: bool = False
    ) -> int:
        """Index new commits of a tree up to `tip`, in one transaction; how many were new.

        `reindex` (after a forced push) first forgets the tree's commits, links and
        matches. New commits can match patches that matched nothing before, so the
        remembered misses of the tree are forgotten too; its matches stay (their
        commits are still in the tree).
        """
        added = 0
        with self.store.transaction():
            if reindex:
                for table in ("tree_commits", "tree_links", "tree_matches"):
                    self.conn.execute(f"DELETE FROM {table} WHERE tree_id=?", (tree_id,))
            batch: list[TreeCommit] = []
            for commit in commits:
                batch.append(commit)
                if len(batch) >= 5000:
                    added += self._insert(tree_id, batch)
                    batch = []
            added += self._insert(tree_id, batch)
            self.conn.execute("DELETE FROM tree_matches WHERE tree_id=? AND sha=''", (tree_id,))
            self.conn.execute("UPDATE trees SET tip=? WHERE id=?", (tip, tree_id))
        return added

    def _insert(self, tree_id: int, commits: Sequence[TreeCommit]) -> int:
        before = self.conn.total_changes
        self.conn.executemany(
            "INSERT OR IGNORE INTO tree_commits"
            "(tree_id, sha, author_email, author_name, subject, patch_id, commit_utc)"
            " VALUES (?,?,?,?,?,?,?)",
            [
                (tree_id, c.sha, c.author_email, c.author_name, c.subject, c.patch_id, c.commit_utc)
                for c in commits
            ],
        )
        added = self.conn.total_changes - before
        self.conn.executemany(
            "INSERT OR IGNORE INTO tree_links(tree_id, message_id, sha) VALUES (?,?,?)",
            [(tree_id, mid, c.sha) for c in commits for mid in c.links],
        )
        return added

    def count_commits(self, tree_id: int) -> int:
        """How many commits of a tree are indexed."""
        row = self.conn.execute(
            "SELECT count(*) FROM tree_commits WHERE tree_id=?", (tree_id,)
        ).fetchone()
        return int(row[0])

    def commit_times(self, tree_id: int, shas: Sequence[str]) -> dict[str, int]:
        """Committer time of each commit (sha → Unix time)."""
        found: dict[str, int] = {}
        for chunk in _chunks(shas):
            rows = self.conn.execute(
                "SELECT sha, commit_utc FROM tree_commits"
                f" WHERE tree_id=? AND sha IN ({_marks(chunk)})",
                (tree_id, *chunk),
            )
            found.update((str(sha), int(when)) for sha, when in rows)
        return found

    # -- the three rules: candidates, oldest commit first ---------------------------------

    def commits_linking(self, tree_id: int, message_ids: Sequence[str]) -> dict[str, list[str]]:
        """Commits whose Link: trailers name each Message-ID (id → shas, oldest first)."""
        found: dict[str, list[str]] = {}
        for chunk in _chunks(message_ids):
            rows = self.conn.execute(
                "SELECT l.message_id, l.sha FROM tree_links l JOIN tree_commits c"
                " ON c.tree_id=l.tree_id AND c.sha=l.sha"
                f" WHERE l.tree_id=? AND l.message_id IN ({_marks(chunk)})"
                " ORDER BY c.commit_utc, c.sha",
                (tree_id, *chunk),
            )
            for mid, sha in rows:
                found.setdefault(str(mid), []).append(str(sha))
        return found

    def commits_with_patch_ids(
        self, tree_id: int, patch_ids: Sequence[str]
    ) -> dict[str, list[str]]:
        """Commits of a tree with each patch-id (patch-id → shas, oldest first)."""
        found: dict[str, list[str]] = {}
        for chunk in _chunks([p for p in patch_ids if p]):
            rows = self.conn.execute(
                "SELECT patch_id, sha FROM tree_commits"
                f" WHERE tree_id=? AND patch_id IN ({_marks(chunk)}) ORDER BY commit_utc, sha",
                (tree_id, *chunk),
            )
            for patch_id, sha in rows:
                found.setdefault(str(patch_id), []).append(str(sha))
        return found

    def commits_with_subjects(
        self, tree_id: int, subjects: Sequence[str]
    ) -> dict[str, list[tuple[str, str]]]:
        """Commits of a tree with each subject (subject → (sha, author email), oldest first)."""
        found: dict[str, list[tuple[str, str]]] = {}
        for chunk in _chunks(subjects):
            rows = self.conn.execute(
                "SELECT subject, sha, author_email FROM tree_commits"
                f" WHERE tree_id=? AND subject IN ({_marks(chunk)}) ORDER BY commit_utc, sha",
                (tree_id, *chunk),
            )
            for subject, sha, email in rows:
                found.setdefault(str(subject), []).append((str(sha), str(email)))
        return found

    # -- patch-ids of posted mails ------------------------------------------------------

    def mail_patch_ids(self, message_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Cached patch-ids of mails: id → (hash of the diff, patch-id or '')."""
        found: dict[str, tuple[str, str]] = {}
        for chunk in _chunks(message_ids):
            rows = self.conn.execute(
                "SELECT message_id, diff_hash, patch_id FROM mail_patch_ids"
                f" WHERE message_id IN ({_marks(chunk)})",
                tuple(chunk),
            )
            found.update((str(m), (str(h), str(p))) for m, h, p in rows)
        return found

    def save_mail_patch_ids(self, rows: Mapping[str, tuple[str, str]]) -> None:
        """Remember mails' patch-ids: id → (hash of the diff, patch-id or '')."""
        if not rows:
            return
        with self.store.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO mail_patch_ids(message_id, diff_hash, patch_id)"
                " VALUES (?,?,?)",
                [(mid, diff_hash, pid) for mid, (diff_hash, pid) in rows.items()],
            )

    # -- remembered matches -------------------------------------------------------------

    def matches(self, tree_id: int, message_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """Remembered results in a tree: id → (commit, how); ('', '') for a remembered miss."""
        found: dict[str, tuple[str, str]] = {}
        for chunk in _chunks(message_ids):
            rows = self.conn.execute(
                "SELECT message_id, sha, how FROM tree_matches"
                f" WHERE tree_id=? AND message_id IN ({_marks(chunk)})",
                (tree_id, *chunk),
            )
            found.update((str(m), (str(s), str(h))) for m, s, h in rows)
        return found

    def remember_matches(self, tree_id: int, results: Mapping[str, tuple[str, str]]) -> None:
        """Remember results in a tree: id → (commit, how), ('', '') for no match."""
        if not results:
            return
        with self.store.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO tree_matches(tree_id, message_id, sha, how)"
                " VALUES (?,?,?,?)",
                [(tree_id, mid, sha, how) for mid, (sha, how) in results.items()],
            )
