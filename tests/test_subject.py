"""Tests of the subject parser: hand-written forms, hostile input, and the real kvmarm list."""

from __future__ import annotations

import email
import email.policy
import re
from collections import Counter
from functools import cache

import pytest

from lore_digest.mail.subject import LoreSubject, parse_subject


def _check(text: str, /, **expected: object) -> LoreSubject:
    """Parse text and compare only the named fields, so each case states what it is about."""
    parsed = parse_subject(text)
    for name, value in expected.items():
        assert getattr(parsed, name) == value, (text, name, getattr(parsed, name))
    return parsed


# --- bracket prefixes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (
            "[kvm-unit-tests PATCH v2 3/7] arm: pmu: Fix overflow checks",
            dict(
                title="arm: pmu: Fix overflow checks",
                is_patch=True,
                version=2,
                counter=3,
                total=7,
                extra_prefixes=("kvm-unit-tests",),
            ),
        ),
        (
            "[RFC PATCH v3 0/4] KVM: arm64: vgic: Misc ITS fixes",
            dict(
                title="KVM: arm64: vgic: Misc ITS fixes",
                is_patch=True,
                is_rfc=True,
                version=3,
                counter=0,
                total=4,
                is_cover=True,
                extra_prefixes=(),
            ),
        ),
        (
            "[PATCH RESEND v2] KVM: arm64: Fix foo",
            dict(is_patch=True, is_resend=True, version=2, counter=None, total=None),
        ),
        (
            "[PATCH net-next 1/2] net: foo",
            dict(is_patch=True, counter=1, total=2, extra_prefixes=("net-next",), version=1),
        ),
        ("[PATCH for-10.1] hw/arm: foo", dict(is_patch=True, extra_prefixes=("for-10.1",))),
        ("[PATCHv2 1/3] arm64: foo", dict(is_patch=True, version=2, counter=1, total=3)),
        ("[PATCH-v2] arm64: foo", dict(is_patch=True, version=2, extra_prefixes=())),
        ("[PATCH V4 03/20] arm64: foo", dict(version=4, counter=3, total=20)),
        ("[PATCH 3/5 v2] arm64: foo", dict(version=2, counter=3, total=5)),
        ("[PATCH v2.1 2/9] arm64: foo", dict(version=2, counter=2, total=9)),
        (
            "[RFC][PATCH 1/2] arm64: foo",
            dict(title="arm64: foo", is_patch=True, is_rfc=True, counter=1, extra_prefixes=()),
        ),
        ("[PATCH RFCv2 1/9] kvm: foo", dict(is_rfc=True, is_patch=True, version=2)),
        ("[RFC/RFT PATCH 0/3] mm: foo", dict(is_rfc=True, extra_prefixes=("RFT",))),
        ("[PATCH V5 (RESEND) 0/4] foo", dict(is_resend=True, version=5, is_cover=True)),
        ("[PATCH v4 REPOST] foo", dict(is_resend=True, version=4)),
        ("[PATCH v2 17/18, KVMTOOL] foo", dict(counter=17, extra_prefixes=("KVMTOOL",))),
        ("[PATCH,v2,1/2] foo", dict(is_patch=True, version=2, counter=1, total=2)),
        (
            "[syzbot] KASAN: use-after-free in kvm_foo",
            dict(
                title="KASAN: use-after-free in kvm_foo",
                is_patch=False,
                extra_prefixes=("syzbot",),
            ),
        ),
        (
            "[PATCH AUTOSEL 5.10 12/30] KVM: arm64: foo",
            dict(counter=12, total=30, version=1, extra_prefixes=("AUTOSEL", "5.10")),
        ),
        (
            "[PATCH stable v4.9 v2] arm64: foo",
            dict(version=2, extra_prefixes=("stable", "v4.9")),
        ),
        ("[PATCH stable v4.9] arm64: foo", dict(version=1, extra_prefixes=("stable", "v4.9"))),
        (
            "[PATCH][stable-4.{4, 9, 14}] KVM: foo",
            dict(is_patch=True, extra_prefixes=("stable-4.{4, 9, 14}",), title="KVM: foo"),
        ),
        ("[PATCH [v2] 1/3] nested: foo", dict(version=2, counter=1, title="nested: foo")),
        (
            "[Intel-gfx] [trivial PATCH] treewide: foo",
            dict(is_patch=True, extra_prefixes=("Intel-gfx", "trivial"), title="treewide: foo"),
        ),
    ],
)
def test_prefixes(subject: str, expected: dict[str, object]) -> None:
    _check(subject, **expected)


