"""The fact guard: every sentence of an LLM summary checked against the facts and mail.

A model may write "Marc Zyngier applied it" next to the status "under review", invent
a reviewer, a v5 that was never posted, a count or a function name. Each check here is
a small deterministic function over one sentence and what the report knows of its
thread (`GuardFacts`); a failing sentence is re-asked once (summarize.llm) and then
dropped, and the summary keeps a `SummaryCheck` for each drop (JSON `summary.checks`).
The checks read English and Chinese: the words they look for are listed per language,
and the names, versions, counts and identifiers they test are written the same in both.

The checks are narrow on purpose: a sentence is dropped only for what it claims
outright — a status word not negated and not in the future ("will apply", "尚未合入"
pass), a version number, a count phrase, an identifier shaped like code — so that
truthful prose is not removed (README: share of lies caught, of true sentences lost).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from lore_digest.facts.model import MailFacts
from lore_digest.facts.status import APPLIED_STATES, Status
from lore_digest.model import Summary, SummaryCheck, SummaryItem, Thread
from lore_digest.vocabulary import NUMBER_WORDS

__all__ = ["CHECKS", "GuardFacts", "check_sentence", "failures", "guard_facts", "guard_summary"]


@dataclass(frozen=True, slots=True)
class GuardFacts:
    """What one thread's sentences are checked against."""

    message_ids: frozenset[str]  # the thread's mails and its series' revisions
    people: frozenset[str]  # lower-cased names and addresses of people in the facts
    text: str  # every mail's subject and own text, for names a sentence may quote
    texts: Mapping[str, str]  # message id -> that mail's subject and full text
    status: str | None
    versions: frozenset[int]  # revisions of the series (empty: not a series)
    patches: int | None  # patches in the series
    mail_counts: frozenset[int]  # thread, this week, earlier, replies
    revision_count: int


def guard_facts(thread: Thread, mails: Sequence[MailFacts]) -> GuardFacts:
    """The facts of one report thread, as the checks read them."""
    texts: dict[str, str] = {}
    for mail in mails:
        body = "\n".join(segment.text for segment in mail.segments)
        texts[mail.message_id] = f"{mail.subject.subject}\n{body}"
    for message in thread.messages:
        texts.setdefault(message.message_id, message.subject)
    people = {n for m in thread.messages for n in (m.from_name, m.from_email)}
    versions: set[int] = set()
    patches = None
    revisions = 0
    series = thread.series
    if series is not None:
        people |= {series.author_name, series.author_email}
        for patch in series.patches:
            people |= {n for t in patch.trailers for n in (t.name, t.email, t.sent_by_name)}
        for ref in (*series.revisions, series.superseded_by):
            if ref is not None:
                versions.add(ref.version)
                texts.setdefault(ref.message_id, ref.subject)
        patches = series.total
        revisions = len(series.revisions)
    status = thread.status
    if status is not None:
        # Evidence may be mail outside the thread (a maintainer's pull request): the
        # prompt labels it, so a sentence may cite it.
        for message_id in (
            *status.evidence,
            *(info.message_id for info in status.applied_replies),
            *((status.applied.message_id,) if status.applied else ()),
        ):
            texts.setdefault(message_id, "")
        if status.applied is not None:
            people |= {status.applied.by_name, status.applied.by_email}
    total = len(thread.messages)
    this_week = len(thread.window_messages)
    return GuardFacts(
        message_ids=frozenset(texts),
        people=frozenset(" ".join(p.lower().split()) for p in people if p),
        text="\n".join(texts.values()).lower(),
        texts=texts,
        status=str(status.status) if status is not None else None,
        versions=frozenset(versions),
        patches=patches,
        mail_counts=frozenset({total, this_week, total - this_week, max(total - 1, 0)}),
        revision_count=revisions,
    )


Check = Callable[[SummaryItem, GuardFacts], str | None]
"""One check: None when the sentence passes, else the reason it fails."""


# -- cites ---------------------------------------------------------------------------------


def check_cites(item: SummaryItem, facts: GuardFacts) -> str | None:
    """A sentence rests on mail of this thread (or of its series' revisions)."""
    if not item.cites:
        return "cites no mail"
    foreign = [c for c in item.cites if c not in facts.message_ids]
    return f"cites mail outside this thread: {', '.join(foreign)}" if foreign else None


