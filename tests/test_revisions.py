"""facts.revisions and facts.changelog: revision chains and per-version changelogs.

Real series of the kvmarm corpus (2019-2022) check each linking rule and the changelog
styles authors use; hand-made postings cover what the corpus lacks (b4 change-ids, RESENDs,
RFC numbering restarting at v1) and the edges of the changelog parser.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lore_digest.facts.changelog import MAX_CHARS, changelog_for_version
from lore_digest.facts.postings import MemoryPostings
from lore_digest.facts.revisions import RevisionChain, RevisionIndex, msgid_from_url
from lore_digest.mail.mime import message_text
from lore_digest.mail.subject import parse_subject
from lore_digest.store.db import Store, StoredMessage

FAR_FUTURE = 2**40
WEEK = 7 * 86400


# --- the real corpus -------------------------------------------------------------------


@dataclass
class Corpus:
    """The synced kvmarm list, its messages and a revision index that counts raw reads."""

    store: Store
    messages: list[StoredMessage]
    index: RevisionIndex
    build_s: float
    loaded: list[int]

    def posting(self, subject_part: str) -> StoredMessage:
        """The one non-reply mail whose subject contains `subject_part`."""
        found = [
            m
            for m in self.messages
            if subject_part in m.subject and not parse_subject(m.subject).is_reply
        ]
        assert len(found) == 1, [m.subject for m in found]
        return found[0]

    def cover_text(self, subject_part: str) -> str:
        msg = self.posting(subject_part)
        return message_text(self.store.raw_bytes(msg.pk)).text


@pytest.fixture(scope="module")
def corpus(synced_db: Path) -> Iterator[Corpus]:
    with Store.open(synced_db) as store:
        listing = store.get_list("kvmarm")
        assert listing is not None
        messages = store.messages_between(listing.id, 0, FAR_FUTURE)
        loaded: list[int] = []

        def load_raw(pks: list[int]) -> dict[int, bytes]:
            loaded.extend(pks)
            return store.raw_many(pks)

        start = time.perf_counter()
        index = RevisionIndex(MemoryPostings(messages), load_raw)
        build_s = time.perf_counter() - start
        yield Corpus(store, messages, index, build_s, loaded)


def versions(chain: RevisionChain) -> list[int]:
    return [r.version for r in chain.earlier]


def reasons(chain: RevisionChain) -> set[str]:
    return {chain.link_reason[r.message_id] for r in chain.earlier}


def test_chain_by_title_and_author(corpus: Corpus) -> None:
    """Sean Christopherson's memslot series: no links in the covers, same title each time."""
    root = corpus.posting("[PATCH v4 00/19] KVM: Dynamically size memslot arrays")
    chain = corpus.index.chain(root, FAR_FUTURE)
    assert chain is not None
    assert chain.current.version == 4 and chain.current.message_id == root.message_id
    assert versions(chain) == [1, 2, 3]
    assert reasons(chain) == {"title+author"}
    assert chain.earlier[0].subject == "[PATCH 00/13] KVM: Dynamically size memslot arrays"
    assert [r.date_utc for r in chain.earlier] == sorted(r.date_utc for r in chain.earlier)
    assert chain.newer is not None and chain.newer.version == 5
    assert chain.link_reason[chain.newer.message_id] == "title+author"


def test_chain_by_lore_links(corpus: Corpus) -> None:
    """Steven Price's stolen time v7 lists every earlier version under "Changes from vN:"."""
    root = corpus.posting("[PATCH v7 00/10] arm64: Stolen time support")
    chain = corpus.index.chain(root, FAR_FUTURE)
    assert chain is not None
    assert versions(chain) == [1, 2, 3, 4, 5, 6]
    assert reasons(chain) == {"link"}
    assert chain.earlier[0].message_id == "20190802145017.42543-1-steven.price@arm.com"
    assert chain.newer is None  # v7 is the latest posting in the corpus


def test_links_follow_renames_and_coverless_versions(corpus: Corpus) -> None:
    """v3 of the mixed-width fix was posted without a cover, under its first patch's title."""
    root = corpus.posting("[PATCH v6 0/2] KVM: arm64: mixed-width check should be skipped")
    chain = corpus.index.chain(root, FAR_FUTURE)
    assert chain is not None
    assert versions(chain) == [1, 2, 3, 4, 5]
    assert reasons(chain) == {"link"}
    assert chain.earlier[2].subject.startswith(
        "[PATCH v3 1/3] KVM: arm64: Generalise VM features into a set of flags"
    )