def test_numbered_rfc_without_patch_word_is_a_patch() -> None:
    """ "[RFC v2 0/7]" posts a series just like "[RFC PATCH v2 0/7]"."""
    _check("[RFC v2 0/7] kvm: foo", is_patch=True, is_rfc=True, is_cover=True, version=2)
    _check("[kvmtool v2 1/3] arm: foo", is_patch=True, extra_prefixes=("kvmtool",))
    _check("[RFC] thoughts on foo", is_patch=False, is_rfc=True)
    _check("[Question] vgic behaviour", is_patch=False, extra_prefixes=("Question",))


# --- pull requests -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "counter", "total", "extras"),
    [
        ("[GIT PULL] KVM/arm64 updates for 5.19", None, None, ()),
        ("[GIT PULL 1/2] KVM/arm64 updates for 5.19", 1, 2, ()),
        ("[GIT,PULL] KVM/arm64 updates for 5.19", None, None, ()),
        ("[PULL] KVM/arm64 updates for 5.19", None, None, ()),
        ("[PULL kvm-unit-tests 0/3] KVM/arm64 updates for 5.19", 0, 3, ("kvm-unit-tests",)),
        ("GIT PULL: KVM/arm64 updates for 5.19", None, None, ()),
        ("GIT PULL KVM/arm64 updates for 5.19", None, None, ()),
    ],
)
def test_pull(subject: str, counter: int | None, total: int | None, extras: tuple[str]) -> None:
    _check(
        subject,
        title="KVM/arm64 updates for 5.19",
        is_pull=True,
        is_patch=False,
        counter=counter,
        total=total,
        extra_prefixes=extras,
    )


# --- replies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "Re: [PATCH v3 0/4] KVM: foo",
        "RE: [PATCH v3 0/4] KVM: foo",
        "re: [PATCH v3 0/4] KVM: foo",
        "Re: Re: [PATCH v3 0/4] KVM: foo",
        "Re[2]: [PATCH v3 0/4] KVM: foo",
        "Aw: [PATCH v3 0/4] KVM: foo",
        "AW: [PATCH v3 0/4] KVM: foo",
        "Fwd: [PATCH v3 0/4] KVM: foo",
        "Fw: [PATCH v3 0/4] KVM: foo",
        "FW: Re: [PATCH v3 0/4] KVM: foo",
        "Antw: [PATCH v3 0/4] KVM: foo",
        "Sv: [PATCH v3 0/4] KVM: foo",
        "Vs: [PATCH v3 0/4] KVM: foo",
        "回复: Re: [PATCH v3 0/4] KVM: foo",
        "RE: [Linuxarm]  Re: [PATCH v3 0/4] KVM: foo",
        "[kbuild] Re: [PATCH v3 0/4] KVM: foo",
    ],
)
def test_replies(subject: str) -> None:
    parsed = _check(subject, is_reply=True, title="KVM: foo", version=3, is_cover=True)
    assert parsed.is_patch


@pytest.mark.parametrize(
    ("subject", "title", "extras"),
    [
        ("Re: Re: [PATCH]", "", ()),
        ("RE: [EXTERNAL] KVM: foo", "KVM: foo", ("EXTERNAL",)),
        ("Re: ARM/gic-v4: deadlock occurred", "ARM/gic-v4: deadlock occurred", ()),
        ("Re:", "", ()),
    ],
)
def test_reply_titles(subject: str, title: str, extras: tuple[str, ...]) -> None:
    _check(subject, is_reply=True, title=title, extra_prefixes=extras)


