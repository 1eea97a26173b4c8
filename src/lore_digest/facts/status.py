"""Status of a patch series (applied, NAKed, changes requested...), with evidence.

A digest says "applied" or "changes requested" only if a maintainer can click the
message ids in `evidence` and see it for themselves. Everything here is a deterministic
function of the thread's mails (`MailFacts`, sorted by date): only what a sender wrote
counts (prose and trailers: no quotes, diffs or signature), and only mails dated before
`until_utc` (None: all). Rules marked (heuristic) read free text and can be wrong; the
evidence is there so a reader can check.

Trust: who said it matters as much as what was said. With `appliers` (see `Appliers`:
a MAINTAINERS file's M: people for the series' files, or appliers learned from the
list's history), only their "applied", "queued", "pulled", "merged", "dropped" and NAK
decide; the same words from anyone else, and every robot's notice (a From line is
easy to forge), become `claims` ("X says it was applied — not a maintainer of these
files"), shown but never a status. An author's own b4 list counts only when the author
may apply.

Only the mail of the revision judged counts (`of_revision`: its postings and the replies
below them), not an earlier revision's review in the same thread. Rules, in priority
order; within 4 the latest event wins (docs/rules.md has the full list of phrases):

0. dropped: a trusted "I've dropped this patch" / "Reverted this" later than every
   applied reply, unless the author agrees to a change after it (then it is judged as
   never applied: changes requested, superseded...). Evidence: the drop mails.
1. applied / partly applied: a b4 thank-you commit list whatever words are above it,
   or (heuristic) a maintainer phrase opening a sentence ("Applied to next, thanks!",
   "Queued patches 1-5 for now", "Provisionally applied to -next", "I've taken the first
   three patches"), or the revision's patches found by title in a trusted maintainer's
   pull request (`pulled`, see facts.landed). Partly when the patches named ("(subset)",
   "patches 1-3", a [1/1] thank-you or an "applied" in reply to one patch) do not cover
   the series; several partial ones that cover it make it applied. Pull requests: a
   trusted "Pulled, thanks" / "Merged" reply (`_pull_status`).
2. superseded: the caller found a newer revision (`superseded_by`) and nothing was
   applied: it also answers an earlier NAK.
3. NAKed (heuristic beyond the trailer): "Nacked-by:", a line opening with NAK/NACK, a
   flat refusal ("There is no way this is acceptable"), or, to a stable/AUTOSEL
   backport, "Please drop this patch" / "isn't stable material".
4. the latest of: accepted (heuristic: a maintainer's unconditional "I'll take / queue /
   pick up the series"), changes requested (heuristic: the author commits to a concrete
   change a review of this revision asked for; not "no need to resend, I'll fix it when
   applying", not "will do next time", not a bare "good point"), withdrawn (the author
   takes it back: "please ignore this", "I don't intend to resend this series").
5. RFC: an RFC nobody answered.
6. under review: a reply from someone other than the author (robots and thank-you mails
   excluded) or a review trailer given in such a reply. Trailers the author carries in a
   re-post are history. Evidence: the first three such replies.
7. new: nothing of the above. Evidence: (root,).

`reviewed` is true when rule 6 would hold, whatever the status. The series author is
`author_email`, plus any display name used from that address in the thread (authors
reply from another address; heuristic); an empty author (a thread whose posting is not
archived) makes every sender a reviewer. Bots (kernel test robot lkp@intel.com,
pr-tracker-bot, syzbot, *-bot@) are not reviewers, though pr-tracker-bot's "has been
merged" does mark a pull request merged (as a claim, with a rule).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache
from typing import Final

from lore_digest.facts.landed import PullPatch
from lore_digest.facts.model import MailFacts
from lore_digest.mail.subject import LoreSubject, normalize_title
from lore_digest.mail.trailers import parse_trailers_from_segments
from lore_digest.vocabulary import (
    NAK_TRAILER,
    NUMBER_WORDS,
    REVIEW_TRAILERS,
    is_bot,
    is_pull_as_patches,
    is_stable_posting,
)

__all__ = [
    "APPLIED_STATES",
    "CLAIM_REASONS",
    "AppliedInfo",
    "Appliers",
    "Claim",
    "PullInfo",
    "Status",
    "StatusFacts",
    "detect_applied",
    "detect_pull",
    "is_thank_you",
    "of_revision",
    "promises_to_apply",
    "series_status",
]


class Status(StrEnum):
    """Where a series stands, as a digest prints it."""

    NEW = "new"
    UNDER_REVIEW = "under review"
    CHANGES_REQUESTED = "changes requested"
    APPLIED = "applied"
    PARTLY_APPLIED = "partly applied"  # some patches applied, the others not (yet)
    ACCEPTED = "accepted"  # a maintainer said "I'll take it": not applied yet
    SUPERSEDED = "superseded"
    NAKED = "NAKed"
    RFC = "RFC"
    DROPPED = "dropped"
    WITHDRAWN = "withdrawn"
    MERGED = "merged"  # every patch found in a configured git tree (report.merges)
    PARTLY_MERGED = "partly merged"  # some patches found in a tree


APPLIED_STATES: Final = frozenset({Status.APPLIED, Status.PARTLY_APPLIED})
"""Statuses where a maintainer applied all or part of the series (in mail)."""


@dataclass(frozen=True, slots=True)
class AppliedInfo:
    """A maintainer's "applied" reply: who, where, and the commits it lists."""

    message_id: str
    by_name: str
    by_email: str
    branch: str | None
    commits: tuple[tuple[str, str], ...]  # ("[1/4] subject", sha) in the order listed
    partial: str | None  # "patches 1-5" when only part of the series was taken
    release: str | None = None  # "6.1", "-rc": "queued for 6.1" names a release, no branch
    patches: tuple[int, ...] = ()  # numbers of the patches it names (commit list, "1-3")
    subset: bool = False  # b4's "(subset)" subject or a selection: only part was taken


@dataclass(frozen=True, slots=True)
class PullInfo:
    """What a [GIT PULL] mail asks to pull, and the reply that says it was pulled."""

    message_id: str
    base_commit: str | None
    repo: str | None
    ref: str | None
    tip_commit: str | None
    merged_by: str | None


NOT_MAINTAINER: Final = "not-maintainer"
NOT_APPLIER: Final = "not-applier"
ROBOT: Final = "robot"
CLAIM_REASONS: Final = {
    NOT_MAINTAINER: "not a maintainer of these files",
    NOT_APPLIER: "not one of the list's known appliers",
    ROBOT: "a robot's notice, not confirmed by a maintainer",
}
"""Why a decision is only a claim, keyed as `Claim.reason` holds it (English)."""


@dataclass(frozen=True, slots=True)
class Appliers:
    """Who may apply, queue, pull, merge, drop or NAK a series, and the rule that says so.

    `rule` is "maintainers" (the M: people of the MAINTAINERS sections of the files the
    series touches, and of the sections whose L: is the list) or "learned" (people the
    list's own history shows applying with b4 commit lists or having pull requests
    merged). Anyone else's "applied" is a claim, shown as such, never a status.
    """

    emails: frozenset[str]
    rule: str
    # Who may merge a pull request besides: the trees the maintainers send theirs to
    # (Paolo pulling Marc's kvmarm tree), which MAINTAINERS does not say. Learned.
    upstream: frozenset[str] = frozenset()

    def allows(self, email: str, *, pull: bool = False) -> bool:
        """Whether a mail from this address may decide the series' (or pull's) fate."""
        address = email.strip().lower()
        return address in self.emails or (pull and address in self.upstream)

    @property
    def reason(self) -> str:
        """Why someone else's word is only a claim (a key of CLAIM_REASONS)."""
        return NOT_MAINTAINER if self.rule == "maintainers" else NOT_APPLIER


@dataclass(frozen=True, slots=True)
class Claim:
    """A decision someone announced without the standing to make it (see `Appliers`)."""

    kind: str  # "applied", "merged", "NAKed", "dropped"
    message_id: str
    by_name: str
    by_email: str
    detail: str | None  # the branch named, if any
    reason: str  # a key of CLAIM_REASONS

    @property
    def why(self) -> str:
        """The reason in English words."""
        return CLAIM_REASONS.get(self.reason, self.reason)


@dataclass(frozen=True, slots=True)
class StatusFacts:
    """A series' status and the message ids that prove it."""

    status: Status
    evidence: tuple[str, ...]
    applied: AppliedInfo | None
    pull: PullInfo | None
    changes_requested: tuple[str, ...]
    naks: tuple[str, ...]
    reviewed: bool
    claims: tuple[Claim, ...] = ()
    applied_replies: tuple[AppliedInfo, ...] = ()  # every trusted reply that applied part


# -- sentences of what a sender wrote ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Sentence:
    """Text from a sentence start to the end of its paragraph, and the line it starts on."""

    text: str
    line: int  # index into _prose_lines(mail)

    def first(self) -> str:
        """The sentence alone, up to its end mark: to tell a question from a statement."""
        return _SENTENCE_SPLIT.split(self.text, maxsplit=1)[0]


_SENTENCE_END: Final = (".", "!", "?", ":")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")
_MID_LINE_START = re.compile(r"(?<=[.!])\s+(?=[A-Z])")
# Enough to read a wrapped phrase ("I picked up\nthe work ...") without rejoining logs.
_WRAPPED_LINES: Final = 3
_GREETING = re.compile(r"(?:hi|hello|hey|dear)\b[^.!?]{0,40}[,!]?\s*$", re.IGNORECASE)


