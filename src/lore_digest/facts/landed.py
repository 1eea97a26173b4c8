"""Patches a maintainer carried in a pull request: applied, though nobody said so in reply.

Maintainers apply many patches without answering the posting: they show up weeks later
as one patch of the maintainer's pull request to the next tree up (Marc's "[PATCH 09/24]
KVM: arm64: ..." under "[GIT PULL] KVM/arm64 updates for 5.8", Andrew Jones's "[PULL
kvm-unit-tests 13/39]"). A posting whose patches all appear in such a pull is applied,
some of them partly applied; the pull's patches are the evidence.

Rules (heuristic: titles are compared, not code):
- a pull thread is a [GIT PULL]/[PULL] posting or a cover letter titled like one
  ("[PATCH 0/24] KVM/arm64 updates for 5.8"); its patches are the numbered postings of
  the same sender in that thread, and the commits its git request-pull shortlog lists
  (the indented titles between the two dashed lines) when the patches are not sent;
- a pull patch matches a posted patch when their normalized titles are equal and the
  pull patch was sent later (a maintainer may retitle; such a patch is simply missed);
- the caller decides whose pulls count (trusted appliers) and up to which date.
"""

from __future__ import annotations

from dataclasses import dataclass

from lore_digest.facts.postings import PostingSource
from lore_digest.store.db import StoredMessage
from lore_digest.vocabulary import opens_pull

__all__ = ["PullPatch", "PullPatchIndex"]


@dataclass(frozen=True, slots=True)
class PullPatch:
    """One patch sent as part of a pull request."""

    message_id: str
    date_utc: int
    from_name: str
    from_email: str
    pull_id: str  # the pull request's first mail (its cover letter)


class PullPatchIndex:
    """The pull request patches of a list, found by normalized title through a
    PostingSource: each query looks up the postings so titled and their threads' pulls."""

    def __init__(self, source: PostingSource) -> None:
        self._source = source
        self._pulls: dict[int, list[StoredMessage]] = {}  # thread -> its pull requests
        self._sent: dict[int, bool] = {}  # pull request pk -> its sender sent patches

    def carried(self, title: str, after_utc: int, before_utc: int) -> list[PullPatch]:
        """Pull patches titled `title` (normalized) sent between the two dates, oldest
        first: the patches a pull request's sender sent in its thread, and the commits
        listed by pull requests sent without their patches."""
        found: list[PullPatch] = []
        for msg, subject in self._source.titled(title):
            if subject.is_reply or not subject.counter or msg.thread_id is None:
                continue
            if not after_utc < msg.date_utc < before_utc:
                continue
            sender = msg.from_email.lower()
            for pull in self._pulls_in(msg.thread_id):
                if pull.pk != msg.pk and pull.from_email.lower() == sender:
                    found.append(_patch(msg, pull))
        for pull, _ in self._source.shortlog_pulls(title):
            if after_utc < pull.date_utc < before_utc and not self._sent_patches(pull):
                found.append(_patch(pull, pull))
        found.sort(key=lambda p: (p.date_utc, p.message_id, p.pull_id))
        return found

    def _pulls_in(self, thread_id: int) -> list[StoredMessage]:
        """The thread's pull requests ([GIT PULL], or a cover letter titled like one)."""
        pulls = self._pulls.get(thread_id)
        if pulls is None:
            pulls = self._pulls[thread_id] = [
                m for m, s in self._source.in_thread(thread_id) if opens_pull(s)
            ]
        return pulls

    def _sent_patches(self, pull: StoredMessage) -> bool:
        """Whether the pull request's sender sent numbered patches in its thread."""
        if pull.pk not in self._sent:
            sender = pull.from_email.lower()
            self._sent[pull.pk] = pull.thread_id is not None and any(
                m.pk != pull.pk
                and not s.is_reply
                and bool(s.counter)
                and m.from_email.lower() == sender
                for m, s in self._source.in_thread(pull.thread_id)
            )
        return self._sent[pull.pk]


def _patch(msg: StoredMessage, pull: StoredMessage) -> PullPatch:
    return PullPatch(msg.message_id, msg.date_utc, msg.from_name, msg.from_email, pull.message_id)
