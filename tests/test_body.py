"""mail.body: split_body on real patch mails and review replies, plus hand-made edges."""

from __future__ import annotations

import collections
import subprocess
import time
from pathlib import Path

import pytest

from lore_digest.mail.body import Segment, first_paragraph, prose_text, split_body
from lore_digest.mail.mime import message_text


def corpus_text(corpus_git: Path, commit: str) -> str:
    raw = subprocess.run(
        ["git", "-C", str(corpus_git), "cat-file", "-p", f"{commit}:m"],
        check=True,
        capture_output=True,
    ).stdout
    return message_text(raw).text


def kinds(segments: list[Segment]) -> list[str]:
    return [s.kind for s in segments]


def only(segments: list[Segment], kind: str) -> Segment:
    found = [s for s in segments if s.kind == kind]
    assert len(found) == 1, kinds(segments)
    return found[0]


# --- real mail -------------------------------------------------------------------------


def test_real_patch_mail(corpus_git: Path) -> None:
    """[PATCH] KVM: arm64: permit MAP_SHARED mappings with MTE enabled."""
    segments = split_body(corpus_text(corpus_git, "b165992c3812f3eca5f57dd1750a7ec65067444c"))
    assert kinds(segments) == ["prose", "trailer", "diffstat", "diff", "signature"]
    prose, trailer, diffstat, diff, signature = segments
    assert prose.text.startswith("Certain VMMs such as crosvm have features")
    assert trailer.text == (
        "Link: https://linux-review.googlesource.com/id/I05a57f546f2b4d9b008a08f5f03e9ba3c950fdcc\n"
        "Signed-off-by: Peter Collingbourne <pcc@google.com>"
    )
    assert diffstat.text.startswith("---\n arch/arm64/include/asm/mte.h   |  5 +++++\n")
    assert " 5 files changed, 29 insertions(+), 33 deletions(-)" in diffstat.text
    assert diff.text.startswith("diff --git a/arch/arm64/include/asm/mte.h")
    assert diff.text.rstrip().endswith(" #define show_page_flags(flags)\t\t\t\t\t\t\\")
    assert signature.text.startswith("-- \n2.")
    assert signature.text.rstrip().endswith("listinfo/kvmarm")
    assert first_paragraph(segments).startswith("Certain VMMs such as crosvm have features")


def test_real_cover_letter_diffstat(corpus_git: Path) -> None:
    """A cover letter: shortlog is prose, the diffstat without "---" is still diffstat."""
    segments = split_body(corpus_text(corpus_git, "74e16711bca01e88b9db06a17653298165c985c1"))
    assert kinds(segments) == ["prose", "trailer", "prose", "diffstat", "signature"]
    assert segments[3].text.startswith(" .../admin-guide/kernel-parameters.txt ")
    assert " 7 files changed, 46 insertions(+), 29 deletions(-)" in segments[3].text
    assert "Will Deacon (4):" in segments[2].text


def test_real_review_reply_with_ack(corpus_git: Path) -> None:
    """Marc acks a MAINTAINERS fix: attribution, quoted patch, prose, trailer, sign-off."""
    segments = split_body(corpus_text(corpus_git, "f905550984987f8ffdf15c98f81a7bd3a7d3250a"))
    assert kinds(segments) == [
        "attribution",
        "quoted",
        "prose",
        "trailer",
        "prose",
        "signature",
    ]
    assert segments[0].text == "On 17/07/2019 13:33, Suzuki K Poulose wrote:"
    # The quoted patch, diff and its trailers included, stays quoted.
    assert "> diff --git a/MAINTAINERS b/MAINTAINERS" in segments[1].text
    assert "> Signed-off-by: Suzuki K Poulose <suzuki.poulose@arm.com>" in segments[1].text
    assert segments[3].text == "Acked-by: Marc Zyngier <maz@kernel.org>"
    assert segments[5].text.startswith("-- \nJazz is not dead")
    assert prose_text(segments) == (
        "OK, who hasn't had their MAINTAINERS update today? ;-)\n\n\tM."
    )
    assert first_paragraph(segments) == "OK, who hasn't had their MAINTAINERS update today? ;-)"


