"""Who may apply on a list without a MAINTAINERS file: learned from the list's history.

Anyone can write "Applied to next, thanks!", and a b4 commit list is only text too.
What one forged mail cannot make is a history: a person is one of the list's appliers,
at a given moment, when before it

- they sent "applied" replies that show where the patches went in at least two
  threads of series written by other people: b4's commit list, or the branch named
  ("Applied to target-arm.next, thanks": how QEMU's and kvm-unit-tests' maintainers
  answer on kvmarm; not a tester's "applied to kvmarm/next and booted it"), or
- at least two of their pull requests were merged (a reply from someone else, not a
  robot, said "pulled"/"merged"), or
- they merged pull requests of such appliers in at least two threads (the tree the
  appliers send to: Paolo pulling Marc's kvmarm trees).

Robots never are. Two threads, not one, so a single forged mail makes nobody a
maintainer. A learned applier is trusted for the whole list (the list's history does
not say which files are whose: that is what a MAINTAINERS file adds).

An archive rarely starts with a list's first day: for a week in the archive's first
months (BOOTSTRAP_S), when the history before it is too short to show who applies, the
events of those first months count too, the week's own mail never (it cannot vouch for
itself), and a person learned so needs three threads (BOOTSTRAP_MIN_THREADS): later mail
vouching for an earlier week is harder to forge than history. This is weaker than a
MAINTAINERS file (`--maintainers`) or a tree (`--tree`): the README says which rule a
report used.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from lore_digest.facts.model import MailFacts
from lore_digest.facts.status import detect_applied, detect_pull, merge_reply
from lore_digest.vocabulary import is_bot

__all__ = [
    "BOOTSTRAP_MIN_THREADS",
    "BOOTSTRAP_S",
    "MIN_THREADS",
    "ApplierEvent",
    "applier_events",
    "learn_appliers",
]

MIN_THREADS: Final = 2
# How much of an archive's start is learned from as a whole: long enough to see each
# maintainer of a busy list apply twice (kvmarm: Marc, Paolo, Catalin, Will, Andrew Jones
# within eight months of 2019-04), short enough that later weeks learn only from before.
BOOTSTRAP_S: Final = 240 * 86400
BOOTSTRAP_MIN_THREADS: Final = MIN_THREADS + 1

B4_APPLIED: Final = "b4-applied"  # email applied others' series with a commit list
BRANCH_APPLIED: Final = "branch-applied"  # ... naming the branch, with no commit list
_APPLIED_KINDS: Final = frozenset({B4_APPLIED, BRANCH_APPLIED})
PULL_MERGED: Final = "pull-merged"  # email's pull request was merged
MERGED_PULL: Final = "merged-pull"  # email merged someone's pull request (thread says whose)


@dataclass(frozen=True, slots=True)
class ApplierEvent:
    """One mail's evidence that someone applies: what, who, in which thread, when."""

    kind: str
    email: str
    thread: str  # the thread's root message id (one vote per thread)
    date_utc: int
    by: str = ""  # for MERGED_PULL: the sender of the pull request that was merged


def applier_events(mail: MailFacts, root: MailFacts) -> list[ApplierEvent]:
    """Events one reply gives, given its thread's root (empty for most mail)."""
    email = mail.from_email.strip().lower()
    root_email = root.from_email.strip().lower()
    if mail is root or is_bot(email) or email == root_email:
        return []
    if detect_pull(root) is not None:
        merged, _ = merge_reply(mail)
        if not merged:
            return []
        thread = root.message_id
        return [
            ApplierEvent(PULL_MERGED, root_email, thread, mail.date_utc),
            ApplierEvent(MERGED_PULL, email, thread, mail.date_utc, root_email),
        ]
    applied = detect_applied(mail)
    if applied is None:
        return []
    if applied.commits:
        return [ApplierEvent(B4_APPLIED, email, root.message_id, mail.date_utc)]
    if applied.branch and not _tested(mail, applied.branch):
        return [ApplierEvent(BRANCH_APPLIED, email, root.message_id, mail.date_utc)]
    return []


# Testers write "Applied to kvmarm/next and booted on a Juno" or "Applied on v5.18-rc1
# cleanly": a branch named, nothing applied. Only a maintainer's words teach.
_TESTING = re.compile(
    r"\b(?:test(?:ed|ing|s)?|boot(?:ed|s|ing)?|cleanly|compiles?|built|builds?)\b"
    r"|\bTested-by:",
    re.IGNORECASE,
)
_RELEASE = re.compile(r"^v?\d+\.\d+")


def _tested(mail: MailFacts, branch: str) -> bool:
    """Whether an "applied to BRANCH" reply reads as a test report, not a maintainer's."""
    return bool(_RELEASE.match(branch) or _TESTING.search(mail.unquoted_text()))


def learn_appliers(
    events: Iterable[ApplierEvent],
    until_utc: int,
    also: tuple[int, int] | None = None,
    min_threads: int = MIN_THREADS,
) -> frozenset[str]:
    """The list's appliers as known before `until_utc` (see the module's rules), and from
    the events of the span `also` (start, end) when given (an archive's first months),
    each seen in at least `min_threads` threads."""
    threads: dict[tuple[str, str], set[str]] = defaultdict(set)
    merged_from: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for event in events:
        counted = event.date_utc < until_utc or (
            also is not None and also[0] <= event.date_utc < also[1]
        )
        if not counted or is_bot(event.email):
            continue
        kind = B4_APPLIED if event.kind in _APPLIED_KINDS else event.kind
        threads[(kind, event.email)].add(event.thread)
        if event.kind == MERGED_PULL:
            merged_from[event.email].add((event.thread, event.by))
    appliers = {
        email
        for (kind, email), seen in threads.items()
        if kind in (B4_APPLIED, PULL_MERGED) and len(seen) >= min_threads
    }
    upstream = {
        email
        for email, pulls in merged_from.items()
        if len({thread for thread, by in pulls if by in appliers}) >= min_threads
    }
    return frozenset(appliers | upstream)
