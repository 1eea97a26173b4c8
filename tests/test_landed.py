"""facts.landed: patches a maintainer carried in a pull request count as applied."""

from __future__ import annotations

from collections.abc import Iterable

from lore_digest.facts.landed import PullPatchIndex
from lore_digest.facts.postings import MemoryPostings
from lore_digest.mail.subject import parse_subject
from lore_digest.store.db import StoredMessage

DAY = 86400

PULL_TEXT = """Hi Paolo,

Here's the first set of fixes.

Please pull,

\tM.

The following changes since commit f2906aa863381afb0015a9eb7fefad885d4e5a56:

  Linux 5.19-rc1 (2022-06-05 17:18:54 -0700)

are available in the Git repository at:

  git://git.kernel.org/pub/scm/linux/kernel/git/kvmarm/kvmarm.git tags/kvmarm-fixes-5.19-1

for you to fetch changes up to bcbfb588cf323929ac46767dd14e392016bbce04:

  KVM: arm64: Drop stale comment (2022-06-09 13:24:02 +0100)

----------------------------------------------------------------
KVM/arm64 fixes for 5.19, take #1

- Fix a vgic-v2 regression

----------------------------------------------------------------
Marc Zyngier (2):
      KVM: arm64: Don't read a HW interrupt pending state in user context
      KVM: arm64: Drop stale comment

Will Deacon (1):
      KVM: arm64: Return error from kvm_arch_init_vm() on allocation failure

 arch/arm64/kvm/arm.c | 4 ++--
 1 file changed, 2 insertions(+), 2 deletions(-)
"""


class Box:
    def __init__(self) -> None:
        self.messages: list[StoredMessage] = []
        self.raw: dict[int, bytes] = {}

    def post(
        self, subject: str, day: int, *, sender: str = "maz@kernel.org", thread: int | None = None,
        body: str = "",
    ) -> StoredMessage:  # fmt: skip
        pk = len(self.messages) + 1
        msg = StoredMessage(
            pk=pk,
            message_id=f"m{pk}@example.org",
            date_utc=1_650_000_000 + day * DAY,
            date_offset=0,
            date_source="header",
            from_name=sender.split("@")[0],
            from_email=sender,
            subject=subject,
            in_reply_to=None,
            references=(),
            thread_id=thread or pk,
        )
        self.messages.append(msg)
        self.raw[pk] = f"From: {sender}\nSubject: {subject}\n\n{body}".encode()
        return msg

    def load(self, pks: Iterable[int]) -> dict[int, bytes]:
        return {pk: self.raw[pk] for pk in pks}


def _title(subject: str) -> str:
    return parse_subject(subject).normalized_title()


def test_patches_sent_under_a_pull_request_are_found_by_title() -> None:
    box = Box()
    posted = box.post("[PATCH] KVM: arm64: Fix the thing", 0, sender="ann@example.org")
    pull = box.post("[GIT PULL] KVM/arm64 updates for Linux 5.8", 10)
    box.post("[PATCH 1/2] KVM: arm64: Fix the thing", 10, thread=pull.pk)
    box.post("[PATCH 2/2] KVM: arm64: Other work", 10, thread=pull.pk)
    fixes = box.post("[PATCH 0/1] KVM/arm64 fixes for 5.16, take #1", 11)
    box.post("[PATCH 1/1] KVM: arm64: Fix the other thing", 11, thread=fixes.pk)
    kut = box.post(
        "[PULL kvm-unit-tests 00/39] arm/arm64: The old and new", 12, sender="drjones@redhat.com"
    )
    box.post(
        "[PULL kvm-unit-tests 01/39] arm64: timer: Add ISB",
        12,
        sender="drjones@redhat.com",
        thread=kut.pk,
    )
    # a patch somebody else posted in the pull's thread is not the pull's
    box.post("[PATCH 1/1] KVM: arm64: A stray one", 12, sender="x@example.org", thread=pull.pk)
    index = PullPatchIndex(MemoryPostings(box.messages, box.load))
    found = index.carried(_title(posted.subject), posted.date_utc, 2**40)
    assert [(p.pull_id, p.from_email) for p in found] == [(pull.message_id, "maz@kernel.org")]
    assert index.carried(_title(posted.subject), posted.date_utc, pull.date_utc) == []  # not yet
    assert index.carried("arm64: timer: add isb", 0, 2**40)[0].pull_id == kut.message_id
    assert index.carried("kvm: arm64: a stray one", 0, 2**40) == []
    assert index.carried("kvm: arm64: fix the other thing", 0, 2**40)[0].pull_id == fixes.message_id


def test_a_pull_request_without_patches_lists_its_commits_in_the_shortlog() -> None:
    box = Box()
    pull = box.post("[GIT PULL] KVM/arm64 fixes for 5.19, take #1", 3, body=PULL_TEXT)
    index = PullPatchIndex(MemoryPostings(box.messages, box.load))
    for title in (
        "KVM: arm64: Don't read a HW interrupt pending state in user context",
        "KVM: arm64: Return error from kvm_arch_init_vm() on allocation failure",
    ):
        found = index.carried(_title(title), 0, 2**40)
        assert [p.message_id for p in found] == [pull.message_id], title
    # the tag message between the dashed lines is no commit
    assert index.carried(_title("- Fix a vgic-v2 regression"), 0, 2**40) == []
    assert index.carried(_title("KVM/arm64 fixes for 5.19, take #1"), 0, 2**40) == []