def test_link_labelled_in_a_footnote_across_authors(corpus: Corpus) -> None:
    """Marc Zyngier reposted Jianyong Wu's ptp_kvm v16 under a new title: "* From v16 [0]:"."""
    root = corpus.posting("[PATCH v17 0/7] KVM: arm64: Add host/guest KVM-PTP support")
    chain = corpus.index.chain(root, FAR_FUTURE)
    assert chain is not None
    v16 = chain.earlier[-1]
    assert v16.version == 16 and v16.from_email != root.from_email
    assert chain.link_reason[v16.message_id] == "link"
    assert 10 in versions(chain)  # reached through v16's own chain (same title, RFC v10)


def test_v2_sent_in_reply_to_v1(corpus: Corpus) -> None:
    root = corpus.posting("[PATCH v2 0/2] A couple of EL2 refcounts fixes")
    chain = corpus.index.chain(root, FAR_FUTURE)
    assert chain is not None
    assert root.in_reply_to is not None
    assert versions(chain) == [1]
    assert chain.link_reason[chain.earlier[0].message_id] == "link"


def test_rfc_then_patch_by_an_author_who_changed_address(corpus: Corpus) -> None:
    rfc = corpus.posting("[RFC][PATCH 0/4] arm64:kvm: teach guest sched that VCPUs")
    v2 = corpus.posting("[PATCHv2 0/4] arm64:kvm: teach guest sched that VCPUs")
    assert rfc.from_email != v2.from_email
    chain = corpus.index.chain(v2, FAR_FUTURE)
    assert chain is not None
    assert [r.message_id for r in chain.earlier] == [rfc.message_id]
    older = corpus.index.chain(rfc, FAR_FUTURE)
    assert older is not None and older.newer is not None
    assert older.newer.message_id == v2.message_id


def test_newer_only_before_until(corpus: Corpus) -> None:
    v6 = corpus.posting("[PATCH v6 00/10] arm64: Stolen time support")
    v7 = corpus.posting("[PATCH v7 00/10] arm64: Stolen time support")
    superseded = corpus.index.chain(v6, FAR_FUTURE)
    assert superseded is not None and superseded.newer is not None
    assert superseded.newer.message_id == v7.message_id
    assert superseded.newer.version == 7
    assert versions(superseded) == [1, 2, 3, 4, 5]
    at_the_time = corpus.index.chain(v6, v7.date_utc)
    assert at_the_time is not None and at_the_time.newer is None


def test_not_a_series_posting(corpus: Corpus) -> None:
    reply = next(m for m in corpus.messages if m.subject.startswith("Re: [PATCH v7 00/10] arm64"))
    assert corpus.index.chain(reply, FAR_FUTURE) is None
    patch3 = corpus.posting("[PATCH v7 03/10] KVM: arm64: Implement PV_TIME_FEATURES call")
    assert corpus.index.chain(patch3, FAR_FUTURE) is None


