"""mail.patch_files: the files a patch mail touches, on hand-made diffs and real patches."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from lore_digest.mail.body import split_body
from lore_digest.mail.mime import message_text
from lore_digest.mail.patch_files import touched_files, touched_files_in_text
from test_body import corpus_text

PATCH = """\
Fix the thing.

Signed-off-by: A U Thor <a@example.org>
---
 arch/arm64/kvm/arm.c     | 3 ++-
 include/kvm/arm_vgic.h   | 1 +
 2 files changed, 3 insertions(+), 1 deletion(-)

diff --git a/arch/arm64/kvm/arm.c b/arch/arm64/kvm/arm.c
index 0123456..789abcd 100644
--- a/arch/arm64/kvm/arm.c
+++ b/arch/arm64/kvm/arm.c
@@ -1,3 +1,4 @@
 int a;
--- this removed line looks like a diff header
+++ this added line too
+diff --git a/not/a/file.c b/not/a/file.c
diff --git a/include/kvm/arm_vgic.h b/include/kvm/arm_vgic.h
index 0123456..789abcd 100644
--- a/include/kvm/arm_vgic.h
+++ b/include/kvm/arm_vgic.h
@@ -1 +1,2 @@
 x
+y
--
2.30.0
"""


def test_plain_git_patch() -> None:
    assert touched_files_in_text(PATCH) == ("arch/arm64/kvm/arm.c", "include/kvm/arm_vgic.h")


def test_segments_and_text_agree() -> None:
    assert touched_files(split_body(PATCH)) == touched_files_in_text(PATCH)
    assert touched_files(tuple(split_body(PATCH))) == touched_files_in_text(PATCH)


def test_no_diff_no_files() -> None:
    assert touched_files_in_text("Looks good to me.\n\nReviewed-by: A <a@example.org>\n") == ()
    assert touched_files([]) == ()


def test_new_deleted_and_mode_only_files() -> None:
    text = (
        "diff --git a/new.c b/new.c\nnew file mode 100644\nindex 0000000..1234567\n"
        "--- /dev/null\n+++ b/new.c\n@@ -0,0 +1 @@\n+x\n"
        "diff --git a/gone.c b/gone.c\ndeleted file mode 100644\nindex 1234567..0000000\n"
        "--- a/gone.c\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"
        "diff --git a/scripts/run.sh b/scripts/run.sh\nold mode 100644\nnew mode 100755\n"
    )
    assert touched_files_in_text(text) == ("gone.c", "new.c", "scripts/run.sh")


def test_rename_touches_both_sides() -> None:
    text = (
        "diff --git a/drivers/ptp/ptp_kvm.c b/drivers/ptp/ptp_kvm_common.c\n"
        "similarity index 100%\n"
        "rename from drivers/ptp/ptp_kvm.c\nrename to drivers/ptp/ptp_kvm_common.c\n"
    )
    assert touched_files_in_text(text) == ("drivers/ptp/ptp_kvm.c", "drivers/ptp/ptp_kvm_common.c")


def test_copy_does_not_touch_its_source() -> None:
    text = (
        "diff --git a/lib/a.c b/lib/b.c\nsimilarity index 90%\n"
        "copy from lib/a.c\ncopy to lib/b.c\n--- a/lib/a.c\n+++ b/lib/b.c\n"
        "@@ -1 +1 @@\n-x\n+y\n"
    )
    assert touched_files_in_text(text) == ("lib/b.c",)


def test_names_with_spaces_and_quotes() -> None:
    text = (
        "diff --git a/Documentation/my file.txt b/Documentation/my file.txt\n"
        "--- a/Documentation/my file.txt\n+++ b/Documentation/my file.txt\n"
        "@@ -1 +1 @@\n-x\n+y\n"
        'diff --git "a/tools/t\\303\\251st.c" "b/tools/t\\303\\251st.c"\n'
        'index 1234567..89abcde 100644\n--- "a/tools/t\\303\\251st.c"\n'
        '+++ "b/tools/t\\303\\251st.c"\n@@ -1 +1 @@\n-x\n+y\n'
    )
    assert touched_files_in_text(text) == ("Documentation/my file.txt", "tools/tést.c")


@pytest.mark.parametrize(
    ("minus", "plus", "expected"),
    [
        ("a/x/y.c", "b/x/y.c", "x/y.c"),
        (
            "linux-next-20211106.orig/arch/arm64/kvm/x.c",
            "linux-next-20211106/arch/arm64/kvm/x.c",
            "arch/arm64/kvm/x.c",
        ),
        ("arch/arm64/kvm/mmu.c~arm64-fix-it", "arch/arm64/kvm/mmu.c", "arch/arm64/kvm/mmu.c"),
        ("a/arch/x.h~arm64-fix-it", "a/arch/x.h", "arch/x.h"),
        ("a/old.c\t2019-01-01 10:00:00.000000000 +0000", "/dev/null", "old.c"),
        ("/dev/null", "b/new.c", "new.c"),
        (
            "virt/kvm/kvm_main.c\t(revision 12)",
            "virt/kvm/kvm_main.c\t(working copy)",
            "virt/kvm/kvm_main.c",
        ),
    ],
)
def test_diff_without_git_header(minus: str, plus: str, expected: str) -> None:
    text = f"Please try:\n\n--- {minus}\n+++ {plus}\n@@ -1 +1 @@\n-x\n+y\n"
    assert touched_files_in_text(text) == (expected,)


def test_non_git_diff_after_a_git_one() -> None:
    text = (
        "diff --git a/a.c b/a.c\n--- a/a.c\n+++ b/a.c\n@@ -1 +1 @@\n-x\n+y\n"
        "--- linux.orig/b.c\n+++ linux/b.c\n@@ -1 +1 @@\n-x\n+y\n"
    )
    assert touched_files_in_text(text) == ("a.c", "b.c")


def test_quoted_patch_of_a_review_does_not_count() -> None:
    text = (
        "On Mon, A wrote:\n> diff --git a/x.c b/x.c\n> --- a/x.c\n> +++ b/x.c\n"
        "> @@ -1 +1 @@\n> -x\n> +y\n\nLooks fine.\n"
    )
    assert touched_files_in_text(text) == ()


COVER = """\
This series does things.

