"""Large synthetic public-inbox epochs, for scale tests and benchmarks.

The real kvmarm epoch has 18,728 mails; questions such as "does ingest stay linear at
100k?" or "is a weekly report still instant on a big store?" need more mail than that,
shaped like a real list so the costs are the real ones: ~8 KB per mail on average (a
third of it a mailing-list Received/DKIM header block), patch series with cover letters
and threaded patches carrying real-looking diffs, reviews quoting the patch, review
trailers, authors answering, maintainers applying with b4's "Applied to next, thanks!",
new revisions weeks later that carry trailers forward, pull requests, bot reports and
plain discussions, all at ~100 mails a day with quieter weekends.

The list is simulated as events in time order (a heap): starting a topic schedules its
mails, and each mail may schedule answers to itself, so a reply always comes after the
mail it quotes and every In-Reply-To names a mail already in the archive (except the
few replies to mail that was never archived, as on a real list). Everything comes from
one `random.Random(seed)`: the same arguments give the same bytes and commit ids.

The epoch is written with one `git fast-import` process fed a stream of blobs and
commits (never one git process per mail), into `<git_dir>.partial` renamed into place
at the end, so an interrupted run never leaves something that looks like an epoch.
All people and addresses are fictional (example.com / example.org / example.net).
"""

from __future__ import annotations

import base64
import heapq
import itertools
import random
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

__all__ = ["EPOCH_MAILS", "write_scale_epoch", "write_scale_inbox"]

DEFAULT_START = datetime(2023, 1, 2, tzinfo=UTC)  # a Monday
DEFAULT_LIST = "scale@lists.example.org"

_DAY = 86400.0
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Mails a topic brings on average (its series, reviews, answers, later revisions):
# measured, and used to turn "mails per day" into "topics per day".
_MAILS_PER_TOPIC = 19.0

# -- vocabulary ------------------------------------------------------------------------

_FIRST = [
    "Alice",
    "Bruno",
    "Chen",
    "Dmitri",
    "Elena",
    "Farid",
    "Gita",
    "Hiro",
    "Ines",
    "Jonas",
    "Kavya",
    "Lars",
    "Mei",
    "Nadia",
    "Oren",
    "Pavel",
    "Qing",
    "Rahul",
    "Sofia",
    "Tomasz",
    "Ulla",
    "Viktor",
    "Wen",
    "Xavier",
    "Yara",
    "Zoltan",
    "Amir",
    "Beatriz",
    "Ciaran",
    "Daria",
    "Emeka",
    "Fiona",
    "Goran",
    "Hana",
    "Ivan",
    "Julia",
    "Kenta",
    "Leila",
    "Marek",
    "Nora",
    "Otto",
    "Priya",
    "Quentin",
    "Rosa",
    "Stefan",
    "Tariq",
    "Uma",
    "Vera",
    "Will",
    "Xin",
    "Yusuf",
    "Zara",
    "Anton",
    "Bianca",
    "Carlos",
    "Dana",
    "Erik",
    "Freya",
]
_LAST = [
    "Abbott",
    "Bergstrom",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hoffmann",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Quinlan",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
    "Xu",
    "Yamamoto",
    "Zhang",
    "Almeida",
    "Brennan",
    "Costa",
    "Dimitrov",
    "Engel",
    "Ferrari",
    "Grant",
    "Horvat",
    "Ito",
    "Jovanovic",
    "Keller",
    "Laine",
    "Marino",
    "Nakamura",
    "Olsen",
    "Popescu",
    "Richter",
    "Santos",
    "Thorne",
    "Urban",
    "Vogel",
    "Walsh",
    "Young",
    "Ziegler",
    "Baker",
    "Clarke",
    "Duarte",
    "Evans",
    "Fontaine",
    "Gallo",
    "Haas",
    "Iyer",
    "Kim",
    "Lopez",
]
# Names that need RFC 2047 in headers, as real lists carry them.
_UNICODE_NAMES = (
    "José Núñez",
    "Zoë Brontë",
    "Jürgen Größe",
    "李明",
    "王芳",
    "Søren Kjærgård",
    "Łukasz Wójcik",
    "François Lefèvre",
    "Ørjan Håland",
    "Çağla Yılmaz",
)
_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com", "dev.example.org")
_TZ_MINUTES = (0, 0, 60, 60, 60, 120, 120, -300, -420, -480, -240, 330, 480, 480, 540, 600, 180)

