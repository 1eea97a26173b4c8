"""mail.trailers: b4's trailer rules, on hand-made cases and on the real archive."""

from __future__ import annotations

import collections
import logging
import subprocess
import time
from pathlib import Path

import pytest

from lore_digest.mail.mime import message_text
from lore_digest.mail.trailers import (
    TRAILER_KINDS,
    Trailer,
    parse_all_trailers,
    parse_trailers,
)


def corpus_text(corpus_git: Path, commit: str) -> str:
    raw = subprocess.run(
        ["git", "-C", str(corpus_git), "cat-file", "-p", f"{commit}:m"],
        check=True,
        capture_output=True,
    ).stdout
    return message_text(raw).text


def pairs(text: str) -> list[tuple[str, str]]:
    return [(t.kind, t.email or t.value) for t in parse_trailers(text)]


# --- b4's rules, hand-made -------------------------------------------------------------


def test_person_trailer_fields() -> None:
    (trailer,) = parse_trailers("Looks good.\n\nReviewed-by: Marc Zyngier <MAZ@kernel.org>\n")
    assert trailer == Trailer(
        kind="Reviewed-by",
        value="Marc Zyngier <MAZ@kernel.org>",
        name="Marc Zyngier",
        email="maz@kernel.org",
    )


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("reviewed-by: A <a@example.org>", "Reviewed-by"),
        ("Acked-By: A <a@example.org>", "Acked-by"),
        ("TESTED-BY: A <a@example.org>", "Tested-by"),
        ("Reported-by: A <a@example.org>", "Reported-by"),
        ("Suggested-by: A <a@example.org>", "Suggested-by"),
        ("Nacked-by: A <a@example.org>", "Nacked-by"),
        ('fixes: 0123456789ab ("KVM: arm64: Fix")', "Fixes"),
        ("link: https://lore.kernel.org/r/1@example.org", "Link"),
        ("Closes: https://bugzilla.kernel.org/show_bug.cgi?id=1", "Closes"),
    ],
)
def test_canonical_spelling(line: str, kind: str) -> None:
    assert [t.kind for t in parse_trailers(line)] == [kind]
    assert kind in TRAILER_KINDS


def test_person_trailer_needs_an_address() -> None:
    text = (
        "Reviewed-by: (sorry for the delay)\n"
        "Acked-by: Marc Zyngier\n"
        "Tested-by: see https://ci.example.org/run/1 <a@example.org>\n"
        "Reviewed-by: joe@example.org\n"
    )
    assert pairs(text) == [("Reviewed-by", "joe@example.org")]
    (bare,) = parse_trailers("Reviewed-by: joe@example.org")
    assert (bare.name, bare.email) == ("", "joe@example.org")


def test_utility_trailers_need_their_value() -> None:
    text = (
        "Fixes: the race in vgic_init\n"
        'Fixes: 0123456789ab ("KVM: arm64: Fix the race")\n'
        "Link: see the previous thread\n"
        "Link: lore.kernel.org/r/20191211165651.7889-3-maz@kernel.org\n"
        "Closes: https://github.com/ClangBuiltLinux/linux/issues/988\n"
    )
    assert [(t.kind, t.name, t.email) for t in parse_trailers(text)] == [
        ("Fixes", "", ""),
        ("Link", "", ""),
        ("Closes", "", ""),
    ]
    assert parse_trailers(text)[0].value == '0123456789ab ("KVM: arm64: Fix the race")'


def test_quoted_trailers_are_not_counted() -> None:
    text = (
        "On Mon, 2 May 2022, A wrote:\n"
        "> Signed-off-by: A <a@example.org>\n"
        "> Reviewed-by: B <b@example.org>\n"
        ">> Acked-by: C <c@example.org>\n"
        "\n"
        "Reviewed-by: D <d@example.org>\n"
    )
    assert pairs(text) == [("Reviewed-by", "d@example.org")]


def test_nothing_after_signature() -> None:
    text = "Thanks.\n\nAcked-by: A <a@example.org>\n-- \nReviewed-by: B <b@example.org>\n"
    assert pairs(text) == [("Acked-by", "a@example.org")]