def test_real_wrapped_attribution(corpus_git: Path) -> None:
    """Marc's mailer wraps the attribution: "On <date>,\\nName <addr> wrote:"."""
    segments = split_body(corpus_text(corpus_git, "8614b6ef365ccaf763f28a408afca192f66d0094"))
    assert kinds(segments) == ["prose", "attribution", "quoted", "prose", "signature"]
    assert segments[1].text == (
        "On Thu, 23 Jun 2022 07:11:08 +0100,\nGavin Shan <gshan@redhat.com> wrote:"
    )
    assert segments[0].text.startswith("Hi Gavin,")
    assert not first_paragraph(segments).startswith("Hi Gavin")


def test_real_chinese_attribution(corpus_git: Path) -> None:
    """ "在 2021/5/8 上午1:36, Marc Zyngier 写道:" (a gbk, base64 body)."""
    segments = split_body(corpus_text(corpus_git, "b1ad6952911e8c4838408814defbf7fe7a56b705"))
    assert segments[0].kind == "attribution"
    assert segments[0].text.strip() == "在 2021/5/8 上午1:36, Marc Zyngier 写道:"
    assert segments[1].kind == "quoted"


def test_real_reply_with_pasted_diff(corpus_git: Path) -> None:
    """A reviewer pastes a fix: the diff ends at its last hunk, the thanks is prose."""
    segments = split_body(corpus_text(corpus_git, "db11bb1b9a159537ef69b52d24467f5da74e29f2"))
    diff = only(segments, "diff")
    assert diff.text.startswith("diff --git a/virt/kvm/arm/arch_timer.c")
    after = segments[segments.index(diff) + 1]
    assert after.kind == "prose"
    assert after.text.strip().startswith("Thanks,")


# --- the whole corpus ------------------------------------------------------------------


def test_split_body_whole_corpus(corpus_blobs: list[tuple[str, bytes]]) -> None:
    """Lossless, no empty segment, and every patch mail has its diff; prints figures."""
    texts = [(commit, message_text(raw).text) for commit, raw in corpus_blobs]
    start = time.perf_counter()
    split = [split_body(text) for _, text in texts]
    elapsed = time.perf_counter() - start
    counts = collections.Counter(s.kind for segments in split for s in segments)
    print(f"\nsplit_body: {len(texts)} messages in {elapsed:.2f} s; segments: {dict(counts)}")
    patches = with_diff = 0
    for (commit, text), segments in zip(texts, split, strict=True):
        expected = text.replace("\r\n", "\n").replace("\r", "\n").removesuffix("\n")
        assert "\n".join(s.text for s in segments) == expected, commit
        assert all(s.text.strip() for s in segments), commit
        if text.startswith("diff --git ") or "\ndiff --git " in text:
            if any(s.kind == "quoted" and "diff --git " in s.text for s in segments):
                continue  # a patch quoted below Outlook's "-----Original Message-----"
            patches += 1
            with_diff += "diff" in kinds(segments)
    print(f"  messages with an unquoted 'diff --git': {patches}, with a diff segment: {with_diff}")
    assert with_diff == patches
    assert elapsed < 15


# --- hand-made edge cases ----------------------------------------------------------------

PATCH = """\
The commit message.

Signed-off-by: A U Thor <author@example.org>
---
v2: rebased

 dir/file.c | 3 ++-
 1 file changed, 2 insertions(+), 1 deletion(-)

diff --git a/dir/file.c b/dir/file.c
index 0123456..789abcd 100644
--- a/dir/file.c
+++ b/dir/file.c
@@ -1,5 +1,6 @@
 /* SQL-style comment below */
---\x20
+-- new
+x
 context

 end
\\ No newline at end of file
--\x20
2.34.1
"""


def test_patch_layout_and_signature_inside_hunk() -> None:
    segments = split_body(PATCH)
    assert kinds(segments) == [
        "prose",
        "trailer",
        "diffstat",
        "prose",
        "diffstat",
        "diff",
        "signature",
    ]
    assert segments[2].text == "---"
    assert segments[3].text.strip() == "v2: rebased"
    diff = segments[5].text.split("\n")
    # "-- " and "--- " inside the hunk are removed lines, not a signature or a header.
    assert "--- " in diff and "+-- new" in diff
    assert diff[-1] == "\\ No newline at end of file"
    assert segments[6].text == "-- \n2.34.1"