def test_whole_corpus_figures(corpus: Corpus) -> None:
    """Every series posting queried once, as the weekly reports do (until = end of its week)."""
    roots = [
        m
        for m in corpus.messages
        if "[" in m.subject
        and (s := parse_subject(m.subject)).is_patch
        and not s.is_reply
        and s.counter in (None, 0, 1)
    ]
    chains: dict[str, RevisionChain] = {}  # by the posting that stands for the series
    queried = 0
    worst = 0.0
    start = time.perf_counter()
    for msg in roots:
        began = time.perf_counter()
        chain = corpus.index.chain(msg, (msg.date_utc // WEEK + 1) * WEEK)
        worst = max(worst, time.perf_counter() - began)
        queried += 1
        if chain is not None:
            chains[chain.current.message_id] = chain
    mean_ms = 1000 * (time.perf_counter() - start) / queried

    later = [c for c in chains.values() if c.current.version >= 2]
    linked = [c for c in later if c.earlier]
    by_reason = collections.Counter(r for c in linked for r in reasons(c))
    print(
        f"\nrevision index: {len(corpus.messages)} messages, build {corpus.build_s * 1000:.0f} ms;"
        f" {queried} covers and first patches queried, mean {mean_ms:.3f} ms, worst {worst * 1000:.1f} ms;"
        f" {len(chains)} series postings; {len(corpus.loaded)} cover letters read;"
        f" version>=2: {len(linked)}/{len(later)} found an earlier revision;"
        f" chains using each rule: {dict(by_reason)}"
    )
    assert corpus.build_s < 1.0
    assert mean_ms < 5.0
    assert len(corpus.loaded) == len(set(corpus.loaded))  # each cover letter read once
    assert len(chains) > 1200
    assert len(linked) > 0.8 * len(later)
    assert by_reason["link"] > 100 and by_reason["title+author"] > 300


# --- hand-made postings ----------------------------------------------------------------

DAY = 86400


class Mailbox:
    """Builds StoredMessages with bodies, and a load_raw that records what it is asked."""

    def __init__(self) -> None:
        self.messages: list[StoredMessage] = []
        self.raw: dict[int, bytes] = {}
        self.requests: list[list[int]] = []

    def post(
        self,
        subject: str,
        day: float,
        body: str = "",
        author: str = "ann@example.org",
        name: str = "Ann Author",
        in_reply_to: str | None = None,
    ) -> StoredMessage:
        pk = len(self.messages) + 1
        msgid = f"m{pk}@example.org"
        msg = StoredMessage(
            pk=pk,
            message_id=msgid,
            date_utc=1_600_000_000 + int(day * DAY),
            date_offset=0,
            date_source="header",
            from_name=name,
            from_email=author,
            subject=subject,
            in_reply_to=in_reply_to,
            references=(in_reply_to,) if in_reply_to else (),
            thread_id=pk,
        )
        self.messages.append(msg)
        self.raw[pk] = (
            f"From: {name} <{author}>\nMessage-ID: <{msgid}>\nSubject: {subject}\n"
            f"Content-Type: text/plain\n\n{body}\n"
        ).encode()
        return msg

    @property
    def load_raw(self) -> Callable[[list[int]], dict[int, bytes]]:
        def load(pks: list[int]) -> dict[int, bytes]:
            self.requests.append(list(pks))
            return {pk: self.raw[pk] for pk in pks}

        return load

    def index(self, threads: dict[str, int] | None = None) -> RevisionIndex:
        """The index; `threads` maps the Message-IDs of replies to their thread ids."""
        return RevisionIndex(MemoryPostings(self.messages), self.load_raw, (threads or {}).get)


def b4_cover(text: str, change_id: str) -> str:
    return (
        f"{text}\n\n---\nAnn Author (2):\n  foo: one\n  foo: two\n\n"
        f" foo.c | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n---\n"
        f"base-commit: 0123456789abcdef\nchange-id: {change_id}\n\nBest regards,\n-- \nAnn\n"
    )


def test_change_id_links_renamed_series_and_reads_lazily() -> None:
    box = Mailbox()
    v1 = box.post("[PATCH 0/2] foo: first idea", 0, b4_cover("Hi", "20200101-foo-1a2b3c"))
    box.post("[PATCH 0/3] bar: unrelated", 1, b4_cover("Hi", "20200102-bar-4d5e6f"))
    v2 = box.post(
        "[PATCH v2 0/2] foo: a better name",
        10,
        b4_cover("Changes in v2:\n- x", "20200101-foo-1a2b3c"),
    )
    v3 = box.post(
        "[PATCH v3 0/2] foo: the final name",
        20,
        b4_cover("Changes in v3:\n- y", "20200101-foo-1a2b3c"),
    )
    index = box.index()
    assert box.requests == []  # building reads no mail
    chain = index.chain(v3, FAR_FUTURE)
    assert chain is not None
    assert [r.message_id for r in chain.earlier] == [v1.message_id, v2.message_id]
    assert set(chain.link_reason.values()) == {"change-id"}
    read = [pk for batch in box.requests for pk in batch]
    assert len(read) == len(set(read))
    middle = index.chain(v2, FAR_FUTURE)
    assert middle is not None and middle.newer is not None
    assert middle.newer.message_id == v3.message_id
    assert middle.link_reason[v3.message_id] == "change-id"
    again = [pk for batch in box.requests for pk in batch]
    assert len(again) == len(set(again))  # nothing read twice


def test_link_forms_in_cover_letters() -> None:
    box = Mailbox()
    v1 = box.post("[PATCH 0/2] foo: one", 0)
    v2 = box.post("[PATCH v2 0/2] foo: two", 5)
    dep = box.post("[PATCH 0/5] bar: a dependency", 6)
    v3 = box.post(
        "[PATCH v3 0/2] foo: three",
        10,
        "This series is based on [1].\n\n"
        f"Changes since v2 [2]:\n- things\n\n"
        f"[1] https://lore.kernel.org/all/{dep.message_id}/\n"
        f"[2] https://lore.kernel.org/kvmarm/{v2.message_id}/T/#u\n",
    )
    v4 = box.post(
        "[PATCH v4 0/2] foo: four",
        15,
        f"Changes in v4:\n- more\n- Link to v3: https://lore.kernel.org/r/{v3.message_id}\n",
    )
    box.post(
        "[PATCH v2 0/2] foo: two (other thread)",
        16,
        f"v1: https://patch.msgid.link/{v1.message_id}\n",
    )
    index = box.index()
    chain = index.chain(v4, FAR_FUTURE)
    assert chain is not None
    assert [r.message_id for r in chain.earlier] == [v2.message_id, v3.message_id]
    assert chain.link_reason == {v2.message_id: "link", v3.message_id: "link"}
    assert dep.message_id not in {r.message_id for r in chain.earlier}


def test_resend_replaces_original_and_supersedes_it() -> None:
    box = Mailbox()
    v2 = box.post("[PATCH v2] foo: fix it", 0)
    v3 = box.post("[PATCH v3] foo: fix it", 5)
    resend = box.post("[RESEND PATCH v3] foo: fix it", 30)
    v4 = box.post("[PATCH v4] foo: fix it", 40)
    index = box.index()
    chain = index.chain(v4, FAR_FUTURE)
    assert chain is not None
    assert [r.message_id for r in chain.earlier] == [v2.message_id, resend.message_id]
    original = index.chain(v3, FAR_FUTURE)
    assert original is not None and original.newer is not None
    assert original.newer.message_id == resend.message_id
    assert [r.version for r in original.earlier] == [2]
    resent = index.chain(resend, FAR_FUTURE)
    assert resent is not None and [r.version for r in resent.earlier] == [2]
    assert resent.newer is not None and resent.newer.message_id == v4.message_id


def test_rfc_numbering_restarts() -> None:
    """RFC, RFC v2, then the real v1 and v2: ordered by version then date, RFCs first."""
    box = Mailbox()
    rfc1 = box.post("[RFC PATCH 0/3] foo: bar", 0)
    rfc2 = box.post("[RFC PATCH v2 0/3] foo: bar", 10)
    v1 = box.post("[PATCH 0/3] foo: bar", 20)
    v2 = box.post("[PATCH v2 0/3] foo: bar", 30)
    index = box.index()
    chain = index.chain(v2, FAR_FUTURE)
    assert chain is not None
    assert [r.message_id for r in chain.earlier] == [
        rfc1.message_id,
        rfc2.message_id,
        v1.message_id,
    ]
    at_v1 = index.chain(v1, FAR_FUTURE)
    assert at_v1 is not None
    assert [r.message_id for r in at_v1.earlier] == [rfc1.message_id, rfc2.message_id]
    assert at_v1.newer is not None and at_v1.newer.message_id == v2.message_id
    at_rfc2 = index.chain(rfc2, FAR_FUTURE)
    assert at_rfc2 is not None and at_rfc2.newer is not None
    assert at_rfc2.newer.message_id == v1.message_id


def test_title_match_needs_same_author_and_a_year() -> None:
    box = Mailbox()
    box.post("[PATCH 0/2] KVM: arm64: fixes", 0)  # more than a year before
    box.post("[PATCH 0/2] KVM: arm64: fixes", 300, author="bob@example.org", name="Bob B")
    box.post("[PATCH kvmtool 0/2] KVM: arm64: fixes", 350)  # another project
    late = box.post("[PATCH v2 0/2] KVM: arm64: fixes", 400)
    index = box.index()
    chain = index.chain(late, FAR_FUTURE)
    assert chain is not None and chain.earlier == ()
    moved = box.post("[PATCH v3 0/2] KVM: arm64: fixes", 410, author="ann@kernel.org")
    chain = box.index().chain(moved, FAR_FUTURE)  # same name, new address
    assert chain is not None and [r.message_id for r in chain.earlier] == [late.message_id]


def test_patch_one_with_cover_stands_for_the_cover() -> None:
    box = Mailbox()
    cover = box.post("[PATCH v2 0/2] foo: bar", 0)
    first = box.post("[PATCH v2 1/2] foo: first", 0, in_reply_to=cover.message_id)
    older = box.post("[PATCH 0/2] foo: bar", -10)
    index = box.index()
    chain = index.chain(first, FAR_FUTURE)
    assert chain is not None
    assert chain.current.message_id == cover.message_id
    assert [r.message_id for r in chain.earlier] == [older.message_id]


@pytest.mark.parametrize(
    ("url", "msgid"),
    [
        ("https://lore.kernel.org/r/20220101.1-1-a@b.org", "20220101.1-1-a@b.org"),
        ("https://lore.kernel.org/kvmarm/20220101.1-1-a@b.org/", "20220101.1-1-a@b.org"),
        ("https://lore.kernel.org/all/20220101.1-1-a@b.org/T/#u", "20220101.1-1-a@b.org"),
        ("https://patch.msgid.link/20220101.1-1-a@b.org", "20220101.1-1-a@b.org"),
        ("http://lkml.kernel.org/r/20201026.36685-1-s%40arm.com", "20201026.36685-1-s@arm.com"),
        ("https://lore.kernel.org/r/a%2Fb@c.d).", "a/b@c.d"),
        ("https://lore.kernel.org/kvmarm/", None),
    ],
)
def test_msgid_from_url(url: str, msgid: str | None) -> None:
    assert msgid_from_url(url) == msgid


# --- changelogs: real cover letters ----------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "first", "last"),
    [
        (  # "vN -> vN:" sections, newest first; stop at the older one
            "[PATCH v8 00/29] SMMUv3 Nested Stage Setup",
            "- rebase on top of v5.2-rc1 and especially",
            "  VFIO patches",
        ),
        (  # "from vN to vN:" under "change log:", (n) items indented with spaces
            "[RFC PATCH v5 0/6] Enable ptp_kvm for arm64",
            "(1) remove hvc delay compensasion",
            "(5) rename kvm_ptp.c to ptp_kvm_common.c",
        ),
        (  # "* From v1 [1]:" then a reference list
            "[PATCH v2 0/5] arm64: KVM: Add workaround for errata 1319367 and 1319537",
            "- Reworked patch 4 to close the speculation window on the host",
            "- Collected ABs/RBs",
        ),
        (  # bare "v3:" heading, then "v2:"
            "[PATCH v3 00/15] KVM: Dynamically size memslot arrays",
            "- Fix build errors on PPC and MIPS due to missed params during",
            "- Collect tags [Christoffer].",
        ),
        (  # "* v2 -> v3" without a colon, after a "---" line
            "[PATCH v3 0/4] KVM statistics data fd-based binary interface",
            "- Rebase to kvm/queue, commit edf408f5257b",
            "- Resolve some nitpicks about format",
        ),
        (  # "Changelog v1 ... v2:" followed by a sign-off
            "[kvm-unit-tests PATCH v2 0/6] arm: Use stable test output lines",
            "- rewording IPI test names",
            "- add Drew's Reviewed-by: tags",
        ),
        (  # "Changes from v1:" with the v1 link as first line
            "[PATCH v2 0/9] arm64: Stolen time support",
            "https://lore.kernel.org/lkml/20190802145017.42543-1-steven.price@arm.com/",
            None,
        ),
    ],
)
def test_changelog_of_real_covers(
    corpus: Corpus, subject: str, first: str, last: str | None
) -> None:
    text = corpus.cover_text(subject)
    changes = changelog_for_version(text, parse_subject(subject).version)
    assert changes is not None
    assert changes.startswith(first)
    if last is not None:
        assert changes.endswith(last)
    assert "(29):" not in changes and "|" not in changes


def test_changelog_absent_from_real_cover(corpus: Corpus) -> None:
    text = corpus.cover_text("[PATCH v2 0/9] Rework hyp vector handling")
    assert changelog_for_version(text, 2) is None


def test_changelog_found_in_most_real_covers(corpus: Corpus) -> None:
    covers = [
        m
        for m in corpus.messages
        if (s := parse_subject(m.subject)).is_cover and not s.is_reply and s.version >= 2
    ]
    raws = corpus.store.raw_many([m.pk for m in covers])
    found = 0
    for msg in covers:
        changes = changelog_for_version(
            message_text(raws[msg.pk]).text, parse_subject(msg.subject).version
        )
        if changes is not None:
            found += 1
            assert len(changes) <= MAX_CHARS
            assert "\n-- \n" not in changes
    print(f"\nchangelog found in {found}/{len(covers)} cover letters of v2+")
    assert found > 0.8 * len(covers)


# --- changelogs: hand-made edges -------------------------------------------------------

SHORTLOG = "\nAnn Author (2):\n  foo: one\n  foo: two\n\n foo.c | 3 +-\n 1 file changed\n"


@pytest.mark.parametrize(
    ("text", "version", "expected"),
    [
        ("Changes since v2:\n- a\n- b\n\nChanges since v1:\n- c\n", 3, "- a\n- b"),
        ("Changes in v3:\n- a\n\nChanges in v2:\n- c\n", 3, "- a"),
        ("Changes in v3:\n- a\n\nChanges in v2:\n- c\n", 2, "- c"),
        ("v2 -> v3:\n  * a\n  * b\nv1 -> v2:\n  * c\n", 3, "* a\n* b"),
        ("Changelog:\n v3: tidy up\n v2: rename foo\n", 3, "tidy up"),
        ("Changelog:\n v3: tidy up\n v2: rename foo\n", 2, "rename foo"),
        ("Changes from v2 -> v3\n- a\n", 3, "- a"),
        ("* v2 -> v3\n  - a\n\n* v1 -> v2\n  - b\n", 3, "- a"),
        ("Changes v2 -> v3:\n- a\n", 3, "- a"),
        ("Since v2:\n - a\n", 3, "- a"),
        ("v3 changes:\n- a\n", 3, "- a"),
        ("--- v3\n- a\n--- v2\n- b\n", 3, "- a"),
        ("=== v3 ===\n- a\n", 3, "- a"),
        ("RFC -> v1:\n- dropped the RFC tag\n", 1, "- dropped the RFC tag"),
        ("Changes since v1:\n- everything\n", 3, "- everything"),  # lumped since v1
        ("Changes since v2 [1]:\n- a\n\n[1] https://lore.kernel.org/r/x@y\n", 3, "- a"),
        ("Changes in V3:\n- a\n\nThanks,\nAnn\n", 3, "- a"),
        ("v3:\n- a\n" + SHORTLOG, 3, "- a"),
        ("v3:\n- a\n\n-- \n2.30.0\n", 3, "- a"),
        ("Changes in v3:\n\n- a\n\n- b\n\nThis series adds foo.\n", 3, "- a\n\n- b"),
        ("---\nv2: use bar\n\n foo.c | 3 +-\n", 2, "use bar"),
        ("Changes:\n- a\n" + SHORTLOG, 2, "- a"),
    ],
)
def test_changelog_styles(text: str, version: int, expected: str) -> None:
    assert changelog_for_version(text, version) == expected


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("This series adds foo.\n" + SHORTLOG, 2),
        ("v1: https://lore.kernel.org/r/x@y\nv2: https://lore.kernel.org/r/z@y\n", 3),
        ("Rebased on v5.10-rc1.\n- Rebased on v5.11\n", 3),
        ("Changes in v2:\n- a\n", 3),  # only an older section
        ("Changes:\n- a\n", 1),  # a v1 letter's "Changes:" is about the code
    ],
)
def test_changelog_absent(text: str, version: int) -> None:
    assert changelog_for_version(text, version) is None


