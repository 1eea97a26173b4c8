"""facts.maintainers: the kernel's MAINTAINERS format, every pattern rule, and its speed."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from lore_digest.errors import UsageError
from lore_digest.facts.maintainers import (
    MailingList,
    Maintainers,
    MaintainersError,
    Person,
    Section,
)
from lore_digest.mail.patch_files import touched_files_in_text
from test_body import corpus_text

DATA = Path(__file__).resolve().parent / "data" / "MAINTAINERS-kvmarm"

KVM_ARM64 = "KERNEL VIRTUAL MACHINE FOR ARM64 (KVM/arm64)"
ARM64 = "ARM64 PORT (AARCH64 ARCHITECTURE)"
TEGRA = "ARM/NVIDIA TEGRA"
NET_ALL = "NET DRIVERS (IN AND BELOW)"
NET_TOP = "NET DRIVERS (TOP LEVEL ONLY)"
ANY_NET = "NET OF ANY TOP-LEVEL DIRECTORY"
NAMED = "FILES AND DIRECTORIES BY NAME"
REST = "THE REST"

TEXT = """\
List of maintainers
===================

Descriptions of section entries and preferred order
---------------------------------------------------

	M: *Mail* patches to: FullName <address@domain>
	F: *Files* and directories wildcard patterns.
\t   F:\tdrivers/net/\tall files in and below drivers/net
	X: *Excluded* files and directories that are NOT maintained

Maintainers List
----------------

ARM/NVIDIA TEGRA
M:	Thierry Reding <thierry.reding@gmail.com>
L:	linux-tegra@vger.kernel.org
S:	Supported
Q:	http://patchwork.ozlabs.org/project/linux-tegra/list/
N:	[^a-z]tegra
X:	drivers/gpu/host1x/tegra/legacy/
K:	\\btegra_[a-z]+\\b

ARM64 PORT (AARCH64 ARCHITECTURE)
M:	Catalin Marinas <catalin.marinas@arm.com>
M:	Will Deacon <will@kernel.org>
L:	linux-arm-kernel@lists.infradead.org (moderated for non-subscribers)
S:	Maintained
T:	git git://git.kernel.org/pub/scm/linux/kernel/git/arm64/linux.git
F:	arch/arm64/
X:	arch/arm64/boot/dts/

FILES AND DIRECTORIES BY NAME
M: Name Only <Name.Only@Example.ORG>
S:  Odd Fixes
F:  MAINTAINERS
F: scripts/get_maintainer.pl
F:	Documentation/process
C:	irc://irc.libera.chat/kernel
W:	https://www.kernel.org/doc/html/latest/process/
P:	Documentation/process/maintainer-handbooks.rst
B:	https://bugzilla.kernel.org
Z:	an unknown letter