def test_dash_dash_space_in_hunk_is_not_signature() -> None:
    text = "Fix it:\n\n@@ -1,3 +1,2 @@\n keep\n-- \n keep\nThanks\n-- \nMe"
    segments = split_body(text)
    assert kinds(segments) == ["prose", "diff", "prose", "signature"]
    assert segments[1].text == "@@ -1,3 +1,2 @@\n keep\n-- \n keep"
    assert segments[3].text == "-- \nMe"


def test_miscounted_hunk_still_ends_at_format_patch_signature() -> None:
    text = "@@ -1,9 +1,9 @@\n-a\n+b\n-- \n2.30.2\n"
    assert kinds(split_body(text)) == ["diff", "signature"]


def test_wrapped_diff_lines_are_kept_in_the_diff() -> None:
    text = (
        "diff --git a/long/path/file.c\nb/long/path/file.c\nindex 1..2 100644\n"
        "--- a/long/path/file.c\n+++ b/long/path/file.c\n@@ -1,2 +1,2 @@\n"
        "-static int function(struct kvm_vcpu\n*vcpu)\n+static int fn(struct kvm_vcpu *vcpu)\n"
        " {\n\nThanks"
    )
    segments = split_body(text)
    assert kinds(segments) == ["diff", "prose"]
    assert segments[1].text.strip() == "Thanks"


def test_separator_without_patch_is_prose() -> None:
    text = "Some text\n---\nMore text after a visual separator\n"
    assert kinds(split_body(text)) == ["prose"]


def test_bare_double_dash_signature() -> None:
    segments = split_body("Looks good.\n\n--\nJohn Doe\nEmbedded Inc.\n")
    assert kinds(segments) == ["prose", "signature"]
    assert segments[1].text == "--\nJohn Doe\nEmbedded Inc."


def test_list_footer_is_signature() -> None:
    footer = "_" * 47 + "\nkvmarm mailing list\nkvmarm@lists.cs.columbia.edu\n"
    segments = split_body("Thanks!\n\n" + footer)
    assert kinds(segments) == ["prose", "signature"]


NESTED_QUOTES = """\
Hi Marc,

On Mon, 2 May 2022 10:00:00 +0100, Marc Zyngier <maz@kernel.org> wrote:
> On Fri, 29 Apr 2022, Oliver Upton wrote:
>> Do we need this?
>>> Yes.
>
> I think so.
  > indented quote (also quoted)

Agreed, let me respin.

Quoting Will Deacon (2022-05-02 10:00:00):
> diff --git a/x b/x
> --\x20
> +new

Nope.
"""


def test_nested_quotes_and_attributions() -> None:
    segments = split_body(NESTED_QUOTES)
    assert kinds(segments) == [
        "prose",
        "attribution",
        "quoted",
        "prose",
        "attribution",
        "quoted",
        "prose",
    ]
    quoted = segments[2].text.split("\n")
    assert quoted[0] == "> On Fri, 29 Apr 2022, Oliver Upton wrote:"  # quoted, not attribution
    assert quoted[-1] == "  > indented quote (also quoted)"
    assert segments[4].text == "Quoting Will Deacon (2022-05-02 10:00:00):"
    assert segments[5].text.endswith("> +new")  # a quoted diff stays quoted
    assert first_paragraph(NESTED_QUOTES) == "Agreed, let me respin."
    assert prose_text(segments) == "Hi Marc,\n\nAgreed, let me respin.\n\nNope."


@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, May 2, 2022 at 10:00 AM Marc Zyngier <maz@kernel.org> wrote:",
        "On 2022/5/2 17:00, Zenghui Yu wrote:",
        "Marc Zyngier <maz@kernel.org> writes:",
        "Le 16/02/2020 à 09:18, Mike Rapoport a écrit :",
        "On Mon, 02 May 2022 10:00:00 +0100,\nMarc Zyngier <maz@kernel.org> wrote:",
        "On Mon, 02 May 2022 10:00:00 +0100, Marc Zyngier\n<maz@kernel.org> wrote:",
        "Quoting Will Deacon (2022-05-02 10:00:00):",
    ],
)
def test_attribution_forms(attribution: str) -> None:
    segments = split_body(f"Hello,\n\n{attribution}\n\n> quoted\n\nreply")
    assert kinds(segments) == ["prose", "attribution", "quoted", "prose"]
    assert segments[1].text.strip() == attribution


