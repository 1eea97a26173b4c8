"""The words of the domain and the rules that several stages share, each written once.

A digest makes the same small decisions in many places: is this sender a bot, which
trailers count as review, does this lone patch belong to that cover letter, how many
tokens is this prompt, how long does the server want us to wait, which languages can a
report be written in. When each stage keeps its own copy, the copies drift (one bot list
knew pr-tracker-bot, another did not; one cover-letter rule checked RFC, another did
not), and outputs disagree. So the rules live here, and the stages import them.

Names follow b4 where b4 has one (`LoreSubject`, trailers, "series", "revision");
`docs/design.md` lists the words and what they mean. This module sits below every
stage: it imports only the standard library, the typed errors and the subject parser.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Final

from lore_digest.errors import UsageError
from lore_digest.mail.subject import LoreSubject

__all__ = [
    "DEFAULT_LANGUAGE",
    "DEFAULT_URL_BASE",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "LANGUAGE_TAGS",
    "NAK_TRAILER",
    "NOT_FOR_REVIEW",
    "REVIEW_TRAILERS",
    "SERIES_SPREAD_S",
    "VERDICT_TRAILERS",
    "SeriesKey",
    "bot_name",
    "check_list_name",
    "estimate_tokens",
    "format_counted",
    "is_bot",
    "is_pull_as_patches",
    "is_stable_posting",
    "is_syzbot",
    "lang_suffix",
    "opens_pull",
    "parse_languages",
    "plural",
    "report_stem",
    "retry_after_from_headers",
    "retry_after_seconds",
    "same_posting",
    "series_key",
    "slugify",
]

# -- lists ----------------------------------------------------------------------------------

DEFAULT_URL_BASE: Final = "https://lore.kernel.org/{name}/"
"""Where a list's mail is read on the web when nothing else is said."""

# A list name becomes part of file names, mail headers and URLs: keep it to a safe set.
_LIST_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_list_name(name: str) -> str:
    """`name` if it can name files, headers and URLs; ValueError saying why not."""
    if not _LIST_NAME.match(name):
        raise ValueError(
            f"list name {name!r} may only use letters, digits, '.', '_' and '-' "
            "(it names files and mail headers)"
        )
    return name


# -- people ---------------------------------------------------------------------------------

# Robots that post to kernel lists: the kernel test robot, kernel.org's pr-tracker and
# patchwork bots, syzbot, AI review bots (sashiko), and the "*-bot@" convention the
# others follow. They are never reviewers or participants, and their replies never make
# a series "under review"; their findings are listed per series instead.
_BOT: Final = re.compile(
    r"^(?:lkp@intel\.com|pr-tracker-bot@kernel\.org|patchwork-bot.*|syzbot.*|.*-bot@.*"
    r"|.*@syzkaller\.appspotmail\.com|.*sashiko.*|ai-review.*)$",
    re.IGNORECASE,
)


def is_bot(email_address: str) -> bool:
    """Whether mail from this address is a robot's (never a review)."""
    return _BOT.match(email_address.strip()) is not None


_BOT_NAMES: Final = (
    ("lkp@intel.com", "kernel test robot"),
    ("pr-tracker-bot@", "pr-tracker-bot"),
    ("patchwork-bot", "patchwork-bot"),
    ("syzbot", "syzbot"),
    ("sashiko", "sashiko"),
)


def bot_name(email_address: str) -> str:
    """How a digest names a robot: "kernel test robot", "syzbot", or its address."""
    address = email_address.strip().lower()
    for needle, name in _BOT_NAMES:
        if needle in address:
            return name
    return address


def is_syzbot(email_address: str) -> bool:
    """syzbot reports come from syzbot…@syzkaller.appspotmail.com."""
    address = email_address.strip().lower()
    return address.startswith("syzbot") and address.endswith("syzkaller.appspotmail.com")


# -- trailers -------------------------------------------------------------------------------

# Counts written as words in mail and prose ("the first three patches", "a five-patch
# series"): what facts.status and summarize.guard read as numbers.
NUMBER_WORDS: Final = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip

REVIEW_TRAILERS: Final = ("Reviewed-by", "Acked-by", "Tested-by")
"""Trailers that say "yes": a patch with one of them has been reviewed."""

NAK_TRAILER: Final = "Nacked-by"
"""The trailer that says "no"."""

VERDICT_TRAILERS: Final = (*REVIEW_TRAILERS, NAK_TRAILER)
"""Every trailer in which a reviewer gives a verdict: what a digest lists per reviewer."""

NOT_FOR_REVIEW: Final = frozenset({"autosel", "stable"})
"""Subject prefixes of postings sent for information, not review (stable backports)."""

# A stable review posting names the release it targets: "[PATCH 5.10 086/122]".
_STABLE_RELEASE: Final = re.compile(r"^\d+\.\d+(?:\.\d+)?(?:-rc\d+)?$")


# A maintainer's pull request sent as patches: "[PATCH 0/4] KVM/arm64 fixes for 5.16,
# take #1" (the cover letter is the pull request, the patches are what it carries).
_PULL_TITLE: Final = re.compile(
    r"\b(?:fixes|updates)\s+for\s+v?\d+\.\d+(?:-rc\d+)?\b.*\btake\s+#\d+", re.IGNORECASE
)


def is_pull_as_patches(subject: LoreSubject) -> bool:
    """A cover letter titled like a pull request ("... fixes for 5.16, take #1")."""
    return subject.is_cover and not subject.is_reply and bool(_PULL_TITLE.search(subject.title))


def opens_pull(subject: LoreSubject) -> bool:
    """A pull request's first mail: [GIT PULL] 0/N, or a cover letter titled like one."""
    if subject.is_reply:
        return False
    if subject.is_pull:
        return subject.counter in (None, 0)
    return is_pull_as_patches(subject)