def test_patch_mail_stops_at_separator_and_skips_the_diff() -> None:
    text = (
        "Fix the thing.\n\n"
        "Reported-by: R <r@example.org>\n"
        "Signed-off-by: A <a@example.org>\n"
        "---\n"
        "Tested-by: notes below the separator <t@example.org>\n\n"
        " a.c | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n\n"
        "diff --git a/a.c b/a.c\n--- a/a.c\n+++ b/a.c\n@@ -1,2 +1,2 @@\n"
        " Acked-by: In A Context Line <ctx@example.org>\n"
        "-Reviewed-by: Old <old@example.org>\n"
        "+Reviewed-by: New <new@example.org>\n"
        "-- \n2.34.1\n"
    )
    assert pairs(text) == [("Reported-by", "r@example.org")]


def test_wrapped_values_are_rejoined() -> None:
    text = (
        "Reviewed-by: Some Very Long Name\n"
        "<long.name@example.com>\n"
        "Tested-by: Another Long Name\n"
        "    <another@example.com>\n"
        'Fixes: 892713e97ca1 ("KVM: arm64: Sidestep stage2_unmap_vm() on vcpu\n'
        'reset when S2FWB is supported")\n'
    )
    assert [(t.kind, t.value, t.name, t.email) for t in parse_trailers(text)] == [
        (
            "Reviewed-by",
            "Some Very Long Name <long.name@example.com>",
            "Some Very Long Name",
            "long.name@example.com",
        ),
        (
            "Tested-by",
            "Another Long Name <another@example.com>",
            "Another Long Name",
            "another@example.com",
        ),
        (
            "Fixes",
            '892713e97ca1 ("KVM: arm64: Sidestep stage2_unmap_vm() on vcpu reset when S2FWB '
            'is supported")',
            "",
            "",
        ),
    ]


def test_duplicates_reported_once() -> None:
    text = (
        "Reviewed-by: Marc Zyngier <maz@kernel.org>\n\n"
        "Something else.\n\n"
        "Reviewed-by: Marc Zyngier <MAZ@kernel.org>\n"
        "Acked-by: Marc Zyngier <maz@kernel.org>\n"
        "Link: https://lore.kernel.org/r/x@y\n"
        "Link: https://lore.kernel.org/r/x@y\n"
    )
    assert pairs(text) == [
        ("Reviewed-by", "maz@kernel.org"),
        ("Acked-by", "maz@kernel.org"),
        ("Link", "https://lore.kernel.org/r/x@y"),
    ]


def test_signed_off_by_cc_and_unknown_keys_only_in_parse_all() -> None:
    text = (
        "Signed-off-by: A <a@example.org>\n"
        "Co-developed-by: B <b@example.org>\n"
        "Cc: stable@vger.kernel.org # 5.10+\n"
        "Frobnicated-by: C <c@example.org>\n"
        "Reviewed-by: (sorry for the delay)\n"
    )
    assert parse_trailers(text) == []
    assert [(t.kind, t.email) for t in parse_all_trailers(text)] == [
        ("Signed-off-by", "a@example.org"),
        ("Co-developed-by", "b@example.org"),
        ("Cc", "stable@vger.kernel.org"),
        ("Frobnicated-by", "c@example.org"),
        ("Reviewed-by", ""),
    ]


def test_names_are_cleaned_and_decoded() -> None:
    text = (
        'Reviewed-by: "Daniel P. Berrangé" <berrange@redhat.com>\n'
        "Acked-by: =?utf-8?q?Andr=C3=A9_Przywara?= <andre.przywara@arm.com>\n"
        "Tested-by: Foo Bar <foo@bar.com<mailto:foo@bar.com>>\n"
        "Reported-by: Baz <baz@example.org> # on Juno\n"
        "Suggested-by: Qux <qux@example.org>\n[for the arm64 part]\n"
    )
    assert [(t.kind, t.name, t.email) for t in parse_trailers(text)] == [
        ("Reviewed-by", "Daniel P. Berrangé", "berrange@redhat.com"),
        ("Acked-by", "André Przywara", "andre.przywara@arm.com"),
        ("Tested-by", "Foo Bar", "foo@bar.com"),
        ("Reported-by", "Baz", "baz@example.org"),
        ("Suggested-by", "Qux", "qux@example.org"),
    ]