def test_wrote_line_not_before_a_quote_is_prose() -> None:
    assert kinds(split_body("As Marc wrote:\nwe should not do that.\n")) == ["prose"]


def test_trailers_with_continuations() -> None:
    text = (
        "Looks fine.\n\n"
        'Fixes: 892713e97ca1 ("KVM: arm64: Sidestep stage2_unmap_vm() on vcpu\n'
        'reset when S2FWB is supported")\n'
        "Reviewed-by: Some Very Long Name\n"
        "  <long.name@example.com>\n"
        "Tested-by: Someone <someone@example.com> # on Juno\n"
        "[for the arm64 bits]\n"
        "Thanks"
    )
    segments = split_body(text)
    assert kinds(segments) == ["prose", "trailer", "prose"]
    assert segments[1].text.count("\n") == 5


def test_blank_lines_attach_without_empty_segments() -> None:
    text = "\n\nFirst\n\n\n> quote\n\n> more quote\n\n\nlast\n\n"
    segments = split_body(text)
    assert kinds(segments) == ["prose", "quoted", "prose"]
    assert segments[1].text == "> quote\n\n> more quote"
    assert "\n".join(s.text for s in segments) == text.removesuffix("\n")
    assert split_body("") == []
    assert split_body("\n \n\t\n") == []


def test_indented_trailer_but_not_in_pasted_git_log() -> None:
    reply = "So for the code:\n\n\tAcked-by: Joerg Roedel <jroedel@suse.de>\n"
    assert kinds(split_body(reply)) == ["prose", "trailer"]
    git_log = (
        "commit 0123456789abcdef\n\n    Fix it.\n\n"
        "    Signed-off-by: A <a@example.org>\n    Acked-by: B <b@example.org>\n"
    )
    assert kinds(split_body(git_log)) == ["prose"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi Marc,\n\nThis fixes the bug.\nSecond line.", "This fixes the bug.\nSecond line."),
        ("Hello,\nThis fixes the bug.", "This fixes the bug."),
        ("Hi all,\n\nThe series looks good.", "The series looks good."),
        ("Marc,\nOnly possible way?", "Only possible way?"),
        ("Hi, I tested this on Juno and it works.", "Hi, I tested this on Juno and it works."),
        ("Thanks,\nMarc", "Thanks,\nMarc"),
        ("From: A U Thor <a@example.org>\n\nThe real message.", "The real message."),
        ("> only a quote\n", ""),
        ("", ""),
    ],
)
def test_first_paragraph(text: str, expected: str) -> None:
    assert first_paragraph(text) == expected


def test_real_patch_attached_after_list_footer(corpus_git: Path) -> None:
    """The list footer comes before an attached text/x-patch part; the patch is a diff."""
    segments = split_body(corpus_text(corpus_git, "2b8b4595d0cf19e0d8a443b4886006877084249b"))
    footer = next(s for s in segments if s.kind == "signature")
    assert footer.text.startswith("_" * 47 + "\nkvmarm mailing list")
    assert "diff" in kinds(segments[segments.index(footer) :])


def test_patch_below_scissors_after_signature() -> None:
    text = (
        "How about this instead?\n\n-- \nviresh\n\n-- >8 --\n\n"
        "From be823e68faffc82a6f621c16ce1bd45990d92791 Mon Sep 17 00:00:00 2001\n"
        "Subject: [PATCH] fix\n\nBody.\n\nSigned-off-by: V <v@example.org>\n---\n"
        " a | 1 +\n 1 file changed, 1 insertion(+)\n\n"
        "diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -0,0 +1 @@\n+x\n-- \n2.21.0\n"
    )
    assert kinds(split_body(text)) == [
        "prose",
        "signature",
        "prose",
        "trailer",
        "diffstat",
        "diff",
        "signature",
    ]