# -- people --------------------------------------------------------------------------------

# "Marc Zyngier", "Oliver Upton", "Jean-Philippe Brucker": two or three capitalised words.
_NAME = re.compile(r"\b[A-Z][a-z]+(?:-[A-Z][a-z]+)?(?:\s+[A-Z][a-z]+(?:-[A-Z][a-z]+)?){1,2}\b")


def check_people(item: SummaryItem, facts: GuardFacts) -> str | None:
    """People it names are in the facts or the thread's mail (any capitalised phrase
    the mail itself contains passes: "Page Table", "Arm Ltd")."""
    for found in _NAME.finditer(item.text):
        name = " ".join(found.group(0).lower().split())
        if name in facts.people or name in facts.text:
            continue
        words = name.split()
        if any(" ".join(words[i : i + 2]) in facts.text for i in range(len(words) - 1)):
            continue
        return f"names {found.group(0)!r}, who is not in this thread"
    return None


# -- versions ------------------------------------------------------------------------------

_VERSION = re.compile(r"\b[vV](\d{1,2})(?![.\d])\b|\bversion\s+(\d{1,2})\b|第\s*(\d{1,2})\s*版")
# "v3" names a revision after these words (or punctuation, a CJK character, the start);
# after others it is something else's version: "cgroup v2", "PSCI v1".
_BEFORE_VERSION = re.compile(
    r"(?:^|[\s(,;:\[→>-]|[\u4e00-\u9fff]|\b(?:the|this|that|in|of|a|an|since|from|to|and"
    r"|or|with|than|its|his|her|their|new|latest|previous|earlier|next|posted|sent|as"
    r"|by|at|for|on|into|until|after|before|then)\s+)$",
    re.IGNORECASE,
)


def check_versions(item: SummaryItem, facts: GuardFacts) -> str | None:
    """A version it names exists in the revision chain ("v5.10" is a kernel release,
    "cgroup v2" another thing's version)."""
    if not facts.versions:
        return None
    for found in _VERSION.finditer(item.text):
        before = item.text[max(0, found.start() - 12) : found.start()]
        if found.group(1) and not _BEFORE_VERSION.search(before):
            continue
        number = int(next(g for g in found.groups() if g))
        if number not in facts.versions:
            known = ", ".join(f"v{v}" for v in sorted(facts.versions))
            return f"names version {number}, the revisions are {known}"
    return None


# -- status --------------------------------------------------------------------------------

