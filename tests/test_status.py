"""Series status (applied, NAKed, changes requested...) checked on real kvmarm mail first.

Every expectation on the corpus names the real message that proves it, so a failure can be
checked by opening https://lore.kernel.org/kvmarm/<message-id>/.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

from lore_digest.facts.build import mail_facts
from lore_digest.facts.model import MailFacts
from lore_digest.facts.status import (
    Appliers,
    Status,
    StatusFacts,
    detect_applied,
    detect_pull,
    series_status,
)
from lore_digest.mail.body import split_body
from lore_digest.mail.subject import parse_subject
from lore_digest.store.db import Store
from lore_digest.threading.jwz import parent_map

# -- the corpus, as MailFacts per thread -----------------------------------------------------


class Corpus:
    """All threads of the synced corpus as MailFacts, and an index by Message-ID."""

    def __init__(self, threads: dict[int, list[MailFacts]]) -> None:
        self.threads = threads
        self.thread_of = {m.message_id: tid for tid, ms in threads.items() for m in ms}
        self.mail = {m.message_id: m for ms in threads.values() for m in ms}

    def thread(self, message_id: str) -> list[MailFacts]:
        return self.threads[self.thread_of[message_id]]

    def all_mails(self) -> list[MailFacts]:
        return [m for ms in self.threads.values() for m in ms]


@pytest.fixture(scope="module")
def corpus(synced_db: Path) -> Corpus:
    """Every message of the corpus, decoded and segmented once (~4 s)."""
    with Store.open(synced_db) as store:
        info = store.get_list("kvmarm")
        assert info is not None
        messages = store.messages_between(info.id, 0, 2**40)
        raws = store.raw_many(m.pk for m in messages)
    by_thread: dict[int, list] = defaultdict(list)
    for message in messages:
        by_thread[message.thread_id or -message.pk].append(message)
    threads: dict[int, list[MailFacts]] = {}
    for tid, group in by_thread.items():
        parents = parent_map((m.message_id, m.in_reply_to, m.references) for m in group)
        threads[tid] = mail_facts(group, raws, parents, (0, 2**40))
    return Corpus(threads)


def status_of(corpus: Corpus, message_id: str, **kwargs: object):  # type: ignore[no-untyped-def]
    """series_status of the thread holding message_id, its root's sender as the author."""
    mails = corpus.thread(message_id)
    root = next(m for m in mails if m.parent_id is None)
    return series_status(mails, author_email=root.from_email, **kwargs)  # type: ignore[arg-type]


# -- applied, on real maintainers' replies ----------------------------------------------------

# (message id, branch, partial, number of commits listed, first commit (text, sha) or None)
REAL_APPLIED = [
    (  # "Applied to next, thanks!" from b4
        "159283326373.239821.1231019851371158870.b4-ty@kernel.org",
        "next",
        None,
        1,
        (
            "[1/1] KVM: arm64: Annotate hyp NMI-related functions as __always_inline",
            "7733306bd593c737c63110175da6c35b4b8bb32c",
        ),
    ),
    (  # "Applied to fixes, thanks!" with a two-patch list
        "162626019253.574894.16521023581512885892.b4-ty@kernel.org",
        "fixes",
        None,
        2,
        (
            "[1/2] KVM: selftests: change pthread_yield to sched_yield",
            "bac0b135907855e9f8c032877c3df3c60885a08f",
        ),
    ),
    (  # kvmtool: the sha is in a git.kernel.org URL
        "158990595902.1665.1735005226213648378.b4-ty@kernel.org",
        "kvmtool (master)",
        None,
        1,
        ("[1/1] rtc: Generate fdt node for the real-time clock", "5a3a5c07dd87"),
    ),
    (  # arm64 tree: "Applied to arm64 (for-next/misc)"
        "158808189342.219357.12380979087402977148.b4-ty@kernel.org",
        "arm64 (for-next/misc)",
        None,
        1,
        ("[1/1] KVM: arm64: Drop PTE_S2_MEMATTR_MASK", "f4be140fa33f"),
    ),
    (  # a kvm-arm64 topic branch, 26 patches
        "160702322202.1501317.9696987088711766533.b4-ty@kernel.org",
        "kvm-arm64/psci-relay",
        None,
        26,
        None,
    ),
    (  # only part of a series
        "161114590396.218530.9227813162726341261.b4-ty@kernel.org",
        "arm64 (for-next/rng)",
        "the first patch only",
        1,
        None,
    ),
    ("77810fca-3492-2170-c350-bad35cfdc5e6@redhat.com", None, None, 0, None),  # Queued, thanks.
    (  # Queued patches 1-5, thanks.
        "9982d53a-8160-d7f7-09eb-ea640f99136b@redhat.com",
        None,
        "patches 1-5",
        0,
        None,
    ),
    (  # Queued 1-20 and 22-28.
        "614858dd-106c-64cc-04bc-f1887b2054d1@redhat.com",
        None,
        "patches 1-20 and 22-28",
        0,
        None,
    ),
    ("20200313175103.GE3857972@arrakis.emea.arm.com", None, None, 0, None),  # Queued for 5.7.
    (  # "Applied to https://gitlab.com/rhdrjones/kvm-unit-tests/-/commits/arm/queue"
        "20211214133448.6yjlbputjfabzftq@gator.home",
        "arm/queue",
        None,
        0,
        None,
    ),
    (  # "I've applied this as a fix for 5.4."
        "0f99f6a4ea567f53d38fb3bc0e6f59e4@www.loen.fr",
        None,
        None,
        0,
        None,
    ),
]


@pytest.mark.parametrize(("message_id", "branch", "partial", "count", "first"), REAL_APPLIED)
def test_detect_applied_on_real_replies(
    corpus: Corpus,
    message_id: str,
    branch: str | None,
    partial: str | None,
    count: int,
    first: tuple[str, str] | None,
) -> None:
    info = detect_applied(corpus.mail[message_id])
    assert info is not None
    assert info.message_id == message_id
    assert (info.branch, info.partial, len(info.commits)) == (branch, partial, count)
    if first is not None:
        assert info.commits[0] == first


def test_kvm_arm64_topic_branch_lists_every_commit(corpus: Corpus) -> None:
    info = detect_applied(corpus.mail["160702322202.1501317.9696987088711766533.b4-ty@kernel.org"])
    assert info is not None
    assert [text.split("]")[0] for text, _ in info.commits] == [
        f"[{i:02d}/26" for i in range(1, 27)
    ]
    assert all(7 <= len(sha) <= 40 for _, sha in info.commits)


def test_applied_count_over_the_corpus(corpus: Corpus) -> None:
    hits = [info for info in map(detect_applied, corpus.all_mails()) if info is not None]
    branches = Counter(info.branch or "(none)" for info in hits)
    print(f"\ndetect_applied fires on {len(hits)} mails; by branch:")
    for branch, count in branches.most_common():
        print(f"  {count:4d}  {branch}")
    # ../shared/README.md lists ~170 of the commonest phrases; the corpus has more forms.
    assert 300 <= len(hits) <= 360
    assert branches["next"] >= 100
    assert branches["fixes"] >= 28
    assert branches["kvmtool (master)"] == 16
    assert branches["arm/queue"] >= 10
    assert sum(c for b, c in branches.items() if b.startswith("arm64 (for-next/")) >= 20
    assert sum(c for b, c in branches.items() if b.startswith("kvm-arm64/")) >= 30
    queued = [i for i in hits if i.branch is None and i.partial is None]
    assert len(queued) >= 40  # "Queued, thanks." / "Applied, thanks." name no branch
    assert Counter(i.partial for i in hits if i.partial)["patches 1-5"] == 2


# Real mails that say "applied"/"picked"/"pushed" without a maintainer taking the series.
REAL_NOT_APPLIED = [
    # "I've picked the two patches, ..." - Marc took Oliver's dependency patches, not this
    "878rriicez.wl-maz@kernel.org",
    # git am output pasted by a reviewer: "Applied patch ioport.c cleanly."
    "fabb6032-6ac2-f418-c5e6-12cd7b4cbdc5@arm.com",
    # "I applied this locally, but I'm seeing consistent boot failure under QEMU"
    "20210208143248.GA25934@willie-the-truck",
    # a tester: "I applied the patch on v5.10-rc2, then the migration ..."
    "a2dc9044-ed84-78f3-b1c4-3a2388073488@huawei.com",
    # the author: "Pushed an updated branch [1] with the fix below"
    "YovCYCswWOtTaaFe@monolith.localdoman",
    # "I picked up\nthe work these days and applied the patches to our 4.19.36 stable"
    "dbbf516d-3326-a948-8617-db6b6ec0ceed@huawei.com",
    # "Picked the latter." - a choice between two wordings
    "60d8e9e95ee4640cf3b457c53cb4cc7a@kernel.org",
    # "I've pushed out a potential fix [1]"
    "c30b23cf220a4b2965a42ea87b27285f@kernel.org",
    # a pull request being pulled is not "applied" by detect_applied ("Pulled, thnaks.")
    "8bd20863-f03c-9621-d3ae-10c4da28764d@redhat.com",
]