def test_indented_trailer_in_reply_counts() -> None:
    text = "You can add my:\n\n  Acked-by: Christoffer Dall <christoffer.dall@arm.com>\n"
    assert pairs(text) == [("Acked-by", "christoffer.dall@arm.com")]


def test_trailers_of_a_pasted_git_log_do_not_count() -> None:
    text = (
        "Please pull:\n\ncommit 0123456789abcdef\n\n    Fix.\n\n"
        "    Signed-off-by: A <a@example.org>\n"
        "    Suggested-by: B <b@example.org>\n"
    )
    assert parse_trailers(text) == []


# --- real mail -------------------------------------------------------------------------


def test_real_reviewed_by_marc(corpus_git: Path) -> None:
    text = corpus_text(corpus_git, "c3fe0ccce92b94d75f87ee5d44947af50789a9b2")
    assert parse_trailers(text) == [
        Trailer("Reviewed-by", "Marc Zyngier <maz@kernel.org>", "Marc Zyngier", "maz@kernel.org")
    ]


def test_real_quoted_trailers_not_counted(corpus_git: Path) -> None:
    """Suzuki reviews a patch that quotes its Suggested/Signed-off/Reviewed-by lines."""
    text = corpus_text(corpus_git, "556ed3db49e8f19bdb49334a1b23a2059c553585")
    assert "> Reviewed-by: Julien Thierry <julien.thierry@arm.com>" in text
    assert "> Suggested-by: Marc Zyngier <marc.zyngier@arm.com>" in text
    assert pairs(text) == [("Reviewed-by", "suzuki.poulose@arm.com")]
    assert [t.email for t in parse_all_trailers(text)] == ["suzuki.poulose@arm.com"]


def test_real_ack_under_quoted_patch(corpus_git: Path) -> None:
    text = corpus_text(corpus_git, "f905550984987f8ffdf15c98f81a7bd3a7d3250a")
    assert pairs(text) == [("Acked-by", "maz@kernel.org")]


def test_real_patch_mail_trailers(corpus_git: Path) -> None:
    """A patch's own Link: before the "---"; its Signed-off-by only in parse_all."""
    text = corpus_text(corpus_git, "b165992c3812f3eca5f57dd1750a7ec65067444c")
    assert pairs(text) == [
        (
            "Link",
            "https://linux-review.googlesource.com/id/I05a57f546f2b4d9b008a08f5f03e9ba3c950fdcc",
        )
    ]
    assert [t.kind for t in parse_all_trailers(text)] == ["Link", "Signed-off-by"]


def test_real_fixes_after_separator_not_counted(corpus_git: Path) -> None:
    """A "Fixes:" suggested in the notes under "---" is not the patch's trailer."""
    text = corpus_text(corpus_git, "a0331b9fbc4c295ab77625485c7af4117cb659d4")
    assert "\nFixes: 280771252c1b" in text
    assert pairs(text) == []


# --- the whole corpus, against b4 itself ----------------------------------------------------


def b4_trailers(text: str) -> set[tuple[str, str]]:
    """What b4 (LoreMessage.find_trailers, follow-up mode) finds, in our terms."""
    import b4

    canonical = {kind.lower(): kind for kind in TRAILER_KINDS}
    body = text.split("\n-- \n", 1)[0]
    found, _ = b4.LoreMessage.find_trailers(body, followup=True)
    result = set()
    for trailer in found:
        kind = canonical.get(trailer.lname)
        if kind is None:
            continue
        if trailer.type == "person" and trailer.addr:
            result.add((kind, trailer.addr[1].lower()))
        elif trailer.type == "utility":
            result.add((kind, trailer.value.lower()))
    return result