@lru_cache(maxsize=4096)
def _prose_lines(mail: MailFacts) -> tuple[tuple[str, bool], ...]:
    """(line, opens a sentence) for the prose the sender wrote, segment by segment.

    Segments are taken one by one rather than through unquoted_text(): a quote between
    two prose segments is a paragraph break, and joining them would glue a reply's
    first line to the last line written before the quote. A line opens a sentence when
    it starts a paragraph or follows a line ending in ".!?:" or a greeting ("Hi Marc,").
    """
    lines: list[tuple[str, bool]] = []
    for segment in mail.segments:
        if segment.kind != "prose":
            continue
        previous = ""
        for line in segment.text.split("\n"):
            opens = (
                not previous
                or previous.endswith(_SENTENCE_END)
                or _GREETING.match(previous) is not None
            )
            lines.append((line, opens))
            previous = line.strip()
        lines.append(("", True))  # a segment ends its paragraph
    return tuple(lines)


def _sentences(lines: Sequence[tuple[str, bool]]) -> Iterator[_Sentence]:
    """Sentence starts, each with the rest of its paragraph (a sentence may wrap).

    A sentence starts on a line that opens one, or after ". "/"! " inside a line.
    """
    for index, (line, opens) in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        rest = [stripped]
        for following, _ in lines[index + 1 : index + 1 + _WRAPPED_LINES]:
            if not following.strip():
                break
            rest.append(following.strip())
        paragraph = " ".join(rest)
        parts = _MID_LINE_START.split(stripped)
        offset = 0
        for number, part in enumerate(parts):
            offset = paragraph.index(part, offset)
            if number > 0 or opens:
                yield _Sentence(paragraph[offset:], index)


@lru_cache(maxsize=4096)
def _sentences_of(mail: MailFacts) -> tuple[_Sentence, ...]:
    """A mail's sentences, split once for the many rules that read them."""
    return tuple(_sentences(_prose_lines(mail)))


@lru_cache(maxsize=4096)
def _statements_of(mail: MailFacts) -> tuple[_Sentence, ...]:
    return tuple(s for s in _sentences_of(mail) if "?" not in s.first())


def _statements(mail: MailFacts) -> Iterator[_Sentence]:
    """The sender's sentences that are not questions ("Applied to which branch?")."""
    return iter(_statements_of(mail))


# -- applied -----------------------------------------------------------------------------