@pytest.mark.parametrize("message_id", REAL_NOT_APPLIED)
def test_detect_applied_rejects_real_false_positives(corpus: Corpus, message_id: str) -> None:
    assert detect_applied(corpus.mail[message_id]) is None


def test_real_applied_series_status(corpus: Corpus) -> None:
    reply = "161114590396.218530.9227813162726341261.b4-ty@kernel.org"
    # Will applied "the first patch only", Marc's "(subset)" thank-you patch 5 of 5:
    # patches 2-4 were promised, never confirmed in mail.
    facts = status_of(corpus, reply)
    assert facts.status is Status.PARTLY_APPLIED
    assert reply in facts.evidence
    assert facts.applied is not None and facts.applied.branch == "arm64 (for-next/rng)"
    assert facts.applied.partial == "patches 1, 5 of 5"
    # applied wins over a newer revision: the caller may still know of one
    assert status_of(corpus, reply, superseded_by="x@y").status is Status.PARTLY_APPLIED
    # ... but not before the maintainer's reply was sent
    before = corpus.mail[reply].date_utc
    assert status_of(corpus, reply, until_utc=before).status is not Status.APPLIED


def test_maintainer_applying_own_series_with_b4_counts(corpus: Corpus) -> None:
    # Marc posted this patch and applied it himself; b4's reply lists the commit.
    reply = "165545405829.771018.16969597411109895074.b4-ty@kernel.org"
    facts = status_of(corpus, reply)
    assert facts.status is Status.APPLIED
    assert facts.evidence == (reply,)


# -- pull requests --------------------------------------------------------------------------


def test_real_pull_request_and_its_pulled_reply(corpus: Corpus) -> None:
    root = "20190503124427.190206-1-marc.zyngier@arm.com"  # [GIT PULL] KVM/arm updates for 5.2
    pull = detect_pull(corpus.mail[root])
    assert pull is not None
    assert pull.base_commit == "8c2ffd9174779014c3fe1f96d9dc3641d9175f00"
    assert pull.repo == "git://git.kernel.org/pub/scm/linux/kernel/git/kvmarm/kvmarm.git"
    assert pull.ref == "tags/kvmarm-for-v5.2"
    assert pull.tip_commit == "9eecfc22e0bfc7a4c8ca007f083f0ae492d6e891"
    facts = status_of(corpus, root)
    merged = "8bd20863-f03c-9621-d3ae-10c4da28764d@redhat.com"  # "Pulled, thnaks."
    assert facts.status is Status.APPLIED
    assert facts.evidence == (merged,)
    assert facts.pull is not None and facts.pull.merged_by == merged
    assert facts.applied is not None and facts.applied.by_email == "pbonzini@redhat.com"


def test_real_pull_not_yet_pulled(corpus: Corpus) -> None:
    # "Cool, will pull soon." is a promise, not a merge.
    facts = status_of(corpus, "e0967ca4-b574-2be4-55de-3dce212fea21@redhat.com")
    assert facts.status is Status.UNDER_REVIEW
    assert facts.pull is not None and facts.pull.merged_by is None
    assert facts.pull.ref == "tags/kvmarm-fixes-5.18-2"


def test_real_pull_merged_by_pr_tracker_bot(corpus: Corpus) -> None:
    bot = "156667230824.2337.2969578272613309440.pr-tracker-bot@kernel.org"
    facts = status_of(corpus, bot)
    assert facts.status is Status.APPLIED
    assert facts.pull is not None and facts.pull.merged_by == bot
    assert facts.applied is not None and facts.applied.branch == "torvalds/linux.git"
    assert not facts.reviewed  # a bot is no reviewer


def test_pull_requests_over_the_corpus(corpus: Corpus) -> None:
    statuses: Counter[Status] = Counter()
    for mails in corpus.threads.values():
        root = next((m for m in mails if m.parent_id is None), mails[0])
        if detect_pull(root) is None:
            continue
        statuses[series_status(mails, author_email=root.from_email).status] += 1
    print(f"\npull requests: {dict(statuses)}")
    assert sum(statuses.values()) >= 65
    assert statuses[Status.APPLIED] >= 50


def test_patch_formatted_pull_request(corpus: Corpus) -> None:
    # Marc sometimes sends the pull request as "[PATCH 00/17] KVM/arm updates for 5.4".
    root = next(
        m
        for m in corpus.all_mails()
        if m.parent_id is None and m.subject.subject == "[PATCH 00/17] KVM/arm updates for 5.4"
    )
    pull = detect_pull(root)
    assert pull is not None and pull.ref == "tags/kvmarm-5.4"
    assert status_of(corpus, root.message_id).status is Status.APPLIED


# -- NAKs and changes requested on real threads ---------------------------------------------


def test_real_nak(corpus: Corpus) -> None:
    nak = "87tupif3x3.wl-maz@kernel.org"  # "NAK. If the interrupt is on the AP list, ..."
    facts = status_of(corpus, nak)
    assert facts.status is Status.NAKED
    assert facts.evidence == (nak,) == facts.naks
    assert facts.reviewed


def test_real_changes_requested(corpus: Corpus) -> None:
    review = "20210427171011.ymu7j5sen76c4xb3@gator.home"  # drew's review
    reply = "c10442e1-f7e1-e777-c33e-d103276febf8@arm.com"  # "You're right, I'll fix it for v3."
    facts = status_of(corpus, reply)
    assert facts.status is Status.CHANGES_REQUESTED
    assert facts.evidence == (review, reply) == facts.changes_requested
    # a newer revision supersedes it; before the author's answer it is only under review
    assert status_of(corpus, reply, superseded_by="v3@x").status is Status.SUPERSEDED
    until = corpus.mail[reply].date_utc
    assert status_of(corpus, reply, until_utc=until).status is Status.UNDER_REVIEW


def test_statuses_over_the_corpus(corpus: Corpus) -> None:
    statuses: Counter[Status] = Counter()
    for mails in corpus.threads.values():
        root = next((m for m in mails if m.parent_id is None), mails[0])
        facts = series_status(mails, author_email=root.from_email)
        statuses[facts.status] += 1
        known = {m.message_id for m in mails}
        if facts.status is not Status.SUPERSEDED:
            assert facts.evidence and set(facts.evidence) <= known
    print(f"\nseries_status over {len(corpus.threads)} threads: {dict(statuses)}")
    assert 5 <= statuses[Status.NAKED] <= 15
    assert statuses[Status.APPLIED] >= 300


# -- hand-made mails: phrases and priority rules ---------------------------------------------

AUTHOR = "author@example.org"
ROOT = "root@example.org"


def make(
    message_id: str,
    body: str,
    *,
    sender: str = "reviewer@example.org",
    parent: str | None = ROOT,
    subject: str = "Re: [PATCH v2 0/3] KVM: arm64: something",
    date: int = 0,
) -> MailFacts:
    """A MailFacts from a plain body (segmented by the real split_body)."""
    name = sender.split("@")[0].capitalize()
    return MailFacts(
        message_id=message_id,
        parent_id=parent,
        date_utc=date,
        from_name=name,
        from_email=sender,
        subject=parse_subject(subject),
        segments=tuple(split_body(body)),
        in_window=True,
    )


def root(subject: str = "[PATCH v2 0/3] KVM: arm64: something") -> MailFacts:
    return make(ROOT, "This series does things.\n", sender=AUTHOR, parent=None, subject=subject)