@pytest.mark.parametrize(
    "subject",
    ["KVM: arm64: Fix foo", "BUG: KASAN: foo", "mm/compaction: BUG: foo", "Request: foo"],
)
def test_not_replies(subject: str) -> None:
    _check(subject, is_reply=False, title=subject, is_patch=False, extra_prefixes=())


# --- titles ------------------------------------------------------------------------------


def test_only_leading_brackets_are_prefixes() -> None:
    _check(
        "[PATCH] KVM: arm64: Fix [foo] bar",
        title="KVM: arm64: Fix [foo] bar",
        extra_prefixes=(),
    )
    _check("KVM: arm64: Fix [foo] bar", title="KVM: arm64: Fix [foo] bar", is_patch=False)


def test_whitespace_is_collapsed() -> None:
    parsed = _check(
        "  Re: [PATCH v2  1/3]\n\t KVM: arm64:  fold\r\n me  ",
        subject="Re: [PATCH v2 1/3] KVM: arm64: fold me",
        title="KVM: arm64: fold me",
    )
    assert parsed.counter == 1


def test_normalized_title_matches_revisions() -> None:
    v1 = parse_subject("[PATCH 0/4] KVM: arm64: Misc ITS fixes.")
    v2 = parse_subject("Re: [RFC PATCH v2 00/5] KVM: arm64:  misc ITS fixes")
    assert v1.normalized_title() == v2.normalized_title() == "kvm: arm64: misc its fixes"
    assert parse_subject("[PATCH] Fix foo()").normalized_title() == "fix foo()"


# --- hostile input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "",
        " ",
        "[]",
        "[",
        "]",
        "[[[[",
        "]]]][",
        "[PATCH",
        "Re:",
        "Re: Re:",
        "[PATCH 0/0]",
        "[PATCH 1/0]",
        "[PATCH /] x",
        "[PATCH v] x",
        "[PATCH v2.] x",
        "[PATCH 5/3] x",
        "\x00\x01[PATCH]\x7f\x1b x",
        "\ud800 [PATCH] surrogate",
        "x" * 10_000,
        "[" * 10_000,
        "]" * 10_000,
        "Re: " * 2_500,
        "[a]" * 3_333,
        "[PATCH " + "9" * 10_000 + "/1] x",
        "[PATCH v" + "9" * 10_000 + "] x",
        "[PATCH " + "v2 " * 3_000,
        "{" * 10_000,
        "[PATCH {" + "," * 10_000,
    ],
)
def test_garbage_never_raises(subject: str) -> None:
    parsed = parse_subject(subject)
    assert isinstance(parsed.title, str)
    assert "\n" not in parsed.subject
    assert parsed.version >= 0
    parsed.normalized_title()


def test_unclosed_prefix_is_salvaged() -> None:
    _check(
        "[PATCH v2 1/3 KVM: arm64: foo",
        is_patch=True,
        version=2,
        counter=1,
        total=3,
        title="KVM: arm64: foo",
    )
    _check("[not a prefix", title="[not a prefix", is_patch=False, extra_prefixes=())


def test_odd_counters_are_kept() -> None:
    _check("[PATCH 0/0] x", counter=0, total=0, is_cover=True)
    _check("[PATCH 7/3] x", counter=7, total=3, is_cover=False)
    _check("[PATCH 123456789012/2] x", counter=123456789012, total=2)
    _check("[PATCH 1/2 3/4] x", counter=1, total=2, extra_prefixes=())
    _check("[PATCH v2] x", counter=None, total=None, is_cover=False)


def test_result_is_frozen() -> None:
    parsed = parse_subject("[PATCH] x")
    with pytest.raises(AttributeError):
        parsed.title = "y"  # type: ignore[misc]


# --- the real kvmarm list ----------------------------------------------------------------

_SUBJECT_HEADER = re.compile(rb"^subject:[^\n]*\n(?:[ \t][^\n]*\n)*", re.IGNORECASE | re.MULTILINE)


