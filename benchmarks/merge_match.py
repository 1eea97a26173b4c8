"""Merges confirmed in git: every patch posting of the corpus matched against a tree of
10,000 commits.

    .venv/bin/python benchmarks/merge_match.py [--corpus ../shared/corpus/kvmarm-0.git]

The tree is built by tests/tree_builder.py from the patches of the corpus that apply
(the last posting of each author and title, in turn with a Link: trailer, with a reworded subject so that only the patch-id tells,
with an edited diff so that only author + subject tell), topped up with generated
commits to 10,000. Every non-reply patch mail of a store synced from the corpus (cover
letters left out: they carry no diff) is matched against it: cold (first clone, index
and match, mail patch-ids included), then warm (a new run with nothing new: fetch, then
remembered matches). Targets: cold ≤ 10 s, warm ≤ 1 s. Syncing the store and building
the tree are not timed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from lore_digest.ingest import sync_mirror
from lore_digest.mail.subject import parse_subject
from lore_digest.store.db import Store
from lore_digest.trees import PatchToMatch, TreeMatcher, patch_from_mail

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "kvmarm-0.git"
sys.path.insert(0, str(ROOT / "tests"))  # the tree builder is test code

from tree_builder import MailPatch, read_patches, write_bulk_tree  # noqa: E402

TREE_COMMITS = 10_000


def patch_postings(store: Store, list_name: str) -> list[PatchToMatch]:
    """Every non-reply patch mail of the list except cover letters, read from raw mail."""
    info = store.get_list(list_name)
    assert info is not None
    mails = [
        m
        for m in store.series_candidates(info.id)
        if (s := parse_subject(m.subject)).is_patch and not s.is_reply and not s.is_cover
    ]
    raw = store.raw_many(m.pk for m in mails)
    return [patch_from_mail(raw[m.pk]) for m in mails]


def latest_versions(patches: Iterable[MailPatch]) -> list[MailPatch]:
    """One posting per author and title, the last: a tree applies v3, not v1 and v3."""
    latest: dict[tuple[str, str], MailPatch] = {}
    for patch in patches:
        key = (patch.author_email, " ".join(patch.title.lower().split()))
        latest.pop(key, None)
        latest[key] = patch  # keeps the tree in posting order
    return list(latest.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    opts = parser.parse_args()
    if not opts.corpus.exists():
        sys.exit(f"corpus {opts.corpus} not found (expected ../shared/corpus)")
    tmp = Path(tempfile.mkdtemp(prefix="lore-digest-bench-"))
    try:
        with Store.open(tmp / "s.sqlite3") as store:
            sync_mirror(store, str(opts.corpus), "kvmarm")
            start = time.perf_counter()
            patches = patch_postings(store, "kvmarm")
            read = time.perf_counter() - start
            print(
                f"patch postings read from the store: {len(patches)} in {read:.2f} s (not in the figures below)"
            )

            start = time.perf_counter()
            placed, left_out = write_bulk_tree(
                tmp / "kvmarm.git", latest_versions(read_patches(opts.corpus)), total=TREE_COMMITS
            )
            kinds = Counter(kind for _, kind in placed.values())
            print(
                f"tree: {TREE_COMMITS} commits, {len(placed)} of them corpus patches"
                f" ({kinds['link']} with Link:, {kinds['patch-id']} reworded,"
                f" {kinds['subject']} edited; {left_out} patches did not fit),"
                f" built in {time.perf_counter() - start:.1f} s"
            )

            spec = [f"{tmp / 'kvmarm.git'}@next"]
            start = time.perf_counter()
            cold_matcher = TreeMatcher(store, tmp / "cache", spec)
            [update] = cold_matcher.update()
            indexed = time.perf_counter() - start
            cold = cold_matcher.match(patches)
            cold_time = time.perf_counter() - start
            print(
                f"cold: {cold_time:.2f} s (clone + index of {update.new_commits} commits"
                f" {indexed:.2f} s, match of {len(patches)} patches with their patch-ids"
                f" {cold_time - indexed:.2f} s)"
            )

            start = time.perf_counter()
            warm_matcher = TreeMatcher(store, tmp / "cache", spec)
            [again] = warm_matcher.update()
            warm = warm_matcher.match(patches)
            warm_time = time.perf_counter() - start
            assert warm == cold and again.new_commits == 0
            print(f"warm (nothing new: fetch, remembered matches): {warm_time:.2f} s")

            how = Counter(m.how for found in cold.values() for m in found)
            print(
                f"found: {len(cold)} of {len(patches)} patches — by link {how['link']},"
                f" by patch-id {how['patch-id']}, by subject {how['subject']}"
            )
            expected = sum(
                1
                for mid, (commit, kind) in placed.items()
                if any(m.commit == commit and m.how == kind for m in cold.get(mid, []))
            )
            print(
                f"corpus patches in the tree found by the rule their commit was made for: {expected} of {len(placed)}"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