@pytest.mark.parametrize(
    "body",
    [
        "On Mon, X wrote:\n> Applied to next, thanks!\n\nAre you sure?\n",  # quoted
        "This should be applied to stable as well.\n",
        "Applied the patch and tested, works for me.\n",
        "Applied to which branch?\n",
        "Applied?\n",
        "It is not applied yet.\n",
        "Applied on top of v5.18-rc3 and booted fine.\n",
        "I applied it to my tree to test it.\n",
        "Pushed an updated branch with the fix.\n",
        "As soon as I applied this series to next, the build broke.\n",
        "As I applied this series to kvmarm/next, I hit a conflict. Could you rebase?\n",
        "I've tested it, but as I applied this series to kvmarm/next it failed to build.\n",
        "This only works as long as we applied this series to kvm/next first.\n",
        "I've applied your fixup on top of the existing patches locally, v3 will follow.\n",
        "Pushed a branch with the fixes on top of the existing series to my github.\n",
        "Could you check what breaks as I applied this series to next?\n",
        "I applied the fix on top of the series and it boots.\n",  # a tester, no "existing"
        "If you queue it on top of the existing series, it will conflict.\n",
        # object first, as testers write it: a base it applies on, not a branch it went to
        "This series applied to kvmarm/next cleanly and boots fine.\n",
        "This series applied to kvmarm/next cleanly.\n",
        "The series applied to v5.10-rc2.\n",
        "This patch applied on top of kvmarm/next.\n",
        "Series applied to my tree.\n",
        "Patch 1/2 should be applied before the NV patchset.\n",
    ],
)
def test_applied_phrases_rejected(body: str) -> None:
    assert detect_applied(make("m@x", body)) is None


@pytest.mark.parametrize(
    ("body", "branch", "partial"),
    [
        ("Applied to kvmarm/fixes, thanks.\n", "kvmarm/fixes", None),
        ("Thanks, applied.\n", None, None),
        ("Merged into kvm-arm64/next.\n", "kvm-arm64/next", None),
        ("Pushed to kvm/queue.\n", "kvm/queue", None),
        ("queued for 5.19, thanks\n", None, None),
        (
            "I've applied patches 1-3 to arm64 (for-next/sve).\n",
            "arm64 (for-next/sve)",
            "patches 1-3",
        ),
        ("Hi,\n\nApplied to arm/queue[1].\n\n[1] https://x/y\n", "arm/queue", None),
        (  # Peter Maydell, 2019-12: the apply inside a sentence about fixing nits
            "To save you from having to roll a v3, I've fixed up the\nhandful of nits "
            "Richard and I found as I applied this\nseries to target-arm.next.\n",
            "target-arm.next",
            None,
        ),
        (  # a fix queued on top of the series: the series is in the tree already
            "I've queued the below patch on top of the existing series, which cures\nthe issue.\n",
            None,
            None,
        ),
        (  # Paul Mackerras, 2020-05: object first, "my ... branch" names the branch
            "Thanks, patches 3 and 4 of this series applied to my kvm-ppc-next branch.\n",
            "kvm-ppc-next",
            "patches 3 and 4",
        ),
        ("Thanks, patch applied to my kvm-ppc-next branch, with fixes.\n", "kvm-ppc-next", None),
        ("Series applied to net-next, thanks.\n", "net-next", None),
        ("Both backports now queued up, thanks.\n", None, None),
    ],
)
def test_applied_phrases_accepted(body: str, branch: str | None, partial: str | None) -> None:
    info = detect_applied(make("m@x", body))
    assert info is not None
    assert (info.branch, info.partial) == (branch, partial)


def test_applied_commit_url_with_id() -> None:
    body = (
        "Applied to next, thanks!\n\n[1/2] KVM: one\n"
        "      https://git.kernel.org/pub/scm/linux/kernel/git/x/y.git/commit/?id=0123456789ab\n"
        "[2/2] KVM: two\n      (no commit info)\n"
    )
    info = detect_applied(make("m@x", body))
    assert info is not None and info.commits == (("[1/2] KVM: one", "0123456789ab"),)


def test_root_mail_is_never_an_applied_reply() -> None:
    assert (
        detect_applied(make("m@x", "Applied to next.\n", parent=None, subject="[PATCH] x")) is None
    )


def test_author_saying_applied_does_not_count() -> None:
    mails = [root(), make("a@x", "Applied to next, thanks!\n", sender=AUTHOR, date=1)]
    assert series_status(mails, author_email=AUTHOR).status is Status.NEW


def test_new_and_rfc() -> None:
    assert series_status([root()], author_email=AUTHOR).status is Status.NEW
    rfc = root("[RFC PATCH 0/3] KVM: arm64: idea")
    facts = series_status([rfc], author_email=AUTHOR)
    assert (facts.status, facts.evidence) == (Status.RFC, (ROOT,))
    # an RFC somebody answered is under review: the answer matters more than the prefix
    answered = series_status([rfc, make("r@x", "Looks odd.\n", date=1)], author_email=AUTHOR)
    assert (answered.status, answered.evidence) == (Status.UNDER_REVIEW, ("r@x",))


def test_under_review_evidence_is_the_first_three_replies() -> None:
    replies = [make(f"r{i}@x", f"Comment {i}.\n", date=i) for i in range(1, 6)]
    facts = series_status([root(), *replies], author_email=AUTHOR)
    assert facts.status is Status.UNDER_REVIEW
    assert facts.evidence == ("r1@x", "r2@x", "r3@x")
    assert facts.reviewed


def test_review_trailer_alone_means_reviewed() -> None:
    given = make("r@x", "Reviewed-by: Some One <one@example.org>\n")
    facts = series_status([root(), given], author_email=AUTHOR)
    assert (facts.status, facts.evidence, facts.reviewed) == (Status.UNDER_REVIEW, ("r@x",), True)


def test_trailers_carried_in_the_authors_repost_are_history() -> None:
    patch = make(
        "p@x",
        "Do it.\n\nReviewed-by: Some One <one@example.org>\nSigned-off-by: A <author@example.org>\n",
        sender=AUTHOR,
        subject="[PATCH v2 1/3] KVM: do it",
    )
    facts = series_status([root(), patch], author_email=AUTHOR)
    assert (facts.status, facts.reviewed) == (Status.NEW, False)


def test_bots_are_not_reviewers() -> None:
    robot = make(
        "lkp@x", "Hi, I love your patch! Yet something to improve.\n", sender="lkp@intel.com"
    )
    facts = series_status([root(), robot], author_email=AUTHOR)
    assert (facts.status, facts.reviewed) == (Status.NEW, False)


def test_priority_applied_over_nak_and_superseded() -> None:
    mails = [
        root(),
        make("nak@x", "NAK. This is broken.\n", date=1),
        make("ok@x", "Applied to next, thanks!\n", sender="maz@kernel.org", date=2),
    ]
    facts = series_status(mails, author_email=AUTHOR, superseded_by="v3@x")
    assert (facts.status, facts.evidence, facts.naks) == (Status.APPLIED, ("ok@x",), ("nak@x",))


def test_priority_superseded_over_nak_over_changes_requested() -> None:
    mails = [
        root(),
        make("req@x", "Please fix the locking.\n", date=1),
        make("agree@x", "Will fix in v3.\n", sender=AUTHOR, parent="req@x", date=2),
        make("nak@x", "Nacked-by: Grumpy <grumpy@example.org>\n", date=3),
    ]
    # A newer revision answers the NAK: it is what readers should look at.
    facts = series_status(mails, author_email=AUTHOR, superseded_by="v3@x")
    assert (facts.status, facts.evidence) == (Status.SUPERSEDED, ("v3@x",))
    facts = series_status(mails, author_email=AUTHOR)
    assert (facts.status, facts.evidence) == (Status.NAKED, ("nak@x",))
    assert facts.changes_requested == ("req@x", "agree@x")
    without_nak = series_status(mails[:3], author_email=AUTHOR, superseded_by="v3@x")
    assert (without_nak.status, without_nak.evidence) == (Status.SUPERSEDED, ("v3@x",))
    current = series_status(mails[:3], author_email=AUTHOR)
    assert (current.status, current.evidence) == (Status.CHANGES_REQUESTED, ("req@x", "agree@x"))


@pytest.mark.parametrize(
    "line",
    ["NAK", "NACK.", "NAK. This is broken.", "NAK to this specifically.", "Nacked.", "nack"],
)
def test_nak_lines(line: str) -> None:
    mails = [root(), make("n@x", f"{line}\n", date=1)]
    assert series_status(mails, author_email=AUTHOR).status is Status.NAKED