def test_double_dash_before_pasted_patch_is_not_signature() -> None:
    text = (
        "Something like this?\n\n--\nFrom: A U Thor <a@example.org>\nSubject: [PATCH] x\n\n"
        "Body.\n\nSigned-off-by: A U Thor <a@example.org>\n---\n"
        "diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n-x\n+y\n"
    )
    assert kinds(split_body(text)) == ["prose", "trailer", "diffstat", "diff"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Will, Catalin,\nPlease take this one.", "Please take this one."),
        ("However,\nthis breaks nVHE.", "However,\nthis breaks nVHE."),
        ("lowercase,\nline", "lowercase,\nline"),
    ],
)
def test_first_paragraph_name_greetings(text: str, expected: str) -> None:
    assert first_paragraph(text) == expected


# --- Outlook-style quotes and indented pastes -----------------------------------------

_OUTLOOK_HEADER = (
    "From: Marc Zyngier [mailto:maz@kernel.org]\n"
    "Sent: Friday, April 17, 2020 11:06 PM\n"
    "To: Zengtao (B)\n"
    "Cc: kvmarm@lists.cs.columbia.edu\n"
    "Subject: Re: [PATCH] KVM: arm64: Fix the thing\n"
)
_OUTLOOK_QUOTED = (
    "Please fix the foo.\n\n"
    "Reviewed-by: Marc Zyngier <maz@kernel.org>\n"
    "Link: https://lore.kernel.org/r/1@example.org\n"
)


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "-------- Original Message --------",
        "------------------- Original Message -------------------",
        "---original message---",
        "  ----- ORIGINAL MESSAGE -----  ",
    ],
)
def test_outlook_original_message_and_below_is_quoted(separator: str) -> None:
    text = f"Thanks, will fix.\n\n{separator}\n{_OUTLOOK_HEADER}\n{_OUTLOOK_QUOTED}"
    segments = split_body(text)
    assert kinds(segments) == ["prose", "attribution", "quoted"]
    assert segments[1].text.startswith(separator)
    assert "Subject: Re: [PATCH]" in segments[1].text
    assert segments[2].text.startswith("Please fix the foo.")
    assert "\n".join(s.text for s in segments) == text.removesuffix("\n")


def test_outlook_original_message_without_header_block() -> None:
    text = "Ping?\n\n-----Original Message-----\n\nOld text.\nAcked-by: A <a@example.org>\n"
    assert kinds(split_body(text)) == ["prose", "attribution", "quoted"]


@pytest.mark.parametrize(
    "header",
    [
        _OUTLOOK_HEADER,  # desktop Outlook without a separator
        "________________________________\n" + _OUTLOOK_HEADER,  # Outlook Web's rule
        "From: kvmarm-bounces@lists.cs.columbia.edu <kvmarm-bounces@lists.cs.columbia.edu>"
        " On Behalf Of Marc Zyngier\nSent: Thursday, August 6, 2020 1:57 AM\nTo: A\n",
        "*From:* Marc Zyngier <maz@kernel.org>\n*Sent:* Monday, 8 February 2021\n",
        "发件人: Marc Zyngier [mailto:maz@kernel.org]\n发送时间: 2020年4月17日 23:06\n收件人: A\n",
    ],
)
def test_outlook_from_sent_header_starts_a_quote(header: str) -> None:
    text = f"Cheers,\nAndre\n\n{header}\n{_OUTLOOK_QUOTED}"
    segments = split_body(text)
    assert kinds(segments) == ["prose", "attribution", "quoted"]
    assert segments[0].text.rstrip() == "Cheers,\nAndre"
    assert segments[1].text.strip() == header.strip()


def test_outlook_separator_above_a_quote_keeps_inline_answers() -> None:
    """The separator is unquoted but the quote is "> ": answers between are the sender's."""
    text = (
        " -----Original Message-----\n"
        "> From: Marc Zyngier [mailto:maz@kernel.org]\n"
        "> Sent: Friday, April 17, 2020 11:06 PM\n"
        ">\n> - test with the current state of the patches\n"
        "I tested your branch, the error still exists.\n\n"
        "> Thanks,\n"
    )
    segments = split_body(text)
    assert kinds(segments) == ["attribution", "quoted", "prose", "quoted"]
    assert segments[2].text.startswith("I tested your branch")