@cache
def _decode_subject_header(header: bytes) -> str:
    """Decode one Subject header exactly as the stdlib does for a whole message.

    The default policy's header parser is the slow part of reading 18,728 messages; feeding
    it only the Subject line, once per distinct line, keeps the test within seconds.
    """
    return email.message_from_bytes(header, policy=email.policy.default)["subject"] or ""


def _subject_of(raw: bytes) -> str:
    head = raw.split(b"\n\n", 1)[0] + b"\n"
    match = _SUBJECT_HEADER.search(head)
    return _decode_subject_header(match.group(0)) if match else ""


@pytest.fixture(scope="module")
def corpus_subjects(corpus_blobs: list[tuple[str, bytes]]) -> list[str]:
    """Decoded subjects of the whole corpus, spot-checked against full message parsing."""
    subjects = [_subject_of(raw) for _, raw in corpus_blobs]
    for (_, raw), subject in list(zip(corpus_blobs, subjects, strict=True))[::97]:
        full = email.message_from_bytes(raw, policy=email.policy.default)["subject"]
        assert subject == (full or "")
    return subjects


# Real subjects of the corpus and what a kernel developer reads in them.
_REAL: dict[str, dict[str, object]] = {
    "[kvm-unit-tests PATCH v1 1/4] arm64: split its-trigger test into KVM and TCG variants": dict(
        title="arm64: split its-trigger test into KVM and TCG variants",
        is_patch=True,
        version=1,
        counter=1,
        total=4,
        extra_prefixes=("kvm-unit-tests",),
    ),
    "[PATCHv2 0/3] KVM: arm/arm64: exception injection fixes": dict(
        title="KVM: arm/arm64: exception injection fixes",
        is_patch=True,
        is_cover=True,
        version=2,
        counter=0,
        total=3,
    ),
    "[PATCH RESEND 0/2] KVM/arm64: sys_reg_table_init() small improvements": dict(
        is_resend=True, is_cover=True, version=1, total=2
    ),
    "[RESEND PATCH v2 0/2] vfio/iommu_type1: some fixes": dict(
        is_resend=True, is_patch=True, version=2, counter=0, title="vfio/iommu_type1: some fixes"
    ),
    "[RFC PATCH v1 0/4] KVM: arm64: Add VLPI migration support on GICv4.1": dict(
        is_rfc=True, is_patch=True, is_cover=True, version=1, total=4
    ),
    "[GIT PULL] KVM/arm fixes for 5.4-rc5": dict(
        title="KVM/arm fixes for 5.4-rc5", is_pull=True, is_patch=False, counter=None
    ),
    "[GIT PULL 00/23] KVM/arm updates for 5.6": dict(
        is_pull=True, is_cover=True, is_patch=False, total=23, extra_prefixes=()
    ),
    "[PULL kvm-unit-tests 0/3] arm/arm64: Add prefetch abort test": dict(
        is_pull=True, is_cover=True, extra_prefixes=("kvm-unit-tests",)
    ),
    "[PATCH v2 kvmtool 00/10] arm64: Improve PMU support on heterogeneous systems": dict(
        version=2, counter=0, total=10, extra_prefixes=("kvmtool",)
    ),
    "[PATCH AUTOSEL 4.14 011/115] kvm: arm/arm64: Fix stage2_flush_memslot for 4 level page"
    " table": dict(counter=11, total=115, version=1, extra_prefixes=("AUTOSEL", "4.14")),
    "[PATCH RFCv2 0/9] kvm/arm64: Support Async Page Fault": dict(
        is_rfc=True, version=2, is_cover=True
    ),
    "[PATCH V5 (RESEND) 0/4] arm64/cpufeature: Introduce ID_PFR2, ID_DFR1, ID_MMFR5 and other"
    " changes": dict(is_resend=True, version=5, counter=0, total=4, extra_prefixes=()),
    "[PATCH v4 REPOST] KVM: arm64: Filter out invalid core register IDs in KVM_GET_REG_LIST": dict(
        is_resend=True, version=4
    ),
    "[PATCH v5.5 00/30] KVM: Scalable memslots implementation": dict(version=5, total=30),
    "[PATCH stable v4.9 v2] arm64: entry: Place an SB sequence following an ERET instruction": dict(
        version=2, extra_prefixes=("stable", "v4.9")
    ),
    "[PATCH][stable-4.{4,9}] KVM: arm64: Fix exclusive limit for IPA size": dict(
        is_patch=True, extra_prefixes=("stable-4.{4,9}",)
    ),
    "[RFC/RFT PATCH 0/3] arm64: drop pfn_valid_within() and simplify pfn_valid()": dict(
        is_rfc=True, is_cover=True, extra_prefixes=("RFT",)
    ),
    "[RFC v2 0/7] kvm: arm64: emulate ID registers": dict(
        is_rfc=True, is_patch=True, is_cover=True, version=2
    ),
    "[RFC][PATCH 0/4] arm64:kvm: teach guest sched that VCPUs can be preempted": dict(
        is_rfc=True, is_patch=True, is_cover=True, extra_prefixes=()
    ),
    "[PATCH v2 17/18, KVMTOOL] update_headers: Sync kvm UAPI headers with linux v5.5-rc2": dict(
        counter=17, total=18, extra_prefixes=("KVMTOOL",)
    ),
    "[syzbot] WARNING in kvm_mmu_notifier_invalidate_range_start (2)": dict(
        is_patch=False, extra_prefixes=("syzbot",)
    ),
    "RE: [Linuxarm] Re: [RFC PATCH 4/5] iommu/arm-smmu-v3: Use pinned VMID for NESTED stage"
    " with BTM": dict(
        is_reply=True,
        is_rfc=True,
        counter=4,
        total=5,
        extra_prefixes=("Linuxarm",),
        title="iommu/arm-smmu-v3: Use pinned VMID for NESTED stage with BTM",
    ),
    "回复: Re: [PATCH] kvm: fix gpu passthrough into vm on arm64": dict(
        is_reply=True, is_patch=True, title="kvm: fix gpu passthrough into vm on arm64"
    ),
    "FW: Re: [PATCH 07/37] KVM: arm64: Separate SError detection from VAXorcism": dict(
        is_reply=True, counter=7, total=37
    ),
}