@pytest.mark.parametrize(
    "body",
    [
        "NAK-bait-for: Someone <s@example.org>\n",  # a joke header seen in the corpus
        "On Mon, X wrote:\n> NAK\n\nWhy the NAK?\n",  # quoted
        "I'd not NAK this, but...\n",
    ],
)
def test_not_naks(body: str) -> None:
    mails = [root(), make("n@x", body, date=1)]
    assert series_status(mails, author_email=AUTHOR).status is Status.UNDER_REVIEW


def test_author_nak_of_own_series_does_not_count() -> None:
    mails = [root(), make("n@x", "NAK, sent the wrong branch.\n", sender=AUTHOR, date=1)]
    assert series_status(mails, author_email=AUTHOR).status is Status.NEW


@pytest.mark.parametrize(
    "answer",
    [
        "Good catch, will fix.",
        "Sure, will do.",
        "I'll send a v3 with this fixed.",
        "Agreed, will change it.",
        "Fixed in v3.",
        "Makes sense, will update the commit message.",
        # the author owns up to the flaw (corpus: Rob Herring, Eric Auger, Zenghui Yu)
        "Indeed, I fixed the kconfig text, but missed this.",
        "My mistake.",
        "I obviously missed these two points when writing this patch.",
        "Ah, true, I missed that file.",
    ],
)
def test_changes_requested_phrases(answer: str) -> None:
    mails = [
        root(),
        make("rev@x", "This helper is misnamed.\n", date=1),
        make(
            "ans@x",
            f"On Mon, R wrote:\n> This helper is misnamed.\n\n{answer}\n",
            sender=AUTHOR,
            parent="rev@x",
            date=2,
        ),
    ]
    facts = series_status(mails, author_email=AUTHOR)
    assert (facts.status, facts.evidence) == (Status.CHANGES_REQUESTED, ("rev@x", "ans@x"))


@pytest.mark.parametrize(
    "answer",
    [
        "This will fix the issue you reported.",  # describes the patch, agrees to nothing
        "I will do some debugging and report back.",
        "Hmm, the second hunk\nwill fix the race, the first one will not.",  # wrapped line
        "No, this is intended.",
        # conceding a point is no commitment when the argument goes on, and "forgot
        # that" opening a clause says the reviewer's reading of the patch was right
        "Ah, I missed that.  I don't think we want userspace to pick the value, though.",
        "You are right, I forgot that PMBIDR_EL1.P can also be 1 if EL3 owns it.",
        "Sorry, I completely overlooked this until now...",
        "I don't think I missed anything.",
    ],
)
def test_not_changes_requested(answer: str) -> None:
    mails = [
        root(),
        make("rev@x", "Why?\n", date=1),
        make("ans@x", f"{answer}\n", sender=AUTHOR, parent="rev@x", date=2),
    ]
    assert series_status(mails, author_email=AUTHOR).status is Status.UNDER_REVIEW


def test_weak_agreement_needs_a_request() -> None:
    request = make("rev@x", "Please split this patch in two.\n", date=1)
    question = make("rev@x", "Is this right?\n", date=1)
    answer = make("ans@x", "Sure.\n", sender=AUTHOR, parent="rev@x", date=2)
    assert series_status([root(), request, answer], author_email=AUTHOR).status is (
        Status.CHANGES_REQUESTED
    )
    assert series_status([root(), question, answer], author_email=AUTHOR).status is (
        Status.UNDER_REVIEW
    )


def test_author_with_another_address_is_still_the_author() -> None:
    other = make("o@x", "Will fix.\n", sender="author@work.example", date=2, parent="rev@x")
    other = MailFacts(
        other.message_id,
        other.parent_id,
        2,
        "Author",
        other.from_email,
        other.subject,
        other.segments,
        True,
    )
    mails = [root(), make("rev@x", "Please fix the typo.\n", date=1), other]
    assert series_status(mails, author_email=AUTHOR).status is Status.CHANGES_REQUESTED


def test_pull_status_hand_made() -> None:
    body = (
        "Paolo,\n\nPlease pull.\n\n"
        "The following changes since commit 0123456789abcdef0123456789abcdef01234567:\n\n"
        "  Linux 5.18-rc1 (2022-04-03 14:08:21 -0700)\n\n"
        "are available in the Git repository at:\n\n"
        "  git://git.kernel.org/pub/scm/linux/kernel/git/kvmarm/kvmarm.git tags/kvmarm-fixes-5.18-2\n\n"
        "for you to fetch changes up to 89abcdef0123456789abcdef0123456789abcdef:\n\n"
        "  KVM: arm64: fix (2022-04-29 16:24:55 +0100)\n"
    )
    pull_root = make(
        ROOT,
        body,
        sender=AUTHOR,
        parent=None,
        subject="[GIT PULL] KVM/arm64 fixes for 5.18, take #2",
    )
    alone = series_status([pull_root], author_email=AUTHOR)
    assert (alone.status, alone.applied) == (Status.NEW, None)
    assert (
        alone.pull is not None
        and alone.pull.tip_commit == "89abcdef0123456789abcdef0123456789abcdef"
    )
    pulled = make("p@x", "Pulled into kvm/next, thanks.\n", sender="pbonzini@redhat.com", date=1)
    facts = series_status([pull_root, pulled], author_email=AUTHOR)
    assert (facts.status, facts.evidence) == (Status.APPLIED, ("p@x",))
    assert facts.pull is not None and facts.pull.merged_by == "p@x"
    assert facts.applied is not None and facts.applied.branch == "kvm/next"
    for text in ("I'll pull this next week.", "I pulled your tag and tested it, works."):
        reply = make("w@x", f"{text}\n", sender="pbonzini@redhat.com", date=1)
        assert series_status([pull_root, reply], author_email=AUTHOR).status is (
            Status.UNDER_REVIEW
        )


def test_until_utc_and_empty() -> None:
    mails = [root(), make("ok@x", "Applied to next, thanks!\n", date=10)]
    assert series_status(mails, author_email=AUTHOR, until_utc=10).status is Status.NEW
    assert series_status(mails, author_email=AUTHOR, until_utc=11).status is Status.APPLIED
    empty = series_status([], author_email=AUTHOR)
    assert (empty.status, empty.evidence) == (Status.NEW, ())


# -- trust, drops, withdrawals, partial applications ------------------------------------------

MAINTAINER = "maz@kernel.org"


@pytest.mark.parametrize(
    ("body", "partial", "release"),
    [
        ("Queued 3+5, thanks.\n", "patches 3+5", None),
        ("Applied patches 1-2, thanks!\n", "patches 1-2", None),
        (
            "Applied the first two cleanups to arm64 (for-next/ffa), thanks!\n",
            "the first two cleanups",
            None,
        ),
        ("Queued for -rc, thanks.\n", None, "-rc"),
        ("Applied for 6.1, thanks!\n", None, "6.1"),
    ],
)
def test_partial_applications_and_releases(
    body: str, partial: str | None, release: str | None
) -> None:
    info = detect_applied(make("a", body))
    assert info is not None and info.partial == partial and info.release == release


def test_a_maintainer_queueing_a_fix_on_top_of_his_own_series_applied_it() -> None:
    """Marc, 2021-03, on his own series: "I've queued the below patch on top of the
    existing series" says the series is queued; from an author who may not apply, or
    from anyone without "existing", it is not."""
    body = "I've queued the below patch on top of the existing series.\n"
    mails = [
        make(ROOT, "Series.\n", sender=MAINTAINER, parent=None, subject="[PATCH v2 0/2] x"),
        make("fix", body, sender=MAINTAINER, date=1),
    ]
    trusted = Appliers(frozenset({MAINTAINER}), "maintainers")
    facts = series_status(mails, author_email=MAINTAINER, appliers=trusted)
    assert facts.status == Status.APPLIED and facts.evidence == ("fix",)
    stranger = Appliers(frozenset({"someone@else"}), "maintainers")
    assert series_status(mails, author_email=MAINTAINER, appliers=stranger).status == Status.NEW