_NUMS: Final = r"\d+(?:\s*-\s*\d+)?(?:\s*(?:,|and|&|\+)\s*\d+(?:\s*-\s*\d+)?)*"
# What was taken: longest alternatives first, the regex backtracks through them.
_OBJECT: Final = (
    r"(?P<object>"
    r"(?:the\s+)?(?:first|last)\s+(?:\w+\s+)?(?:\w+\s+)?"
    r"(?:patch(?:es)?|cleanups?|fixes|changes|ones|commits)(?:\s+only)?"
    rf"|(?:patch(?:es)?\s*|\#)(?P<nums>{_NUMS})(?:\s+only)?"
    rf"|(?:and\s+)?(?P<bare>{_NUMS})(?:\s+only)?"
    r"|(?:this|that)\s+(?:one|series|patch|patchset|version|set|fix)"
    r"|these\s+(?:two|three|four|patches|\w+\s+patches)"
    r"|the\s+(?:whole\s+|full\s+|entire\s+)?(?:series|set|patchset|patch|patches|fix)"
    r"|the\s+(?:two|three|four)(?:\s+patches)?"
    r"|all\s+of\s+them|it|this|that|these|them|both|all"
    r")"
)
_VERB: Final = (
    r"(?:applied|queued|pushed|merged|picked)"
    r"(?:\s+and\s+(?:applied|queued|pushed|merged))?"
)
_ADVERB: Final = r"(?:now|already|as\s+well|too|only|both|manually|out|up)"
_APPLIED_RE = re.compile(
    r"(?:(?:ok|okay|thanks|thank\s+you|now)[,!.]?\s+)?"
    r"(?:provisionally\s+)?"
    r"(?:(?:i|we)(?:'ve|\s+have)?\s+"
    r"(?:now\s+|just\s+|also\s+|finally\s+|provisionally\s+|already\s+)?)?"
    rf"(?P<verb>{_VERB})"
    rf"(?:\s+{_OBJECT})?"
    rf"(?:\s+{_ADVERB}\b)*"
    r"(?:\s+(?P<prep>to|into|in|on|for)\s+(?P<dest>\S.*)"
    r"|(?P<tail>\s*(?:$|[,.!;:(]|--?\s|with\b|as\s+a\s+fix\b|minus\b|apart\s+from\b).*))$",
    re.IGNORECASE,
)
# A destination that is no branch: testers apply patches "to my tree", "on top of rc3".
_BAD_DEST = re.compile(
    r"^(?:the\s+)?(?:top\b|my\s+(?:local\s+)?(?:tree|branch|machine|setup|board|system|test))",
    re.IGNORECASE,
)
_DEST_CUT = re.compile(
    r"[,;!?]|\.(?:\s|$)|\s--?\s|\s+(?:and|with|but|as|so|since|because|thanks|which|where|until"
    r"|after|before|once|to|in|for)\b(?![-/])"  # "for-next/sme" is a branch, not "for"
)
_BRANCH_PAREN = re.compile(r"\s*\(([\w./+-]+)\)")
_URL_BRANCH = re.compile(r"/(?:-/)?(?:tree|commits|log|shortlog)/([\w./+-]+?)/?$")
_URL = re.compile(r"\S+://\S+")
_RELEASE = re.compile(
    r"^(?:v|linux\s+|kernel\s+)?\d+\.\d+(?:[-.]rc\d+)?$|^-?rc\d*$"
    r"|^(?:the\s+)?next\b(?:\s+\w+){0,3}\s+(?:pull|release|merge|cycle|window)",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")
_FOR_NOW = re.compile(r"^(?:now|the\s+time\s+being)\b", re.IGNORECASE)
_PICKED_UP = re.compile(rf".*?\bpicked(?:\s+{_OBJECT})?\s+up\b", re.IGNORECASE)

# "Taken"/"took" speak of patches only with a patch object ("taken a look" is no merge).
_TAKEN = re.compile(
    r"(?:(?:i|we)(?:'ve|\s+have)?\s+(?:now\s+|also\s+|just\s+)?)(?P<verb>taken|took)\s+"
    r"(?=(?:the\s+)?(?:first|last)\s+(?:\w+\s+)?(?:patch(?:es)?|ones)\b|patch(?:es)?\s+\d"
    r"|the\s+(?:whole\s+)?(?:series|set|patchset|patches)\b|both\s+patches\b"
    r"|these\s+(?:\w+\s+)?patches\b)",
    re.IGNORECASE,
)
# The passive announcement, object first: "Thanks, patches 3 and 4 of this series applied
# to my kvm-ppc-next branch." (Paul Mackerras, 2020), "Series applied to net-next,
# thanks.", "Both backports now queued up, thanks." Testers use the same words ("This
# series applied to kvmarm/next cleanly and boots"), so only a sentence that ends with
# the destination, ", thanks" or ", with fixes" is one; it is read as the active form.
_PASSIVE = re.compile(
    r"(?P<lead>(?:(?:ok|okay|thanks|thank\s+you)[,!.]?\s+)?)"
    rf"(?P<object>patch(?:es)?\s*\#?{_NUMS}|(?:the\s+|this\s+)?(?:whole\s+)?"
    r"(?:patch|series|patchset)|both(?:\s+(?:patches|backports))?)"
    r"(?:\s+of\s+(?:this|the)\s+(?:series|patchset|set))?"
    r"\s+(?:(?:are|is|was|were|have\s+been|has\s+been|now|also)\s+)*"
    r"(?P<verb>applied|queued|pushed|merged)(?:\s+up)?"
    r"(?P<rest>\s+(?:to|into|on)\s+(?:my\s+|our\s+|the\s+)?[\w./+-]+(?:\s+(?:branch|tree))?)?"
    r"(?P<end>\s*(?:[.!]|,\s*(?:thanks|thank\s+you|with\s+(?:fixes|a\s+tweak|minor\s+\w+)))?"
    r"[.!]?)$",
    re.IGNORECASE,
)
# "The series applied to v5.10-rc2": a base it applies on, no branch it went to.
_RELEASE_DEST = re.compile(r"\s(?:v?\d+\.\d+(?:\.\d+)?(?:-rc\d+)?|-?rc\d+)[.!]?$", re.IGNORECASE)
_WHOLE = re.compile(r"\b(?:series|set|patchset|patches|all|them|these|both|two|three|four)\b", re.I)
_COMMIT_ENTRY = re.compile(r"^\s*(\[\d+/\d+\]\s+\S.*?)\s*$")
_COMMIT_SHA = re.compile(
    r"^\s*(?:commit:\s*([0-9a-f]{7,40})\b"
    r"|https?://\S*?(?:/c/|[?&;]id=|/commit/)([0-9a-f]{7,40})\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class _AppliedPhrase:
    """A matched applied sentence: the line it starts on, the branch, the selection."""

    line: int
    branch: str | None
    partial: str | None
    release: str | None = None
    whole: bool = False  # names the whole series ("Applied the series"), not "it"


@lru_cache(maxsize=8192)
def detect_applied(mail: MailFacts) -> AppliedInfo | None:
    """The maintainer-applied reply this mail is, or None (see the module's rule 1).

    A b4 thank-you mail counts by its commit list whatever its maintainer wrote above
    it ("Provisionally applied...", "Picked, with a tweak"): the list is the proof.
    Does not know who wrote the series: series_status drops the author's own mails.
    """
    if mail.parent_id is None and not mail.subject.is_reply:
        return None  # a thread's first mail announces, it does not reply "applied"
    lines = _prose_lines(mail)
    phrase = next(filter(None, map(_applied_phrase, _sentences_of(mail))), None)
    commits = _commit_list([line for line, _ in lines[(phrase.line if phrase else -1) + 1 :]])
    if phrase is None:
        if not commits:
            return None
        phrase = _AppliedPhrase(-1, None, None)
    named = _numbers(phrase.partial) if phrase.partial else ()
    if not named and commits:
        named = tuple(sorted({e[0] for entry, _ in commits if (e := _entry(entry))}))
    if named:  # "Note that patch #4 ... is already part of the rework": in the tree too
        size = mail.subject.total or 0
        named = tuple(sorted(set(named) | {n for n in _already_in(lines) if n <= size}))
    replied_to = mail.subject.counter if (mail.subject.total or 0) > 1 else None
    if replied_to and (
        (commits and all(_entry(entry) == (1, 1) for entry, _ in commits))
        or (not commits and not phrase.partial and not phrase.whole)
    ):
        # b4 numbers a thank-you for one patch "[1/1]"; "Applied, thanks" in reply to
        # patch 3/5 took that patch: either way the patch replied to is the one applied.
        named = (replied_to,)
    return AppliedInfo(
        message_id=mail.message_id,
        by_name=mail.from_name,
        by_email=mail.from_email,
        branch=phrase.branch,
        commits=commits,
        partial=phrase.partial,
        release=phrase.release,
        patches=named,
        subset=phrase.partial is not None
        or _SUBSET in mail.subject.subject.lower()
        or (replied_to is not None and named == (replied_to,)),
    )


_SUBSET: Final = "(subset)"  # b4 ty marks a thank-you for part of a series so
_ENTRY = re.compile(r"^\[(\d+)/(\d+)\]")  # a b4 list entry: "[3/9] subject"
_FIRST_N = re.compile(r"\bfirst(?:\s+(two|three|four|five|six))?\b", re.IGNORECASE)
_RANGE = re.compile(r"(\d+)(?:\s*-\s*(\d+))?")


# A b4 list leaves out a patch the tree already has; its maintainer says so in words.
_ALREADY_IN = re.compile(
    r"(?:^|[.!;:]\s+|\bthat\s+)patch(?:es)?\s+(?P<nums>\#?\d+(?:\s*(?:-|,|and|&)\s*\#?\d+)*)"
    r"\b(?![^.?]*?\bof\s+(?:the\s+|an\s+|another\s+)?(?:other|another|previous|earlier)\b)"
    r"[^.?]*?\b(?:is|are|was|were|has\s+been|have\s+been)\s+already\s+"
    r"(?:part\s+of|in|applied|queued|merged|upstream)\b",
    re.IGNORECASE,
)


def _already_in(lines: Sequence[tuple[str, bool]]) -> set[int]:
    """Patch numbers an applier's own words say are already in the tree."""
    text = " ".join(line.strip() for line, _ in lines)
    return {n for found in _ALREADY_IN.finditer(text) for n in _numbers(found["nums"])}


def _entry(entry: str) -> tuple[int, int] | None:
    """ "[3/9] subject" -> (3, 9)."""
    found = _ENTRY.match(entry)
    return (int(found.group(1)), int(found.group(2))) if found else None


def _numbers(selection: str) -> tuple[int, ...]:
    """ "patches 1-3, 5 and 7" -> (1, 2, 3, 5, 7), "the first two patches" -> (1, 2).

    "The last patch" names no number without the series' size: ().
    """
    first = _FIRST_N.search(selection)
    if first is not None:
        count = first.group(1)
        size = NUMBER_WORDS.get(count.lower(), 1) if count else 1
        return tuple(range(1, size + 1))
    if not re.search(r"\d", selection) or re.search(r"\blast\b", selection, re.I):
        return ()
    numbers: set[int] = set()
    for low, high in _RANGE.findall(selection):
        start, end = int(low), int(high or low)
        if end - start < 200:
            numbers.update(range(start, end + 1))
    return tuple(sorted(numbers))


# A clause that starts a maintainer's statement inside a sentence: ", so I've taken ...".
_CLAUSE = re.compile(r"[,;]\s+(?:so|and)\s+(?=(?:i|we)(?:'ve|\s+have)\s)", re.IGNORECASE)
# "I've fixed up the nits Richard and I found as I applied this series to target-arm.next":
# the same, after a main clause of what the applier did ("I've ..."), never opening the
# sentence ("As I applied it, I hit a conflict"), after "but"/a comma ("..., but as I
# applied it to next it failed") or in "as long/soon/well/far as", "such as".
_AS_APPLIED = re.compile(
    r"(?<!soon\s)(?<!long\s)(?<!well\s)(?<!such\s)(?<!far\s)(?<!but\s)(?<!,\s)"
    r"\bas\s+(?:i|we)\s+(?=(?:applied|queued)\s)",
    re.IGNORECASE,
)
_DONE_BEFORE = re.compile(r"\b(?:i|we)(?:'ve|\s+have)\s+\w+", re.IGNORECASE)
# ... unless the sentence is a condition: "If this breaks arm32, and we have applied it".
_LEADING_CONDITION = re.compile(r"\s*(?:if|when|once|unless|should|in\s+case)\b", re.IGNORECASE)


# A fix queued on top of the series says the series itself is in the tree.
# Said by the one who queues ("I've", "we have"), not of a local tree.
_ON_TOP = re.compile(
    r"(?![^.?]*\b(?:locally|my\s+(?:own\s+|local\s+)?(?:tree|branch|repo|github|machine))\b)"
    r"(?:i|we)(?:'ve|\s+have)?\s+(?:now\s+|just\s+|also\s+)?(?:queued|applied|pushed)\b"
    r"[^.?]*?\bon\s+top\s+of\s+(?:the|this|your)\s+(?:existing|queued|applied)\s+"
    r"(?:series|patches|patchset|set)\b",
    re.IGNORECASE,
)


def _builds_on_it(sentence: _Sentence) -> bool:
    """ "I've queued the below patch on top of the existing series": the series is in."""
    return (
        _ON_TOP.match(sentence.text) is not None
        and "?" not in sentence.first()
        and not _LEADING_CONDITION.match(sentence.text)
    )


def builds_on_queued(mail: MailFacts) -> bool:
    """Whether the applied phrase a mail is read by (its first) queues something on top
    of the series it answers (see _ON_TOP), not some other sentence of it."""
    first = next((s for s in _sentences_of(mail) if _applied_phrase(s) is not None), None)
    return first is not None and _builds_on_it(first)


# The words an applied phrase cannot do without (_VERB, _TAKEN, _ON_TOP, _AS_APPLIED):
# a sentence with none of them is no applied phrase, and nearly every sentence of a
# review has none (27 of 8,109 on the busiest 100k week are phrases).
_APPLIED_STEMS: Final = ("appl", "queu", "push", "merg", "pick", "taken", "took")


def _applied_phrase(sentence: _Sentence) -> _AppliedPhrase | None:
    """Parse one sentence as an applied phrase, None when it is something else."""
    text = sentence.text
    lowered = text.lower()
    if not any(stem in lowered for stem in _APPLIED_STEMS):
        return None
    if _builds_on_it(sentence):
        return _AppliedPhrase(sentence.line, None, None, whole=True)
    clause = _CLAUSE.search(text)
    if clause is None:
        found = _AS_APPLIED.search(text)
        if found is not None and found.start() > 0 and _DONE_BEFORE.search(text[: found.start()]):
            clause = found
    if (
        clause is not None
        and _APPLIED_RE.match(text) is None
        and _TAKEN.match(text) is None
        and not _LEADING_CONDITION.match(text)
        and "?" not in text[: clause.start()]
    ):
        # "I'd prefer the 5.2 headers, so I've taken the first three patches for now"
        return _applied_phrase(_Sentence(text[clause.end() :], sentence.line))
    taken = _TAKEN.match(text)
    if taken is not None:  # "I've taken the first three patches": read as "applied"
        text = text[: taken.start("verb")] + "applied" + text[taken.end("verb") :]
    passive = _PASSIVE.match(text)
    if passive is not None and not _RELEASE_DEST.search(
        passive.group("rest") or ""
    ):  # "Patches 3 and 4 applied to X." is "Applied patches 3 and 4 to X."
        text = _active(passive)
    match = _APPLIED_RE.match(text)
    if match is None or "?" in sentence.first():
        return None
    if match.group("verb").lower() == "picked" and not _PICKED_UP.match(match[0]):
        # "Picked the latter" is a choice; "I've picked the two patches" took another
        # series' patches. Only "picked up" means merged.
        return None
    branch: str | None = None
    release: str | None = None
    dest = match.group("dest")
    if dest is not None:
        prep = match.group("prep").lower()
        head = _DEST_CUT.split(dest, maxsplit=1)[0].strip()
        if _BAD_DEST.match(dest):
            return None
        if prep == "for" and _FOR_NOW.match(head):
            pass  # "Queued patches 2-5 for now": applied, no branch named
        elif prep == "for":
            # "Queued for 5.7" names a release, not a branch; "for testing" is no merge.
            if not _RELEASE.match(head):
                return None
            release = head.rstrip(".")
        else:
            branch = _branch(dest)
            # Testers apply "on v5.10-rc2"; a maintainer's "on" names a branch path.
            if branch is None or (prep == "on" and "/" not in branch):
                return None
    elif match.group("tail") is None:
        return None
    else:
        branch = _tail_url_branch(match.group("tail"))
    whole = bool(_WHOLE.search(match.group("object") or ""))
    partial = _partial(match)
    if partial is not None and _THE_REST.search(text):
        partial, whole = None, True  # "patches 3-27 on for-next/sme, the rest went on ..."
    return _AppliedPhrase(sentence.line, branch, partial, release, whole)


def _active(passive: re.Match[str]) -> str:
    """A _PASSIVE sentence in the active form _APPLIED_RE reads: "applied patches 3 and 4
    to my kvm-ppc-next branch."; a bare "patch" is "it", "series" "the series"."""
    obj = _SPACES.sub(" ", passive.group("object").strip())
    lowered = obj.lower()
    if lowered == "patch":
        obj = "it"
    elif lowered in ("series", "patchset", "whole series"):
        obj = "the series"
    elif lowered.startswith("both"):
        obj = "both"
    rest = passive.group("rest") or ""
    return f"{passive.group('lead')}{passive.group('verb')} {obj}{rest}{passive.group('end')}"


# The selection's complement went elsewhere: together the whole series was taken.
_THE_REST = re.compile(
    r"[,;]\s*(?:and\s+)?the\s+(?:rest|remaining\s+(?:ones|patches)|others)\s+"
    r"(?:went\s+(?:on|to|into|in|through|via)\b(?!\s+hold)"
    r"|(?:were|(?:has|have)\s+been)\s+(?:applied|queued|picked|merged|taken)\b)",
    re.IGNORECASE,
)


def _partial(match: re.Match[str]) -> str | None:
    """ "patches 1-5" / "the first patch only" when the phrase names a selection."""
    nums = match.group("nums") or match.group("bare")
    if nums:
        return "patches " + _SPACES.sub(" ", nums.strip())
    obj = match.group("object") or ""
    if re.search(r"\b(?:first|last|only)\b", obj, re.IGNORECASE):
        return _SPACES.sub(" ", obj.strip())
    return None


def _tail_url_branch(tail: str) -> str | None:
    """ "Queued, https://gitlab.com/.../commits/arm/queue": the branch the URL shows."""
    url = _URL.match(tail.lstrip(" ,:"))
    if url is None:
        return None
    found = _URL_BRANCH.search(url.group(0).rstrip(".,)"))
    return found.group(1) if found else None


def _branch(dest: str) -> str | None:
    """The branch named after "to": "next", "arm64 (for-next/misc)", "arm/queue"...

    A URL is reduced to the branch it shows (".../tree/arm/queue" -> "arm/queue", or
    the word after a repository URL); explanations in parentheses ("kvm/next (because
    ...)") are dropped, while a branch in parentheses ("kvmtool (master)") is kept.
    """
    dest = dest.strip()
    if _URL.match(dest):
        url, _, rest = dest.partition(" ")
        found = _URL_BRANCH.search(url.rstrip(".,"))
        if found:
            return found.group(1)
        word = _DEST_CUT.split(rest, maxsplit=1)[0].strip() if rest else ""
        return word if word and " " not in word else url.rstrip(".,")
    head = _DEST_CUT.split(dest, maxsplit=1)[0]
    paren = head.find("(")
    if paren >= 0:
        kept = _BRANCH_PAREN.match(head[paren:])
        head = head[:paren] + (f" ({kept.group(1)})" if kept else "")
    head = re.sub(r"\[\d+\]", "", head)  # "arm/queue[1]": a reference mark
    head = re.sub(
        r"^(?:the|my|our)\s+|\s+(?:branch|tree)\b.*$", "", head.strip(), flags=re.IGNORECASE
    )
    head = _SPACES.sub(" ", head).strip().rstrip(".")
    # A long "branch" is a sentence ("Applied to the tree I use for testing...").
    return head if head and len(head) <= 40 and head.count(" ") <= 2 else None


def _commit_list(lines: list[str]) -> tuple[tuple[str, str], ...]:
    """The b4 list: "[1/4] subject" then "commit: <sha>" or a URL ending in the sha."""
    commits: list[tuple[str, str]] = []
    pending: str | None = None
    for line in lines:
        if not line.strip():
            continue
        entry = _COMMIT_ENTRY.match(line)
        if entry:
            pending = entry.group(1)
            continue
        sha = _COMMIT_SHA.match(line)
        if sha and pending is not None:
            commits.append((pending, (sha.group(1) or sha.group(2)).lower()))
        pending = None
    return tuple(commits)


def is_thank_you(mail: MailFacts) -> bool:
    """An "applied, thanks" notice (b4 ty or hand-written): a decision, not a review."""
    return detect_applied(mail) is not None


# -- accepted: a maintainer's promise ---------------------------------------------------------

# Longest first: "this lot" must not stop at "this".
_PROMISE_OBJECT: Final = (
    r"(?:(?:the|this|these|that|your)\s+(?:whole\s+|full\s+|entire\s+|two\s+|three\s+)?"
    r"(?:series|set|patch(?:es|set)?|lot|one|fix(?:es)?|changes)"
    r"|all\s+of\s+them|it|this|that|them|these|both|all)"
)
_PROMISE_RE = re.compile(
    r"\b(?:i|we)(?:'ll|\s+will|\s+shall|'m\s+going\s+to|\s+am\s+going\s+to|\s+can)\s+"
    r"(?:happily\s+|gladly\s+|then\s+|now\s+|probably\s+|go\s+ahead\s+and\s+)?"
    rf"(?:(?:take|pick\s+up|apply|merge)\s+{_PROMISE_OBJECT}"
    rf"|pick\s+{_PROMISE_OBJECT}\s+up"
    rf"|queue\s+(?:{_PROMISE_OBJECT}\s+)?(?:up\b)?)"
    r"(?!\s+(?:into\s+account|as\s+a|a\s+look|for\s+a\s+spin|for\s+testing|locally"
    r"|from\s+(?:there|here)))",
    re.IGNORECASE,
)
# A promise under a condition is no decision yet ("If you respin, I'll take it").
_CONDITION = re.compile(
    r"\b(?:if|once|unless|when|whenever|provided|assuming|after|as\s+soon\s+as)\b",
    re.IGNORECASE,
)


def promises_to_apply(mail: MailFacts) -> bool:
    """A maintainer's "I'll take the series into the kvmarm tree", "I'll queue them up".

    (heuristic) The promise must not be a question or sit under a condition. In reply
    to one patch of a larger series, "I'll take this patch" promises that patch only:
    the series is not accepted unless the promise names it ("the series", "them").
    """
    if mail.parent_id is None and not mail.subject.is_reply:
        return False
    one_patch = bool(mail.subject.counter) and (mail.subject.total or 0) > 1
    for sentence in _statements(mail):
        first = sentence.first()
        found = _PROMISE_RE.search(first)
        if found is None or _CONDITION.search(first):
            continue
        if one_patch and not _WHOLE_PROMISE.search(found.group(0)):
            continue
        return True
    return False


_WHOLE_PROMISE = re.compile(r"\b(?:series|set|patchset|all|them|these|both|lot)\b", re.I)


# -- pull requests -----------------------------------------------------------------------

_PULL_BASE = re.compile(r"The following changes since commit\s+([0-9a-f]{7,40})", re.I)
_PULL_AVAILABLE = re.compile(r"are available in the git repository at:?\s*$", re.I)
_PULL_TIP = re.compile(r"for you to fetch changes up to\s+([0-9a-f]{7,40})", re.I)
_MERGED_RE = re.compile(
    r"(?:(?:ok|great|cool|thanks|thank\s+you)[,!.]?\s+)?"
    r"(?:(?:i|we)(?:'ve|\s+have)?\s+(?:now\s+|just\s+|also\s+)?)?"
    r"(?:pulled|merged)(?:\s+(?:it|this|that|both|them|these|the)"
    r"(?:\s+(?:two\s+)?(?:trees?|branch(?:es)?|tags?|pull\s+requests?|changes|fixes))?)?"
    r"(?:\s+now)?"
    r"(?:\s*(?:$|[,.!;:(])|\s+(?:into|to|in)\s)",
    re.IGNORECASE,
)
_TRACKER_MERGED = re.compile(r"has been merged into\s+(\S+?):?\s*$", re.IGNORECASE)
_MERGED_INTO = re.compile(
    r"\b(?:pulled|merged)\b[^.!?]*?\b(?:into|to)\s+([\w./+-]+/[\w./+-]+)", re.IGNORECASE
)


def detect_pull(mail: MailFacts) -> PullInfo | None:
    """What a pull request mail asks to pull; None if it is not a pull request.

    A pull request is a mail whose subject says [GIT PULL] (or PULL) or whose text has
    git request-pull's "The following changes since commit" (Marc sometimes sends it as
    "[PATCH 0/N] KVM/arm updates", the pull request in the cover letter).
    `merged_by` is left None: only series_status sees the replies.
    """
    lines = _own_lines(mail)
    text = "\n".join(lines)
    base = _PULL_BASE.search(text)
    titled = (mail.subject.is_pull and not mail.subject.is_reply) or is_pull_as_patches(
        mail.subject
    )
    if not titled and base is None:
        return None
    repo, ref = _pull_source(lines)
    tip = _PULL_TIP.search(text)
    return PullInfo(
        message_id=mail.message_id,
        base_commit=base.group(1).lower() if base else None,
        repo=repo,
        ref=ref,
        tip_commit=tip.group(1).lower() if tip else None,
        merged_by=None,
    )


def _own_lines(mail: MailFacts) -> list[str]:
    """Every line the sender wrote (prose, trailers, diffstat...), no quote or signature."""
    return [
        line
        for segment in mail.segments
        if segment.kind not in ("quoted", "attribution", "signature")
        for line in segment.text.split("\n")
    ]


def _pull_source(lines: list[str]) -> tuple[str | None, str | None]:
    """(repository URL, ref) from the line after "are available in the Git repository at:"."""
    for index, line in enumerate(lines):
        if not _PULL_AVAILABLE.search(line):
            continue
        for following in lines[index + 1 : index + 4]:
            words = following.split()
            if words:
                return words[0], (words[1] if len(words) > 1 else None)
    return None, None


def merge_reply(mail: MailFacts) -> tuple[bool, str | None]:
    """(says the pull was merged, the branch it names) for a reply to a pull request."""
    for line, _ in _prose_lines(mail):
        tracker = _TRACKER_MERGED.search(line)
        if tracker:
            return True, tracker.group(1)
    applied = detect_applied(mail)
    if applied is not None:
        return True, applied.branch
    for sentence in _sentences_of(mail):
        if "?" in sentence.text or not _MERGED_RE.match(sentence.text):
            continue
        into = _MERGED_INTO.search(sentence.text)
        return True, into.group(1).rstrip(".") if into else None
    return False, None


# -- NAKs, reviews, agreement ----------------------------------------------------------------

_NAK_LINE = re.compile(r"^\s*N(?:A|AC)K(?:\s*$|[.!,:;]|\s+(?:to|this|that|for|on)\b)")
_NAK_WORD = re.compile(r"^\s*(?:nacked|nack|nak)[.!]?\s*$", re.IGNORECASE)
# A flat refusal in words (heuristic): "There is no way this is acceptable".
_REFUSAL = re.compile(
    r"\bno\s+way\s+(?:this|that|it)\s+(?:is|will\s+ever\s+be)\s+acceptable\b"
    r"|\b(?:this|that|it)\s+is\s+(?:not|never)\s+(?:going\s+to\s+be\s+)?acceptable\b"
    r"|\bi\s+(?:won't|will\s+not|am\s+not\s+going\s+to)\s+(?:take|merge|apply|queue)"
    r"\s+(?:this|it|that)\b",
    re.IGNORECASE,
)

_WILL_VERBS: Final = (
    r"(?:fix|do(?!\s+(?:some|a|an|more|the\s+same)\b)|update|change|address|respin|repost"
    r"|rework|drop|remove|rename|split|correct|move|clean|revise|amend|squash|fold|reword"
    r"|add|incorporate|take\s+care|look\s+into\s+(?:it|this|that)\s+(?:in|for)\s+v\d"
    r"|send\s+(?:out\s+)?(?:a\s+|an\s+|the\s+)?(?:v\d+|new|next|updated|another|fixed"
    r"|revised|respun)|include|switch|convert|adopt|simplify|refactor|edit|resend"
    r"|push\s+(?:out\s+)?(?:a\s+|an\s+)?(?:new|updated|fixed|revised|v\d+)"
    r"|take\s+(?:\w+\s+){0,3}?into\s+account)"
)
_CAN_VERBS: Final = (
    r"(?:fix|update|change|rework|drop|remove|rename|split|correct|move|add|amend|squash"
    r"|fold|reword|switch|convert|use|simplify)"
)
_AGREEMENT = re.compile(
    r"(?:\b(?:i|we)\s+(?:will|shall)|\b(?:i|we)'ll|(?:^|[.!,;:]\s*)\s*will)"
    r"\s+(?:definitely\s+|also\s+|then\s+|certainly\s+|surely\s+|happily\s+)?"
    rf"{_WILL_VERBS}\b"
    r"|\bfixed\s+(?:in|for)\s+(?:v\d+|the\s+next\s+(?:version|revision|spin))"
    rf"|\bi\s+can\s+(?:certainly|definitely|easily|surely)\s+{_CAN_VERBS}\b"
    rf"|\bi\s+can\s+{_CAN_VERBS}\b[^.!?\n]{{0,60}}\b(?:for|in)\s+(?:v\d+"
    r"|the\s+next\s+(?:version|revision|spin|round))"
    r"|\b(?:fixed|changed|updated|addressed|reworked)\s+(?:it\s+|that\s+|this\s+)?"
    r"(?:locally|in\s+my\s+(?:local\s+)?(?:tree|branch))\b"
    r"|(?:^|[.!]\s+)(?:adopted|done)\s*[.!]"
    r"|\bi'?(?:m|\s+am)\s+(?:now\s+)?(?:squashing|folding|fixing|adding|changing)\b"
    rf"|\b(?:(?:i|we)\s+)?(?:definitely|certainly)\s+should\s+{_CAN_VERBS}\b"
    r"|^\s*(?:agreed|sure|ack|ok|okay|yes|right|makes\s+sense|indeed|absolutely|true)"
    r"[,.!]?\s+(?:i\s+|we\s+)?(?-i:will)\b(?!,)"  # not "OK, Will, can you review those?"
    # "So let's go with the safe value", taking the reviewer's side of a choice (not
    # "let's go with the current version")
    r"|\blet(?:'s|\s+us)\s+go\s+with\s+(?:your\s+\w+|that\b(?!\s+as\s+is)|the\s+(?:safe"
    r"|suggested|proposed|simpler|other|alternative|new)\b)",
    re.IGNORECASE | re.MULTILINE,
)
# "I need to avoid using IMPDEF DFSC in next revision" (not negated, not a question:
# "I don't think we need to change this for v3", "Do I need to fix this in v3?").
_NEED_TO_CHANGE = re.compile(
    rf"\b(?:i|we)\s+(?:need|have)\s+to\s+(?:{_CAN_VERBS}|avoid)\b[^.!?\n]{{0,80}}"
    r"\b(?:in|for)\s+(?:the\s+)?(?:next\s+(?:version|revision|spin|round)|v\d+\b(?!\.))",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?:not|no|don't|doesn't|didn't|never|nor)\b", re.IGNORECASE)
# A paragraph opening with a bare "Absolutely." / "Good point. Adopted!" and no "but".
_WEAK_AGREEMENT = re.compile(
    r"^\s*(?:(?:good|fair|valid)\s+(?:point|catch)[.!]+\s+)?"
    r"(?:agreed|sure|ack|ok|okay|right|indeed|absolutely|makes\s+sense|adopted|done"
    r"|fair\s+enough"
    r"|fixed|now\s+fixed|will\s+do|sure\s+thing)\s*(?:[.!]+(?![^\n]*\b(?:but|however|though"
    r"|although|not\s+sure|as\s+is|leave|keep|won't|will\s+not)\b)[^\n]*|\s*)$",
    re.IGNORECASE | re.MULTILINE,
)
_REQUEST = re.compile(
    r"\bplease\s+(?:fix|split|drop|remove|rename|move|add|update|change|rework|use|don't"
    r"|do\s+not|avoid|respin|resend|rebase|document|squash|make)\b"
    r"|\bneeds?\s+to\s+be\b|\bthis\s+is\s+(?:wrong|broken|incorrect|not\s+right)\b"
    r"|\bshould\s+be\s+(?:split|dropped|removed|renamed|moved|fixed)\b"
    r"|\b(?:can|could|would)\s+you\b|\b(?:can|could)\s+we\s+(?:just\s+)?\w+"
    r"|\bi(?:'d|\s+would)\s+(?:rather|prefer|suggest)\b"
    r"|\bwhy\s+not\b|\b(?:maybe|perhaps)\s+(?:just\s+)?(?:drop|define|use|move|add|remove"
    r"|rename|split|make|keep)\b|\b(?:how|what)\s+about\b"
    r"|\b(?:i\s+think\s+)?you\s+(?:should|need\s+to|must)\b"
    r"|\bit\s+would\s+be\s+(?:better|nicer|cleaner|simpler)\b"
    r"|(?<!no\s)(?<!any\s)(?<!without\s)\bnit(?:-?pick\w*)?s?\b",
    re.IGNORECASE,
)


# A promise of a new version, not of a change ("will respin", "will send a v2").
_NEW_VERSION_ONLY = re.compile(r"\b(?:respin|repost|resend|rebase|send|push)\b", re.IGNORECASE)
# ... unless it says what changes ("I'll send a v3 with this fixed").
_CONCRETE = re.compile(
    r"\b(?:fix(?:ed|es)?|chang(?:e|ed|es)|address(?:ed)?|comments?|suggest(?:ion|ed|ions)?"
    r"|feedback|with\s+(?:this|that|these|your|the)|incorporat\w*)\b",
    re.IGNORECASE,
)
# An agreement about later work is no change to this revision ("will do next time").
_LATER_WORK = re.compile(
    r"\b(?:next\s+time|in\s+(?:the\s+)?future|going\s+forward|from\s+now\s+on"
    r"|follow[- ]?ups?|separate\s+(?:patch|series)|later\s+(?:patch|series)"
    r"|another\s+(?:patch|series))\b",
    re.IGNORECASE,
)
# The author owns up to the flaw the review found ("Indeed, I fixed the Kconfig text,
# but missed this."; "My bad."): the posting as it is will not go in (a heuristic; a
# maintainer who fixes it up himself says so in the review, see _FIX_ON_APPLY).
_CONCESSION = re.compile(
    r"\b(?:i\s+(?:\w+\s+)?|but\s+)(?:missed|overlooked|forgot(?:\s+about)?)"
    r"\s+(?:this|that|it|these|those|them)"
    # "missed that file", "these two points", not "forgot that PMBIDR_EL1.P can be 1"
    # (the reviewer was right that the patch is) nor "overlooked this until now"
    r"(?:\s+(?:one|two|three|\d+))?(?:\s+(?:bits?|parts?|files?|cases?|hunks?|checks?"
    r"|points?|details?|places?|lines?|ones))?"
    r"(?=\s*(?:[.!,;:(]|$)|\s+(?:when|while|in\s+(?:this|the|my|v\d)))"
    r"|\bmy\s+(?:bad|mistake)\b",
    re.IGNORECASE,
)
# Optional comments ("feel free to ignore them"): a bare "OK" to them commits to nothing
# (a concrete "will fix the locking in v3" still does).
_OPTIONAL = re.compile(r"\bfeel\s+free\s+to\s+ignore\b", re.IGNORECASE)
# "I'll fix that up": said by a maintainer reviewing, or by a maintainer-author.
_FIX_UP: Final = r"\bi(?:\s+can|\s+will|'ll)\s+(?:fix|fixup|tweak|amend)\s+(?:\w+\s+){0,3}?up\b"
# ... unless the next sentence argues on ("I don't think we want to allow that, though").
_DISSENT = re.compile(
    r"(?:i\s+(?:still\s+)?(?:don't|do\s+not)\s+(?:think|believe|see)|but\b|however\b"
    r"|that\s+said\b|(?:i'm\s+|i\s+am\s+)?not\s+(?:sure|convinced))",
    re.IGNORECASE,
)
# The maintainer fixes it up himself: the series can go on to be applied as it is.
_FIX_ON_APPLY = re.compile(
    r"\bno\s+need\s+to\s+(?:re-?send|re-?spin|re-?post|send\s+(?:a\s+)?(?:v\d+|new))"
    r"|\b(?:fix|fixed|fixup|tweak|tweaked|amend|amended)\s+(?:\w+\s+){0,3}?"
    r"(?:when|while|on|as\s+i'm)\s+(?:applying|queuing|queueing|picking)"
    rf"|{_FIX_UP}",
    re.IGNORECASE,
)


def _is_nak(mail: MailFacts) -> bool:
    """A Nacked-by: trailer, a line starting "NAK"/"NACK", or a flat refusal ("there is no
    way this is acceptable", "I won't take this") in the sender's own text."""
    if any(t.kind == NAK_TRAILER for t in parse_trailers_from_segments(list(mail.segments))):
        return True
    if any(_NAK_LINE.match(line) or _NAK_WORD.match(line) for line, _ in _prose_lines(mail)):
        return True
    return any(_REFUSAL.search(sentence.first()) for sentence in _statements(mail))


# Said to a stable or AUTOSEL backport, this rejects it (heuristic).
_BACKPORT_REFUSAL = re.compile(
    r"\bplease\s+(?:drop|don't\s+(?:backport|take|queue)|do\s+not\s+(?:backport|take|queue))"
    r"\s+(?:this|it|that)\b|\b(?:is\s*n[o']t|not)\s+(?:\*?really\*?\s+)?stable\s+material\b",
    re.IGNORECASE,
)


def _refuses_backport(mail: MailFacts) -> bool:
    """ "Please drop this patch", "isn't stable material": a backport turned down."""
    return _BACKPORT_REFUSAL.search(_paragraphs(mail)) is not None


def _has_review_trailer(mail: MailFacts) -> bool:
    """Reviewed-by / Acked-by / Tested-by in what the sender wrote."""
    trailers = parse_trailers_from_segments(list(mail.segments))
    return any(t.kind in REVIEW_TRAILERS for t in trailers)


def _paragraphs(mail: MailFacts) -> str:
    """The sender's prose, one paragraph per line: "^" then means a paragraph start."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line, _ in _prose_lines(mail):
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    return "\n".join(paragraphs)


_DROP_RE = re.compile(
    r"(?:(?:ok|okay|so|now|fwiw)[,!.]?\s+)?"
    r"(?:(?:i|we)(?:'ve|\s+have)?\s+(?:now\s+|just\s+|also\s+|temporarily\s+)?"
    r"(?:dropped|reverted|unqueued|removed)"
    r"|(?:i'm|i\s+am|we're|we\s+are)\s+(?:now\s+)?(?:dropping|reverting)"
    r"|(?:now\s+)?(?:dropped|reverted))"
    r"\s+(?:this|that|it|them|these|both|the\s+(?:whole\s+)?(?:patch(?:es|set)?|series|set)"
    r"|(?:this|that|these)\s+(?:patch(?:es)?|series|one|ones))"
    r"(?:\s*$|[\s,.!;:(])"
    r"|(?:(?:i|we)(?:'ve|\s+have)?\s+)?(?:now\s+)?(?:dropped|reverted|removed)"
    r"(?:\s+(?:it|this|them|these))?\s+from\s+(?:-?next|fixes|queue"
    r"|(?:the|my)\s+(?:tree|queue|branch)|[\w-]+/[\w./-]+)\b"
    # "I'll drop it from my queue again for the moment, then."
    r"|(?:(?:ok|okay|so|then|fine)[,!.]?\s+)?(?:i|we)(?:'ll|\s+will)\s+(?:now\s+|just\s+)?"
    r"(?:drop|revert|unqueue|remove)\s+(?:it|this|that|them|these)\s+from\s+"
    r"(?:(?:linux)?-?next|(?:the|my)\s+(?:tree|queue|branch))\b",
    re.IGNORECASE,
)
# Said in any reply of the author's (not only to their own mail): the series is given up.
_ABANDON_RE = re.compile(
    r"\bi\s+(?:don't|do\s+not|won't|will\s+not)\s+(?:intend|plan|want)\s+to\s+"
    r"(?:resend|respin|repost|pursue|continue\s+with)\s+(?:this|it|the\s+series)\b"
    r"|\bi'?(?:m|\s+am)\s+(?:abandoning|dropping|withdrawing)\s+(?:this|the)\s+(?:series|patch)",
    re.IGNORECASE,
)
_WITHDRAW_RE = re.compile(
    r"\b(?:please|pls|kindly)\s+(?:ignore|disregard|drop)\s+"
    r"(?:this|that|it|v\d+|the\s+(?:whole\s+)?(?:series|patch(?:set)?|set|e-?mail|mail"
    r"|version|posting|one|previous\s+\w+))\b"
    r"|\bjust\s+(?:ignore|disregard|drop)\s+(?:this|that|the)\s+(?:whole\s+)?"
    r"(?:series|patch(?:set)?|set|e-?mail|mail|version|posting|one)\b"
    r"|,\s*(?:please\s+)?ignore\s+this\b"
    r"|^\s*self[- ]?n(?:a|ac)k(?:ed)?\b"
    r"|(?:^|[;:.!]\s*)(?:this|the\s+(?:patch|series))\s+(?:patch\s+|series\s+)?is\s+"
    r"(?:\w+\s+)?broken\b",
    re.IGNORECASE | re.MULTILINE,
)


# "I'll drop it from -next if the fix doesn't show up by Friday": not yet a drop.
_DROP_CONDITION = re.compile(r"\b(?:if|unless|once|when|provided|as\s+soon\s+as)\b", re.IGNORECASE)


def _is_drop(mail: MailFacts) -> bool:
    """A maintainer's "I've dropped this patch" / "Reverted this" (not a question, not
    under a condition)."""
    if mail.parent_id is None and not mail.subject.is_reply:
        return False
    for sentence in _statements(mail):
        found = _DROP_RE.match(sentence.text)
        if found and not _DROP_CONDITION.search(sentence.text[found.end() :]):
            return True
    return False


def _withdraws(mail: MailFacts, by_id: Mapping[str, MailFacts]) -> bool:
    """The author takes their own posting back: "please ignore this", "self-NAK".

    Only in a reply to the author's own mail (a follow-up to the posting), so a
    concession in a review discussion ("this is broken, will fix") is no withdrawal.
    """
    if mail.parent_id is None or _is_posting(mail):
        return False  # a patch of the series replies to its cover: its log is no take-back
    if _ABANDON_RE.search(_paragraphs(mail)):
        return True
    parent = by_id.get(mail.parent_id)
    if parent is None or parent.from_email.lower() != mail.from_email.lower():
        return False
    return _WITHDRAW_RE.search(_paragraphs(mail)) is not None


# -- the series ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Authors:
    """Who counts as the series author: the given address, and names used with it."""

    email: str
    names: frozenset[str]

    @classmethod
    def of(cls, mails: Sequence[MailFacts], author_email: str) -> _Authors:
        email = author_email.strip().lower()
        names = {
            m.from_name.strip().lower()
            for m in mails
            if m.from_email.lower() == email and len(m.from_name.strip()) > 3
        }
        return cls(email, frozenset(names))

    def wrote(self, mail: MailFacts) -> bool:
        """Same address, or same display name (authors change address between mails)."""
        if mail.from_email.strip().lower() == self.email:
            return True
        return mail.from_name.strip().lower() in self.names


def series_status(
    mails: Sequence[MailFacts],
    *,
    author_email: str,
    superseded_by: str | None = None,
    until_utc: int | None = None,
    appliers: Appliers | None = None,
    revision_ids: Collection[str] = (),
    total: int | None = None,
    pulled: Sequence[tuple[int, PullPatch]] = (),
) -> StatusFacts:
    """Status of one series (or pull request) from its thread, with evidence.

    `mails` are the thread's mails sorted by date, history included; the rules and
    their priority are in the module docstring. `revision_ids` are the postings of the
    revision judged (its cover letter and patches, `total` of them): only mail answering
    them counts, not an earlier revision's or another series' posted in the thread.
    With `appliers`, only their "applied", "merged", "dropped" and NAK set the status;
    anyone else's are `claims`. Without (tests of the phrase rules), everyone is trusted.
    `pulled` are (patch number, pull request patch) pairs: the revision's patches a
    maintainer carried in a pull request (see facts.landed); trusted senders' count as
    applied. An empty `author_email` means the author is unknown (the posting is not in the
    archive): every sender then counts as a reviewer.
    """
    thread = [m for m in mails if until_utc is None or m.date_utc < until_utc]
    mails = of_revision(thread, revision_ids) if revision_ids else thread
    if not mails:
        return StatusFacts(Status.NEW, (), None, None, (), (), False)
    postings = [m for m in mails if m.message_id in revision_ids]
    root = next((m for m in postings if m.subject.is_pull), None) or next(
        iter(postings), next((m for m in mails if m.parent_id is None), mails[0])
    )
    authors = _Authors.of(mails, author_email)
    trust = _Trust(appliers)
    others = [m for m in mails if not authors.wrote(m)]
    humans = [
        m
        for m in others
        if not (m is root and not m.subject.is_reply)
        and not is_bot(m.from_email)
        and not is_thank_you(m)
    ]
    # Trailers the author carries in a re-post are history, not a review of this one.
    trailer_mails = [m for m in others if _has_review_trailer(m) and not is_bot(m.from_email)]
    reviewed = bool(humans or trailer_mails)
    stable = is_stable_posting(root.subject)
    naks = trust.sort(
        "NAKed", [(m, None) for m in others if _is_nak(m) or (stable and _refuses_backport(m))]
    )
    pull = detect_pull(root)
    if pull is not None:
        return _pull_status(pull, others, humans, root, naks, reviewed, trust)

    applied = _applied_replies(mails, authors, trust) + _pulled_patches(pulled, trust)
    if applied and len(thread) > len(mails):
        applied += _applied_before(
            thread, mails, postings, applied, trust, total or root.subject.total
        )
    drops = trust.sort("dropped", [(m, None) for m in others if _is_drop(m)])
    by_id = {m.message_id: m for m in mails}
    author_applies = appliers is not None and bool(author_email) and trust.allows(author_email)
    requested = _changes_requested(mails, by_id, authors, author_applies=author_applies)
    withdrawn = tuple(m.message_id for m in mails if authors.wrote(m) and _withdraws(m, by_id))
    promised = tuple(
        m.message_id
        for m in mails
        if not is_bot(m.from_email)
        and (appliers is not None or not authors.wrote(m))
        and trust.allows(m.from_email)
        and promises_to_apply(m)
    )
    facts = StatusFacts(
        Status.NEW, (), None, None, requested, naks, reviewed, trust.claims, tuple(applied)
    )
    if drops and (
        not applied or by_id[drops[-1]].date_utc > by_id[applied[-1].message_id].date_utc
    ):
        dropped_utc = by_id[drops[-1]].date_utc
        if not requested or by_id[requested[-1]].date_utc < dropped_utc:
            return replace(facts, status=Status.DROPPED, evidence=drops)
        # Dropped until the author reworks it ("Will do"): changes requested, decided
        # below as if it had never been applied.
        applied = []
    if applied:
        evidence = tuple(info.message_id for info in applied)
        part = _part_applied(applied, total or root.subject.total)
        if part is None:
            return replace(facts, status=Status.APPLIED, evidence=evidence, applied=applied[0])
        first = replace(applied[0], partial=part)
        return replace(facts, status=Status.PARTLY_APPLIED, evidence=evidence, applied=first)
    if superseded_by is not None:
        return replace(facts, status=Status.SUPERSEDED, evidence=(superseded_by,))
    if naks:
        return replace(facts, status=Status.NAKED, evidence=naks)
    # The latest of a withdrawal, a promise and an agreed change request decides.
    latest = max(
        (
            (by_id[ids[-1]].date_utc, rank, status, ids)
            for rank, (status, ids) in enumerate(
                (
                    (Status.CHANGES_REQUESTED, requested),
                    (Status.ACCEPTED, promised),
                    (Status.WITHDRAWN, withdrawn),
                )
            )
            if ids
        ),
        default=None,
    )
    if latest is not None:
        return replace(facts, status=latest[2], evidence=latest[3])
    if root.subject.is_rfc and not reviewed:
        return replace(facts, status=Status.RFC, evidence=(root.message_id,))
    if reviewed:
        evidence = _review_evidence(humans, trailer_mails)
        return replace(facts, status=Status.UNDER_REVIEW, evidence=evidence)
    return replace(facts, status=Status.NEW, evidence=(root.message_id,))


def _applied_before(
    thread: Sequence[MailFacts],
    mails: Sequence[MailFacts],
    postings: Sequence[MailFacts],
    applied: Sequence[AppliedInfo],
    trust: _Trust,
    size: int | None,
) -> list[AppliedInfo]:
    """Patches of a partly applied revision that a trusted b4 list of an earlier one in
    the thread already took: those are in the tree too.

    A patch reposted in this revision matches by title; a number this revision never
    posted matches by number, for a revision that continues another's numbering (v8
    1-11 applied, then v9 posted in reply as 12-22 of 22 and applied).
    """
    named = {n for info in applied for n in info.patches}
    if not size or not named:
        return []
    posted = {
        p.subject.counter: p.subject.normalized_title() for p in postings if p.subject.counter
    }
    head = next((p for p in postings if not p.subject.counter), postings[0] if postings else None)
    if head is None:
        return []
    missing = set(range(1, size + 1)) - named
    own = {m.message_id for m in mails}
    by_id = {m.message_id: m for m in thread}
    found: list[AppliedInfo] = []
    for mail in thread:
        info = detect_applied(mail) if missing and mail.message_id not in own else None
        if info is None or not info.commits or not trust.allows(mail.from_email):
            continue
        answered = _posting_above(mail, by_id)
        if answered is None or not _earlier_revision(answered.subject, head.subject):
            continue  # another series posted in the thread, not this one's history
        entries = [(_entry(entry), _ENTRY.sub("", entry).strip()) for entry, _ in info.commits]
        titles = {normalize_title(title) for _, title in entries}
        numbers = {n for n in missing if n in posted and posted[n] in titles} | {
            e[0] for e, _ in entries if e and e[0] in missing and e[0] not in posted and e[1] < size
        }
        if numbers:
            kept = tuple(sorted(numbers))
            found.append(replace(info, commits=(), partial=None, patches=kept, subset=True))
            missing -= numbers
    return found


def _posting_above(mail: MailFacts, by_id: Mapping[str, MailFacts]) -> MailFacts | None:
    """The nearest patch or cover letter a reply hangs below."""
    seen: set[str] = set()
    current = by_id.get(mail.parent_id) if mail.parent_id else None
    while current is not None and current.message_id not in seen:
        if _is_posting(current):
            return current
        seen.add(current.message_id)
        current = by_id.get(current.parent_id) if current.parent_id else None
    return None


def _earlier_revision(posting: LoreSubject, head: LoreSubject) -> bool:
    """Whether a posting is an earlier version of the series `head` opens (same title)."""
    if posting.counter:  # a patch: compare its series' version only
        return posting.version < head.version
    return posting.version < head.version and posting.normalized_title() == head.normalized_title()


def _pulled_patches(pulled: Sequence[tuple[int, PullPatch]], trust: _Trust) -> list[AppliedInfo]:
    """Patches a trusted maintainer sent on in a pull request, one per patch number."""
    found: dict[int, AppliedInfo] = {}
    for number, patch in sorted(pulled, key=lambda p: (p[1].date_utc, p[0])):
        if number in found or is_bot(patch.from_email) or not trust.allows(patch.from_email):
            continue
        found[number] = AppliedInfo(
            message_id=patch.message_id,
            by_name=patch.from_name,
            by_email=patch.from_email,
            branch=None,
            commits=(),
            partial=None,
            patches=(number,),
            subset=True,
        )
    return list(found.values())


def _is_posting(mail: MailFacts) -> bool:
    """A patch, cover letter or pull request as posted, not a reply to one."""
    return (mail.subject.is_patch or mail.subject.is_pull) and not mail.subject.is_reply


def of_revision(mails: Sequence[MailFacts], revision_ids: Collection[str]) -> list[MailFacts]:
    """The mails of one revision: its postings and the replies below them.

    A mail belongs to the nearest posting above it (or itself): mail under an earlier
    revision's posting, or under another series posted inside the thread, is left out.
    Mail with no posting above it (its parent is not archived) is kept.
    """
    by_id = {m.message_id: m for m in mails}
    owner: dict[str, str | None] = {}

    def posting_above(mail: MailFacts) -> str | None:
        climbed: list[str] = []
        current: MailFacts | None = mail
        found: str | None = None
        while current is not None and current.message_id not in climbed:
            if current.message_id in owner:
                found = owner[current.message_id]
                break
            if _is_posting(current):
                found = current.message_id
                break
            climbed.append(current.message_id)
            current = by_id.get(current.parent_id) if current.parent_id else None
        for message_id in climbed:
            owner[message_id] = found
        return found

    kept = []
    for mail in mails:
        above = posting_above(mail)
        if above is None or above in revision_ids:
            kept.append(mail)
    return kept


def _part_applied(applied: Sequence[AppliedInfo], total: int | None) -> str | None:
    """Which patches were applied when not all were ("patches 1-3 of 9"), else None.

    Several thank-you mails may each take a part: together they may cover the series.
    """
    named = {n for info in applied for n in info.patches}
    size = total or max(
        (e[1] for info in applied for entry, _ in info.commits if (e := _entry(entry))),
        default=None,
    )
    if named and named >= set(range(1, (size or 1) + 1)):
        return None
    whole = [
        info
        for info in applied
        if not info.subset and (not info.patches or size is None or size <= 1)
    ]
    if whole:
        return None
    if named:
        listed = _compact(sorted(named))
        return f"patches {listed} of {size}" if size else f"patches {listed}"
    return next((info.partial for info in applied if info.partial), "some patches")


def _compact(numbers: Sequence[int]) -> str:
    """[1, 2, 3, 5] -> "1-3, 5"."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


class _Trust:
    """Sorts decisions into those that count and claims (see `Appliers`)."""

    def __init__(self, appliers: Appliers | None) -> None:
        self.appliers = appliers
        self._claims: list[Claim] = []

    def allows(self, mail_email: str, *, pull: bool = False) -> bool:
        """Whether a mail from this address may decide (always, without a rule)."""
        if is_bot(mail_email):
            return self.appliers is None  # a bot's notice is forgeable by anyone
        return self.appliers is None or self.appliers.allows(mail_email, pull=pull)

    def reason(self, email: str) -> str:
        if is_bot(email):
            return ROBOT
        return self.appliers.reason if self.appliers is not None else ""

    def sort(self, kind: str, found: Sequence[tuple[MailFacts, str | None]]) -> tuple[str, ...]:
        """Message ids of the decisions that count; the others become claims."""
        kept: list[str] = []
        for mail, detail in found:
            if self.allows(mail.from_email):
                kept.append(mail.message_id)
            else:
                self.claim(kind, mail.message_id, mail.from_name, mail.from_email, detail)
        return tuple(kept)

    def claim(self, kind: str, message_id: str, name: str, email: str, detail: str | None) -> None:
        if not any(c.message_id == message_id and c.kind == kind for c in self._claims):
            self._claims.append(Claim(kind, message_id, name, email, detail, self.reason(email)))

    @property
    def claims(self) -> tuple[Claim, ...]:
        return tuple(self._claims)


def _applied_replies(
    mails: Sequence[MailFacts], authors: _Authors, trust: _Trust
) -> list[AppliedInfo]:
    """Trusted applied replies from others, and the author's own when they list commits.

    Maintainers apply their own series and b4 sends the usual "Applied to next,
    thanks!" from their address: with "commit: <sha>" lines that is proof (if the
    author may apply), whereas an author's bare "applied" is more likely "I applied X
    and tested". Untrusted applied replies become claims.
    """
    found: list[AppliedInfo] = []
    for mail in mails:
        info = detect_applied(mail)
        if info is None:
            continue
        if authors.wrote(mail) and not (
            info.commits
            or (
                (info.branch or builds_on_queued(mail))
                and trust.appliers is not None
                and trust.allows(mail.from_email)
            )
        ):
            continue  # "I applied it and tested": the author's own word needs more
        if trust.allows(mail.from_email):
            found.append(info)
        else:
            trust.claim("applied", mail.message_id, mail.from_name, mail.from_email, info.branch)
    return found


def _review_evidence(humans: list[MailFacts], trailer_mails: list[MailFacts]) -> tuple[str, ...]:
    """The first three replies from other people, else the first mails with trailers."""
    chosen = humans[:3] if humans else trailer_mails[:3]
    return tuple(m.message_id for m in chosen)


def _pull_status(
    pull: PullInfo,
    others: list[MailFacts],
    humans: list[MailFacts],
    root: MailFacts,
    naks: tuple[str, ...],
    reviewed: bool,
    trust: _Trust,
) -> StatusFacts:
    """A pull request is applied once a trusted reply says it was pulled/merged."""
    for mail in others:
        merged, branch = merge_reply(mail)
        if not merged:
            continue
        if not trust.allows(mail.from_email, pull=True):
            trust.claim("merged", mail.message_id, mail.from_name, mail.from_email, branch)
            continue
        pull = replace(pull, merged_by=mail.message_id)
        applied = AppliedInfo(mail.message_id, mail.from_name, mail.from_email, branch, (), None)
        return StatusFacts(
            Status.APPLIED,
            (mail.message_id,),
            applied,
            pull,
            (),
            naks,
            reviewed,
            trust.claims,
            (applied,),
        )
    if humans:
        evidence = tuple(m.message_id for m in humans[:3])
        return StatusFacts(
            Status.UNDER_REVIEW, evidence, None, pull, (), naks, reviewed, trust.claims
        )
    return StatusFacts(Status.NEW, (root.message_id,), None, pull, (), naks, reviewed, trust.claims)


def _changes_requested(
    mails: Sequence[MailFacts],
    by_id: Mapping[str, MailFacts],
    authors: _Authors,
    *,
    author_applies: bool = False,
) -> tuple[str, ...]:
    """(review, author's agreeing reply) pairs, flattened, in date order, no repeats.

    An author who applies the series himself (a maintainer's own series) and answers
    "I'll fix that up" / "what I intend to fold in" fixes it when applying: no respin.
    """
    found: list[str] = []
    for mail in mails:
        if not authors.wrote(mail) or mail.parent_id is None:
            continue
        if author_applies and _folds_in_himself(mail):
            continue
        review = _reviewed_ancestor(mail, by_id, authors)
        if review is None:
            review = _named_review(mail, mails, authors)
        if review is None or not _agrees(mail, review):
            continue
        for message_id in (review.message_id, mail.message_id):
            if message_id not in found:
                found.append(message_id)
    return tuple(found)


# How a maintainer says he changes his own series as he applies it, and the words that
# still promise a new posting ("I'll fix that up in v2").
_FOLD_IN = re.compile(
    rf"(?:{_FIX_UP}"
    r"|\b(?:i|we)\s+(?:intend|plan|want)\s+to\s+(?:fold|squash)\b"
    r"|\b(?:i|we)(?:'ll|\s+will)\s+(?:fold|squash)\s+(?:\w+\s+){0,3}?in(?:to)?\b)",
    re.IGNORECASE,
)
_RESPIN = re.compile(
    r"\b(?:v\d+|re-?spin|re-?send|re-?post|iteration"
    r"|next\s+(?:version|revision|spin|round|posting)"
    r"|(?:new|updated|another)\s+(?:version|revision|series|set|patch(?:set)?))\b",
    re.IGNORECASE,
)


def _folds_in_himself(mail: MailFacts) -> bool:
    """A maintainer-author's "I'll fix that up" with no new version promised."""
    text = _paragraphs(mail)
    return _FOLD_IN.search(text) is not None and _RESPIN.search(text) is None


_FEEDBACK = re.compile(
    r"\b(?:incorporat\w+|address\w*|with)\s+(?:\w+'s\s+|your\s+|the\s+)?"
    r"(?:feedback|comments?|suggestions?|review)\b",
    re.IGNORECASE,
)


def _named_review(
    mail: MailFacts, mails: Sequence[MailFacts], authors: _Authors
) -> MailFacts | None:
    """The latest earlier review, when the author's follow-up to their own mail says it
    takes "Suzuki's feedback" on board (heuristic): the review is not its parent."""
    if not _FEEDBACK.search(_paragraphs(mail)):
        return None
    earlier = [
        m
        for m in mails
        if m.date_utc < mail.date_utc
        and not authors.wrote(m)
        and not is_bot(m.from_email)
        and not is_thank_you(m)
    ]
    return earlier[-1] if earlier else None


def _reviewed_ancestor(
    mail: MailFacts, by_id: Mapping[str, MailFacts], authors: _Authors
) -> MailFacts | None:
    """The nearest ancestor written by someone else (a human), None when there is none."""
    seen: set[str] = set()
    parent_id = mail.parent_id
    while parent_id is not None and parent_id not in seen:
        seen.add(parent_id)
        parent = by_id.get(parent_id)
        if parent is None:
            return None
        if not authors.wrote(parent):
            return None if is_bot(parent.from_email) else parent
        parent_id = parent.parent_id
    return None


def _agrees(reply: MailFacts, review: MailFacts) -> bool:
    """The author's reply agrees to change something the review asked for."""
    asked = _paragraphs(review)
    if _FIX_ON_APPLY.search(asked):
        return False  # "no need to resend, I'll fix it when applying"
    text = _paragraphs(reply)
    for need in _NEED_TO_CHANGE.finditer(text):
        sentence = _sentence_around(text, need.start(), need.end())
        if "?" not in sentence and not _NEGATION.search(sentence):
            return True
    for agreement in _AGREEMENT.finditer(text):
        sentence = _sentence_around(text, agreement.start(), agreement.end())
        if _LATER_WORK.search(sentence):
            continue
        if (
            _NEW_VERSION_ONLY.search(agreement.group(0))
            and not _CONCRETE.search(sentence)
            and not _REQUEST.search(asked)
        ):
            continue  # "I will respin" answering a Tested-by: no change was asked for
        return True
    for concession in _CONCESSION.finditer(text):
        sentence = _sentence_around(text, concession.start(), concession.end())
        if "?" in sentence or _NEGATION.search(sentence):
            continue
        following = text[concession.end() :].split("\n", 1)[0]
        if not _DISSENT.match(following.lstrip(" .!")):
            return True  # not "Ah, I missed that.  I don't think we want to ..."
    return bool(
        _WEAK_AGREEMENT.search(text) and _REQUEST.search(asked) and not _OPTIONAL.search(asked)
    )


_SENTENCE_BREAK = re.compile(r"[.!?](?:\s|$)|\n")


def _sentence_around(text: str, start: int, end: int) -> str:
    """The sentence of `text` holding text[start:end] (sentences end in ".!?" or a line)."""
    before = [m.end() for m in _SENTENCE_BREAK.finditer(text, 0, start)]
    after = _SENTENCE_BREAK.search(text, end)
    return text[before[-1] if before else 0 : after.end() if after else len(text)]