def test_changelog_is_shortened_at_a_line() -> None:
    text = "Changes in v2:\n" + "".join(f"- change number {i} of many\n" for i in range(200))
    changes = changelog_for_version(text, 2)
    assert changes is not None
    assert len(changes) <= MAX_CHARS
    assert changes.startswith("- change number 0 of many\n")
    assert changes.endswith("\n…")


# --- successors under a new title (heuristic) ------------------------------------------


def test_successor_that_links_the_old_posting_under_a_new_title() -> None:
    box = Mailbox()
    old = box.post("[PATCH 0/2] foo: handle the bar case", 0)
    new = box.post(
        "[PATCH] foo: drop the bar special case",
        4,
        f"As discussed in https://lore.kernel.org/r/{old.message_id}, a simpler way.\n",
    )
    index = box.index()
    chain = index.chain(old, FAR_FUTURE)
    assert chain is not None and chain.newer is not None
    assert chain.newer.message_id == new.message_id
    assert chain.link_reason[new.message_id] == "link"
    assert index.chain(old, new.date_utc).newer is None  # not known before it was posted


def test_successor_citing_a_reply_in_the_old_thread_under_a_new_title() -> None:
    """Zenghui's "Drop the reporting of GICR_TYPER.Last for userspace": "Per discussion
    on the list [1]", [1] being Marc's reply in the thread of the series it replaces."""
    box = Mailbox()
    old = box.post("[PATCH 0/2] KVM: arm64: vgic: Fix handling of userspace accesses", 0)
    reply = "c20865a267e44d1e2c0d52ce4e012263@kernel.org"
    footnote = (
        f"Per discussion on the list [1], drop it.\n\n[1] https://lore.kernel.org/kvmarm/{reply}/\n"
    )
    new = box.post(
        "[PATCH] KVM: arm64: vgic-v3: Drop the reporting of GICR_TYPER.Last", 4, footnote
    )
    chain = box.index({reply: old.thread_id or 0}).chain(old, FAR_FUTURE)
    assert chain is not None and chain.newer is not None
    assert (chain.newer.message_id, chain.link_reason[new.message_id]) == (new.message_id, "link")
    # A reply in another thread, or by another author, names no successor; nor does a
    # dependency cited through the footnote, or a trailer naming a report in the thread.
    based = f"Based on the fixup Marc posted in [1].\n\n[1] https://lore.kernel.org/r/{reply}\n"
    closes = f"Fix the crash.\n\nCloses: https://lore.kernel.org/r/{reply}\n"
    for threads, author, body in (
        ({reply: 999}, "ann@example.org", footnote),
        ({reply: 1}, "bob@example.org", footnote),
        ({reply: 1}, "ann@example.org", based),
        ({reply: 1}, "ann@example.org", closes),
    ):
        box = Mailbox()
        old = box.post("[PATCH 0/2] KVM: arm64: vgic: Fix handling of userspace accesses", 0)
        box.post("[PATCH] KVM: arm64: vgic-v3: Drop the Last bit", 4, body, author=author)
        chain = box.index(threads).chain(old, FAR_FUTURE)
        assert chain is not None and chain.newer is None, (threads, author, body)