def test_every_partial_application_is_evidence() -> None:
    mails = [
        root(),
        make("q1", "Queued patches 1-2, thanks.\n", sender=MAINTAINER, date=1),
        make("q2", "And patch 3 queued as well, thanks.\n", sender=MAINTAINER, date=2),
        make("q3", "Applied patch 3 to next, thanks!\n", sender=MAINTAINER, date=3),
    ]
    trusted = Appliers(frozenset({MAINTAINER}), "maintainers")
    facts = series_status(mails, author_email=AUTHOR, appliers=trusted)
    assert facts.status == Status.APPLIED
    assert facts.evidence == ("q1", "q3")
    assert [a.partial for a in facts.applied_replies] == ["patches 1-2", "patches 3"]
    # Without patch 3 only part of the series is in: the status names the patches taken.
    part = series_status(mails[:2], author_email=AUTHOR, appliers=trusted)
    assert part.status == Status.PARTLY_APPLIED
    assert part.applied is not None and part.applied.partial == "patches 1-2 of 3"


@pytest.mark.parametrize(
    "body",
    [
        "I've dropped this patch, it breaks 32bit.\n",
        "Dropped from next for now.\n",
        "I'm dropping the series until this is sorted.\n",
        "I have reverted this patch.\n",
        "I'll drop it from my queue again for the moment, then.\n",  # PMM, 2020-06
        "OK, I'll drop it from my queue.\n",
        "I'll drop it from linux-next.\n",
    ],
)
def test_a_maintainer_drops(body: str) -> None:
    mails = [root(), make("ty", "Applied to next, thanks!\n", sender=MAINTAINER, date=1)]
    mails.append(make("drop", body, sender=MAINTAINER, parent="ty", date=2))
    trusted = Appliers(frozenset({MAINTAINER}), "maintainers")
    facts = series_status(mails, author_email=AUTHOR, appliers=trusted)
    assert facts.status == Status.DROPPED and facts.evidence == ("drop",)
    outsider = series_status(
        [root(), make("drop", body, sender="x@example.org")],
        author_email=AUTHOR,
        appliers=trusted,
    )
    assert outsider.status != Status.DROPPED
    assert [c.kind for c in outsider.claims] == ["dropped"]


@pytest.mark.parametrize(
    "body",
    [
        "Dropped the check in v3 as you suggested?\n",
        "Should we drop this patch?\n",
        "I dropped the Acked-by since the patch changed.\n",
        "I'll drop it from -next if the fix doesn't show up by Friday.\n",
        "We'll remove it from the tree once the last user is gone.\n",
    ],
)
def test_not_a_drop(body: str) -> None:
    mails = [root(), make("r", body, sender=MAINTAINER)]
    trusted = Appliers(frozenset({MAINTAINER}), "maintainers")
    assert series_status(mails, author_email=AUTHOR, appliers=trusted).status != Status.DROPPED


@pytest.mark.parametrize(
    "body",
    [
        "Please ignore this email, I sent the wrong branch.\n",
        "Kindly ignore this patch, I will resend.\n",
        "Self-NAK, this breaks the build.\n",
        "Bad news; this is broken. Will come back later.\n",
        "Will send v2, ignore this.\n",
    ],
)
def test_the_author_withdraws(body: str) -> None:
    mails = [root(), make("w", body, sender=AUTHOR)]
    assert series_status(mails, author_email=AUTHOR).status == Status.WITHDRAWN


@pytest.mark.parametrize(
    ("body", "sender", "parent"),
    [
        ("This is broken, please fix.\n", "reviewer@example.org", ROOT),  # a review
        ("Please ignore this email.\n", "reviewer@example.org", ROOT),  # not the author
        ("Yes, this is broken, will fix in v3.\n", AUTHOR, "review"),  # answering a review
    ],
)
def test_not_a_withdrawal(body: str, sender: str, parent: str) -> None:
    mails = [root(), make("review", "Looks wrong.\n", date=1)]
    mails.append(make("w", body, sender=sender, parent=parent, date=2))
    assert series_status(mails, author_email=AUTHOR).status != Status.WITHDRAWN


def test_claims_never_set_the_status() -> None:
    trusted = Appliers(frozenset({MAINTAINER}), "learned")
    mails = [
        root(),
        make("fake", "Applied to next, thanks!\n", sender="mallory@evil.example", date=1),
        make("nak", "NACK.\n", sender="mallory@evil.example", date=2),
    ]
    facts = series_status(mails, author_email=AUTHOR, appliers=trusted)
    assert facts.status == Status.UNDER_REVIEW
    assert [(c.kind, c.reason) for c in facts.claims] == [
        ("NAKed", "not-applier"),
        ("applied", "not-applier"),
    ]
    assert facts.naks == ()


def test_learned_appliers_on_the_corpus(synced_db: Path) -> None:
    """The list's history teaches who applies on kvmarm: the maintainers, nobody else."""
    from lore_digest.report.trust import TrustRules

    with Store.open(synced_db) as store:
        info = store.get_list("kvmarm")
        assert info is not None
        rules = TrustRules(store, info, None)
        events = rules.events()
        learned = rules.learned(2**40)
    assert learned == {
        "maz@kernel.org",
        "marc.zyngier@arm.com",
        "will@kernel.org",
        "catalin.marinas@arm.com",
        "pbonzini@redhat.com",
        "drjones@redhat.com",
        # They answer on kvmarm for their own trees, naming the branch without b4:
        "peter.maydell@linaro.org",  # QEMU target-arm.next
        "alex.williamson@redhat.com",  # VFIO's vfio next branch
        # "Thanks, patches 3 and 4 of this series applied to my kvm-ppc-next branch."
        "paulus@ozlabs.org",  # KVM/powerpc's kvm-ppc-next, object first
    }
    assert len(events) > 250


def test_dropped_until_the_author_reworks_it() -> None:
    """Applied, then a reviewer's late objection, the maintainer drops it from his queue
    and the author agrees to change it (2020-W25, QEMU DABT series): changes requested."""
    trusted = Appliers(frozenset({MAINTAINER}), "maintainers")
    mails = [
        root(),
        make("ty", "Applied to next, thanks!\n", sender=MAINTAINER, date=1),
        make("r", "This looks fragile. I'd prefer calling the ioctl directly.\n", date=2),
        make("d", "I'll drop it from my queue for now.\n", sender=MAINTAINER, parent="r", date=3),
    ]
    agreed = make("a", "Right. Will do.\n", sender=AUTHOR, parent="r", date=4)
    facts = series_status([*mails, agreed], author_email=AUTHOR, appliers=trusted)
    assert (facts.status, facts.evidence) == (Status.CHANGES_REQUESTED, ("r", "a"))
    assert series_status(mails, author_email=AUTHOR, appliers=trusted).status == Status.DROPPED
    early = replace(agreed, date_utc=2)  # agreed before the drop: the drop is the latest
    facts = series_status([*mails[:3], early, mails[3]], author_email=AUTHOR, appliers=trusted)
    assert facts.status == Status.DROPPED


def test_a_name_after_ok_is_no_promise() -> None:
    review = make("r", "Nope, I was waiting for Will's ack for these.\n", date=1)
    reply = make("a", "OK, Will, can you review those? Thanks\n", sender=AUTHOR, parent="r", date=2)
    facts = series_status([root(), review, reply], author_email=AUTHOR)
    assert facts.status == Status.UNDER_REVIEW


def test_dropping_one_patch_does_not_drop_the_series() -> None:
    mails = [root(), make("ty", "Applied to next, thanks!\n", sender=MAINTAINER, date=1)]
    mails.append(
        make("d", "I've dropped patch 3 for now.\n", sender=MAINTAINER, parent="ty", date=2)
    )
    trusted = Appliers(frozenset({MAINTAINER}), "maintainers")
    assert series_status(mails, author_email=AUTHOR, appliers=trusted).status == Status.APPLIED


# -- issue 11: rules that read like a maintainer ----------------------------------------------

TRUSTED = Appliers(frozenset({MAINTAINER}), "maintainers")
B4_LIST = (
    "On Mon, 1 Jun 2020, Ann Author wrote:\n"
    "> This series does things.\n\n"
    "{words}\n\n"
    "[1/3] KVM: arm64: one\n      commit: 0123456789ab\n"
    "[2/3] KVM: arm64: two\n      commit: 123456789abc\n"
    "[3/3] KVM: arm64: three\n      commit: 23456789abcd\n"
)


@pytest.mark.parametrize(
    "words",
    [
        "Provisionally applied to -next, thanks!",
        "I've taken these, with a small tweak to the second one. Cheers.",
        "Picked, let's see what breaks.",
    ],
)
def test_a_b4_commit_list_applies_whatever_is_written_above_it(words: str) -> None:
    ty = make("ty", B4_LIST.format(words=words), sender=MAINTAINER, date=1)
    facts = series_status([root(), ty], author_email=AUTHOR, appliers=TRUSTED)
    assert (facts.status, facts.evidence) == (Status.APPLIED, ("ty",))
    assert facts.applied is not None and len(facts.applied.commits) == 3