@pytest.mark.parametrize(
    "text",
    [
        # a patch pasted in a reply: "From:" then "Date:", not "Sent:"
        "Here's one\n\nFrom: Andrew Jones <drjones@redhat.com>\n"
        "Date: Thu, 22 Aug 2019 06:38:26 -0400\nSubject: [PATCH] KVM: selftests: x\n\n"
        "Body.\n\nSigned-off-by: Andrew Jones <drjones@redhat.com>\n",
        # "Sent:" alone, or after a blank line, is prose
        "From: the spec, page 12.\n\nSent: v2 last week.\nReviewed-by: A <a@example.org>\n",
        # "Original Message" without dashes is prose
        "The Original Message was lost.\nReviewed-by: A <a@example.org>\n",
    ],
)
def test_not_an_outlook_quote(text: str) -> None:
    assert "quoted" not in kinds(split_body(text))
    assert "trailer" in kinds(split_body(text))


def test_outlook_quote_already_quoted_stays_quoted() -> None:
    text = "> -----Original Message-----\n> From: A\n> Sent: today\n\nMy answer.\n"
    assert kinds(split_body(text)) == ["quoted", "prose"]


@pytest.mark.parametrize("indent", ["    ", "\t", "        ", "  \t"])
def test_indented_trailer_ending_an_indented_paste_is_not_a_trailer(indent: str) -> None:
    """A commit message pasted indented: its Reviewed-by is not the sender's."""
    text = (
        "This is what I queued:\n\n"
        f"{indent}KVM: arm64: Fix the thing\n\n"
        f"{indent}The thing was broken, fix it.\n\n"
        f"{indent}Reviewed-by: Marc Zyngier <maz@kernel.org>\n"
        f"{indent}Tested-by: B <b@example.org>\n\n"
        "Thanks.\n"
    )
    assert "trailer" not in kinds(split_body(text))


def test_indented_trailers_after_flush_left_prose_are_trailers() -> None:
    text = (
        "So, if it helps:\n \n    Reviewed-by: Vladimir Murzin <vladimir.murzin@arm.com>\n\n"
        "    Tested-by: B <b@example.org>\n\nCheers\n"
    )
    assert kinds(split_body(text)) == ["prose", "trailer", "prose"]


def test_slightly_indented_paste_keeps_its_trailers() -> None:
    """Below 4 spaces an indent is a habit of the writer, not a paste."""
    text = "  I looked at it\n  and it is fine.\n\n  Acked-by: A <a@example.org>\n"
    assert kinds(split_body(text)) == ["prose", "trailer"]


def test_real_outlook_quote(corpus_git: Path) -> None:
    """A ping above Outlook's "-----Original Message-----" header of Marc's mail."""
    text = corpus_text(corpus_git, "4e1b45db60793fb2cd767a44daf163441e4e718b")
    segments = split_body(text)
    assert kinds(segments) == ["prose", "attribution", "quoted"]
    assert segments[0].text.startswith("Ping ...")
    assert segments[1].text.startswith("-----Original Message-----\nFrom: Marc Zyngier")


def test_real_outlook_web_quote(corpus_git: Path) -> None:
    """Outlook Web: a "____" rule, then From:/Sent:/To:/Subject:, then the old mail."""
    segments = split_body(corpus_text(corpus_git, "8608e2ecb253710c83f0adb1eddd8c4c8653d23f"))
    assert kinds(segments) == ["prose", "attribution", "quoted"]
    assert segments[1].text.startswith("________________________________\nFrom: Christoffer")


def test_real_unquoted_separator_above_quote(corpus_git: Path) -> None:
    """Zengtao answers inline below an unquoted separator: his answers stay prose."""
    segments = split_body(corpus_text(corpus_git, "ca60893ae124b904986fe71069fa3ea6275bc64f"))
    assert kinds(segments)[:3] == ["attribution", "quoted", "prose"]
    assert "I test with your nv-5.7-rc1-WIP branch" in prose_text(segments)