Marc Zyngier (3):
  KVM: arm64: One
  KVM: arm64: Two

 .../admin-guide/kernel-parameters.txt         |  8 +++++
 arch/arm/kvm/{coproc_a7.c => coproc_generic.c} | 18 +++---
 arch/arm64/kvm/{ => hyp}/tlb.c                 |  4 +-
 drivers/{old => new}/thing.c                   |  2 +-
 docs/a.txt => Documentation/b.rst              |  0
 firmware/blob.bin                              | Bin 0 -> 1024 bytes
 .../kvm/aarch64/arch_timer.c                   | 12 ++--
 7 files changed, 30 insertions(+), 14 deletions(-)
 create mode 100644 include/kvm/arm_new.h
 delete mode 100644 virt/kvm/arm/old.c
 mode change 100644 => 100755 tools/testing/selftests/kvm/run.sh
 rename arch/arm/kvm/{coproc_a7.c => coproc_generic.c} (70%)

--
2.30.0
"""


def test_cover_letter_diffstat() -> None:
    """Renames in every spelling; names git shortened are dropped without a diff."""
    assert touched_files_in_text(COVER) == (
        "Documentation/b.rst",
        "arch/arm/kvm/coproc_a7.c",
        "arch/arm/kvm/coproc_generic.c",
        "arch/arm64/kvm/hyp/tlb.c",
        "arch/arm64/kvm/tlb.c",
        "docs/a.txt",
        "drivers/new/thing.c",
        "drivers/old/thing.c",
        "firmware/blob.bin",
        "include/kvm/arm_new.h",
        "tools/testing/selftests/kvm/run.sh",
        "virt/kvm/arm/old.c",
    )


def test_shortened_diffstat_names_resolved_against_known_paths() -> None:
    known = (
        "Documentation/admin-guide/kernel-parameters.txt",
        "tools/testing/selftests/kvm/aarch64/arch_timer.c",
        "tools/testing/selftests/kvm/x86_64/arch_timer.c.orig",  # a suffix, not the name
    )
    found = touched_files_in_text(COVER, known=known)
    assert set(known[:2]) <= set(found)
    assert known[2] not in found
    assert not any(path.startswith("...") for path in found)


def test_shortened_diffstat_name_resolved_against_the_diff() -> None:
    text = (
        "---\n .../kvm/hyp/nvhe/sys_regs.c | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n\n"
        "diff --git a/arch/arm64/kvm/hyp/nvhe/sys_regs.c b/arch/arm64/kvm/hyp/nvhe/sys_regs.c\n"
        "--- a/arch/arm64/kvm/hyp/nvhe/sys_regs.c\n+++ b/arch/arm64/kvm/hyp/nvhe/sys_regs.c\n"
        "@@ -1 +1 @@\n-x\n+y\n"
    )
    assert touched_files_in_text(text) == ("arch/arm64/kvm/hyp/nvhe/sys_regs.c",)


def test_shortened_rename_resolved_or_dropped() -> None:
    """git cuts the "{" off a long rename: ".../kvm/arm => arch/arm64/kvm}/hyp/x.c"."""
    text = (
        "---\n"
        " .../kvm/arm => arch/arm64/kvm}/hyp/aarch32.c  |   0\n"
        " .../arm => arch/arm64/kvm}/hyp/vgic-v3-sr.c   |   4 -\n"
        " .../kvm}/vgic/vgic-its.c                      |   2 +-\n"
        " 3 files changed, 1 insertion(+), 5 deletions(-)\n"
    )
    assert touched_files_in_text(text) == ()
    known = (
        "virt/kvm/arm/hyp/aarch32.c",
        "arch/arm64/kvm/hyp/aarch32.c",
        "virt/kvm/arm/hyp/vgic-v3-sr.c",
        "arch/arm64/kvm/hyp/vgic-v3-sr.c",
        "arch/arm64/kvm/vgic/vgic-its.c",
        "arch/arm64/kvm/vgic/vgic-init.c",
    )
    assert touched_files_in_text(text, known=known) == tuple(sorted(known[:5]))


def test_diff_git_line_joined_with_its_index_line() -> None:
    text = (
        "diff --git a/arch/arm64/kvm/guest.c b/arch/arm64/kvm/guest.c index c2afa79..dfd6264 100644\n"
        "--- a/arch/arm64/kvm/guest.c\n+++ b/arch/arm64/kvm/guest.c\n@@ -1 +1 @@\n-x\n+y\n"
    )
    assert touched_files_in_text(text) == ("arch/arm64/kvm/guest.c",)


def test_diff_git_line_wrapped_by_a_mailer() -> None:
    """The "diff --git" line lost its second half: the "--- "/"+++ " lines still name it."""
    text = (
        "diff --git a/tools/testing/selftests/kvm/aarch64/vgic_irq.c\n"
        " b/tools/testing/selftests/kvm/aarch64/vgic_irq.c\n"
        "--- a/tools/testing/selftests/kvm/aarch64/vgic_irq.c\n"
        "+++ b/tools/testing/selftests/kvm/aarch64/vgic_irq.c\n@@ -1 +1 @@\n-x\n+y\n"
    )
    assert touched_files_in_text(text) == ("tools/testing/selftests/kvm/aarch64/vgic_irq.c",)


# --- real patches ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("commit", "expected"),
    [
        (  # a rename, in the diffstat ({a => b}) and in the diff
            "ee9cbc3567b921149bcde87c73763821860404f5",
            (
                "arch/arm/include/uapi/asm/kvm.h",
                "arch/arm/kvm/Makefile",
                "arch/arm/kvm/coproc_a7.c",
                "arch/arm/kvm/coproc_generic.c",
                "arch/arm/kvm/guest.c",
                "arch/arm/kvm/reset.c",
            ),
        ),
        (  # ".../arm64/pointer-authentication.txt" in the diffstat, full in the diff
            "5e5155ece6e92a6cce40bb295ce3ff7ce0b07095",
            (
                "Documentation/arm64/pointer-authentication.txt",
                "Documentation/virtual/kvm/api.txt",
                "arch/arm64/include/asm/kvm_host.h",
                "arch/arm64/include/uapi/asm/kvm.h",
                "arch/arm64/kvm/reset.c",
            ),
        ),
        (  # quilt: "--- linux-next-20211106.orig/arch/..." without a git header
            "b53e520b1be5b3519c7b80d0be84f41eb74a1d21",
            ("arch/arm64/kvm/hyp/nvhe/sys_regs.c",),
        ),
    ],
)
def test_real_patches(corpus_git: Path, commit: str, expected: tuple[str, ...]) -> None:
    assert touched_files_in_text(corpus_text(corpus_git, commit)) == expected


def test_real_cover_letter_drops_shortened_names(corpus_git: Path) -> None:
    """[PATCH 00/15] arm64: KVM: add SPE profiling: a diffstat and no diff."""
    found = touched_files_in_text(
        corpus_text(corpus_git, "0541e793a5feca949d54fad51694197650c79309")
    )
    assert "virt/kvm/arm/spe.c" in found
    assert "include/kvm/arm_spe.h" in found
    assert len(found) == 17
    assert not any("..." in path for path in found)


_GIT_HEADER = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.MULTILINE)


def test_every_diff_git_path_of_the_first_corpus_mails(corpus_git: Path) -> None:
    """Each unquoted "diff --git a/X b/Y" line of the first 1,500 mails gives X and Y."""
    revs = subprocess.run(
        ["git", "-C", str(corpus_git), "rev-list", "--reverse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[:1500]
    blobs = subprocess.run(
        ["git", "-C", str(corpus_git), "cat-file", "--batch"],
        input="".join(f"{rev}:m\n" for rev in revs).encode(),
        check=True,
        capture_output=True,
    ).stdout
    patches = 0
    for raw in _split_batch(blobs):
        text = message_text(raw).text.replace("\r\n", "\n")
        expected = {path for pair in _GIT_HEADER.findall(text) for path in pair}
        if not expected:
            continue
        patches += 1
        missing = expected - set(touched_files_in_text(text))
        assert not missing, (text[:300], missing)
    assert patches > 300


def _split_batch(data: bytes) -> list[bytes]:
    """The blobs of a `git cat-file --batch` output."""
    blobs: list[bytes] = []
    position = 0
    while position < len(data):
        header_end = data.index(b"\n", position)
        size = int(data[position:header_end].split()[2])
        blobs.append(data[header_end + 1 : header_end + 1 + size])
        position = header_end + 1 + size + 1
    return blobs