def test_a_maintainer_taking_patches_inside_a_longer_sentence() -> None:
    """Will on kvmtool: "I'd prefer to use the release headers for 5.2, so I've taken the
    first three patches for now, but I'll wait for you to repost ...": patches 1-3."""
    words = (
        "I'd prefer to use the release headers for 5.2, so I've taken the first three\n"
        "patches for now, but I'll wait for you to repost once 5.2 is out before I\n"
        "take the rest.\n"
    )
    subject = "[PATCH kvmtool v4 0/8] arm64: SVE support"
    took = make("w", words, sender=MAINTAINER, subject="Re: " + subject, date=1)
    facts = series_status([root(subject), took], author_email=AUTHOR, appliers=TRUSTED)
    assert facts.status is Status.PARTLY_APPLIED
    assert facts.applied is not None and facts.applied.partial == "patches 1-3 of 8"
    # A clause that only talks about patches is no decision.
    for text in (
        "It builds, so I have tested the first three patches.\n",
        "Fine by me, and I've looked at the first three patches.\n",
        "If this breaks arm32, and we have applied it, we will have to revert.\n",
    ):
        said = make("t", text, sender=MAINTAINER, subject="Re: " + subject, date=1)
        facts = series_status([root(subject), said], author_email=AUTHOR, appliers=TRUSTED)
        assert facts.status is not Status.PARTLY_APPLIED, text


def test_subset_thank_you_and_patches_named_are_partial() -> None:
    one = B4_LIST.format(words="Applied to fixes, thanks!").split("[2/3]")[0]
    subset = make(
        "ty", one, sender=MAINTAINER, subject="Re: (subset) [PATCH v2 0/3] KVM: x", date=1
    )
    facts = series_status([root(), subset], author_email=AUTHOR, appliers=TRUSTED)
    assert facts.status is Status.PARTLY_APPLIED
    assert facts.applied is not None and facts.applied.partial == "patches 1 of 3"
    for_now = make("f", "Queued patches 2-3 for now, thanks.\n", sender=MAINTAINER, date=1)
    facts = series_status([root(), for_now], author_email=AUTHOR, appliers=TRUSTED)
    assert facts.applied is not None and facts.applied.partial == "patches 2-3 of 3"
    named = make("q", "Applied patches 1-2 to next, thanks.\n", sender=MAINTAINER, date=1)
    facts = series_status([root(), named], author_email=AUTHOR, appliers=TRUSTED)
    assert facts.status is Status.PARTLY_APPLIED
    assert facts.applied is not None and facts.applied.partial == "patches 1-2 of 3"


def test_a_b4_list_without_the_patch_the_tree_already_has_is_whole() -> None:
    """Marc's b4 list of qperret's v4 lists 20 of 21: "Note that patch #4 has been used
    as the base for this series, and is already part of the mapping level rework"."""
    two = B4_LIST.format(words="Applied to next, thanks!").replace(
        "[2/3] KVM: arm64: two\n      commit: 123456789abc\n", ""
    )
    ty = make("ty", two, sender=MAINTAINER, date=1)
    assert series_status([root(), ty], author_email=AUTHOR, appliers=TRUSTED).status is (
        Status.PARTLY_APPLIED
    )
    noted = make(
        "ty",
        two + "\nNote that patch #2 has been used as the base for this series, and is\n"
        "already part of the mapping level rework.\n",
        sender=MAINTAINER,
        date=1,
    )
    facts = series_status([root(), noted], author_email=AUTHOR, appliers=TRUSTED)
    assert facts.status is Status.APPLIED
    for words in (
        "Patch 2 is not applied: it still needs an ack.",
        "The fix for patch 2 is already queued in Will's tree.",
        "Patch 2 of the other series is already in -next.",
        "Note that patch 7 is already part of the rework.",  # no patch 7 in a 3-patch series
    ):
        not_in = make("ty", two + "\n" + words + "\n", sender=MAINTAINER)
        facts = series_status([root(), not_in], author_email=AUTHOR, appliers=TRUSTED)
        assert facts.status is Status.PARTLY_APPLIED, words


def test_patches_queued_on_one_branch_and_the_rest_on_another_is_whole() -> None:
    """Catalin on Mark Brown's SME v14: "I queued patches 3-27 on the arm64
    for-next/sme, the rest went on the for-next/kselftest branch"."""
    words = (
        "I queued patches 2-3 on the arm64 for-next/sme, the rest went on the\n"
        "for-next/kselftest branch but b4 didn't handle this well.\n"
    )
    info = detect_applied(make("q", words, sender=MAINTAINER, date=1))
    assert info is not None and (info.branch, info.partial) == ("arm64 for-next/sme", None)
    facts = series_status(
        [root(), make("q", words, sender=MAINTAINER, date=1)],
        author_email=AUTHOR,
        appliers=TRUSTED,
    )
    assert facts.status is Status.APPLIED
    for words in (
        "Applied patches 2-3 to kvmarm/next, the rest are on hold for now.\n",
        "Applied patches 2-3 to kvmarm/next, the others are in need of rework.\n",
        "Applied patches 2-3 to kvmarm/next, the rest go through tip once acked.\n",
    ):
        said = make("h", words, sender=MAINTAINER, date=1)
        facts = series_status([root(), said], author_email=AUTHOR, appliers=TRUSTED)
        assert facts.status is Status.PARTLY_APPLIED, words
    only = make("o", "I queued patches 2-3 on for-next/sme.\n", sender=MAINTAINER, date=1)
    facts = series_status([root(), only], author_email=AUTHOR, appliers=TRUSTED)
    assert facts.applied is not None and facts.applied.partial == "patches 2-3 of 3"


def test_a_revision_continuing_an_applied_ones_numbering_is_whole() -> None:
    """Fuad's v8 1-11 applied, then Marc's v9 posted in reply to 11/11 as 12-22 of 22
    ("I won't be reposting the initial 11 patches") and applied: all 22 are in."""
    v8 = root("[PATCH v8 0/2] KVM: arm64: fixed features")
    v8_ty = make(
        "ty8",
        "Applied to next, thanks!\n\n[1/2] KVM: arm64: one\n      commit: 0123456789ab\n"
        "[2/2] KVM: arm64: two\n      commit: 123456789abc\n",
        sender=MAINTAINER,
        subject="Re: [PATCH v8 0/2] KVM: arm64: fixed features",
        date=5,
    )
    title = "KVM: arm64: fixed features"
    v9 = make("v9", "An update.\n", sender=MAINTAINER, subject=f"[PATCH v9 0/3] {title}", date=1)
    v9_3 = make(
        "v9-3", "A fix.\n", sender=MAINTAINER, parent="v9", subject="[PATCH v9 3/3] three", date=2
    )
    v9_ty = make(
        "ty9",
        "Applied to next, thanks!\n\n[3/3] three\n      commit: 23456789abcd\n",
        sender=MAINTAINER,
        parent="v9",
        subject="Re: [PATCH v9 0/3] x",
        date=6,
    )

    def v9_status(*mails: MailFacts) -> StatusFacts:
        return series_status(
            mails, author_email=MAINTAINER, appliers=TRUSTED, revision_ids={"v9", "v9-3"}, total=3
        )

    facts = v9_status(v8, v9, v9_3, v8_ty, v9_ty)
    assert (facts.status, facts.evidence) == (Status.APPLIED, ("ty9", "ty8"))
    # Without the earlier list, with an untrusted one, or with another series' list in
    # the thread, patches 1-2 are not known.
    assert v9_status(v8, v9, v9_3, v9_ty).status is Status.PARTLY_APPLIED
    other = replace(v8, subject=parse_subject("[PATCH v8 0/2] tools: unrelated"))
    assert v9_status(other, v9, v9_3, v8_ty, v9_ty).status is Status.PARTLY_APPLIED
    forged = replace(v8_ty, from_email="mallory@example.org")
    assert v9_status(v8, v9, v9_3, forged, v9_ty).status is Status.PARTLY_APPLIED