_PREFIXES = (
    "KVM: arm64:",
    "KVM: arm64:",
    "KVM: arm64:",
    "KVM: arm64: vgic:",
    "KVM: arm64: vgic-v3:",
    "KVM: arm64: nv:",
    "KVM: arm64: pkvm:",
    "KVM: arm64: mmu:",
    "KVM: arm64: PMU:",
    "KVM: arm64: timers:",
    "KVM: arm64: sysreg:",
    "KVM: arm64: debug:",
    "KVM: arm64: FF-A:",
    "KVM: selftests:",
    "KVM: arm64: selftests:",
    "KVM:",
    "arm64:",
    "arm64: mm:",
    "arm64: sysreg:",
    "arm64/sve:",
    "arm64/sme:",
    "irqchip/gic-v3:",
    "irqchip/gic-v4:",
    "perf/arm_pmuv3:",
)
_VERBS = (
    "Fix",
    "Add",
    "Remove",
    "Rework",
    "Use",
    "Move",
    "Drop",
    "Introduce",
    "Convert",
    "Handle",
    "Simplify",
    "Document",
    "Expose",
    "Track",
    "Refactor",
    "Avoid",
    "Factor out",
    "Enable",
    "Support",
    "Reject",
    "Plumb",
    "Validate",
    "Clean up",
    "Cache",
    "Restore",
    "Save",
    "Allow",
    "Prevent",
    "Rename",
    "Sanitise",
)
_OBJECTS = (
    "stage-2 page table walker",
    "vcpu reset path",
    "ID register emulation",
    "vgic ITS save/restore",
    "PMU event filter",
    "nested trap handling",
    "FEAT_S1PIE support",
    "hyp vector slots",
    "EL2 exception vectors",
    "MMIO emulation",
    "timer offset API",
    "SVE state save/restore",
    "host stage-2 ownership tracking",
    "HCR_EL2 configuration",
    "debug trap handling",
    "guest PAuth keys",
    "kvm_pgtable_walk() callers",
    "vcpu feature flags",
    "dirty ring support",
    "eager page splitting",
    "LPI translation cache",
    "GICv4.1 vSGI support",
    "MPIDR to vcpu lookup",
    "FGT register handling",
    "CPTR_EL2 traps",
    "hypercall filtering",
    "PSCI SYSTEM_SUSPEND",
    "vgic_irq refcounting",
    "kvm_arch_flush_shadow_memslot()",
    "block mapping collapse",
    "pKVM memory donation",
    "FF-A memory sharing",
    "SME state tracking",
    "CNTVOFF_EL2 handling",
    "VNCR page mapping",
    "TLBI range invalidation",
    "hugepage adjustment on fault",
    "arch_timer IRQ forwarding",
    "sysreg accessor tables",
    "MTE tag sanitisation",
    "KVM_ARM_VCPU_INIT flags",
    "guest debug breakpoints",
    "vcpu load/put path",
    "page-table teardown",
    "AArch32 EL1 support",
    "vcpu_has_feature() users",
    "trap configuration of HFGxTR_EL2",
    "kvm_vm_ioctl_get_reg_writable_masks()",
)
_SUFFIXES = (
    "",
    "",
    "",
    "",
    " for protected VMs",
    " on VHE",
    " in nVHE hyp",
    " when FEAT_LPA2 is enabled",
    " under the mmu_lock",
    " on vcpu reset",
    " for nested guests",
    " in the fault path",
    " during live migration",
    " at EL2",
)
_PROBLEMS = (
    "can race with a concurrent vcpu run",
    "is only partially initialised",
    "leaks a reference on the error path",
    "takes the mmu_lock for write when a read lock is enough",
    "ignores the RES0 bits of the register",
    "may sleep in atomic context",
    "triggers a WARN_ON() on hosts without FEAT_ECV",
    "returns -EINVAL instead of -ENOENT",
    "walks the whole page table for every fault",
    "does not honour the guest's view of the ID registers",
    "overflows when the guest uses 52-bit IPAs",
    "is open-coded in three places",
    "relies on an implicit barrier",
    "breaks save/restore of the vgic state",
)
_CONSEQUENCES = (
    "leads to spurious guest exits",
    "means userspace cannot restore the VM on another host",
    "results in a use-after-free under memory pressure",
    "makes the code hard to follow",
    "causes a measurable slowdown on large VMs",
    "silently corrupts the guest's view of the timer",
    "is caught by lockdep with CONFIG_PROVE_LOCKING",
    "ends up injecting an UNDEF into the guest",
    "leaves stale TLB entries behind",
    "costs an extra exit to EL2 on every access",
)
_FEATURES = (
    "NV2 support",
    "protected guests",
    "FEAT_LPA2 at stage-2",
    "the upcoming PMUv3.9 emulation",
    "writable ID registers",
    "GICv4.1 direct injection",
    "pKVM guest memory donation",
    "FEAT_FGT2",
    "the dirty ring",
)
_CHANGES = (
    "Rebased on {base}",
    "Collected Reviewed-by tags",
    "Addressed {who}'s comments on patch {n}",
    "Split the {obj} change into its own patch",
    "Dropped the {obj} rework, it is now upstream",
    "Fixed a build failure with CONFIG_{CFG}=n",
    "Reworded commit messages",
    "Used the new helper instead of open-coding it",
    "Moved the check under the mmu_lock",
    "Added a selftest",
)
_CONFIGS = ("KVM", "ARM64_VHE", "ARM64_PTR_AUTH", "PROVE_LOCKING", "NVHE_EL2_DEBUG", "ARM64_SVE")
_REVIEW_REMARKS = (
    "Why is this needed? {sentence}",
    "This looks wrong to me: the {obj} {problem}.",
    "nit: this should be a separate patch.",
    "Please split this into two patches, one for the {obj} and one for the rest.",
    "Can we not just {verb} the {obj} instead?",
    "I think this needs a comment explaining why the {obj} {problem}.",
    "This breaks the {obj} when the host has no FEAT_ECV.",
    "The commit message should say what happens to the {obj} on reset.",
    "Isn't this racy against {fn}()?",
    "I'd rather keep the existing helper, the {obj} is used elsewhere too.",
    "Shouldn't this use {fn}() rather than open-coding it?",
    "How was this tested? {sentence}",
)
_AUTHOR_ANSWERS = (
    "Good point, will fix in v{next}.",
    "Right, I'll {verb} the {obj} in the next version.",
    "Agreed, will respin.",
    "Good catch, thanks. Will fix.",
    "Hmm, I don't think so: {sentence}",
    "{sentence} So I'd rather keep it as is, unless you feel strongly about it.",
    "Sure, will do.",
    "It is needed because the {obj} {problem}. I'll add that to the commit message.",
)
_FOLLOW_UPS = (
    "Fair enough.",
    "OK, I'm fine with that as long as it is documented.",
    "I'm not convinced. {sentence}",
    "Thanks for the explanation, that makes sense.",
    "Then please say so in the commit message.",
)
_FNS = (
    "kvm_pgtable_stage2_map",
    "kvm_vcpu_reset",
    "vgic_get_irq",
    "vgic_put_irq",
    "kvm_arm_set_default_pmu",
    "__kvm_tlb_flush_vmid_ipa",
    "kvm_handle_guest_abort",
    "user_mem_abort",
    "kvm_arch_vcpu_ioctl_run",
    "access_pmu_evcntr",
    "kvm_timer_vcpu_load",
    "vgic_its_save_tables_v0",
    "kvm_init_stage2_mmu",
    "stage2_apply_range",
    "kvm_emulate_nested_eret",
    "__deactivate_traps",
    "kvm_arm_vcpu_finalize",
    "kvm_vgic_map_resources",
    "host_stage2_idmap",
    "pkvm_create_mappings",
)
_TYPES = (
    "kvm_vcpu",
    "kvm",
    "kvm_s2_mmu",
    "kvm_pgtable",
    "vgic_irq",
    "vgic_its",
    "kvm_pmu",
    "arch_timer_context",
    "kvm_memory_slot",
    "kvm_pgtable_walker",
)
_VARS = (
    "vcpu",
    "kvm",
    "mmu",
    "pgt",
    "irq",
    "its",
    "pmu",
    "ctxt",
    "slot",
    "addr",
    "size",
    "val",
    "ret",
    "idx",
    "ipa",
    "phys",
    "prot",
    "level",
    "flags",
)
_REGS = (
    "HCR_EL2",
    "MDCR_EL2",
    "CPTR_EL2",
    "VTCR_EL2",
    "CNTHCTL_EL2",
    "ID_AA64PFR0_EL1",
    "ID_AA64MMFR1_EL1",
    "PMCR_EL0",
    "ICH_HCR_EL2",
    "HFGRTR_EL2",
    "SCTLR_EL1",
    "TCR_EL1",
)
_CONSTS = (
    "PAGE_SIZE",
    "KVM_PGTABLE_PROT_R",
    "KVM_PGTABLE_PROT_W",
    "VGIC_NR_PRIVATE_IRQS",
    "ARMV8_PMU_MAX_COUNTERS",
    "KVM_REQ_RELOAD_PMU",
    "HCR_TVM",
    "PTE_VALID",
    "S2_MEMATTR_NORMAL",
)
_PATHS = (
    "arch/arm64/kvm/mmu.c",
    "arch/arm64/kvm/hyp/pgtable.c",
    "arch/arm64/kvm/vgic/vgic-its.c",
    "arch/arm64/kvm/vgic/vgic-mmio-v3.c",
    "arch/arm64/kvm/vgic/vgic-v3.c",
    "arch/arm64/kvm/vgic/vgic-init.c",
    "arch/arm64/kvm/vgic/vgic.c",
    "arch/arm64/include/asm/kvm_host.h",
    "arch/arm64/include/asm/kvm_pgtable.h",
    "arch/arm64/include/asm/kvm_emulate.h",
    "arch/arm64/include/asm/sysreg.h",
    "arch/arm64/kvm/sys_regs.c",
    "arch/arm64/kvm/arm.c",
    "arch/arm64/kvm/reset.c",
    "arch/arm64/kvm/guest.c",
    "arch/arm64/kvm/nested.c",
    "arch/arm64/kvm/emulate-nested.c",
    "arch/arm64/kvm/pmu-emul.c",
    "arch/arm64/kvm/arch_timer.c",
    "arch/arm64/kvm/fpsimd.c",
    "arch/arm64/kvm/debug.c",
    "arch/arm64/kvm/hypercalls.c",
    "arch/arm64/kvm/psci.c",
    "arch/arm64/kvm/pkvm.c",
    "arch/arm64/kvm/hyp/nvhe/mem_protect.c",
    "arch/arm64/kvm/hyp/nvhe/pkvm.c",
    "arch/arm64/kvm/hyp/nvhe/ffa.c",
    "arch/arm64/kvm/hyp/nvhe/switch.c",
    "arch/arm64/kvm/hyp/vhe/switch.c",
    "arch/arm64/kvm/hyp/include/hyp/switch.h",
    "arch/arm64/tools/sysreg",
    "drivers/irqchip/irq-gic-v3-its.c",
    "include/kvm/arm_vgic.h",
    "include/kvm/arm_pmu.h",
    "include/linux/kvm_host.h",
    "virt/kvm/kvm_main.c",
    "tools/testing/selftests/kvm/aarch64/vgic_init.c",
    "tools/testing/selftests/kvm/aarch64/page_fault_test.c",
    "tools/testing/selftests/kvm/aarch64/set_id_regs.c",
    "Documentation/virt/kvm/api.rst",
    "Documentation/virt/kvm/devices/arm-vgic-its.rst",
)
_BRANCHES = ("next", "next", "next", "fixes", "kvmarm/next", "kvm-arm64/nv-next", "kvmarm/fixes")
_MAILERS = (
    ("mutt", "User-Agent: Mutt/2.2.12 (2023-09-09)"),
    ("mutt", "User-Agent: NeoMutt/20231103"),
    ("tb", "User-Agent: Mozilla Thunderbird"),
    (
        "tb",
        "User-Agent: Mozilla/5.0 (X11; Linux aarch64; rv:115.0) Gecko/20100101\n Thunderbird/115.6.0",
    ),
    ("gmail", "X-Mailer: Webmail/1.0"),
    ("wl", "User-Agent: Wanderlust/2.15.9 (Almost Unreal) Emacs/29.1 Mule/6.0"),
)
_SIGN_OFFS = ("Thanks,", "Cheers,", "Regards,", "Thanks!", "--")
_BOT = ("kernel test robot", "lkp@example.net")
_SYZBOT = ("syzbot", "syzbot+5c0b63d4e1a2f3b7@syzkaller.example.com")


