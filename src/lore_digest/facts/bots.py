"""What robots said about a series: build failures, test results, notices.

Robots (the kernel test robot, syzbot, patchwork-bot, pr-tracker-bot, AI review bots)
are never reviewers or participants, but what they found matters to a maintainer:
"kernel test robot: build failure on patch 3 (arm64 allmodconfig)". Each finding is
read from the robot's own text with fixed phrases (their mails are generated, so the
phrases are stable) and carries the mail it came from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from lore_digest.facts.model import MailFacts
from lore_digest.vocabulary import bot_name, is_bot

__all__ = ["BotFinding", "bot_findings"]


@dataclass(frozen=True, slots=True)
class BotFinding:
    """One robot mail about a series: who, what, which patch, which config."""

    bot: str  # "kernel test robot", "syzbot", ...
    message_id: str
    patch: int | None  # the patch number the robot answered, None for the cover/series
    what: str  # "build failure", "build warning", "sparse warning", "test passed", ...
    config: str | None  # "arm64 allmodconfig" when the robot names one

    def describe(self) -> str:
        """ "kernel test robot: build failure on patch 3 (arm64 allmodconfig)"."""
        text = f"{self.bot}: {self.what}"
        if self.patch is not None:
            text += f" on patch {self.patch}"
        if self.config:
            text += f" ({self.config})"
        return text


# First matching phrase wins: errors before warnings ("errors/warnings" reports both).
_KINDS: Final = (
    (re.compile(r"build errors|yet something to improve|\berror:", re.I), "build failure"),
    (re.compile(r"reproducer did not trigger any issue|tested.*no issue", re.I), "test passed"),
    (re.compile(r"reproducer is still triggering|still triggers", re.I), "test failed"),
    (re.compile(r"sparse warnings", re.I), "sparse warning"),
    (re.compile(r"smatch warnings", re.I), "smatch warning"),
    (re.compile(r"build warnings|perhaps something to improve|\bwarning:", re.I), "build warning"),
    (
        re.compile(r"performance regression|-\d+(?:\.\d+)?% regression", re.I),
        "performance regression",
    ),
    (re.compile(r"found the following (?:issue|crash)|\bBUG:|KASAN:|Oops", re.I), "crash report"),
    (re.compile(r"(?:series|patch(?:es)?) (?:was|were) applied to", re.I), "applied notice"),
    (re.compile(r"has been merged into", re.I), "merge notice"),
)
_CONFIG: Final = re.compile(r"^\s*config:\s*([\w.+-]+)", re.I | re.M)


def _what(text: str) -> str:
    for pattern, name in _KINDS:
        if pattern.search(text):
            return name
    return "report"


def _config(text: str) -> str | None:
    found = _CONFIG.search(text)
    if found is None:
        return None
    arch, _, rest = found.group(1).partition("-")
    return f"{arch} {rest}" if rest else arch


def bot_findings(mails: Sequence[MailFacts]) -> tuple[BotFinding, ...]:
    """Findings of every robot mail among `mails` (replies only), in date order."""
    found: list[BotFinding] = []
    for mail in mails:
        if not is_bot(mail.from_email) or mail.parent_id is None:
            continue
        text = "\n".join(
            s.text for s in mail.segments if s.kind not in ("quoted", "attribution", "diff")
        )
        counter = mail.subject.counter
        found.append(
            BotFinding(
                bot=bot_name(mail.from_email),
                message_id=mail.message_id,
                patch=counter if counter else None,
                what=_what(text),
                config=_config(text),
            )
        )
    return tuple(found)