@pytest.mark.parametrize(
    ("cover", "author_line", "carried"),
    [
        ("[PATCH 0/3] KVM: arm64: Fix PMU reset values (and more)", True, True),
        ("[PATCH 0/3] KVM: arm64: Fix PMU reset values (and more)", False, False),
        ("[PATCH 0/3] KVM/arm64 fixes for 5.14, take #2", True, False),  # a pull as patches
    ],
)
def test_a_patch_carried_on_in_someone_elses_series(
    cover: str, author_line: bool, carried: bool
) -> None:
    """Alexandre's PMU patch, reposted by Marc as 3/3 of his series ("From: Alexandre
    Chartre" kept): superseded by that series. Without git's From: line it may be
    another patch of the same name; a maintainer's pull sent as patches applies it."""
    box = Mailbox()
    title = "KVM: arm64: Disabling disabled PMU counters wastes a lot of time"
    old = box.post(f"[PATCH v3] {title}", 0)
    series = box.post(cover, 1, "Alexandre's patch is slapped on top.", author="maz@kernel.org")
    body = ("From: Ann Author <ann@example.org>\n\n" if author_line else "") + "Only these."
    box.post(
        f"[PATCH 3/3] {title}", 1, body, author="maz@kernel.org", in_reply_to=series.message_id
    )
    chain = box.index().chain(old, FAR_FUTURE)
    assert chain is not None
    newer = chain.newer.message_id if chain.newer else None
    assert newer == (series.message_id if carried else None)