def test_a_reposted_patch_an_earlier_list_took_matches_by_title() -> None:
    """v1's list took "KVM: arm64: one"; v2 (posted in the thread) repeats it as 1/2 and
    its own list takes 2/2: both are in. Another title does not match."""
    v1_ty = make(
        "ty1",
        "Applied to next, thanks!\n\n[1/3] KVM: arm64: One.\n      commit: 0123456789ab\n",
        sender=MAINTAINER,
        subject="Re: (subset) [PATCH 0/3] KVM: arm64: something",
        date=1,
    )
    v2 = make(
        "v2", "Rebased.\n", sender=AUTHOR, subject="[PATCH v2 0/2] KVM: arm64: something", date=2
    )

    def status(first_title: str) -> Status:
        v2_1 = make(
            "v2-1", "-\n", sender=AUTHOR, parent="v2", subject=f"[PATCH v2 1/2] {first_title}"
        )
        v2_2 = make("v2-2", "-\n", sender=AUTHOR, parent="v2", subject="[PATCH v2 2/2] KVM: two")
        v2_ty = make(
            "ty2",
            "Applied to next, thanks!\n\n[2/2] KVM: two\n      commit: 123456789abc\n",
            sender=MAINTAINER,
            parent="v2",
            subject="Re: [PATCH v2 0/2] x",
            date=3,
        )
        mails = [root("[PATCH 0/3] KVM: arm64: something"), v1_ty, v2, v2_1, v2_2, v2_ty]
        ids = {"v2", "v2-1", "v2-2"}
        facts = series_status(mails, author_email=AUTHOR, appliers=TRUSTED, revision_ids=ids)
        return facts.status

    assert status("KVM: arm64: one") is Status.APPLIED
    assert status("KVM: arm64: another one") is Status.PARTLY_APPLIED


def test_applied_in_reply_to_one_patch_took_that_patch() -> None:
    on_two = make(
        "a2", "Applied to next, thanks!\n", sender=MAINTAINER, subject="Re: [PATCH v2 2/3] KVM: two"
    )
    facts = series_status([root(), on_two], author_email=AUTHOR, appliers=TRUSTED)
    assert facts.status is Status.PARTLY_APPLIED
    ty_one = make(
        "ty1",
        "Applied to next, thanks!\n\n[1/1] KVM: two\n      commit: 0123456789ab\n",
        sender=MAINTAINER,
        subject="Re: [PATCH v2 2/3] KVM: two",
    )
    info = detect_applied(ty_one)
    assert info is not None and info.patches == (2,)
    whole = make(
        "w",
        "Applied the whole series, thanks!\n",
        sender=MAINTAINER,
        subject="Re: [PATCH v2 3/3] x",
    )
    facts = series_status([root(), whole], author_email=AUTHOR, appliers=TRUSTED)
    assert facts.status is Status.APPLIED


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        ("I'll take the series into the kvmarm tree.\n", True),
        ("I'll queue them up and push them into tip/perf/core.\n", True),
        ("Looks good. I can pick this up. Thanks.\n", True),
        ("If you respin it with the fix, I'll take it.\n", False),
        ("I'll take a look next week.\n", False),
        ("Just post the revised patch, and we'll take it from there.\n", False),
        ("Will you take it via your tree?\n", False),
    ],
)
def test_a_maintainers_promise_is_accepted_not_applied(body: str, accepted: bool) -> None:
    promise = make("p", body, sender=MAINTAINER, date=1)
    facts = series_status([root(), promise], author_email=AUTHOR, appliers=TRUSTED)
    assert (facts.status is Status.ACCEPTED) is accepted
    if accepted:
        assert facts.evidence == ("p",)
    stranger = make("s", body, sender="mallory@example.org", date=1)
    facts = series_status([root(), stranger], author_email=AUTHOR, appliers=TRUSTED)
    assert facts.status is not Status.ACCEPTED  # only who may apply can promise to


def test_the_latest_decisive_event_wins() -> None:
    asked = make("req", "Please fix the locking.\n", date=1)
    agreed = make("ok", "Will fix in v3.\n", sender=AUTHOR, parent="req", date=2)
    promise = make("p", "I'll queue it.\n", sender=MAINTAINER, date=3)
    facts = series_status([root(), asked, agreed, promise], author_email=AUTHOR, appliers=TRUSTED)
    assert facts.status is Status.ACCEPTED
    later = make("again", "Please also fix the comment.\n", sender=MAINTAINER, parent="p", date=4)
    sure = make("sure", "Sure, will do.\n", sender=AUTHOR, parent="again", date=5)
    mails = [root(), asked, agreed, promise, later, sure]
    facts = series_status(mails, author_email=AUTHOR, appliers=TRUSTED)
    assert facts.status is Status.CHANGES_REQUESTED
    ty = make("ty", "Applied to next, thanks!\n", sender=MAINTAINER, date=6)
    facts = series_status([*mails, ty], author_email=AUTHOR, appliers=TRUSTED)
    assert (facts.status, facts.evidence) == (Status.APPLIED, ("ty",))


@pytest.mark.parametrize(
    ("review", "reply", "requested"),
    [
        ("Please rename foo to bar.\n", "Good point.\n", False),
        ("Please rename foo to bar.\n", "Good point, will do.\n", True),
        ("Please Cc the x86 folks next time.\n", "Sure, will do next time.\n", False),
        (
            "Nit: typo. No need to resend, I'll fix it when applying.\n",
            "Thanks, will fix.\n",
            False,
        ),
        ("Can you drop the wrapper?\n", "Absolutely. That'd be nicer.\n", True),
        ("Can we just drop the flag instead of clearing it?\n", "Absolutely.\n", True),
        ("I had a look, it works as described.\n", "Absolutely.\n", False),
        ("Please use mov_q here.\n", "I'll switch to that in v2.\n", True),
        ("You are missing the SPDX line.\n", "Definitely should add these two.\n", True),
        ("Tested on my box, works.\n", "Thanks, I will respin both series.\n", False),
        ("This is wrong, it races.\n", "I'll send a v3 with this fixed.\n", True),
        # Shortened from the corpus (status labels 2020-W16, 2021-W02, 2021-W08, 2021-W47).
        (
            "We don't add IMPDEF sysregs, period.\n",
            "If this is true, I need to avoid using IMPDEF DFSC in next revision :)\n",
            True,
        ),
        ("I need to avoid X.\n", "I need to check that in the next version.\n", False),
        (
            "So simply setting a lower value for EXACT features is not safe.\n",
            "Right. So let's go with the safe value for EXACT features for now.\n",
            True,
        ),
        ("Looks fine.\n", "Let's go with this version then.\n", False),
        ("Minor nitpick: the M1 has two kinds of CPU.\n", "Fair enough. How about...\n", True),
        ("Nit: this removes the only user. Keep it?\n", "Indeed. Now gone.\n", True),
        (
            "Nits: naming. Feel free to ignore them if you don't want to respin.\n",
            "OK\n",
            False,
        ),
        # What the new phrases must not catch (found in review).
        ("Please rename x.\n", "I don't think we need to change this for v3.\n", False),
        ("Please rename x.\n", "Do I need to fix this in v3 as well?\n", False),
        ("Please rename x.\n", "We need to fix this for v5.18 anyway.\n", False),
        ("Why this?\n", "Let's go with the current version and revisit later.\n", False),
        ("Nit: naming.\n", "Fair enough. I'll leave it as is then.\n", False),
        ("No nits from me.\n", "Fair enough.\n", False),
        ("A nit-pick: typo.\n", "Fair enough.\n", True),
        (
            "A few nits, feel free to ignore them. But the locking in patch 3 is broken.\n",
            "Will fix the locking in v3.\n",
            True,
        ),
        ("Please rename x.\n", "OK Will. Can you pick it up?\n", False),
        ("Please rename x.\n", "Right, Will is the one to ask.\n", False),
    ],
)
def test_changes_requested_needs_a_concrete_change_and_a_commitment(
    review: str, reply: str, requested: bool
) -> None:
    mails = [root(), make("r", review, date=1), make("a", reply, sender=AUTHOR, parent="r", date=2)]
    facts = series_status(mails, author_email=AUTHOR)
    assert (facts.status is Status.CHANGES_REQUESTED) is requested