def is_stable_posting(subject: LoreSubject) -> bool:
    """A stable-review or AUTOSEL posting: backports shown for information, not review."""
    prefixes = [p.lower() for p in subject.extra_prefixes]
    return bool(set(prefixes) & NOT_FOR_REVIEW) or any(map(_STABLE_RELEASE.match, prefixes))


# -- series: which patch belongs to which cover letter ----------------------------------------

SERIES_SPREAD_S: Final = 6 * 3600
"""How far apart the mails of one posting may be: git send-email sends a series in
seconds, slow SMTP relays stretch that to minutes, a few hours is the safe bound."""


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """What every mail of one posting of a series shares ([PATCH v3 k/7] from one sender)."""

    from_email: str
    version: int
    total: int
    is_rfc: bool
    extra: tuple[str, ...]  # project and branch prefixes, lower case ("kvmtool", "net-next")


def series_key(from_email: str, subject: LoreSubject) -> SeriesKey | None:
    """The posting key of a cover letter or patch; None for replies and other mail."""
    if subject.is_reply or not subject.is_patch or subject.total is None or subject.counter is None:
        return None
    return SeriesKey(
        from_email,
        subject.version,
        subject.total,
        subject.is_rfc,
        tuple(p.lower() for p in subject.extra_prefixes),
    )


def same_posting(one: tuple[str, LoreSubject, int], other: tuple[str, LoreSubject, int]) -> bool:
    """Whether two mails, each (sender, subject, date), are parts of one posting.

    The rule patchwork uses for patches not threaded under their cover letter: the same
    sender, version, total, RFC flag and extra prefixes, sent within SERIES_SPREAD_S.
    Two different series that share "[PATCH v3 0/4]" never meet this rule unless one
    person sent both within hours, which is why threads are never merged on subjects.
    """
    key = series_key(one[0], one[1])
    return (
        key is not None
        and key == series_key(other[0], other[1])
        and abs(one[2] - other[2]) <= SERIES_SPREAD_S
    )


# -- languages ----------------------------------------------------------------------------

LANGUAGES: Final = ("zh", "en")
"""Languages a report can be written in; the first is the default."""

DEFAULT_LANGUAGE: Final = LANGUAGES[0]

LANGUAGE_TAGS: Final = {"zh": "zh-CN", "en": "en"}
"""BCP 47 tags for HTML `lang` and mail `Content-Language`: the digest is Simplified Chinese."""

LANGUAGE_NAMES: Final = {"zh": "中文", "en": "English"}
"""Each language in its own words, for a language switch."""


def parse_languages(spec: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """`"zh,en"` (or a list) → ("zh", "en"): known codes, in order, without repeats."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    chosen = tuple(dict.fromkeys(item.strip().lower() for item in items if item.strip()))
    unknown = [lang for lang in chosen if lang not in LANGUAGES]
    if unknown or not chosen:
        raise UsageError(
            f"unknown language {', '.join(unknown) or '(none)'} "
            f"(choose from {', '.join(LANGUAGES)}, or several: zh,en)"
        )
    return chosen


def lang_suffix(lang: str) -> str:
    """File-name suffix of a language: none for the default, ".en" for English."""
    return "" if lang == DEFAULT_LANGUAGE else f".{lang}"


_NOT_SLUG: Final = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    """`text` as a file-name and id fragment: lower case, runs of anything but a-z and
    0-9 one "-", none at the ends ("KVM/arm64" -> "kvm-arm64"; "" for "虚拟化")."""
    return _NOT_SLUG.sub("-", text.lower()).strip("-")


def report_stem(list_name: str, label: str, lang: str) -> str:
    """A week's file name without extension, the same for the report, the site's page and
    its JSON: `kvmarm-2022-W19` (zh), `kvmarm-2022-W19.en`."""
    return f"{list_name}-{label}{lang_suffix(lang)}"


def plural(count: int, one: str, many: str | None = None) -> str:
    """ "1 mail", "2 mails": English words that follow a number."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


def format_counted(template: str, /, **values: object) -> str:
    """`str.format` that also knows English plural endings, for the language tables.

    For every integer value X the text may use {X_s} ("" for 1, else "s") and {X_ies}
    ("y" for 1, else "ies"): "{count} mail{count_s}", "{n} repl{n_ies}". Languages
    without plural forms (zh) simply do not use them.
    """
    endings: dict[str, object] = {}
    for name, value in values.items():
        if isinstance(value, int) and not isinstance(value, bool):
            endings[f"{name}_s"] = "" if value == 1 else "s"
            endings[f"{name}_ies"] = "y" if value == 1 else "ies"
    return template.format(**endings, **values)


# -- tokens -------------------------------------------------------------------------------

# Counted one token each; everything else ~4 characters per token (BPE on English/code).
_CJK: Final = re.compile(
    "[\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff"
    "\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]"
)


def estimate_tokens(text: str) -> int:
    """Deterministic token estimate: CJK characters 1 each, other text len/4 rounded up.

    The one estimate used everywhere (prompt budget, run budget, a server that reports no
    usage, the cost benchmark), so the figures agree with each other even where no
    tokenizer agrees exactly with them.
    """
    if text.isascii():
        return -(-len(text) // 4)
    cjk = sum(1 for _ in _CJK.finditer(text))
    return cjk + -(-(len(text) - cjk) // 4)


# -- HTTP ---------------------------------------------------------------------------------


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3).

    None when absent or unreadable. HTTP dates are always GMT, so a date written
    without a zone is read as UTC; a date in the past means "now" (0).
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def retry_after_from_headers(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds a server asked us to wait: `retry-after-ms` (OpenAI), else `Retry-After`."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    return retry_after_seconds(headers.get("retry-after"), now)