def test_agreement_with_b4_on_corpus(corpus_blobs: list[tuple[str, bytes]]) -> None:
    """Same trailers as b4 on >99.5% of the archive; prints timing and the differences.

    The remaining differences are deliberate: trailers after a patch's "---" (b4 reads
    a follow-up's whole body), a space before the colon, values re-joined with one space.
    """
    pytest.importorskip("b4")
    logging.getLogger("b4").setLevel(logging.CRITICAL)
    texts = [(commit, message_text(raw).text) for commit, raw in corpus_blobs]
    start = time.perf_counter()
    ours = [parse_trailers(text) for _, text in texts]
    elapsed = time.perf_counter() - start
    counts = collections.Counter(t.kind for found in ours for t in found)
    differ: list[str] = []
    for (commit, text), found in zip(texts, ours, strict=True):
        mine = {(t.kind, t.email or t.value.lower()) for t in found}
        if mine != b4_trailers(text):
            differ.append(commit)
    print(
        f"\nparse_trailers: {len(texts)} messages in {elapsed:.2f} s; {dict(counts)}; "
        f"same as b4 on {len(texts) - len(differ)}, different on {len(differ)}"
    )
    assert len(differ) <= len(texts) * 0.005


# --- trailers the sender did not give -------------------------------------------------


def test_trailers_below_outlook_original_message_do_not_count() -> None:
    text = (
        "Ping ...\nAny comments?\n\n"
        "-----Original Message-----\n"
        "From: Marc Zyngier <maz@kernel.org>\n"
        "Sent: Monday, February 8, 2021 9:40 PM\n"
        "To: netdev@vger.kernel.org\n"
        "Subject: [PATCH] ptp: x\n\n"
        "Reviewed-by: Marc Zyngier <maz@kernel.org>\n"
        "Link: https://lore.kernel.org/r/1@example.org\n"
    )
    assert parse_trailers(text) == []
    assert parse_all_trailers(text) == []


def test_trailers_above_outlook_header_count() -> None:
    text = (
        "Acked-by: Will Deacon <will@kernel.org>\n\n"
        "________________________________\n"
        "From: A <a@example.org>\nSent: 13 December 2019 10:56\n\n"
        "Tested-by: B <b@example.org>\n"
    )
    assert pairs(text) == [("Acked-by", "will@kernel.org")]


def test_trailer_of_an_indented_paste_does_not_count() -> None:
    """A reply quoted by indenting: Mark's ack is Mark's, not the sender's."""
    text = (
        "    Nit: please say 'smccc conduit' in the commit title.\n\n"
        "Ok, I will fix it next version.\n\n"
        "    Otherwise, I see no problem with this, so:\n\n"
        "    Acked-by: Mark Rutland <mark.rutland@arm.com>\n\n"
        "Thanks! Glad to get this.\n"
    )
    assert parse_trailers(text) == []


def test_tab_indented_ack_below_own_words_counts() -> None:
    text = "So for the couple of KVM patches, please add my\n\n\tAcked-by: Marc Zyngier <maz@kernel.org>\n"
    assert pairs(text) == [("Acked-by", "maz@kernel.org")]


def test_real_indented_paste_trailer_not_counted(corpus_git: Path) -> None:
    """Jianyong Wu answers a review quoted by indenting; the ack in it is Mark Rutland's."""
    text = corpus_text(corpus_git, "f513af398beac690aaeb5bf1e1aeab8e58252455")
    assert "    Acked-by: Mark Rutland <mark.rutland@arm.com>" in text
    assert parse_trailers(text) == []


@pytest.mark.parametrize(
    ("commit", "email"),
    [
        ("6864bd17c4afc441c3f83283b48116450dd95ce4", "jroedel@suse.de"),
        ("b1d52fc56c3678ee488e26430da86ac2aa63983a", "vladimir.murzin@arm.com"),
        ("91b2022c3acf512c80965c48e5ebfe99a6068577", "maz@kernel.org"),
    ],
)
def test_real_indented_own_trailers_count(corpus_git: Path, commit: str, email: str) -> None:
    """Tab- or 4-space-indented acks below the sender's own flush-left words are theirs."""
    assert email in {t.email for t in parse_trailers(corpus_text(corpus_git, commit))}


def test_real_outlook_quoted_link_not_counted(corpus_git: Path) -> None:
    text = corpus_text(corpus_git, "5bca4c67b3f69efaaf76f4cb667fbdeaf23d3cda")
    assert "-----Original Message-----" in text
    assert parse_trailers(text) == []