# -- people ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Person:
    """A fictional list member: header form, time zone, mail client."""

    name: str
    email: str
    header: str  # "Name <addr>", RFC 2047-encoded or quoted where needed
    tz: int  # minutes east of UTC
    mailer: str  # "mutt", "tb", "gmail", "wl": decides attribution line and Message-ID
    agent: str  # User-Agent / X-Mailer header line


def _header_name(name: str, email: str) -> str:
    if not name.isascii():
        encoded = base64.b64encode(name.encode()).decode()
        return f"=?UTF-8?B?{encoded}?= <{email}>"
    return f"{name} <{email}>"


def _make_people(rng: random.Random, n: int) -> list[_Person]:
    people: list[_Person] = []
    seen: set[str] = set()
    while len(people) < n:
        if rng.random() < 0.04:
            name = rng.choice(_UNICODE_NAMES)
            local = f"u{rng.randrange(10_000)}"
        else:
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            name = f"{first} {last}"
            local = rng.choice(
                (f"{first}.{last}", f"{first[0]}{last}", first, f"{last}{first[0]}")
            ).lower()
        email = f"{local}@{rng.choice(_DOMAINS)}"
        if email in seen:
            continue
        seen.add(email)
        kind, agent = rng.choice(_MAILERS)
        people.append(
            _Person(name, email, _header_name(name, email), rng.choice(_TZ_MINUTES), kind, agent)
        )
    return people


def _bot(name: str, email: str) -> _Person:
    return _Person(name, email, f"{name} <{email}>", 0, "bot", "")


# -- mails -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Mail:
    """A mail once sent: what later replies need to thread under and quote it."""

    mid: str
    subject: str
    author: _Person
    sent: float
    refs: tuple[str, ...]  # References of a reply to this mail
    quote: Sequence[str]  # body lines a reply may quote
    series: _Series | None = None
    patch: int = 0  # 0: cover letter (or not a patch), else the patch number


@dataclass(slots=True)
class _Series:
    """One posting (one version) of a patch series and what happened to it."""

    author: _Person
    prefix: str
    title: str
    titles: list[str]  # one per patch
    version: int
    rfc: bool
    previous: _Series | None
    cover: _Mail | None = None
    patches: list[_Mail] = field(default_factory=list)
    trailers: dict[int, list[str]] = field(default_factory=dict)  # patch → given trailers

    @property
    def total(self) -> int:
        return len(self.titles)

    def tag(self) -> str:
        words = ["RFC PATCH" if self.rfc else "PATCH"]
        if self.version > 1:
            words.append(f"v{self.version}")
        return " ".join(words)

    def subject(self, number: int) -> str:
        if self.total == 1:
            return f"[{self.tag()}] {self.titles[0]}"
        width = len(str(self.total))
        counter = f"{number:0{width}d}/{self.total}"
        title = f"{self.prefix} {self.title}" if number == 0 else self.titles[number - 1]
        return f"[{self.tag()} {counter}] {title}"


def _fold(name: str, value: str) -> str:
    """A header line folded like mail clients do (at a space near 78 columns)."""
    line = f"{name}: {value}"
    if len(line) <= 78:
        return line
    out = []
    while len(line) > 78:
        cut = line.rfind(" ", 0, 78)
        if cut <= len(name) + 2:
            break
        out.append(line[:cut])
        line = " " + line[cut + 1 :]
    out.append(line)
    return "\n".join(out)


_TZ_CACHE: dict[int, timezone] = {}


def _local(ts: float, tz: int) -> datetime:
    zone = _TZ_CACHE.get(tz)
    if zone is None:
        zone = _TZ_CACHE[tz] = timezone(timedelta(minutes=tz))
    return datetime.fromtimestamp(int(ts), zone)


def _offset(tz: int) -> str:
    sign = "+" if tz >= 0 else "-"
    return f"{sign}{abs(tz) // 60:02d}{abs(tz) % 60:02d}"


def _rfc2822(ts: float, tz: int) -> str:
    d = _local(ts, tz)
    return (
        f"{_WEEKDAYS[d.weekday()]}, {d.day} {_MONTHS[d.month - 1]} {d.year} "
        f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} {_offset(tz)}"
    )


def _attribution(parent: _Mail) -> str:
    who = parent.author
    d = _local(parent.sent, who.tz)
    when = f"{_WEEKDAYS[d.weekday()]}, {d.day:02d} {_MONTHS[d.month - 1]} {d.year}"
    if who.mailer == "mutt":  # strftime's %p would depend on the locale
        clock = f"{(d.hour - 1) % 12 + 1:02d}:{d.minute:02d}:{d.second:02d}{'AP'[d.hour >= 12]}M"
        return (
            f"On {_WEEKDAYS[d.weekday()]}, {_MONTHS[d.month - 1]} {d.day:02d}, {d.year} at "
            f"{clock} {_offset(who.tz)}, {who.name} wrote:"
        )
    if who.mailer == "tb":
        return (
            f"On {d.day:02d}/{d.month:02d}/{d.year} {d.hour:02d}:{d.minute:02d}, {who.name} wrote:"
        )
    if who.mailer == "gmail":
        return f"On {when} at {d.hour:02d}:{d.minute:02d}, {who.name} <{who.email}> wrote:"
    return f"On {when} {d:%H:%M:%S} {_offset(who.tz)},\n{who.name} <{who.email}> wrote:"


# -- the generator ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Out:
    """One archived mail: its bytes and what the epoch's commit records about it."""

    raw: bytes
    subject: str
    author: _Person
    sent: float
    arrival: float


Action = Callable[[float], None]


