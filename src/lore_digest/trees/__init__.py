"""Merges confirmed in git: in which maintainer tree and branch a posted patch landed.

Trees are given as `PATH_OR_URL[@BRANCH]` (`spec.py`), cloned bare into the cache and
fetched incrementally (`mirror.py`); their new commits are indexed in the store with
their patch-ids and Link: Message-IDs (`commits.py`, `links.py`, SQL in
`store/trees.py`); `TreeMatcher` matches patches (`patch.py`) to them by link, patch-id
(`patchid.py` for the mails) or author and subject, and remembers what it found.

    matcher = TreeMatcher(store, cache_dir(), ["https://…/kvmarm/kvmarm.git@next"])
    matcher.update()
    merged = matcher.match(patch_from_mail(raw) for raw in mails)
"""

from lore_digest.trees.matcher import How, MergeMatch, TreeMatcher, TreeProgress, TreeUpdate
from lore_digest.trees.patch import PatchToMatch, patch_from_mail
from lore_digest.trees.spec import TreeSpec, parse_tree_spec

__all__ = [
    "How",
    "MergeMatch",
    "PatchToMatch",
    "TreeMatcher",
    "TreeProgress",
    "TreeSpec",
    "TreeUpdate",
    "parse_tree_spec",
    "patch_from_mail",
]