def test_corpus_subjects(corpus_subjects: list[str]) -> None:
    parsed = [parse_subject(subject) for subject in corpus_subjects]
    by_subject = {p.subject: p for p in parsed}

    for p in parsed:
        assert "  " not in p.subject and "\n" not in p.subject
        if p.is_cover:
            assert p.is_patch or p.is_pull or p.extra_prefixes, p.subject
        if p.subject.startswith("[PATCH"):
            assert p.is_patch and not p.title.startswith("["), p.subject
        assert not {"PATCH", "RFC", "RESEND"} & {x.upper() for x in p.extra_prefixes}
        assert not any(re.fullmatch(r"[vV]\d+|\d+/\d+", x) for x in p.extra_prefixes)

    for subject, expected in _REAL.items():
        assert subject in by_subject, f"not in the corpus: {subject}"
        _check(subject, **expected)

    # All revisions of one RFC series share a key, whatever their prefixes.
    emulate = {
        p.normalized_title()
        for p in parsed
        if p.is_cover and p.title.lower() == "kvm: arm64: emulate id registers"
    }
    assert emulate == {"kvm: arm64: emulate id registers"}

    figures = Counter(
        {
            "messages": len(parsed),
            "patches": sum(p.is_patch and not p.is_reply for p in parsed),
            "covers": sum(p.is_cover and not p.is_reply for p in parsed),
            "replies": sum(p.is_reply for p in parsed),
            "pulls": sum(p.is_pull and not p.is_reply for p in parsed),
            "rfc": sum(p.is_rfc and not p.is_reply for p in parsed),
            "resend": sum(p.is_resend and not p.is_reply for p in parsed),
            "series": len({p.normalized_title() for p in parsed if p.is_cover}),
        }
    )
    print("\nsubjects of kvmarm-0:", ", ".join(f"{k}={v}" for k, v in figures.items()))
    assert figures["messages"] == 18_728
    assert figures["covers"] > 500 and figures["replies"] > 5_000