_APPLIED_STATES: Final = APPLIED_STATES | {Status.MERGED, Status.PARTLY_MERGED}
_DECIDE = r"(?:applied|merged|queued|pulled|picked\s+up|took|taken)"
_WHAT = r"(?:it|them|this|these|both|all|the\s+(?:whole\s+)?(?:series|patch(?:es)?|set|fix|fixes|pull(?:\s+request)?|v\d+))"
_TREE = (
    r"(?:[\w./-]*(?:next|fixes|queue|master|main|for-next|tree|branch)\b|kvmarm|kvm|arm64|tip"
    r"|mainline|linux-next|upstream|the\s+[\w./-]+\s+(?:tree|branch))"
)
# Status claims, per group: (the statuses that allow them, the words that claim it).
# Decision words only in decision phrases: "the fix is applied to every vCPU" or
# "merges two helpers" describe code, "Marc applied the series to next" a decision.
_STATUS_WORDS: Final[tuple[tuple[frozenset[str], re.Pattern[str]], ...]] = (
    (
        frozenset(_APPLIED_STATES),
        re.compile(
            rf"\b{_DECIDE}\s+{_WHAT}\b"
            rf"|\b(?:was|were|has\s+been|have\s+been|got|is\s+now|are\s+now)\s+{_DECIDE}"
            rf"(?=\s+(?:to|into|in|for|by|on)\b|\s*[.,;]|$)"
            rf"|\b{_DECIDE}\s+(?:to|into|in|on)\s+{_TREE}"
            r"|\b(?:applied|merged|queued|pulled)\s+for\s+(?:v?\d+\.\d+|-?rc\d|the\s+next\b)"
            r"|(?-i:\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)\s+(?:has\s+)?(?:applied|merged|queued|pulled"
            r"|picked\s+up)\b"
            r"|已(?:被)?(?:合入|合并|应用|排队|入队|接收)|被(?:合入|合并|应用)|合入了|合入到"
            r"|(?:应用|合并)到\S{0,16}?(?:分支|树|主线)",
            re.IGNORECASE,
        ),
    ),
    (
        frozenset({Status.NAKED}),
        re.compile(
            rf"\b(?:NAKed|nacked|NACKed|NAK'd)\b|\brejected\s+{_WHAT}"
            r"|(?:被)?拒绝了?(?:该|这个|此|这组)?(?:系列|补丁|方案|合入)|被拒绝|给出了?\s*NAK",
            re.IGNORECASE,
        ),
    ),
    (
        frozenset({Status.DROPPED}),
        re.compile(
            rf"\bdropped\s+{_WHAT}|\b(?:was|were|has\s+been|have\s+been)\s+dropped\s+from\b"
            r"|(?:被|已)(?:丢弃|撤下)",
            re.IGNORECASE,
        ),
    ),
    (
        frozenset({Status.WITHDRAWN}),
        re.compile(r"\b(?:withdrawn|withdrew|retracted)\b|撤回", re.IGNORECASE),
    ),
    (
        frozenset({Status.SUPERSEDED}),
        re.compile(r"\bsuperseded\b|(?:已|被)\S{0,12}?取代|已过时", re.IGNORECASE),
    ),
)
# What makes a status word no claim: a negation, the future, a wish, a condition or a
# question just before it ("has not been applied", "asked Marc to queue", "尚未合入").
_NOT_A_CLAIM_EN = re.compile(
    r"\b(?:not|never|no|yet\s+to|hasn't|haven't|wasn't|weren't|isn't|aren't|won't|can't"
    r"|without|will|would|to|be|may|might|could|should|can|plans?|asked|asks|wants?"
    r"|going|expects?|hopes?|if|once|until|whether|ready|suggested|proposed|offered)\b",
    re.IGNORECASE,
)
_NOT_A_CLAIM_ZH = re.compile(
    r"未|尚未|没有|没|不|将|会|计划|希望|要求|请|如果|一旦|是否|等待|待|可以|建议"
)
_REVERTED = re.compile(r"\breverted\b|回退|回滚")


def _claims(text: str, found: re.Match[str]) -> bool:
    """Whether the status phrase `found` states a fact (not negated, future or asked)."""
    words = re.findall(r"[\w']+", text[max(0, found.start() - 40) : found.start()])[-3:]
    if any(_NOT_A_CLAIM_EN.fullmatch(w) for w in words):
        return False
    if _NOT_A_CLAIM_ZH.search(text[max(0, found.start() - 6) : found.start()]):
        return False
    return "?" not in text[found.end() : found.end() + 40] and "？" not in text[found.end() :]


def check_status(item: SummaryItem, facts: GuardFacts) -> str | None:
    """Status words (applied, merged, queued, NAKed, dropped, withdrawn, superseded and
    合入, 应用, 拒绝, 撤回 ...) agree with the computed status; "reverted" must be in the
    cited mail. A negated or future word ("not yet applied", "will queue") is no claim."""
    text = item.text
    for allowed, words in _STATUS_WORDS:
        for found in words.finditer(text):
            if _claims(text, found) and facts.status not in allowed:
                return f"says {found.group(0)!r}, the status is {facts.status or 'none'}"
    for found in _REVERTED.finditer(text):
        if not any("revert" in facts.texts.get(c, "").lower() for c in item.cites):
            return f"says {found.group(0)!r}, no cited mail speaks of a revert"
    return None


# -- counts --------------------------------------------------------------------------------

_N = rf"(\d{{1,3}}|{'|'.join(NUMBER_WORDS)})"
_PATCH_COUNT = re.compile(
    rf"\b{_N}-patch\b|\bseries\s+of\s+{_N}\s+patches\b|\ball\s+{_N}\s+patches\b"
    rf"|\b{_N}\s+patches\s+in\s+total\b|共\s*(\d{{1,3}})\s*个补丁|(\d{{1,3}})\s*个补丁的",
    re.IGNORECASE,
)
_MAIL_COUNT = re.compile(
    rf"\b{_N}\s+(?:mails|messages|emails|replies)\b|(\d{{1,3}})\s*封(?:邮件|回复|回信)",
    re.IGNORECASE,
)
_REVISION_COUNT = re.compile(
    rf"\b{_N}\s+(?:versions|revisions|iterations)\b|(\d{{1,2}})\s*个版本", re.IGNORECASE
)


