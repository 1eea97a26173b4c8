"""Which maintainer tree a posted patch landed in, and by which commit.

For each patch, in each tree, the strongest rule first:

1. **link** — a commit whose `Link:` trailer names the patch's Message-ID (b4 and most
   maintainers add one when they apply a patch);
2. **patch-id** — `git patch-id --stable` of the mail's diff equals a commit's (the
   same change, whatever its message: a maintainer who edits the subject or trailers);
3. **subject** — a commit by the same author email (case-insensitive) with exactly the
   same subject (spaces collapsed): b4 ty's fallback for a patch the maintainer edited.

When several commits of one tree match by the same rule (a patch reverted and applied
again), the oldest is reported. Results are remembered per tree, misses too: a weekly
run that finds nothing new in the trees runs no git at all beyond the fetches. New
commits forget the tree's misses (they may match now); a forced push forgets all it
knew of the tree and indexes it again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from lore_digest.errors import SourceError
from lore_digest.sources.git import is_ancestor
from lore_digest.store.db import Store
from lore_digest.store.trees import TreeRecords, TreeRow
from lore_digest.trees.commits import read_commits, revision_range
from lore_digest.trees.mirror import TreeMirror
from lore_digest.trees.patch import PatchToMatch
from lore_digest.trees.patchid import diff_hash, mail_patch_ids
from lore_digest.trees.spec import TreeSpec, parse_tree_spec

How = Literal["link", "patch-id", "subject"]
TreeProgress = Callable[[str], None]
"""Called with one line of what the matcher is doing ("kvmarm.git@next: fetching")."""


@dataclass(frozen=True, slots=True)
class MergeMatch:
    """A patch found in a tree: the tree's label, its branch ("HEAD" when none was
    given), the full commit id and the rule that found it."""

    tree: str
    branch: str
    commit: str
    how: How
    # The commit's committer time (0: unknown); not part of what the match is.
    committed_utc: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class TreeUpdate:
    """What one update did to a tree: its tip, how many commits were newly indexed, and
    whether it was indexed again from scratch (a forced push)."""

    tree: str
    tip: str
    new_commits: int
    reindexed: bool


@dataclass(frozen=True, slots=True)
class _Tree:
    spec: TreeSpec
    mirror: TreeMirror

    @property
    def key(self) -> tuple[str, str]:
        return self.spec.origin, self.spec.branch or ""


class TreeMatcher:
    """Patches matched to the commits of maintainers' trees, indexed in the store.

    `update()` fetches the trees and indexes their new commits; `match()` only reads the
    store (and runs one `git patch-id` for mails it has not seen), so an offline run
    skips `update()` (or calls `update(fetch=False)`) and matches against what was
    indexed last. `specs` are TreeSpecs or `PATH_OR_URL[@BRANCH]` strings; the clones
    live under `cache_dir/trees/`; `since_utc` (the archive's first mail, say) keeps a
    mainline tree's first index from reading history older than any mail.
    """

    def __init__(
        self,
        store: Store,
        cache_dir: Path,
        specs: Sequence[TreeSpec | str],
        progress: TreeProgress | None = None,
        *,
        since_utc: int | None = None,
    ) -> None:
        self.records = TreeRecords(store)
        self.progress = progress or (lambda line: None)
        self.since_utc = since_utc
        trees: dict[tuple[str, str], _Tree] = {}
        for given in specs:
            spec = parse_tree_spec(given) if isinstance(given, str) else given
            tree = _Tree(spec, TreeMirror(spec, cache_dir))
            trees.setdefault(tree.key, tree)  # the same tree twice is one tree
        self.trees = tuple(trees.values())

    # -- fetching and indexing ----------------------------------------------------------

    def update(self, *, fetch: bool = True) -> list[TreeUpdate]:
        """Fetch every tree (unless `fetch` is False: index what was fetched before) and
        index its commits new since the last update."""
        return [self._update(tree, fetch) for tree in self.trees]

    def tips(self) -> dict[str, str]:
        """Each tree's last indexed commit, by label ('' for one never indexed)."""
        out: dict[str, str] = {}
        for tree in self.trees:
            row = self.records.find_tree(*tree.key)
            out[tree.spec.label] = row.tip if row is not None else ""
        return out

    def update_each(self) -> list[str]:
        """Fetch and index every tree it can; one line per tree it could not.

        A tree that cannot be fetched (offline, a typo) is indexed as last fetched; one
        never fetched is left out of the matching. The other trees are unaffected.
        """
        problems: list[str] = []
        kept: list[_Tree] = []
        for tree in self.trees:
            try:
                self._update(tree, True)
            except SourceError as exc:
                try:
                    self._update(tree, False)
                except SourceError:
                    problems.append(f"tree {tree.spec.label} not used: {exc}")
                    continue
                problems.append(f"tree {tree.spec.label} used as last fetched: {exc}")
            kept.append(tree)
        self.trees = tuple(kept)
        return problems

    def _update(self, tree: _Tree, fetch: bool) -> TreeUpdate:
        label = tree.spec.label
        if fetch:
            self.progress(f"{label}: fetching {tree.spec.location}")
            tip = tree.mirror.fetch()
        elif (known := tree.mirror.tip()) is not None:
            tip = known
        else:
            raise SourceError(f"{label} has never been fetched: update it once online first")
        row = self.records.ensure_tree(*tree.key)
        if tip == row.tip:
            return TreeUpdate(label, tip, 0, reindexed=False)
        since = row.tip if row.tip and is_ancestor(tree.mirror.path, row.tip, tip) else None
        reindex = bool(row.tip) and since is None
        if reindex:
            self.progress(f"{label}: {row.tip[:12]} is no longer in the branch: indexing again")
        revisions = revision_range(tip, since, self.since_utc)
        added = self.records.add_commits(
            row.id, read_commits(tree.mirror.path, revisions), tip, reindex=reindex
        )
        self.progress(f"{label}: {added} new commits indexed (tip {tip[:12]})")
        return TreeUpdate(label, tip, added, reindexed=reindex)

    # -- matching -----------------------------------------------------------------------

    def match(self, patches: Iterable[PatchToMatch]) -> dict[str, list[MergeMatch]]:
        """Message-ID → one match per tree the patch was found in (in the order the trees
        were given); a patch found in no tree is absent."""
        wanted = {_bare(p.message_id): p for p in patches}
        indexed = [
            (tree, row)
            for tree in self.trees
            if (row := self.records.find_tree(*tree.key)) is not None and row.tip
        ]
        found: dict[int, dict[str, tuple[str, How]]] = {}
        pending: dict[int, list[str]] = {}
        for _, row in indexed:
            remembered = self.records.matches(row.id, list(wanted))
            found[row.id] = {
                m: (sha, cast(How, how)) for m, (sha, how) in remembered.items() if sha
            }
            pending[row.id] = [m for m in wanted if m not in remembered]
        for _, row in indexed:
            self._by_link(row, pending[row.id], found[row.id])
        unresolved = {m for _, row in indexed for m in pending[row.id] if m not in found[row.id]}
        patch_ids = self._patch_ids([wanted[m] for m in wanted if m in unresolved])
        for _, row in indexed:
            self._by_patch_id(row, pending[row.id], found[row.id], patch_ids)
            self._by_subject(row, pending[row.id], found[row.id], wanted)
            self.records.remember_matches(
                row.id, {m: found[row.id].get(m, ("", "")) for m in pending[row.id]}
            )
        result: dict[str, list[MergeMatch]] = {}
        for tree, row in indexed:
            branch = tree.spec.branch or "HEAD"
            times = self.records.commit_times(row.id, [sha for sha, _ in found[row.id].values()])
            for mid, (sha, how) in found[row.id].items():
                if mid in wanted:
                    match = MergeMatch(tree.spec.label, branch, sha, how, times.get(sha, 0))
                    result.setdefault(mid, []).append(match)
        return {mid: result[mid] for mid in wanted if mid in result}

    def _by_link(self, row: TreeRow, pending: list[str], found: dict[str, tuple[str, How]]) -> None:
        for mid, shas in self.records.commits_linking(row.id, pending).items():
            found[mid] = (shas[0], "link")

    def _by_patch_id(
        self,
        row: TreeRow,
        pending: list[str],
        found: dict[str, tuple[str, How]],
        patch_ids: dict[str, str],
    ) -> None:
        todo = {patch_ids[m]: m for m in reversed(pending) if m not in found and patch_ids.get(m)}
        for patch_id, shas in self.records.commits_with_patch_ids(row.id, list(todo)).items():
            found[todo[patch_id]] = (shas[0], "patch-id")
        # Two mails with one diff (a RESEND): the first got the commit above, the rest
        # get it here.
        for mid in pending:
            same = todo.get(patch_ids.get(mid, ""))
            if mid not in found and same in found:
                found[mid] = (found[same][0], "patch-id")

    def _by_subject(
        self,
        row: TreeRow,
        pending: list[str],
        found: dict[str, tuple[str, How]],
        wanted: dict[str, PatchToMatch],
    ) -> None:
        todo = [m for m in pending if m not in found and wanted[m].subject.strip()]
        subjects = {_subject(wanted[m].subject) for m in todo}
        commits = self.records.commits_with_subjects(row.id, sorted(subjects))
        for mid in todo:
            email = wanted[mid].author_email.strip().lower()
            for sha, author in commits.get(_subject(wanted[mid].subject), []):
                if email and author == email:
                    found[mid] = (sha, "subject")
                    break

    def _patch_ids(self, patches: list[PatchToMatch]) -> dict[str, str]:
        """Patch-ids of these mails: from the store, else computed in one git process."""
        ids = [_bare(p.message_id) for p in patches]
        cached = self.records.mail_patch_ids(ids)
        result: dict[str, str] = {}
        todo: dict[str, str] = {}
        hashes: dict[str, str] = {}
        for mid, patch in zip(ids, patches, strict=True):
            hashes[mid] = diff_hash(patch.diff)
            known = cached.get(mid)
            if known is not None and known[0] == hashes[mid]:
                result[mid] = known[1]
            else:
                todo[mid] = patch.diff
        if todo:
            self.progress(f"patch-ids of {len(todo)} mails")
            computed = mail_patch_ids(todo)
            self.records.save_mail_patch_ids({m: (hashes[m], p) for m, p in computed.items()})
            result.update(computed)
        return result


def _bare(message_id: str) -> str:
    return message_id.strip().strip("<>")


def _subject(subject: str) -> str:
    return " ".join(subject.split())