def test_dependency_link_is_no_successor() -> None:
    box = Mailbox()
    old = box.post("[PATCH 0/3] foo: clean up memcache", 0)
    box.post(
        "[PATCH 00/20] foo: rewrite the page tables",
        7,
        f"The series is based on these two series I sent previously:\n\n"
        f"  https://lore.kernel.org/r/{old.message_id}\n",
    )
    box.post(
        "[PATCH 0/2] bar: footnoted",
        8,
        f"See [1].\n\n[1] https://lore.kernel.org/r/{old.message_id}\n",
    )
    chain = box.index().chain(old, FAR_FUTURE)
    assert chain is not None and chain.newer is None


def test_dependency_cited_in_a_list_below_its_sentence_is_no_successor() -> None:
    """Will's page-table rewrite: "based on ... plus these two series I sent previously:",
    a blank line, then "  - memcache cleanups:" and the URL: a dependency, not a v2."""
    box = Mailbox()
    old = box.post("[PATCH 0/3] KVM: arm64: Clean up memcache usage", 0)
    cover = (
        "The series is based on kvmarm/next, plus these two series I sent previously:\n\n"
        "  - memcache cleanups:\n"
        f"  https://lore.kernel.org/r/{old.message_id}\n"
    )
    box.post("[PATCH 00/20] KVM: arm64: Rewrite page-table code", 7, cover)
    chain = box.index().chain(old, FAR_FUTURE)
    assert chain is not None and chain.newer is None
    # The same list introduced as what it replaces is a successor.
    box.post(
        "[PATCH 0/2] KVM: arm64: Drop the memcache",
        9,
        "This replaces the series I sent previously:\n\n"
        f"  - memcache cleanups:\n  https://lore.kernel.org/r/{old.message_id}\n",
    )
    chain = box.index().chain(old, FAR_FUTURE)
    assert chain is not None and chain.newer is not None