def _number(match: re.Match[str]) -> int:
    word = next(g for g in match.groups() if g).lower()
    return NUMBER_WORDS.get(word) or int(word)


def check_counts(item: SummaryItem, facts: GuardFacts) -> str | None:
    """Counts of patches, mails and versions it states match the facts."""
    for found in _PATCH_COUNT.finditer(item.text):
        if facts.patches is not None and _number(found) != facts.patches:
            return f"says {_number(found)} patches, the series has {facts.patches}"
    for found in _MAIL_COUNT.finditer(item.text):
        if _number(found) not in facts.mail_counts:
            return f"says {_number(found)} mails, the thread has {max(facts.mail_counts)}"
    for found in _REVISION_COUNT.finditer(item.text):
        if facts.revision_count and _number(found) not in (
            facts.revision_count,
            max(facts.versions, default=0),
        ):
            return f"says {_number(found)} versions, the chain has {facts.revision_count}"
    return None


# -- identifiers ---------------------------------------------------------------------------

_IDENTIFIER = re.compile(
    r"\b[a-z_][a-z0-9_]*\(\)"  # kvm_vcpu_ioctl()
    r"|\bCONFIG_[A-Z0-9_]+\b|\bFEAT_[A-Z0-9_]+\b"
    r"|\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_EL[0-3]\b"  # ID_AA64PFR0_EL1, HCR_EL2
    r"|\b(?:[\w.-]+/)+[\w.-]+\.(?:c|h|S|rst|txt|yaml|dts|dtsi|json|py|sh)\b"
)


def check_identifiers(item: SummaryItem, facts: GuardFacts) -> str | None:
    """Code identifiers it names (functions, CONFIG_*, FEAT_*, registers, file paths)
    occur in the text of the mails it cites."""
    cited = "\n".join(facts.texts.get(c, "") for c in item.cites)
    for found in _IDENTIFIER.finditer(item.text):
        name = found.group(0).removesuffix("()")
        if name not in cited:
            return f"names {found.group(0)!r}, which the cited mails do not contain"
    return None


CHECKS: Final[tuple[tuple[str, Check], ...]] = (
    ("cites", check_cites),
    ("people", check_people),
    ("versions", check_versions),
    ("status", check_status),
    ("counts", check_counts),
    ("identifiers", check_identifiers),
)


def check_sentence(item: SummaryItem, facts: GuardFacts) -> tuple[str, str] | None:
    """(check, reason) of the first check the sentence fails, None when it passes all."""
    for name, check in CHECKS:
        reason = check(item, facts)
        if reason is not None:
            return name, reason
    return None


def failures(summary: Summary, facts: GuardFacts) -> list[SummaryCheck]:
    """Every failing sentence of a summary, in order."""
    found = []
    for part, items in _parts(summary):
        for item in items:
            failed = check_sentence(item, facts)
            if failed is not None:
                found.append(SummaryCheck(part, item.text, failed[0], failed[1]))
    return found


def guard_summary(summary: Summary, facts: GuardFacts) -> Summary:
    """The summary without its failing sentences, each drop kept in `checks`."""
    dropped = failures(summary, facts)
    if not dropped:
        return summary
    gone = {(c.part, c.sentence) for c in dropped}

    def kept(part: str, items: Iterable[SummaryItem]) -> tuple[SummaryItem, ...]:
        return tuple(i for i in items if (part, i.text) not in gone)

    return replace(
        summary,
        original=kept("original", summary.original),
        history=kept("history", summary.history),
        this_week=kept("this_week", summary.this_week),
        checks=(*summary.checks, *dropped),
    )


def _parts(summary: Summary) -> tuple[tuple[str, tuple[SummaryItem, ...]], ...]:
    return (
        ("original", summary.original),
        ("history", summary.history),
        ("this_week", summary.this_week),
    )