class _ScaleList:
    """Simulates the list; `mails(count)` yields the archived mails in arrival order."""

    def __init__(
        self, rng: random.Random, start: datetime, list_address: str, per_day: float
    ) -> None:
        self.rng = rng
        self.t0 = start.timestamp()
        self.list_address = list_address
        local, _, domain = list_address.partition("@")
        self.list_name = local
        self.list_id = f"{local}.{domain}"
        self.per_day = per_day
        self.people = _make_people(rng, 420)
        # A few people do most of the work, as on every list (Zipf-like weights).
        self.weights = [1.0 / (i + 3) ** 0.9 for i in range(len(self.people))]
        self.maintainers = self.people[:4]
        self.reviewers = self.people[:60]
        self.bot = _bot(*_BOT)
        self.syzbot = _bot(*_SYZBOT)
        self.heap: list[tuple[float, int, Action]] = []
        self.seq = 0
        self.out: list[_Out] = []
        self.last_arrival = self.t0
        self.kernel = 2  # minor version of the kernel being developed (6.x)
        self.pulls = 0
        self.sentences: list[str] = []  # fmt() below may run before the pool exists
        self.sentences = [self._sentence() for _ in range(1500)]
        self.paragraphs = [self._paragraph() for _ in range(2500)]
        self.code = self._code_pool(3000)

    # -- small random helpers ---------------------------------------------------------

    def hex(self, digits: int) -> str:
        return f"{self.rng.getrandbits(4 * digits):0{digits}x}"

    def person(self) -> _Person:
        return self.rng.choices(self.people, self.weights)[0]

    def reviewer(self, exclude: _Person) -> _Person:
        while True:
            who = self.rng.choice(self.reviewers) if self.rng.random() < 0.8 else self.person()
            if who is not exclude:
                return who

    def maintainer(self, exclude: _Person) -> _Person:
        while True:
            who = self.rng.choice(self.maintainers)
            if who is not exclude:
                return who

    def delay(self, median_hours: float, low: float = 600.0, high: float = 30 * _DAY) -> float:
        """A lognormal delay: most answers come within a day, a few weeks later."""
        value = self.rng.lognormvariate(0.0, 1.1) * median_hours * 3600.0
        return min(max(value, low), high)

    def schedule(self, ts: float, action: Action, who: _Person | None = None) -> None:
        """Run `action` at `ts`, after the sender's night and often after the weekend.

        Done when scheduling, not when running, so mails still come out in time order.
        Robots neither sleep nor rest.
        """
        if who is not None and who.mailer != "bot":
            local = _local(ts, who.tz)
            if local.hour < 7:
                ts += (7 - local.hour) * 3600 + self.rng.uniform(0, 3 * 3600)
            if local.weekday() >= 5 and self.rng.random() < 0.5:  # it can wait for Monday
                ts += (7 - local.weekday()) * _DAY
        self.seq += 1
        heapq.heappush(self.heap, (ts, self.seq, action))

    def title(self) -> str:
        rng = self.rng
        return f"{rng.choice(_VERBS)} {rng.choice(_OBJECTS)}{rng.choice(_SUFFIXES)}"

    def fmt(self, template: str, **extra: object) -> str:
        rng = self.rng
        values: dict[str, object] = {
            "obj": rng.choice(_OBJECTS),
            "problem": rng.choice(_PROBLEMS),
            "verb": rng.choice(_VERBS).lower(),
            "fn": rng.choice(_FNS),
            "sentence": rng.choice(self.sentences) if self.sentences else "",
        }
        values.update(extra)
        return template.format(**values)

    # -- text pools (built once: textwrap is too slow to call for every mail) ---------

    def _sentence(self) -> str:
        rng = self.rng
        form = rng.randrange(8)
        if form == 0:
            return (
                f"The {rng.choice(_OBJECTS)} currently {rng.choice(_PROBLEMS)}, which "
                f"{rng.choice(_CONSEQUENCES)}."
            )
        if form == 1:
            return (
                f'Since commit {self.hex(12)} ("{rng.choice(_PREFIXES)} {self.title()}"), '
                f"the {rng.choice(_OBJECTS)} {rng.choice(_PROBLEMS)}."
            )
        if form == 2:
            return (
                f"{rng.choice(_VERBS)} the {rng.choice(_OBJECTS)} first, so that "
                f"{rng.choice(_FNS)}() sees a consistent view."
            )
        if form == 3:
            return f"This is a prerequisite for {rng.choice(_FEATURES)}."
        if form == 4:
            return "No functional change intended."
        if form == 5:
            return (
                f"Calling {rng.choice(_FNS)}() with the {rng.choice(_VARS)} unlocked "
                f"{rng.choice(_CONSEQUENCES)}."
            )
        if form == 6:
            machine = rng.choice(("Neoverse-N1", "Ampere Altra", "Cortex-A76", "Graviton3"))
            return f"On a {machine} box this {rng.choice(_CONSEQUENCES)}."
        return f"Instead, let {rng.choice(_FNS)}() deal with the {rng.choice(_OBJECTS)} directly."

    def _paragraph(self) -> str:
        text = " ".join(self._sentence() for _ in range(self.rng.randint(1, 5)))
        return textwrap.fill(text, 72, break_long_words=False, break_on_hyphens=False)

    def _code_pool(self, n: int) -> list[str]:
        rng = self.rng
        out = []
        for _ in range(n):
            var, var2 = rng.choice(_VARS), rng.choice(_VARS)
            fn, typ, reg, const = (
                rng.choice(_FNS),
                rng.choice(_TYPES),
                rng.choice(_REGS),
                rng.choice(_CONSTS),
            )
            feature = rng.choice(("PMU_V3", "SVE", "PTRAUTH_ADDRESS", "EL1_32BIT"))
            forms = (
                f"\tif (!{var})",
                "\t\treturn -EINVAL;",
                f"\t{var} = {fn}({var2}, {const});",
                f"\tstruct {typ} *{var} = {fn}({var2});",
                f"\tu64 {var} = read_sysreg_s(SYS_{reg});",
                f"\twrite_sysreg_s({var}, SYS_{reg});",
                "}",
                "",
                "",
                "\t}",
                f"static int {fn}(struct {typ} *{var})",
                "{",
                f"\tspin_lock(&{var}->lock);",
                f"\tspin_unlock(&{var}->lock);",
                f"\tWARN_ON_ONCE({var} & ~{const});",
                f"#define {const}_MASK\t\tGENMASK({rng.randint(8, 63)}, {rng.randint(0, 7)})",
                "\t/*",
                f"\t * {rng.choice(_PROBLEMS).capitalize()}: {rng.choice(_VERBS).lower()} it.",
                "\t */",
                f"\tswitch ({var}) {{",
                f"\tcase {const}:",
                "\t\tbreak;",
                "\tdefault:",
                f'\t\tkvm_err("unexpected {var} %llx\\n", {var});',
                f"\tret = {fn}({var}, {var2}, {var2} + {const});",
                "\tif (ret)",
                "\t\tgoto out_unlock;",
                f"\tfor (i = 0; i < {const}; i++) {{",
                f"\t\t{var}->{var2}[i] = 0;",
                f"\tif (kvm_vcpu_has_feature({var}, KVM_ARM_VCPU_{feature}))",
                f"\treturn {var} & {const};",
                "out_unlock:",
                f"\tkvm_call_hyp(__{fn}, {var});",
                "\tdsb(ishst);",
                "\tisb();",
            )
            out.append(rng.choice(forms))
        return out

    # -- sending ----------------------------------------------------------------------

    def message_id(self, who: _Person, ts: float, index: int | None = None) -> str:
        """A Message-ID in the style of the sender's tool (git send-email, mutt, ...)."""
        local, _, domain = who.email.partition("@")
        if index is not None or who.mailer == "bot":
            stamp = datetime.fromtimestamp(int(ts), UTC).strftime("%Y%m%d%H%M%S")
            return f"{stamp}.{self.rng.randrange(1000, 4_000_000)}-{index or 1}-{local}@{domain}"
        if who.mailer == "mutt":
            return f"{base64.b64encode(self.rng.randbytes(12), b'-_').decode()}@{domain}"
        if who.mailer == "gmail":
            return f"CA+{base64.b64encode(self.rng.randbytes(30), b'+_').decode()}@mail.gmail.com"
        if who.mailer == "wl":
            return f"{self.hex(8)}.{self.hex(4)}-{local}@{domain}"
        return f"{self.hex(8)}-{self.hex(4)}-{self.hex(4)}-{self.hex(4)}-{self.hex(12)}@{domain}"

    def b64_lines(self, size: int) -> str:
        """Random base64 (a signature), folded as mail servers fold it."""
        text = base64.b64encode(self.rng.randbytes(size)).decode()
        return "\n\t ".join(text[i : i + 70] for i in range(0, len(text), 70))

    def transport(self, who: _Person, sent: float, arrival: float) -> list[str]:
        """The Received/DKIM/spam block of a list server (a third of a real mail)."""
        rng = self.rng
        name = self.list_name
        domain = who.email.partition("@")[2]
        host = f"mail-{rng.choice(('ej1', 'pj1', 'wm1', 'qk1', 'lf1'))}-f{rng.randrange(10, 99)}"
        ip = ".".join(str(rng.randrange(1, 255)) for _ in range(4))
        at = _rfc2822(arrival, 0)
        sent_at = _rfc2822(sent + rng.uniform(1, 20), who.tz)
        dkim_lines = self.b64_lines(256)
        score = rng.uniform(-3.0, 1.0)
        return [
            f"ARC-Seal: i=1; a=rsa-sha256; d=lists.example.org; s=arc; t={int(arrival)}; cv=none;",
            f"\tb={self.b64_lines(256)}",
            f"ARC-Message-Signature: i=1; a=rsa-sha256; d=lists.example.org; s=arc; t={int(arrival)};",
            "\tc=relaxed/simple; h=From:To:Cc:Subject:Date:Message-ID:In-Reply-To:References:",
            "\t MIME-Version:Content-Type; bh="
            + base64.b64encode(rng.randbytes(32)).decode()
            + ";",
            f"\tb={self.b64_lines(256)}",
            "ARC-Authentication-Results: i=1; lists.example.org;",
            f"\tdkim=pass (2048-bit key) header.d={domain} header.i=@{domain};",
            f"\tspf=pass smtp.mailfrom={domain}; arc=none smtp.client-ip={ip}",
            f"Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip={ip};",
            f"\thelo={host}.example.net; envelope-from={who.email}; receiver=lists.example.org",
            f"Return-Path: <{name}-bounces+{rng.randrange(10**6)}@lists.example.org>",
            f"X-Original-To: lists+{name}@lfdr.example.net",
            f"Delivered-To: lists+{name}@lfdr.example.net",
            "Received: from lists.example.org (lists.example.org [198.51.100.7])",
            f"\tby mail.lfdr.example.net (Postfix) with ESMTPS id {self.hex(11).upper()}",
            f"\tfor <lists+{name}@lfdr.example.net>; {at}",
            "Received: from localhost (localhost [127.0.0.1])",
            f"\tby lists.example.org (Postfix) with ESMTP id {self.hex(10).upper()};",
            f"\t{at}",
            f"X-Spam-Score: {score:.3f}",
            f"X-Spam-Status: No, score={score:.3f} required=6.1 tests=[BAYES_00=-1.9,",
            "\tDKIM_SIGNED=0.1, DKIM_VALID=-0.1, DKIM_VALID_AU=-0.1, SPF_PASS=-0.001]",
            "\tautolearn=unavailable",
            f"Received: from {host}.example.net ({host}.example.net [{ip}])",
            "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))",
            "\t(No client certificate requested)",
            f"\tby lists.example.org (Postfix) with ESMTPS id {self.hex(10).upper()}",
            f"\tfor <{self.list_address}>; {at}",
            f"Received: by {host}.example.net with SMTP id {self.hex(24)}.{rng.randrange(1, 9)}",
            f"\tfor <{self.list_address}>; {sent_at}",
            f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=20230601;",
            f"\t t={int(sent)}; h=from:to:cc:subject:date:message-id:in-reply-to:references;",
            f"\t bh={base64.b64encode(rng.randbytes(32)).decode()};",
            f"\t b={dkim_lines}",
            f"X-Gm-Message-State: {self.b64_lines(60)}",
            f"X-Google-Smtp-Source: {base64.b64encode(rng.randbytes(66)).decode()}",
            f"X-Received: by 2002:a05:{self.hex(4)}:{self.hex(4)} with SMTP id",
            f"\t {self.hex(32)}.{rng.randrange(100)}.{int(sent)}{rng.randrange(1000):03d};",
            f"\t {sent_at}",
        ]

    def send(
        self,
        who: _Person,
        sent: float,
        mid: str,
        subject: str,
        body: str,
        *,
        in_reply_to: str | None = None,
        refs: Sequence[str] = (),
        to: Sequence[_Person] = (),
        cc: Sequence[_Person] = (),
        git: bool = False,
    ) -> None:
        """Archive one mail: headers as the list server leaves them, then the body."""
        rng = self.rng
        # The archive commits in arrival order; a slow relay never reorders history.
        arrival = max(self.last_arrival + 1, sent + rng.uniform(5, 240))
        self.last_arrival = arrival
        lines = self.transport(who, sent, arrival)
        lines.append(_fold("From", who.header))
        lines.append(_fold("To", ", ".join([*(p.header for p in to), self.list_address])))
        if cc:
            lines.append(_fold("Cc", ", ".join(dict.fromkeys(p.header for p in cc))))
        lines.append(_fold("Subject", subject))
        if rng.random() >= 0.0002:  # a very few mails lose their Date on the way
            date = sent
            if rng.random() < 0.003:  # and a few senders have a wrong clock
                date += rng.choice((-1, 1)) * rng.uniform(3600, 12 * 3600)
            lines.append(f"Date: {_rfc2822(date, who.tz)}")
        lines.append(f"Message-ID: <{mid}>")
        if in_reply_to is not None:
            lines.append(f"In-Reply-To: <{in_reply_to}>")
        if refs:
            lines.append(_fold("References", " ".join(f"<{r}>" for r in refs)))
        if git:
            lines.append(f"X-Mailer: git-send-email 2.{rng.randrange(39, 44)}.0")
        elif who.agent:
            lines.append(who.agent)
        flowed = "; format=flowed" if who.mailer == "tb" and not git else ""
        name = self.list_name
        lines += [
            "MIME-Version: 1.0",
            f"Content-Type: text/plain; charset=UTF-8{flowed}",
            "Content-Transfer-Encoding: 8bit",
            f"X-BeenThere: {self.list_address}",
            "X-Mailman-Version: 2.1.29",
            "Precedence: list",
            f"List-Id: {name} <{self.list_id}>",
            f"List-Unsubscribe: <https://lists.example.org/mailman/options/{name}>,",
            f" <mailto:{name}-request@lists.example.org?subject=unsubscribe>",
            f"List-Archive: <https://lists.example.org/pipermail/{name}/>",
            f"List-Post: <mailto:{self.list_address}>",
            f"Errors-To: {name}-bounces@lists.example.org",
            f"Sender: {name}-bounces@lists.example.org",
            "",
            body,
        ]
        raw = "\n".join(lines).encode("utf-8")
        self.out.append(_Out(raw, " ".join(subject.split()), who, sent, arrival))

    # -- patch series -----------------------------------------------------------------

    def diff(self) -> tuple[str, list[tuple[str, int, int]]]:
        """A `git format-patch` diff with consistent hunk headers, and its (path, +, -)."""
        rng = self.rng
        code = self.code
        nfiles = rng.choices((1, 2, 3, 4, 6), (45, 25, 15, 10, 5))[0]
        if rng.random() < 0.02:
            nfiles = rng.randint(8, 20)  # the occasional tree-wide rework
        out: list[str] = []
        stats: list[tuple[str, int, int]] = []
        for path in rng.sample(_PATHS, nfiles):
            out += [
                f"diff --git a/{path} b/{path}",
                f"index {self.hex(12)}..{self.hex(12)} 100644",
                f"--- a/{path}",
                f"+++ b/{path}",
            ]
            old = rng.randrange(20, 900)
            shift = added = removed = 0
            for _ in range(rng.choices((1, 2, 3, 5), (45, 30, 15, 10))[0]):
                minus = rng.choices((0, 1, 2, 4, 8, 16, 32), (15, 20, 20, 17, 14, 9, 5))[0]
                plus = rng.choices((1, 2, 4, 8, 16, 32, 64), (12, 16, 20, 20, 16, 10, 6))[0]
                func = f"static int {rng.choice(_FNS)}(struct {rng.choice(_TYPES)} *{rng.choice(_VARS)})"
                out.append(f"@@ -{old},{minus + 6} +{old + shift},{plus + 6} @@ {func}")
                out += [" " + line for line in rng.choices(code, k=3)]
                out += ["-" + line for line in rng.choices(code, k=minus)]
                out += ["+" + line for line in rng.choices(code, k=plus)]
                out += [" " + line for line in rng.choices(code, k=3)]
                shift += plus - minus
                added += plus
                removed += minus
                old += minus + 6 + rng.randrange(10, 200)
            stats.append((path, added, removed))
        return "\n".join(out), stats

    @staticmethod
    def diffstat(stats: Sequence[tuple[str, int, int]]) -> str:
        """git's --stat block (scaled to 40 columns of +/-)."""
        width = max(len(p) for p, _, _ in stats)
        biggest = max(a + d for _, a, d in stats) or 1
        scale = min(1.0, 40 / biggest)
        lines = [
            f" {path:<{width}} | {a + d:3d} {'+' * round(a * scale)}{'-' * round(d * scale)}"
            for path, a, d in stats
        ]
        files = len(stats)
        adds = sum(a for _, a, _ in stats)
        dels = sum(d for _, _, d in stats)
        lines.append(
            f" {files} file{'s' if files > 1 else ''} changed, {adds} insertions(+), "
            f"{dels} deletions(-)"
        )
        return "\n".join(lines)

    def prose(self) -> str:
        """A commit message or mail text: one to three wrapped paragraphs."""
        rng = self.rng
        count = rng.choices((1, 2, 3), (35, 45, 20))[0]
        return "\n\n".join(rng.choice(self.paragraphs) for _ in range(count))

    def start_series(self, ts: float, previous: _Series | None = None) -> None:
        """Post a series (cover letter, then its patches a second or two apart)."""
        rng = self.rng
        if previous is None:
            total = rng.choices(
                (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 27),
                (34, 12, 12, 10, 7, 6, 6, 4, 3, 3, 2, 1),
            )[0]
            prefix = rng.choice(_PREFIXES)
            titles = [
                f"{prefix if rng.random() < 0.7 else rng.choice(_PREFIXES)} {self.title()}"
                for _ in range(total)
            ]
            series = _Series(
                self.person(),
                prefix,
                self.title(),
                titles,
                1,
                rng.random() < 0.08,
                None,
            )
        else:
            titles = list(previous.titles)
            if len(titles) > 1 and rng.random() < 0.2:
                titles.pop(rng.randrange(len(titles)))  # one patch was merged separately
            elif rng.random() < 0.2:
                titles.append(f"{rng.choice(_PREFIXES)} {self.title()}")
            series = _Series(
                previous.author,
                previous.prefix,
                previous.title,
                titles,
                previous.version + 1,
                previous.rfc and rng.random() < 0.3,
                previous,
            )
        threaded = rng.random() >= 0.02  # a few are sent with --no-thread
        first = 0 if series.total > 1 else 1
        self.schedule(ts, self._post_from(series, first, threaded), series.author)

    def _post_from(self, series: _Series, number: int, threaded: bool) -> Action:
        def run(ts: float) -> None:
            self.post_patch(ts, series, number, threaded)
            if number < series.total:  # send-email's pace: the next mail a moment later
                self.schedule(
                    ts + self.rng.uniform(0.5, 3.0), self._post_from(series, number + 1, threaded)
                )

        return run

    def post_patch(self, ts: float, series: _Series, number: int, threaded: bool) -> None:
        rng = self.rng
        author = series.author
        mid = self.message_id(author, ts, number + 1)
        parent: _Mail | None = None
        if number > 0 and series.cover is not None and threaded:
            parent = series.cover
        elif series.previous is not None and series.previous.cover and rng.random() < 0.1:
            parent = series.previous.cover  # --in-reply-to the previous version
        if number == 0:
            body, quote = self.cover_body(series)
        else:
            body, quote = self.patch_body(series, number)
        refs = parent.refs if parent is not None else ()
        cc = [rng.choice(self.maintainers), *rng.sample(self.reviewers, rng.randint(1, 5))]
        subject = series.subject(number)
        self.send(
            author,
            ts,
            mid,
            subject,
            body,
            in_reply_to=parent.mid if parent else None,
            refs=refs,
            to=self.maintainers[:2],
            cc=cc,
            git=True,
        )
        mail = _Mail(mid, subject, author, ts, (*refs, mid)[-12:], quote, series, number)
        if number == 0:
            series.cover = mail
        else:
            series.patches.append(mail)
        self.after_post(ts, series, mail)

    def cover_body(self, series: _Series) -> tuple[str, list[str]]:
        rng = self.rng
        parts = [self.prose()]
        previous = series.previous
        if previous is not None and previous.cover is not None:
            changes = "\n".join(
                "- "
                + self.fmt(
                    rng.choice(_CHANGES),
                    base=f"v6.{self.kernel}-rc{rng.randint(1, 7)}",
                    who=self.person().name.split()[0],
                    n=rng.randint(1, series.total),
                    CFG=rng.choice(_CONFIGS),
                )
                for _ in range(rng.randint(1, 5))
            )
            parts.append(
                f"Changes since v{series.version - 1} [1]:\n{changes}\n\n"
                f"[1] https://lore.kernel.org/r/{previous.cover.mid}"
            )
        shortlog = "\n".join(f"  {t}" for t in series.titles)
        stats = [
            (rng.choice(_PATHS), rng.randint(1, 120), rng.randint(0, 60))
            for _ in range(min(series.total, 8))
        ]
        parts.append(f"{series.author.name} ({series.total}):\n{shortlog}")
        parts.append(self.diffstat(stats))
        parts.append(f"base-commit: {self.hex(40)}\n-- \n2.{rng.randrange(39, 44)}.0\n")
        body = "\n\n".join(parts)
        return body, body.split("\n")[:40]

    def patch_body(self, series: _Series, number: int) -> tuple[str, list[str]]:
        rng = self.rng
        author = series.author
        message = self.prose()
        tags: list[str] = []
        if rng.random() < 0.05:
            tags.append(f'Fixes: {self.hex(12)} ("{series.prefix} {self.title()}")')
        if rng.random() < 0.1:
            tags.append(f"Reported-by: {self.person().header}")
        if series.previous is not None:  # trailers given to the last version carry over
            tags += series.previous.trailers.get(number, [])
        tags.append(f"Signed-off-by: {author.name} <{author.email}>")
        diff, stats = self.diff()
        notes = ""
        if series.version > 1 and rng.random() < 0.3:
            notes = f"v{series.version}: {rng.choice(_CHANGES).split(' {')[0]}\n\n"
        body = (
            f"{message}\n\n" + "\n".join(dict.fromkeys(tags)) + f"\n---\n{notes}"
            f"{self.diffstat(stats)}\n\n{diff}\n-- \n2.{rng.randrange(39, 44)}.0\n"
        )
        return body, [*message.split("\n"), "", *diff.split("\n")[:90]]

    def after_post(self, ts: float, series: _Series, mail: _Mail) -> None:
        """What a posting brings: reviews, robots, then applied, a new version or a ping."""
        rng = self.rng
        if mail.patch > 0 and rng.random() < 0.04:
            self.schedule(ts + rng.uniform(0.3, 2.5) * _DAY, self._robot(mail), self.bot)
        weights = (40, 35, 17, 8) if mail.patch == 0 else (45, 35, 14, 6)
        for _ in range(rng.choices((0, 1, 2, 3), weights)[0]):
            who = self.reviewer(series.author)
            self.schedule(ts + self.delay(20), self._review(mail, who, 0), who)
        if mail.patch != series.total:
            return
        fate = rng.random()
        applied = 0.0 if series.rfc else (0.2, 0.45, 0.6, 0.75)[min(series.version, 4) - 1]
        target = series.cover or mail
        if fate < applied:
            who = self.maintainer(series.author)
            at = ts + self.delay(100, 3600, 40 * _DAY)
            self.schedule(at, self._applied(series, target, who), who)
        elif fate < applied + 0.5 and series.version < 8:
            self.schedule(ts + self.delay(14 * 24, 2 * _DAY, 60 * _DAY), self._next_version(series))
        elif rng.random() < 0.3:
            self.schedule(ts + self.delay(15 * 24, 7 * _DAY), self._ping(target), series.author)

    def _next_version(self, series: _Series) -> Action:
        return lambda ts: self.start_series(ts, series)

    # -- replies ----------------------------------------------------------------------

    def reply(
        self,
        ts: float,
        who: _Person,
        parent: _Mail,
        text: str | Sequence[str],
        quote_lines: int,
        closing: str = "",
    ) -> _Mail:
        """A reply quoting a slice of its parent, remarks interleaved as in inline review.

        `text` is one block written under the quote, or several remarks each written
        under its own piece of the quote; `closing` (trailers, signature) comes last.
        """
        rng = self.rng
        mid = self.message_id(who, ts)
        subject = parent.subject if parent.subject.startswith("Re: ") else f"Re: {parent.subject}"
        remarks = [text] if isinstance(text, str) else list(text)
        quote = list(parent.quote)
        if quote_lines < len(quote):
            start = rng.randrange(len(quote) - quote_lines + 1) if rng.random() < 0.6 else 0
            quote = quote[start : start + quote_lines]
        quoted = [f"> {line}" if line else ">" for line in quote]
        parts = [_attribution(parent)]
        if not remarks:
            parts += [*quoted, ""]
        step = max(1, -(-len(quoted) // max(1, len(remarks))))
        for index, remark in enumerate(remarks):
            parts += [*quoted[index * step : (index + 1) * step], "", remark, ""]
        if closing:
            parts += [closing, ""]
        body = "\n".join(parts)
        text = "\n\n".join([*remarks, closing] if closing else remarks)
        self.send(
            who,
            ts,
            mid,
            subject,
            body,
            in_reply_to=parent.mid,
            refs=parent.refs,
            to=[parent.author],
            cc=[parent.author, *(p for p in self.maintainers[:1] if p is not who)],
        )
        own = [*quoted[-12:], "", *text.split("\n")]
        mail = _Mail(mid, subject, who, ts, (*parent.refs, mid)[-12:], own[-40:])
        mail.series, mail.patch = parent.series, parent.patch
        return mail

    def signature(self, who: _Person) -> str:
        first = who.name.split()[0]
        if who in self.maintainers:
            return f"{self.rng.choice(_SIGN_OFFS)}\n\n\t{first[0]}.\n-- \nJazz is not dead, it just smells funny."
        return f"{self.rng.choice(_SIGN_OFFS)}\n{first}"

    def _review(self, target: _Mail, who: _Person, depth: int) -> Action:
        def run(ts: float) -> None:
            rng = self.rng
            series = target.series
            assert series is not None
            trailer = None
            if rng.random() < 0.35:
                kind = rng.choices(("Reviewed-by", "Acked-by", "Tested-by"), (70, 20, 10))[0]
                trailer = f"{kind}: {who.name} <{who.email}>"
                lead = "For the series:\n\n" if target.patch == 0 else ""
                closing = f"{lead}{trailer}\n\n{self.signature(who)}"
                self.reply(ts, who, target, [], rng.randint(3, 30), closing)
            else:
                remarks = [
                    textwrap.fill(self.fmt(rng.choice(_REVIEW_REMARKS)), 72)
                    for _ in range(rng.randint(1, 5))
                ]
                if rng.random() < 0.02 and who in self.maintainers:
                    remarks.insert(0, "NAK. This is the wrong approach altogether.")
                closing = self.signature(who)
                if rng.random() < 0.25:
                    trailer = f"Reviewed-by: {who.name} <{who.email}>"
                    closing = f"With that fixed:\n\n{trailer}\n\n{closing}"
                mail = self.reply(ts, who, target, remarks, rng.randint(8, 70), closing)
                if rng.random() < 0.75:
                    answer = self._answer(mail, series, who, depth)
                    self.schedule(ts + self.delay(14), answer, series.author)
            if trailer is not None:
                numbers = range(1, series.total + 1) if target.patch == 0 else (target.patch,)
                for n in numbers:
                    series.trailers.setdefault(n, []).append(trailer)

        return run

    def _answer(self, review: _Mail, series: _Series, reviewer: _Person, depth: int) -> Action:
        def run(ts: float) -> None:
            rng = self.rng
            remarks = [
                textwrap.fill(self.fmt(rng.choice(_AUTHOR_ANSWERS), next=series.version + 1), 72)
                for _ in range(rng.randint(1, 3))
            ]
            closing = self.signature(series.author)
            mail = self.reply(ts, series.author, review, remarks, rng.randint(6, 40), closing)
            if depth < 3 and rng.random() < 0.3:
                follow = self._follow_up(mail, series, reviewer, depth)
                self.schedule(ts + self.delay(10), follow, reviewer)

        return run

    def _follow_up(self, answer: _Mail, series: _Series, reviewer: _Person, depth: int) -> Action:
        def run(ts: float) -> None:
            rng = self.rng
            text = textwrap.fill(self.fmt(rng.choice(_FOLLOW_UPS)), 72)
            mail = self.reply(
                ts, reviewer, answer, text, rng.randint(3, 20), self.signature(reviewer)
            )
            if rng.random() < 0.4:
                again = self._answer(mail, series, reviewer, depth + 1)
                self.schedule(ts + self.delay(12), again, series.author)

        return run

    def _applied(self, series: _Series, target: _Mail, who: _Person) -> Action:
        def run(ts: float) -> None:
            rng = self.rng
            width = len(str(series.total))
            entries = [
                f"[{n:0{width}d}/{series.total}] {patch.subject.split('] ', 1)[-1]}\n"
                f"      commit: {self.hex(40)}"
                for n, patch in enumerate(series.patches or [target], 1)
            ]
            text = (
                f"Applied to {rng.choice(_BRANCHES)}, thanks!\n\n"
                + "\n".join(entries)
                + f"\n\n{self.signature(who)}"
            )
            self.reply(ts, who, target, text, rng.randint(3, 8))

        return run

    def _ping(self, target: _Mail) -> Action:
        def run(ts: float) -> None:
            author = target.author
            self.reply(ts, author, target, f"Gentle ping.\n\n{self.signature(author)}", 4)

        return run

    def _robot(self, patch: _Mail) -> Action:
        def run(ts: float) -> None:
            rng = self.rng
            path = rng.choice(_PATHS)
            line = rng.randrange(20, 2000)
            text = (
                f"Hi {patch.author.name.split()[0]},\n\n"
                "kernel test robot noticed the following build warnings:\n\n"
                "[auto build test WARNING on kvmarm/next]\n"
                f"[also build test WARNING on linus/master v6.{self.kernel}-rc{rng.randint(1, 7)}]\n\n"
                f"config: arm64-randconfig-{rng.randrange(1, 4):03d}-{self.hex(8)}\n"
                "compiler: aarch64-linux-gcc (GCC) 13.2.0\n\n"
                "If you fix the issue in a separate patch/commit (i.e. not just a new version of\n"
                "the same patch/commit), kindly add following tags\n"
                f"| Reported-by: kernel test robot <{self.bot.email}>\n"
                f"| Closes: https://lore.kernel.org/oe-kbuild-all/{self.hex(14)}-lkp@example.net/\n\n"
                "All warnings (new ones prefixed by >>):\n\n"
                f">> {path}:{line}:{rng.randrange(2, 40)}: warning: variable "
                f"'{rng.choice(_VARS)}' set but not used [-Wunused-but-set-variable]\n"
                f"     {line} | \tu64 {rng.choice(_VARS)};\n\n"
                "-- \n0-DAY CI Kernel Test Service\nhttps://github.com/intel/lkp-tests/wiki"
            )
            self.reply(ts, self.bot, patch, text, 0)

        return run

    # -- other topics -----------------------------------------------------------------

    def start_discussion(self, ts: float) -> None:
        """A question, bug report or off-list follow-up, answered by a few people."""
        rng = self.rng
        who = self.person()
        shape = rng.randrange(4)
        if shape == 0:
            subject = f"{rng.choice(_PREFIXES)} question about the {rng.choice(_OBJECTS)}"
        elif shape == 1:  # a follow-up whose parent went to another list only
            subject = f"Re: {rng.choice(_PREFIXES)} {self.title()}"
        elif shape == 2:
            subject = f"[BUG] {rng.choice(_OBJECTS)} {rng.choice(_PROBLEMS)}"
        else:
            board = rng.choice(("Ampere Altra", "Graviton3", "Juno", "Rock5B"))
            subject = f"{rng.choice(_OBJECTS).capitalize()} broken on {board}"

        def root(at: float) -> None:
            mid = self.message_id(who, at)
            body = f"Hi all,\n\n{self.prose()}\n\n{self.signature(who)}\n"
            ghost = f"{self.hex(16)}@{rng.choice(_DOMAINS)}" if shape == 1 else None
            refs = (ghost,) if ghost else ()
            self.send(who, at, mid, subject, body, in_reply_to=ghost, refs=refs)
            thread = [_Mail(mid, subject, who, at, (*refs, mid), body.split("\n")[:30])]
            for _ in range(rng.choices((0, 1, 2, 4, 7), (15, 30, 25, 20, 10))[0]):
                answerer = self.reviewer(who)
                self.schedule(at + self.delay(18), self._discuss(thread, answerer), answerer)

        self.schedule(ts, root, who)

    def _discuss(self, thread: list[_Mail], who: _Person) -> Action:
        def run(ts: float) -> None:
            rng = self.rng
            parent = rng.choice(thread)
            text = "\n\n".join(
                textwrap.fill(self.fmt(rng.choice(_REVIEW_REMARKS + _FOLLOW_UPS)), 72)
                for _ in range(rng.randint(1, 3))
            )
            text += f"\n\n{self.signature(who)}"
            thread.append(self.reply(ts, who, parent, text, rng.randint(3, 15)))

        return run

    def start_pull(self, ts: float) -> None:
        """A maintainer's pull request, pulled a day or two later."""
        rng = self.rng
        self.pulls += 1
        who, upstream = self.maintainers[0], self.maintainers[1]
        kind = rng.choice(("fixes", "updates"))
        version = f"6.{self.kernel + (kind == 'updates')}"
        subject = f"[GIT PULL] KVM/arm64 {kind} for {version}"
        if rng.random() < 0.2:
            subject += f", take #{rng.randint(2, 4)}"
        commits = rng.randint(3, 40)
        shortlog = "\n".join(
            f"      {rng.choice(_PREFIXES)} {self.title()}" for _ in range(commits)
        )
        stats = [
            (rng.choice(_PATHS), rng.randint(1, 200), rng.randint(0, 100))
            for _ in range(min(commits, 25))
        ]
        tag = f"kvmarm-{kind}-{version}-{self.pulls}"
        body = (
            f"{upstream.name.split()[0]},\n\nHere's the KVM/arm64 {kind} for {version}. "
            f"{rng.choice(self.sentences)}\n\nPlease pull,\n\n\tM.\n\n"
            f"The following changes since commit {self.hex(40)}:\n\n"
            f"  Linux 6.{self.kernel}-rc{rng.randint(1, 7)}\n\n"
            "are available in the Git repository at:\n\n"
            f"  git://git.example.org/pub/scm/linux/kernel/git/kvmarm/kvmarm.git tags/{tag}\n\n"
            f"for you to fetch changes up to {self.hex(40)}:\n\n"
            f"  {rng.choice(_PREFIXES)} {self.title()}\n\n"
            "----------------------------------------------------------------\n"
            f"KVM/arm64 {kind} for {version}\n\n"
            + "\n".join(f"- {self.title()}" for _ in range(rng.randint(2, 6)))
            + "\n\n----------------------------------------------------------------\n"
            + f"{self.person().name} ({commits}):\n{shortlog}\n\n{self.diffstat(stats)}\n"
        )

        def post(at: float) -> None:
            mid = self.message_id(who, at, 1)
            self.send(who, at, mid, subject, body, to=[upstream], git=True)
            pull = _Mail(mid, subject, who, at, (mid,), body.split("\n")[:12])
            self.schedule(at + self.delay(30), self._pulled(pull, upstream), upstream)

        self.schedule(ts, post, who)

    def _pulled(self, pull: _Mail, who: _Person) -> Action:
        def run(ts: float) -> None:
            self.reply(ts, who, pull, f"Pulled, thanks.\n\n{who.name.split()[0]}", 5)

        return run

    def start_syzbot(self, ts: float) -> None:
        """A fuzzer's crash report (a long trace), sometimes discussed."""
        rng = self.rng
        fn = rng.choice(_FNS)
        what = rng.choice(
            ("KASAN: slab-use-after-free Read", "WARNING", "general protection fault")
        )
        subject = f"[syzbot] [kvm?] [kvmarm?] {what} in {fn}"
        trace = "\n".join(
            f" {rng.choice(_FNS)}+0x{rng.randrange(16, 4096):x}/0x{rng.randrange(4096, 8192):x}"
            f" {rng.choice(_PATHS)}:{rng.randrange(10, 3000)}"
            for _ in range(rng.randint(12, 40))
        )
        body = (
            "Hello,\n\nsyzbot found the following issue on:\n\n"
            f"HEAD commit:    {self.hex(12)} Merge tag 'kvmarm-fixes-6.{self.kernel}'\n"
            "git tree:       kvmarm\n"
            f"console output: https://syzkaller.example.com/x/log.txt?x={self.hex(16)}\n\n"
            "IMPORTANT: if you fix the issue, please add the following tag to the commit:\n"
            f"Reported-by: {self.syzbot.header}\n\n"
            "------------[ cut here ]------------\n"
            f"WARNING: CPU: {rng.randrange(8)} PID: {rng.randrange(100, 30000)} at "
            f"{rng.choice(_PATHS)}:{rng.randrange(10, 3000)} {fn}\n"
            f"Call trace:\n{trace}\n\n---\n"
            "This report is generated by a bot. It may contain errors.\n"
        )

        def post(at: float) -> None:
            mid = f"{self.hex(16)}@example.com"
            self.send(self.syzbot, at, mid, subject, body)
            thread = [_Mail(mid, subject, self.syzbot, at, (mid,), body.split("\n")[:20])]
            for _ in range(rng.choices((0, 1, 2), (50, 35, 15))[0]):
                who = self.reviewer(self.syzbot)
                self.schedule(at + self.delay(24), self._discuss(thread, who), who)

        self.schedule(ts, post)

    # -- the clock --------------------------------------------------------------------

    def spawn(self, ts: float) -> None:
        """Start a topic and schedule the next one (fewer at weekends)."""
        rng = self.rng
        kind = rng.random()
        if kind < 0.80:
            self.start_series(ts)
        elif kind < 0.95:
            self.start_discussion(ts)
        elif kind < 0.985:
            self.start_syzbot(ts)
        else:
            self.start_pull(ts)
        self.kernel = 2 + int((ts - self.t0) // (63 * _DAY))  # a release every nine weeks
        weekend = datetime.fromtimestamp(ts, UTC).weekday() >= 5
        rate = self.per_day / _MAILS_PER_TOPIC * (0.35 if weekend else 1.26)
        self.schedule(ts + rng.expovariate(rate / _DAY), self.spawn)

    def mails(self, count: int) -> Iterator[_Out]:
        """The first `count` archived mails, in arrival (commit) order."""
        self.schedule(self.t0, self.spawn)
        done = 0
        while done < count:
            ts, _, action = heapq.heappop(self.heap)
            action(ts)
            for out in self.out:
                if done < count:
                    yield out
                    done += 1
            self.out.clear()


# -- the epoch -------------------------------------------------------------------------


def _commit(out: _Out, committer: str) -> bytes:
    """One fast-import commit: the mail as blob `m`, authored by its sender at its Date.

    public-inbox commits the same way: author from From/Date, committer the inbox at
    arrival, the subject as commit message, and the raw mail as the only file `m`.
    """
    author = out.author
    message = out.subject.encode("utf-8") + b"\n"
    people = (
        f"author {author.name} <{author.email}> {int(out.sent)} {_offset(author.tz)}\n"
        f"committer {committer} {int(out.arrival)} +0000\n"
    )
    return b"".join(
        (
            b"commit refs/heads/master\n",
            people.encode("utf-8"),
            b"data %d\n" % len(message),
            message,
            b"M 100644 inline m\ndata %d\n" % len(out.raw),
            out.raw,
            b"\n",
        )
    )


def write_scale_epoch(
    git_dir: Path,
    count: int,
    *,
    seed: int = 1,
    start: datetime = DEFAULT_START,
    list_address: str = DEFAULT_LIST,
    per_day: float = 100.0,
) -> None:
    """Write a public-inbox epoch (bare git, one commit per mail, blob `m`) of `count` mails.

    The mails start at `start` (aware datetime) at about `per_day` a day. An existing
    `git_dir` is replaced. One `git fast-import` process writes the whole epoch; it is
    built beside `git_dir` and renamed into place only when complete.
    """
    world = _world(count, seed, start, list_address, per_day)
    _write_epoch(git_dir, world.mails(count), f"{world.list_name} <{list_address}>")


# public-inbox starts a new epoch at about 1 GB of git: ~300,000 of these mails (300 MB
# a 100,000).
EPOCH_MAILS = 300_000


def write_scale_inbox(
    inbox: Path,
    count: int,
    *,
    per_epoch: int = EPOCH_MAILS,
    seed: int = 1,
    start: datetime = DEFAULT_START,
    list_address: str = DEFAULT_LIST,
    per_day: float = 100.0,
) -> list[Path]:
    """Write a public-inbox v2 inbox (`inbox/git/0.git`, `1.git`, …) of `count` mails:
    one list's mail, as write_scale_epoch makes it, cut into epochs of `per_epoch`.

    Built beside `inbox` and renamed into place when every epoch is complete.
    """
    if per_epoch < 1:
        raise ValueError("per_epoch must be >= 1")
    world = _world(count, seed, start, list_address, per_day)
    committer = f"{world.list_name} <{list_address}>"
    partial = inbox.with_name(inbox.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    mails = world.mails(count)
    epochs = []
    for number in range(max(1, -(-count // per_epoch))):
        epoch = partial / "git" / f"{number}.git"
        _write_epoch(epoch, itertools.islice(mails, per_epoch), committer)
        epochs.append(inbox / "git" / epoch.name)
    if inbox.exists():
        shutil.rmtree(inbox)
    partial.rename(inbox)
    return epochs


def _world(count: int, seed: int, start: datetime, list_address: str, per_day: float) -> _ScaleList:
    if count < 0:
        raise ValueError("count must be >= 0")
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    return _ScaleList(random.Random(seed), start, list_address, per_day)


def _write_epoch(git_dir: Path, mails: Iterable[_Out], committer: str) -> None:
    """One epoch of these mails, by one `git fast-import`, renamed into place when done."""
    partial = git_dir.with_name(git_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "--quiet", "--bare", str(partial)], check=True)
    subprocess.run(
        ["git", "--git-dir", str(partial), "symbolic-ref", "HEAD", "refs/heads/master"],
        check=True,
    )
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            # --done: a stream cut short (a crash here) is rejected, never half-imported.
            ["git", "--git-dir", str(partial), "fast-import", "--quiet", "--done"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        assert proc.stdin is not None
        try:
            chunk: list[bytes] = []
            size = 0
            for out in mails:
                data = _commit(out, committer)
                chunk.append(data)
                size += len(data)
                if size >= 1 << 20:
                    proc.stdin.write(b"".join(chunk))
                    chunk, size = [], 0
            chunk.append(b"done\n")
            proc.stdin.write(b"".join(chunk))
            proc.stdin.close()
        except BrokenPipeError:
            pass  # fast-import failed: its message is reported below
        except BaseException:
            proc.kill()  # it would wait for the rest of the stream forever
            proc.wait()
            shutil.rmtree(partial, ignore_errors=True)
            raise
        code = proc.wait()
        if code != 0:
            errors.seek(0)
            message = errors.read().decode("utf-8", "replace").strip()
            raise RuntimeError(f"git fast-import failed ({code}): {message}")
    if git_dir.exists():
        shutil.rmtree(git_dir)
    partial.rename(git_dir)