def test_a_changelog_item_does_not_hide_the_link_below_it() -> None:
    """ "- Applied Reviewed-by tags" is a sibling item, not the list's introduction."""
    box = Mailbox()
    old = box.post("[PATCH 0/2] KVM: arm64: one thing", 0)
    box.post(
        "[PATCH 0/2] KVM: arm64: one thing, retitled",
        5,
        "Changes since the first posting:\n- Applied Reviewed-by tags\n- Fixed the build\n"
        f"- Link: https://lore.kernel.org/r/{old.message_id}\n",
    )
    chain = box.index().chain(old, FAR_FUTURE)
    assert chain is not None and chain.newer is not None


def test_posting_sent_again_under_a_corrected_prefix_supersedes_it() -> None:
    """ "[PATCH] ..." sent by mistake, then "[PATCH for-stable-4.19] ..." an hour later;
    one backport sent to 4.19 and to 5.4 is two postings, neither superseding the other,
    and a backport sent half a day after the mainline patch does not supersede it."""
    box = Mailbox()
    bare = box.post("[PATCH] KVM: arm64: Fix the vgic", 0)
    fixed = box.post("[PATCH for-stable-4.19] KVM: arm64: Fix the vgic", 0.05)
    box.post("[PATCH for-stable-5.4] KVM: arm64: Fix the vgic", 0.06)
    late = box.post("[PATCH] KVM: arm64: Fix the pmu", 1)
    box.post("[PATCH 5.15] KVM: arm64: Fix the pmu", 1.5)  # its backport, hours later
    index = box.index()
    chain = index.chain(bare, FAR_FUTURE)
    assert chain is not None and chain.newer is not None
    assert chain.newer.message_id == fixed.message_id
    stable = index.chain(fixed, FAR_FUTURE)
    assert stable is not None and stable.newer is None
    other = index.chain(late, FAR_FUTURE)
    assert other is not None and other.newer is None