KERNEL VIRTUAL MACHINE FOR ARM64 (KVM/arm64)
M:	Marc Zyngier <Maz@Kernel.org>
M:	Oliver Upton <oliver.upton@linux.dev>
R:	James Morse <james.morse@arm.com>
L:	linux-arm-kernel@lists.infradead.org (moderated for non-subscribers)
L:	kvmarm@lists.linux.dev
L:	kvmarm@lists.cs.columbia.edu (deprecated, moderated for non-subscribers)
S:	Maintained
T:	git git://git.kernel.org/pub/scm/linux/kernel/git/kvmarm/kvmarm.git
F:	arch/arm64/include/asm/kvm*
F:	arch/arm64/kvm/
F:	include/kvm/arm_*
F:	tools/testing/selftests/kvm/*/aarch64/
X:	arch/arm64/kvm/hyp/nvhe/

NET DRIVERS (IN AND BELOW)
M:	Net All <all@example.org>
R:	Net Reviewer <reviewer@example.org>
L:	netdev@vger.kernel.org
S:	Maintained
F:	drivers/net/

NET DRIVERS (TOP LEVEL ONLY)
M:	Net Top <top@example.org>
S:	Maintained
F:	drivers/net/*

NET OF ANY TOP-LEVEL DIRECTORY
M:	Any Net <any@example.org>
S:	Maintained
F:	*/net/*

ORPHANED DRIVER
M:	Orphan
S:	Orphan
F:	drivers/orphan/

THE REST
M:	Linus Torvalds <torvalds@linux-foundation.org>
L:	linux-kernel@vger.kernel.org
S:	Buried
T:	git git://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git
F:	*
F:	*/
"""


@pytest.fixture(scope="module")
def maintainers() -> Maintainers:
    return Maintainers.parse(TEXT, source="crafted")


def titles(sections: list[Section]) -> list[str]:
    return [section.title for section in sections]


def section(maintainers: Maintainers, title: str) -> Section:
    (found,) = [s for s in maintainers.sections if s.title == title]
    return found


# --- parsing ---------------------------------------------------------------------------


def test_header_text_is_skipped(maintainers: Maintainers) -> None:
    assert titles(list(maintainers.sections)) == [
        TEGRA,
        ARM64,
        NAMED,
        KVM_ARM64,
        NET_ALL,
        NET_TOP,
        ANY_NET,
        "ORPHANED DRIVER",
        REST,
    ]
    assert len(maintainers) == 9
    assert maintainers.problems == ()


def test_kvm_arm64_section_fields(maintainers: Maintainers) -> None:
    kvm = section(maintainers, KVM_ARM64)
    assert kvm.maintainers == (
        Person("Marc Zyngier", "maz@kernel.org"),
        Person("Oliver Upton", "oliver.upton@linux.dev"),
    )
    assert kvm.reviewers == (Person("James Morse", "james.morse@arm.com"),)
    assert kvm.lists == (
        MailingList("linux-arm-kernel@lists.infradead.org", "moderated for non-subscribers"),
        MailingList("kvmarm@lists.linux.dev", ""),
        MailingList("kvmarm@lists.cs.columbia.edu", "deprecated, moderated for non-subscribers"),
    )
    assert [(m.name, m.moderated, m.deprecated) for m in kvm.lists] == [
        ("linux-arm-kernel", True, False),
        ("kvmarm", False, False),
        ("kvmarm", True, True),
    ]
    assert kvm.status == "Maintained"
    assert kvm.trees == ("git git://git.kernel.org/pub/scm/linux/kernel/git/kvmarm/kvmarm.git",)
    assert kvm.files == (
        "arch/arm64/include/asm/kvm*",
        "arch/arm64/kvm/",
        "include/kvm/arm_*",
        "tools/testing/selftests/kvm/*/aarch64/",
    )
    assert kvm.excludes == ("arch/arm64/kvm/hyp/nvhe/",)
    assert kvm.regexes == kvm.content_regexes == kvm.other == ()
    assert TEXT.splitlines()[kvm.line - 1] == KVM_ARM64


def test_spaces_after_colon_and_other_letters_kept_raw(maintainers: Maintainers) -> None:
    named = section(maintainers, NAMED)
    assert named.maintainers == (Person("Name Only", "name.only@example.org"),)
    assert named.status == "Odd Fixes"
    assert named.files == ("MAINTAINERS", "scripts/get_maintainer.pl", "Documentation/process")
    assert named.other == (
        ("C", "irc://irc.libera.chat/kernel"),
        ("W", "https://www.kernel.org/doc/html/latest/process/"),
        ("P", "Documentation/process/maintainer-handbooks.rst"),
        ("B", "https://bugzilla.kernel.org"),
        ("Z", "an unknown letter"),
    )


def test_regexes_and_content_regexes(maintainers: Maintainers) -> None:
    tegra = section(maintainers, TEGRA)
    assert tegra.regexes == ("[^a-z]tegra",)
    assert tegra.content_regexes == ("\\btegra_[a-z]+\\b",)
    assert tegra.other == (("Q", "http://patchwork.ozlabs.org/project/linux-tegra/list/"),)


def test_maintainer_without_address_is_kept_raw(maintainers: Maintainers) -> None:
    orphan = section(maintainers, "ORPHANED DRIVER")
    assert orphan.maintainers == ()
    assert orphan.other == (("M", "Orphan"),)
    assert orphan.status == "Orphan"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Marc Zyngier <MAZ@kernel.org>", Person("Marc Zyngier", "maz@kernel.org")),
        (
            '"Paul E. McKenney" <paulmck@kernel.org>',
            Person("Paul E. McKenney", "paulmck@kernel.org"),
        ),
        ("will@kernel.org", Person("", "will@kernel.org")),
        ("Orphan", None),
    ],
)
def test_person_parse(value: str, expected: Person | None) -> None:
    assert Person.parse(value) == expected


# --- pattern rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # "drivers/net/": in and below; "drivers/net/*": in, not below; "*/net/*": any
        # top-level directory's net/, files directly in it
        ("drivers/net/dummy.c", [NET_TOP, NET_ALL, ANY_NET]),  # deeper pattern first
        ("drivers/net/ethernet/intel/e1000.c", [NET_ALL]),
        ("sound/net/x.c", [ANY_NET]),
        ("net/core/dev.c", [REST]),  # */net/* needs a directory above net/
        ("drivers/netdev.c", [REST]),
        # "arch/arm64/kvm/": in and below; the most specific section first
        ("arch/arm64/kvm/arm.c", [KVM_ARM64, ARM64]),
        ("arch/arm64/kvm/vgic/vgic-init.c", [KVM_ARM64, ARM64]),
        ("arch/arm64/include/asm/kvm_host.h", [KVM_ARM64, ARM64]),
        ("arch/arm64/include/asm/kvm/x.h", [ARM64]),  # kvm* does not cross a "/"
        ("arch/arm64/include/asm/cpufeature.h", [ARM64]),
        ("include/kvm/arm_vgic.h", [KVM_ARM64]),
        ("tools/testing/selftests/kvm/lib/aarch64/processor.c", [KVM_ARM64]),
        ("tools/testing/selftests/kvm/include/aarch64/processor.h", [KVM_ARM64]),
        ("tools/testing/selftests/kvm/aarch64/arch_timer.c", [REST]),  # */ needs one level
        # X: wins over F: for its own section only
        ("arch/arm64/kvm/hyp/nvhe/switch.c", [ARM64]),
        ("arch/arm64/kvm/hyp/vhe/switch.c", [KVM_ARM64, ARM64]),
        ("arch/arm64/boot/dts/arm/juno.dts", [REST]),
        # a name without wildcard or slash: that file, or that directory and below
        ("MAINTAINERS", [NAMED]),
        ("scripts/get_maintainer.pl", [NAMED]),
        ("scripts/get_maintainer.pl.orig", [REST]),
        ("Documentation/process/submitting-patches.rst", [NAMED]),
        ("Documentation/processing.rst", [REST]),
        # N: searched anywhere in the path; X: wins over it too
        ("drivers/gpu/host1x/tegra/x.c", [TEGRA]),
        ("arch/arm64/boot/dts/nvidia/tegra194.dtsi", [TEGRA]),
        ("drivers/gpu/host1x/tegra/legacy/y.c", [REST]),
        ("drivers/mfd/integrator.c", [REST]),  # [^a-z]tegra: not "integrator"
        ("./arch/arm64/kvm/arm.c", [KVM_ARM64, ARM64]),
        ("README", [REST]),
    ],
)
def test_pattern_rules(maintainers: Maintainers, path: str, expected: list[str]) -> None:
    assert titles(maintainers.sections_for_files([path])) == expected


def test_the_rest_only_for_files_nobody_else_has(maintainers: Maintainers) -> None:
    assert REST not in titles(maintainers.sections_for_files(["arch/arm64/kvm/arm.c"]))
    assert titles(maintainers.sections_for_files(["arch/arm64/kvm/arm.c", "README"])) == [
        KVM_ARM64,
        ARM64,
        REST,
    ]
    assert maintainers.sections_for_files([]) == []
    assert maintainers.sections_for_files([""]) == []


def test_sections_for_many_files_are_unique_and_ranked(maintainers: Maintainers) -> None:
    paths = ["arch/arm64/mm/fault.c", "arch/arm64/kvm/arm.c", "include/kvm/arm_pmu.h"]
    assert titles(maintainers.sections_for_files(paths)) == [KVM_ARM64, ARM64]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kvmarm", [KVM_ARM64]),
        ("kvmarm@lists.linux.dev", [KVM_ARM64]),
        ("KVMARM@lists.cs.columbia.edu", [KVM_ARM64]),
        ("linux-arm-kernel", [ARM64, KVM_ARM64]),
        ("kvm", []),
        ("kvmarm@vger.kernel.org", []),
        ("netdev", [NET_ALL]),
    ],
)
def test_sections_for_list(maintainers: Maintainers, query: str, expected: list[str]) -> None:
    assert titles(maintainers.sections_for_list(query)) == expected


def test_appliers_and_reviewers(maintainers: Maintainers) -> None:
    assert maintainers.appliers(["arch/arm64/kvm/arm.c"], "kvmarm") == {
        "maz@kernel.org",
        "oliver.upton@linux.dev",
        "catalin.marinas@arm.com",
        "will@kernel.org",
    }
    # nVHE is excluded from KVM/arm64's files, but the patch went to its list
    assert maintainers.appliers(["arch/arm64/kvm/hyp/nvhe/switch.c"]) == {
        "catalin.marinas@arm.com",
        "will@kernel.org",
    }
    assert maintainers.appliers(["arch/arm64/kvm/hyp/nvhe/switch.c"], "kvmarm") == {
        "maz@kernel.org",
        "oliver.upton@linux.dev",
        "catalin.marinas@arm.com",
        "will@kernel.org",
    }
    assert maintainers.appliers([], "kvmarm") == {"maz@kernel.org", "oliver.upton@linux.dev"}
    assert maintainers.appliers(["README"]) == {"torvalds@linux-foundation.org"}
    assert maintainers.appliers(["drivers/orphan/x.c"]) == frozenset()
    assert maintainers.reviewers(["drivers/net/ethernet/x.c"], "kvmarm") == {
        "reviewer@example.org",
        "james.morse@arm.com",
    }
    assert maintainers.reviewers(["arch/arm64/mm/fault.c"]) == frozenset()


def test_character_classes_and_question_marks() -> None:
    text = "GIC\nM:\tMarc Zyngier <maz@kernel.org>\nF:\tdrivers/irqchip/irq-gic*.[ch]\nF:\tx/?.c\n"
    gic = Maintainers.parse(text)
    for path, expected in [
        ("drivers/irqchip/irq-gic-v3.c", True),
        ("drivers/irqchip/irq-gic-v3-its.h", True),
        ("drivers/irqchip/irq-gic-v3.o", False),
        ("drivers/irqchip/irq-gic/v3.c", False),
        ("x/a.c", True),
        ("x/ab.c", False),
    ]:
        assert bool(gic.sections_for_files([path])) is expected, path


def test_bad_regex_is_skipped_and_reported() -> None:
    text = "BROKEN\nM:\tA <a@example.org>\nN:\t(unclosed\nF:\tbroken/\n"
    broken = Maintainers.parse(text, source="M")
    assert len(broken.problems) == 1
    assert broken.problems[0].startswith("M:1: BROKEN: N: '(unclosed' skipped:")
    assert titles(broken.sections_for_files(["broken/x.c"])) == ["BROKEN"]
    assert broken.sections_for_files(["(unclosed"]) == []


# --- loading and its errors -------------------------------------------------------------


def test_load_the_demo_file() -> None:
    kvmarm = Maintainers.load(DATA)
    assert len(kvmarm) == 5
    assert kvmarm.source == str(DATA)
    assert titles(kvmarm.sections_for_list("kvmarm")) == [KVM_ARM64]
    assert kvmarm.appliers(["drivers/irqchip/irq-gic-v3-its.c"]) == {"maz@kernel.org"}
    assert kvmarm.appliers(["virt/kvm/kvm_main.c"]) == {"pbonzini@redhat.com"}
    assert kvmarm.appliers(["virt/kvm/arm/arm.c"]) == frozenset()  # virt/kvm/*: not below


def test_demo_file_on_a_real_patch(corpus_git: Path) -> None:
    """[PATCH 45/56] KVM: arm64: Add userspace flag to enable pointer authentication."""
    text = corpus_text(corpus_git, "5e5155ece6e92a6cce40bb295ce3ff7ce0b07095")
    paths = touched_files_in_text(text)
    kvmarm = Maintainers.load(DATA)
    assert titles(kvmarm.sections_for_files(paths)) == [KVM_ARM64, ARM64]
    assert kvmarm.appliers(paths, "kvmarm") == {
        "maz@kernel.org",
        "oliver.upton@linux.dev",
        "catalin.marinas@arm.com",
        "will@kernel.org",
    }
    assert kvmarm.reviewers(paths, "kvmarm") == {
        "james.morse@arm.com",
        "suzuki.poulose@arm.com",
        "yuzenghui@huawei.com",
    }


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "cannot read the MAINTAINERS file: No such file or directory"),
        ("", "the MAINTAINERS file is empty"),
        (" \n\n\t\n", "the MAINTAINERS file is empty"),
        ("Just some text\n\nwith no section.\n\tM: indented\n", "no MAINTAINERS section found"),
    ],
)
def test_load_errors_are_one_line(tmp_path: Path, content: str | None, reason: str) -> None:
    path = tmp_path / "MAINTAINERS"
    if content is not None:
        path.write_text(content)
    with pytest.raises(MaintainersError) as caught:
        Maintainers.load(path)
    message = str(caught.value)
    assert isinstance(caught.value, UsageError)
    assert message.startswith(f"{path}: {reason}")
    assert "\n" not in message


def test_load_a_directory(tmp_path: Path) -> None:
    with pytest.raises(MaintainersError, match=r"cannot read the MAINTAINERS file: Is a directory"):
        Maintainers.load(tmp_path)


# --- speed ------------------------------------------------------------------------------


def synthetic_maintainers(sections: int = 2800, seed: int = 7) -> tuple[str, list[str]]:
    """A MAINTAINERS of the real file's size (~28,000 lines) and 1,000 paths to match.

    Patterns of every kind, in the proportions of the real file: mostly F: directories
    and files, some wildcards, a few X: and N: lines.
    """
    rng = random.Random(seed)
    tops = ["arch", "drivers", "include", "fs", "net", "sound", "tools", "Documentation"]
    words = ["kvm", "arm64", "gpu", "net", "usb", "pci", "media", "iio", "hwmon", "mm", "core"]
    lines = ["List of maintainers", "", "\tM: *Mail* patches to: FullName <a@b>", ""]
    directories: list[str] = []
    for number in range(sections):
        base = "/".join([rng.choice(tops), *(rng.sample(words, rng.randint(1, 3)))]) + str(number)
        directories.append(base)
        lines += [
            f"SUBSYSTEM {number} DRIVER",
            f"M:\tMaintainer {number} <m{number}@example.org>",
            *([f"M:\tSecond {number} <s{number}@example.org>"] if number % 2 else []),
            f"R:\tReviewer {number} <r{number}@example.org>",
            f"L:\tlist{number % 300}@vger.kernel.org",
            "S:\tMaintained",
            *([f"T:\tgit git://git.kernel.org/pub/scm/x/{number}.git"] if number % 3 else []),
            f"F:\t{base}/",
            f"F:\tinclude/linux/{words[number % len(words)]}{number}*.h",
            f"F:\tDocumentation/{base}.rst",
        ]
        if number % 7 == 0:
            lines.append(f"X:\t{base}/legacy/")
        if number % 40 == 0:
            lines.append(f"N:\t[^a-z]{words[number % len(words)]}{number}[^0-9]")
        lines.append("")
    lines += ["THE REST", "M:\tLinus Torvalds <torvalds@linux-foundation.org>", "F:\t*", "F:\t*/"]
    paths = [
        f"{rng.choice(directories)}/{rng.choice(['', 'legacy/', 'sub/deeper/'])}file{i}.c"
        for i in range(1000)
    ]
    return "\n".join(lines) + "\n", paths


def test_real_size_file_parses_and_matches_in_under_a_second() -> None:
    text, paths = synthetic_maintainers()
    assert 27_000 <= text.count("\n") <= 31_000
    start = time.perf_counter()
    parsed = Maintainers.parse(text)
    parse_time = time.perf_counter() - start
    matched = [parsed.sections_for_files([path]) for path in paths]
    total = time.perf_counter() - start
    print(
        f"\nMAINTAINERS of {text.count(chr(10))} lines, {len(parsed)} sections: "
        f"parsed in {parse_time * 1000:.0f} ms; parsed + 1,000 paths matched in "
        f"{total * 1000:.0f} ms"
    )
    assert len(parsed) == 2801
    assert all(matched)
    assert total < 1.0


def test_only_a_catch_all_is_no_cover() -> None:
    """Another project's files match THE REST only: the file does not cover them."""
    from lore_digest.facts.maintainers import Maintainers

    text = (
        "KVM/arm64\nM:\tMarc Zyngier <maz@kernel.org>\nF:\tarch/arm64/kvm/\n\n"
        "THE REST\nM:\tLinus Torvalds <torvalds@linux-foundation.org>\nF:\t*\nF:\t*/\n"
    )
    file = Maintainers.parse(text)
    assert file.covers(["arch/arm64/kvm/arm.c"])
    assert not file.covers(["arm/selftest.c", "lib/arm/setup.c"])
    assert file.appliers(["lib/arm/setup.c"]) == {"torvalds@linux-foundation.org"}