@pytest.mark.parametrize(
    ("reply", "requested", "from_another_author"),
    [
        ("yeah. I'll fix that up, thanks for pointing this out.\n", False, True),
        ("Absolutely. I'll fold that in.\n", False, True),
        ("See below what I intend to fold in.\n", False, False),
        ("I'll fix that up in v2.\n", True, True),
        ("Will fix and respin.\n", True, True),
        ("I'll fix that up and re-send.\n", True, True),
        ("I'll fix that up in the next iteration.\n", True, True),
        ("I'll fold that in and post an updated series.\n", True, True),
    ],
)
def test_a_maintainer_folding_a_fix_into_his_own_series_is_no_respin(
    reply: str, requested: bool, from_another_author: bool
) -> None:
    """Marc's own KVM-PTP v17: Will's "Maybe even test_bit()?", Marc "I'll fix that up":
    he applies it himself, fixed. From an author who does not apply, it is a respin."""
    review = make("r", "Please use test_bit() here.\n", sender="will@kernel.org", date=1)
    answer = make("a", reply, sender=MAINTAINER, parent="r", date=2)
    mails = [root(), review, answer]
    own = [replace(mails[0], from_email=MAINTAINER), review, answer]
    facts = series_status(own, author_email=MAINTAINER, appliers=TRUSTED)
    assert (facts.status is Status.CHANGES_REQUESTED) is requested
    someone = [mails[0], review, replace(answer, from_email=AUTHOR)]
    facts = series_status(someone, author_email=AUTHOR, appliers=TRUSTED)
    assert (facts.status is Status.CHANGES_REQUESTED) is from_another_author


def test_a_revision_is_judged_on_its_own_mail() -> None:
    """v2 sent in reply to v1: v1's review and the author's agreement are history."""
    v1 = root("[PATCH 0/3] KVM: arm64: something")
    review = make("r1", "Please fix the locking.\n", subject="Re: [PATCH 0/3] x", date=1)
    agreed = make("a1", "Will fix in v2.\n", sender=AUTHOR, parent="r1", subject="Re: x", date=2)
    v2 = make("v2", "Fixed.\n", sender=AUTHOR, parent=ROOT, subject="[PATCH v2 0/3] x", date=3)
    mails = [v1, review, agreed, v2]
    facts = series_status(mails, author_email=AUTHOR, revision_ids={"v2"})
    assert (facts.status, facts.reviewed) == (Status.NEW, False)
    other = make(
        "o",
        "Here is my take.\n",
        sender="rival@example.org",
        parent="v2",
        subject="[PATCH v2 0/3] y",
        date=4,
    )
    answer = make("oa", "Reviewed-by: R <r@example.org>\n", parent="o", date=5)
    facts = series_status([*mails, other, answer], author_email=AUTHOR, revision_ids={"v2"})
    assert facts.status is Status.NEW  # another series posted inside the thread


def test_a_reply_whose_parent_is_missing_keeps_its_own_author() -> None:
    ghost = make("g", "Reviewed-by: R <reviewer@example.org>\n", parent=None)
    facts = series_status([ghost], author_email="")
    assert (facts.status, facts.evidence) == (Status.UNDER_REVIEW, ("g",))


def test_thank_you_mails_are_not_review() -> None:
    ty = make("ty", "Applied to next, thanks!\n", sender="mallory@example.org", date=1)
    facts = series_status([root(), ty], author_email=AUTHOR, appliers=TRUSTED)
    assert (facts.status, facts.reviewed) == (Status.NEW, False)
    assert [c.kind for c in facts.claims] == ["applied"]


@pytest.mark.parametrize(
    "body",
    [
        "I don't intend to resend this series at the moment.\n",
        "Kindly ignore this patch, I will resend.\n",
    ],
)
def test_the_author_gives_up_or_withdraws_in_reply(body: str) -> None:
    asked = make("q", "What about the other case?\n", date=1)
    takes_back = make("w", body, sender=AUTHOR, parent="q" if "intend" in body else ROOT, date=2)
    facts = series_status([root(), asked, takes_back], author_email=AUTHOR)
    assert (facts.status, facts.evidence) == (Status.WITHDRAWN, ("w",))


def test_a_patch_of_the_series_is_no_withdrawal() -> None:
    patch = make(
        "p2",
        "The current code is broken: this patch is broken out of the old one.\n",
        sender=AUTHOR,
        subject="[PATCH v2 2/3] KVM: fix it",
    )
    assert series_status([root(), patch], author_email=AUTHOR).status is Status.NEW


@pytest.mark.parametrize(
    ("body", "naked"),
    [
        ("No, this cannot be a blanket change. There is no way this is acceptable.\n", True),
        ("I won't take this, it papers over the real bug.\n", True),
        ("Is this acceptable for stable?\n", False),
        ("This is acceptable to me.\n", False),
    ],
)
def test_a_flat_refusal_is_a_nak(body: str, naked: bool) -> None:
    facts = series_status([root(), make("n", body, sender=MAINTAINER)], author_email=AUTHOR)
    assert (facts.status is Status.NAKED) is naked


def test_a_promise_for_one_patch_of_a_series_is_not_the_series() -> None:
    on_patch = "Re: [PATCH v2 2/3] KVM: arm64: two"
    one = make("p", "We can go ahead and take this patch.\n", sender=MAINTAINER, subject=on_patch)
    facts = series_status([root(), one], author_email=AUTHOR, appliers=TRUSTED)
    assert facts.status is not Status.ACCEPTED
    lot = make(
        "l",
        "Looks good, so I'm going to queue this lot anyway!\n",
        sender=MAINTAINER,
        subject=on_patch,
    )
    facts = series_status([root(), lot], author_email=AUTHOR, appliers=TRUSTED)
    assert facts.status is Status.ACCEPTED
    whole = make("w", "I'll take the whole series.\n", sender=MAINTAINER, subject=on_patch)
    facts = series_status([root(), whole], author_email=AUTHOR, appliers=TRUSTED)
    assert facts.status is Status.ACCEPTED


def test_a_follow_up_that_takes_a_review_on_board_pairs_with_that_review() -> None:
    review = make("r", "I'd drop the blockable parameter, nobody uses it.\n", date=1)
    own = make("o", "This doesn't even compile.\n", sender=AUTHOR, date=2)
    fixed = make(
        "f",
        "I've fixed it locally, incorporating Suzuki's feedback at the same time.\n",
        sender=AUTHOR,
        parent="o",
        date=3,
    )
    facts = series_status([root(), review, own, fixed], author_email=AUTHOR)
    assert (facts.status, facts.evidence) == (Status.CHANGES_REQUESTED, ("r", "f"))


def test_a_backport_turned_down_is_naked() -> None:
    autosel = root("[PATCH AUTOSEL 5.11 36/67] KVM: arm64: Use BUG and BUG_ON in nVHE hyp")
    no = make(
        "n", "This *really* isn't stable material. Please drop this patch.\n", sender=MAINTAINER
    )
    ok = make("o", "Will do, thanks!\n", sender=AUTHOR, parent="n", date=1)
    facts = series_status([autosel, no, ok], author_email=AUTHOR, appliers=TRUSTED)
    assert (facts.status, facts.evidence) == (Status.NAKED, ("n",))
    # in a normal series, "please drop this patch" asks for a change, it rejects nothing
    facts = series_status([root(), no, ok], author_email=AUTHOR, appliers=TRUSTED)
    assert facts.status is not Status.NAKED


@pytest.mark.parametrize(
    ("body", "learned"),
    [
        ("Applied to target-arm.next, thanks.\n\n-- PMM\n", True),
        ("Applied to kvmarm/next and booted on a Juno, no issues.\n", False),
        ("Applied on v5.18-rc1, thanks.\n", False),
        ("Applied to next, thanks.\n\nTested-by: T <t@example.org>\n", False),
    ],
)
def test_only_a_maintainers_apply_teaches_who_applies(body: str, learned: bool) -> None:
    from lore_digest.facts.appliers import BRANCH_APPLIED, applier_events

    reply = make("ty", body, sender="pm@example.org", parent=ROOT, date=1)
    kinds = [event.kind for event in applier_events(reply, root())]
    assert kinds == ([BRANCH_APPLIED] if learned else [])


@pytest.mark.parametrize(
    "body",
    [
        "Should this break arm32, and we have applied it, we revert.\n",
        "In case it matters, and we have applied it already, say so.\n",
    ],
)
def test_a_clause_under_a_leading_condition_is_no_apply(body: str) -> None:
    facts = series_status([root(), make("m", body, sender=MAINTAINER, date=1)], author_email=AUTHOR)
    assert facts.status not in (Status.APPLIED, Status.PARTLY_APPLIED)