def test_next_version_retitled_or_carrying_one_patch() -> None:
    box = Mailbox()
    three = box.post("[PATCH 0/3] KVM: arm64: Failback on unsupported huge pages", 0)
    box.post(
        "[PATCH 3/3] KVM: arm64: Failback on unsupported huge page sizes",
        0,
        in_reply_to=three.message_id,
    )
    v2 = box.post("[PATCH v2] KVM: arm64: Failback on unsupported huge page sizes", 1)
    hotplug = box.post("[PATCH] arm64/cpufeature: Verify KVM capabilities during CPU hotplug", 10)
    v2b = box.post(
        "[PATCH V2] arm64/cpufeature: Validate hypervisor capabilities during CPU hotplug", 11
    )
    single = box.post("[PATCH] arm64: lib: Use modern annotations for assembly functions", 20)
    bigger = box.post("[PATCH 00/18] arm64: Modernize assembly annotations", 24)
    box.post(
        "[PATCH 13/18] arm64: lib: Use modern annotations for assembly functions",
        24,
        in_reply_to=bigger.message_id,
    )
    unrelated = box.post("[PATCH] KVM: arm64: Fix the PMU", 30)
    box.post("[PATCH v2] KVM: arm64: Fix the vgic", 31)
    index = box.index()
    for old, new in ((three, v2), (hotplug, v2b), (single, bigger)):
        chain = index.chain(old, FAR_FUTURE)
        assert chain is not None and chain.newer is not None, old.subject
        assert chain.newer.message_id == new.message_id
    chain = index.chain(unrelated, FAR_FUTURE)
    assert chain is not None and chain.newer is None  # two shared words are not a series


def test_an_add_on_patch_of_the_same_version_is_no_newer_revision() -> None:
    box = Mailbox()
    v1 = box.post("[PATCH 0/6] KVM: arm64: Account SError more precisely", 0)
    v2 = box.post(
        "[PATCH v2 0/6] KVM: arm64: Account SError more precisely",
        7,
        f"[v1] https://lore.kernel.org/r/{v1.message_id}\n",
    )
    box.post(
        "[PATCH v2] KVM: arm64: Skip more of the SError vaxorcism",
        7,
        f"[v1] https://lore.kernel.org/r/{v1.message_id}\n",
    )
    chain = box.index().chain(v2, FAR_FUTURE)
    assert chain is not None and chain.newer is None
