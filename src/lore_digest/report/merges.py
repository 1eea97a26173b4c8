"""Merges confirmed in git, attached to a report's series (see lore_digest.trees).

For every series of a report, each patch of its current version is looked up in the
configured trees (one batch per report: one `git patch-id` run at most). A series
whose patches are all found is "merged", some found "partly merged (3/5)"; a series a
maintainer said was applied but that no tree holds `grace_days` after that mail is
flagged "applied in mail, not found in TREE". A git merge is a fact of its own: it
turns a series that mail left "new"/"under review"/"changes requested" into merged,
with the commits as evidence in JSON, Markdown and HTML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Final

from lore_digest.facts.series_facts import PatchMerge, SeriesFacts
from lore_digest.facts.status import APPLIED_STATES, Status, StatusFacts
from lore_digest.model import Thread
from lore_digest.trees.matcher import TreeMatcher
from lore_digest.trees.patch import PatchToMatch, patch_from_mail

__all__ = ["attach_merges"]

# Mail statuses a git merge replaces: the commits in a tree say more than the mail did.
_OPEN: Final = frozenset(
    {Status.NEW, Status.UNDER_REVIEW, Status.CHANGES_REQUESTED, Status.RFC, Status.ACCEPTED}
)


def attach_merges(
    threads: Sequence[Thread],
    raws: Mapping[str, bytes],
    matcher: TreeMatcher,
    *,
    dates: Mapping[str, int],
    now_utc: int,
    grace_days: int,
) -> None:
    """Fill `merged`/`not_in_tree` of each thread's series (and its status) in place.

    `raws` maps the Message-ID of each patch posting to its raw mail; `dates` maps
    Message-IDs of the threads' mails to their Unix time (for the grace period). A commit
    made after `now_utc` (the window's end, for an old week) was not in the tree yet:
    an old week shows what the trees held by its end.
    """
    patches: list[PatchToMatch] = []
    for thread in threads:
        if thread.series is None:
            continue
        for patch in thread.series.patches:
            raw = raws.get(patch.message_id)
            if raw is not None:
                patches.append(patch_from_mail(raw))
    if not patches:
        return
    found = matcher.match(patches)
    labels = ", ".join(tree.spec.label for tree in matcher.trees)
    for thread in threads:
        series = thread.series
        if series is None:
            continue
        merged = tuple(
            PatchMerge(p.number, p.message_id, m.tree, m.branch, m.commit, m.how)
            for p in series.patches
            for m in found.get(p.message_id, [])
            if m.committed_utc < now_utc
        )
        updated = replace(
            series,
            merged=merged,
            not_in_tree=_not_in_tree(series, merged, dates, now_utc, grace_days, labels),
        )
        updated = replace(updated, status=_status_with_merge(updated))
        thread.series = updated
        thread.status = updated.status


def _status_with_merge(series: SeriesFacts) -> StatusFacts:
    """The series' status, promoted to merged/partly merged when a tree holds it."""
    state = series.merge_state
    status = series.status
    if state is None or status.status not in _OPEN:
        return status
    promoted = Status.MERGED if state == "merged" else Status.PARTLY_MERGED
    return replace(status, status=promoted, evidence=tuple(m.message_id for m in series.merged))


def _not_in_tree(
    series: SeriesFacts,
    merged: tuple[PatchMerge, ...],
    dates: Mapping[str, int],
    now_utc: int,
    grace_days: int,
    labels: str,
) -> str | None:
    """ "applied in mail on 2022-05-10, not found in kvmarm.git@next after 14 days"."""
    applied = series.status.applied
    if series.status.status not in APPLIED_STATES or applied is None or merged:
        return None
    when = dates.get(applied.message_id)
    if when is None or now_utc - when < grace_days * 86400:
        return None
    days = (now_utc - when) // 86400
    return f"applied in mail, not found in {labels} after {days} days"
