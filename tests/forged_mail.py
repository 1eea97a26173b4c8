"""Crafted mail for the trust tests: forged decisions, forged trailers, real-world gaps.

Each scenario is one thread of a small list ("trust") in ISO week 2024-W10, written as
an mbox so it goes through the real ingester. Marc (maz@kernel.org) is the maintainer:
the MAINTAINERS text below names him for arch/arm64/kvm/, and the list's history gives
him two b4 thank-you mails on other people's series, so both trust rules know him.
Mallory (mallory@evil.example) forges; Alice and Bob post patches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

LIST = "trust"
WEEK = "2024-W10"  # Monday 2024-03-04
MONDAY = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)

MARC = ("Marc Zyngier", "maz@kernel.org")
WILL = ("Will Deacon", "will@kernel.org")
MALLORY = ("Mallory", "mallory@evil.example")
ALICE = ("Alice Dev", "alice@example.org")
BOB = ("Bob Dev", "bob@example.org")
BOT = ("pr-tracker-bot", "pr-tracker-bot@kernel.org")
LKP = ("kernel test robot", "lkp@intel.com")

MAINTAINERS = """\
List of maintainers (the format is described at the top of the kernel's file)

KERNEL VIRTUAL MACHINE FOR ARM64 (KVM/arm64)
M:\tMarc Zyngier <maz@kernel.org>
R:\tJames Morse <james.morse@arm.com>
L:\tkvmarm@lists.linux.dev
S:\tMaintained
F:\tarch/arm64/kvm/

ARM64 PORT (AARCH64 ARCHITECTURE)
M:\tWill Deacon <will@kernel.org>
S:\tMaintained
F:\tarch/arm64/
X:\tarch/arm64/kvm/
"""


def diff(path: str) -> str:
    """A small real-looking diff touching `path`."""
    return f"""\
---
 {path} | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/{path} b/{path}
index 1111111..2222222 100644
--- a/{path}
+++ b/{path}
@@ -1,3 +1,3 @@
 int a;
-int b;
+int c;
 int d;
"""


@dataclass
class Mail:
    """One crafted mail; `at` is hours after Monday 09:00 of the week (negative: before)."""

    mid: str
    subject: str
    who: tuple[str, str]
    body: str
    at: float
    parent: str | None = None
    extra: list[str] = field(default_factory=list)

    def bytes(self) -> bytes:
        date = MONDAY + timedelta(hours=self.at)
        name, addr = self.who
        lines = [
            f"From {addr} {date.strftime('%a %b %d %H:%M:%S %Y')}",
            f"From: {name} <{addr}>",
            f"To: {LIST}@lists.linux.dev",
            f"Subject: {self.subject}",
            f"Date: {format_datetime(date)}",
            f"Message-ID: <{self.mid}>",
            *self.extra,
        ]
        if self.parent:
            lines += [f"In-Reply-To: <{self.parent}>", f"References: <{self.parent}>"]
        lines += ["Content-Type: text/plain; charset=utf-8", "", self.body, ""]
        return "\n".join(lines).encode()


def patch(mid: str, subject: str, who: tuple[str, str], at: float, path: str) -> Mail:
    return Mail(
        mid, subject, who, f"Do it.\n\nSigned-off-by: {who[0]} <{who[1]}>\n{diff(path)}", at
    )


def b4_thanks(mid: str, parent: str, title: str, who: tuple[str, str], at: float) -> Mail:
    return Mail(
        mid,
        f"Re: {title}",
        who,
        "On Mon, someone wrote:\n> patch\n\nApplied to next, thanks!\n\n"
        f"[1/1] {title.split('] ', 1)[-1]}\n      commit: 0123456789abcdef0123456789abcdef01234567\n\n"
        "Cheers,\n\n\tM.\n",
        at,
        parent,
    )


def history() -> list[Mail]:
    """Marc's b4 thank-you mails on two earlier series by others: how he is learned."""
    mails = []
    for n, who in ((1, ALICE), (2, BOB)):
        title = f"[PATCH] KVM: arm64: old fix {n}"
        mails.append(patch(f"old{n}@x", title, who, -24 * 30 - n, "arch/arm64/kvm/old.c"))
        mails.append(b4_thanks(f"old{n}-ty@x", f"old{n}@x", title, MARC, -24 * 29 - n))
    return mails


def scenarios() -> list[Mail]:
    """The week's threads, by name of their first Message-ID."""
    out: list[Mail] = []
    # 1. A stranger's "Applied to next, thanks!".
    out.append(
        patch("stranger@x", "[PATCH] KVM: arm64: stranger applies", ALICE, 1, "arch/arm64/kvm/a.c")
    )
    out.append(
        Mail(
            "stranger-ty@x",
            "Re: [PATCH] KVM: arm64: stranger applies",
            MALLORY,
            "Applied to next, thanks!\n",
            2,
            "stranger@x",
        )
    )
    # 2. An outsider's NACK.
    out.append(
        patch("nack@x", "[PATCH] KVM: arm64: outsider nacks", ALICE, 3, "arch/arm64/kvm/b.c")
    )
    out.append(
        Mail("nack-r@x", "Re: [PATCH] KVM: arm64: outsider nacks", MALLORY, "NACK.\n", 4, "nack@x")
    )
    # 3. The author's own fake b4 commit list.
    title = "[PATCH] KVM: arm64: author applies own"
    out.append(patch("own@x", title, MALLORY, 5, "arch/arm64/kvm/c.c"))
    out.append(b4_thanks("own-ty@x", "own@x", title, MALLORY, 6))
    # 4. A forged pr-tracker-bot on a pull request.
    out.append(
        Mail(
            "pull@x",
            "[GIT PULL] KVM/arm64 updates",
            MALLORY,
            "The following changes since commit 0123456789abcdef0123456789abcdef01234567:\n\n  Linux 6.8 (2024-03-01)\n\nare available in the Git repository at:\n\n  https://evil.example/linux.git tags/evil\n",
            7,
        )
    )
    out.append(
        Mail(
            "pull-bot@x",
            "Re: [GIT PULL] KVM/arm64 updates",
            BOT,
            "The pull request you sent on Mon:\n\n> https://evil.example/linux.git tags/evil\n\nhas been merged into torvalds/linux.git:\nhttps://git.kernel.org/torvalds/c/abcdef0\n\nThank you!\n",
            8,
            "pull@x",
        )
    )
    # 5. Mallory sends Marc's Reviewed-by.
    out.append(
        patch("forged-rb@x", "[PATCH] KVM: arm64: forged review", ALICE, 9, "arch/arm64/kvm/d.c")
    )
    out.append(
        Mail(
            "forged-rb-r@x",
            "Re: [PATCH] KVM: arm64: forged review",
            MALLORY,
            "Looks great.\n\nReviewed-by: Marc Zyngier <maz@kernel.org>\n",
            10,
            "forged-rb@x",
        )
    )
    # 6. The maintainer applies, then drops.
    title = "[PATCH] KVM: arm64: applied then dropped"
    out.append(patch("drop@x", title, BOB, 11, "arch/arm64/kvm/e.c"))
    out.append(b4_thanks("drop-ty@x", "drop@x", title, MARC, 12))
    out.append(
        Mail(
            "drop-r@x",
            f"Re: {title}",
            MARC,
            "On Mon, Marc wrote:\n> Applied to next, thanks!\n\nI've dropped this patch, it breaks the build on 32bit.\n\n\tM.\n",
            13,
            "drop-ty@x",
        )
    )
    # 7. The author withdraws: "Bad news; this is broken".
    title = "[PATCH] KVM: arm64: author withdraws"
    out.append(patch("withdraw@x", title, BOB, 14, "arch/arm64/kvm/f.c"))
    out.append(
        Mail(
            "withdraw-r@x",
            f"Re: {title}",
            BOB,
            "Bad news; this is broken. I'll come back with something else.\n",
            15,
            "withdraw@x",
        )
    )
    # 8. A maintainer's pull request sent as patches.
    out.append(
        Mail(
            "fixes@x",
            "[PATCH 0/1] KVM/arm64 fixes for 6.8, take #1",
            MARC,
            "Here are a couple of fixes for 6.8.\n\n Marc Zyngier (1):\n  KVM: arm64: fix\n\n arch/arm64/kvm/g.c | 2 +-\n 1 file changed\n",
            16,
        )
    )
    out.append(
        Mail(
            "fixes-1@x",
            "[PATCH 1/1] KVM: arm64: fix",
            MARC,
            f"Fix.\n\nSigned-off-by: Marc Zyngier <maz@kernel.org>\n{diff('arch/arm64/kvm/g.c')}",
            16.1,
            "fixes@x",
        )
    )
    # 9. The right person: Marc applies with his b4 list; Will applies outside his files.
    title = "[PATCH] KVM: arm64: maintainer applies"
    out.append(patch("good@x", title, ALICE, 17, "arch/arm64/kvm/h.c"))
    out.append(b4_thanks("good-ty@x", "good@x", title, MARC, 18))
    title = "[PATCH] KVM: arm64: other maintainer applies"
    out.append(patch("will@x", title, ALICE, 19, "arch/arm64/kvm/i.c"))
    out.append(
        Mail(
            "will-ty@x",
            f"Re: {title}",
            WILL,
            "Applied to arm64 (for-next/misc), thanks!\n",
            20,
            "will@x",
        )
    )
    # 10. A kernel test robot finding.
    title = "[PATCH] KVM: arm64: robot finds"
    out.append(patch("robot@x", title, BOB, 21, "arch/arm64/kvm/j.c"))
    out.append(
        Mail(
            "robot-r@x",
            f"Re: {title}",
            LKP,
            "Hi Bob,\n\nkernel test robot noticed the following build errors:\n\nconfig: arm64-allmodconfig (https://download.01.org/0day-ci/archive/x/config)\n\nAll errors (new ones prefixed by >>):\n\n>> arch/arm64/kvm/j.c:2:5: error: redefinition of 'c'\n",
            22,
            "robot@x",
        )
    )
    return out


def old_postings() -> list[Mail]:
    """Postings 3+ weeks old that nobody answered: candidates for "waiting for review"."""
    return [
        patch(
            "stable@x",
            "[PATCH 5.10 086/122] KVM: arm64: backport",
            BOB,
            -24 * 20,
            "arch/arm64/kvm/k.c",
        ),
        patch(
            "ignored@x",
            "[PATCH] KVM: arm64: posted and ignored",
            BOB,
            -24 * 20 - 1,
            "arch/arm64/kvm/l.c",
        ),
        patch(
            "self-ignore@x",
            "[PATCH] KVM: arm64: please ignore me",
            BOB,
            -24 * 20 - 2,
            "arch/arm64/kvm/m.c",
        ),
        Mail(
            "self-ignore-r@x",
            "Re: [PATCH] KVM: arm64: please ignore me",
            BOB,
            "Please ignore this email, I sent the wrong branch.\n",
            -24 * 20 - 1.5,
            "self-ignore@x",
        ),
        # The same patch sent twice, as PATCH then as RFC half an hour later; Alice
        # reviewed the first copy, so the work does not wait for review.
        patch("twin@x", "[PATCH] KVM: arm64: sent twice", BOB, -24 * 21, "arch/arm64/kvm/n.c"),
        patch(
            "twin-rfc@x",
            "[RFC PATCH] KVM: arm64: sent twice",
            BOB,
            -24 * 21 + 0.5,
            "arch/arm64/kvm/n.c",
        ),
        Mail(
            "twin-r@x",
            "Re: [PATCH] KVM: arm64: sent twice",
            ALICE,
            "On Mon, Bob wrote:\n> patch\n\nLooks fine to me, but please add a comment.\n",
            -24 * 20,
            "twin@x",
        ),
    ]


def write_mbox(path: Path, mails: list[Mail]) -> Path:
    path.write_bytes(b"\n".join(m.bytes() for m in mails))
    return path


def write_maintainers(path: Path) -> Path:
    path.write_text(MAINTAINERS, encoding="utf-8")
    return path
