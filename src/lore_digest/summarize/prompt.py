"""Prompts for the LLM summary of one thread: the facts first, then the mail worth reading.

The model only writes prose on top of facts computed by code, so a prompt is:

1. the facts JSON (serialize.series_facts / status_facts and counts, made compact) with every
   message id replaced by a label m1..mN: thread mail is labelled in date order, mail
   outside the thread that the facts name (earlier revisions, the newer revision that
   supersedes this one) gets the next labels;
2. the mail, labelled and split into "Earlier (before this week)" and "This week", with
   only what a person wrote: cover letter / commit message prose, the diffstat of a
   posting, and the last lines of a quoted hunk a reviewer answers. Never a diff, never
   quoted text the model already has, signatures, attributions or trailers; a reply
   whose only content is trailers is left out of the list (its trailers are facts and
   it keeps its label so they can be cited);
3. earlier mail either as header lines under last week's summary (refine it) or, with
   no previous summary, as prose cut to ~600 characters each.

Over the token budget the thread is summarised map-reduce: mail grouped by the patch it
answers (then by reviewer), packed into parts below the budget, the oldest bodies cut
first, never a label line; the reduce prompt merges the partial JSON answers.

Everything is a deterministic function of the input (no clock, no set or dict-order
dependence), so a hash of the prompts is a valid cache key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, Literal, NamedTuple

from jinja2 import Environment, PackageLoader, StrictUndefined

from lore_digest.facts.model import MailFacts
from lore_digest.mail.body import Segment
from lore_digest.mail.trailers import UTILITY_TRAILERS
from lore_digest.model import Summary, Thread
from lore_digest.summarize.schema import CitedSentence, LLMSummary, OutputError, summary_json
from lore_digest.summarize.serialize import series_facts, status_facts, summary_to_dict
from lore_digest.vocabulary import LANGUAGES, estimate_tokens

__all__ = [
    "EARLIER_PROSE_CHARS",
    "HISTORY_MIN_CHARS",
    "PARTIAL_TOKENS",
    "PROMPT_VERSION",
    "Prompt",
    "PromptPlan",
    "build_plan",
    "history_plan",
    "retry_prompt",
    "system_prompt",
]

PROMPT_VERSION = "v2"
# A series longer than this sends the commit messages of answered patches only.
BIG_SERIES_PATCHES = 6
UNANSWERED_PATCH = "(commit message not sent: nobody else answered this patch)"
EARLIER_PROSE_CHARS = 600  # earlier mail without a previous summary: prose cut to this
# Earlier prose (cut as above) from which it is summarised once on its own (history_plan):
# about ten earlier mails; below, sending it with the week costs less than a request.
HISTORY_MIN_CHARS = 6_000
QUOTE_CONTEXT_LINES = 12  # lines kept of a quoted hunk a reviewer answers
DIFFSTAT_LINES = 20  # diffstat lines kept before "[… N more lines]"
RETRY_ANSWER_CHARS = 1500  # of an invalid answer quoted back in the retry prompt
RETRY_REASON_CHARS = 2000  # of the reason (validation error, failed checks) in a retry
# No request is longer than this (system + user, in characters), whatever the token
# budget. A first ask leaves room for the words of a retry and a short reason; the
# retry quotes as much of the reason and of the refused answer as the rest allows.
MAX_REQUEST_CHARS = 24_000
RETRY_WORDS_CHARS = 300  # the retry template's own words
RETRY_MIN_CHARS = 600  # a first ask leaves this much for the retry's words and reason
MAX_PROMPT_CHARS = MAX_REQUEST_CHARS - RETRY_MIN_CHARS
PARTIAL_TOKENS = 400  # expected size of one partial answer (cost estimates)
SHA_CHARS = 12  # commit ids in the facts: abbreviated as git does in Fixes: tags


@dataclass(frozen=True, slots=True)
class Prompt:
    """One request: system and user text, the label namespace and its size estimate."""

    system: str
    user: str
    labels: dict[str, str]  # "m3" -> message id, for every label the prompt may cite
    input_tokens: int
    history_required: bool  # False only when the prompt says there is no earlier mail

    @property
    def chars(self) -> int:
        """Characters sent: system and user text."""
        return len(self.system) + len(self.user)

    def over(self, budget: Budget) -> int:
        """By how many tokens this prompt is over the budget's tokens or its characters
        (counted as four to a token); 0 or less when it fits both."""
        return max(self.input_tokens - budget.tokens, -(-(self.chars - budget.chars) // 4))


class Budget(NamedTuple):
    """What one first ask may be: input tokens (the setting) and characters (the cap)."""

    tokens: int
    chars: int = MAX_PROMPT_CHARS


@dataclass(frozen=True, slots=True)
class PromptPlan:
    """The prompt of one thread, or its map parts and a way to build the reduce prompt."""

    single: Prompt | None  # the whole thread fits the budget (oldest bodies cut if needed)
    parts: tuple[Prompt, ...] = ()  # map prompts, each within the budget
    _thread: _ThreadPrompt | None = field(default=None, repr=False, compare=False)

    def reduce(self, partials: Sequence[LLMSummary]) -> Prompt:
        """The prompt merging the parts' answers (their JSON) under the full facts."""
        if self._thread is None:
            raise ValueError("this plan has no thread to reduce")
        return self._thread.reduce(partials)


# -- templates -----------------------------------------------------------------------------


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("lore_digest.summarize", "prompts"),
        autoescape=False,  # plain text for a model; mail text is sanitised by _safe
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _render(name: str, **values: Any) -> str:
    text = _environment().get_template(f"{name}.{PROMPT_VERSION}.j2").render(**values)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


@cache
def system_prompt(lang: str) -> str:
    """The versioned system prompt of a language (role, output schema, rules)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown summary language {lang!r} (known: {', '.join(LANGUAGES)})")
    path = (
        resources.files("lore_digest.summarize") / "prompts" / f"system.{PROMPT_VERSION}.{lang}.txt"
    )
    return path.read_text(encoding="utf-8").strip() + "\n"


def _prompt(system: str, user: str, labels: dict[str, str], history_required: bool) -> Prompt:
    return Prompt(
        system=system,
        user=user,
        labels=labels,
        input_tokens=estimate_tokens(system) + estimate_tokens(user),
        history_required=history_required,
    )


# -- what is sent of one mail ----------------------------------------------------------------

_LABEL_WORD = re.compile(r"\bm\d+\b")  # a mail label as the facts and answers cite it

# Text in mail that would open or close one of our own delimiters.
_DELIMITER = re.compile(r"<(/?)(mail|answer)\b", re.IGNORECASE)
_QUOTE_PREFIX = re.compile(r"^[ \t]*(?:>[ \t]?)+")
# Lines that carry no content of their own: closings ("Thanks, Marc"), greetings ("Hi
# all,"), and, before a trailer, approvals ("LGTM", "Thanks for the fix").
_CLOSING = re.compile(
    r"(?:many thanks|thank you|thanks|thx|cheers|(?:best|kind|warm)? ?regards|best|br|ta"
    r"|sincerely)(?: (?:again|a lot|so much|all|everyone))?[ \t,!.]*(?:[\w/.'-]+(?: [\w.'-]+)?)?$",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"(?:hi|hello|hey|dear|greetings)(?:[ \t,]+[\w.'-]+){0,3}[ \t,!.:]*$", re.IGNORECASE
)
_APPROVAL = re.compile(
    r"(?:lgtm|looks (?:good|fine|ok|okay|sane|reasonable|correct)(?: to me)?|nice(?: \w+)?"
    r"|ack|fwiw|for the (?:whole )?series|for (?:all|both|these|this)(?: \w+)?"
    r"|thanks? (?:you )?for [^.?]{0,40})"
    r"[\s,.!:;)(-]*$",
    re.IGNORECASE,
)
_NAME = re.compile(r"[\w/.'-]+(?: [\w.'-]+){0,2}$")
_EMPTY_QUOTE = re.compile(r"[ \t>]*$")
# " path/file.c   | 19 +----" -> " path/file.c | 19": the bars and padding cost tokens.
_DIFFSTAT_BAR = re.compile(r"\s+\|\s+(\d+) [+-]+$")
_CUT = "[…]"  # a body cut away entirely to fit the budget


def _safe(text: str) -> str:
    """Mail text that cannot close or open a <mail> block of the prompt."""
    return _DELIMITER.sub(lambda m: f"‹{m.group(1)}{m.group(2)}", text)


def _flat(text: str) -> str:
    """Lines right-stripped, runs of blank lines made one."""
    lines = [line.rstrip() for line in text.strip("\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _cut(text: str, limit: int) -> str:
    """Whitespace-collapsed text cut at a word boundary, marked when cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + " " + _CUT


def _prose_lines(segments: Iterable[Segment], *, strict: bool) -> list[str]:
    """Prose lines that say something: no greeting, closing or name after a closing.

    strict also drops "LGTM"-like approvals and short lead-ins ending in ":" ("For KVM
    RISC-V:"), which only introduce a trailer: used to tell a reply that only gives
    trailers from one with review comments.
    """
    out: list[str] = []
    after_closing = False
    for segment in segments:
        if segment.kind != "prose":
            continue
        for raw in segment.text.split("\n"):
            line = raw.strip()
            if not line:
                continue
            if _CLOSING.match(line):
                after_closing = True
                continue
            if _GREETING.match(line) or (after_closing and len(line) <= 30 and _NAME.match(line)):
                continue
            if strict and (_APPROVAL.match(line) or (line.endswith(":") and len(line) <= 60)):
                continue
            out.append(raw.rstrip())
    return out


def _trailer_only(mail: MailFacts) -> bool:
    """A reply whose only own content is trailer lines (their facts are in the JSON)."""
    if not mail.subject.is_reply:
        return False
    if not any(s.kind == "trailer" for s in mail.segments):
        return False
    return not _prose_lines(mail.segments, strict=True)


def _quote_is_answered(segments: Sequence[Segment], index: int) -> bool:
    """The quote is followed by the sender's own comment (not a closing or a trailer)."""
    for following in segments[index + 1 :]:
        if following.kind == "attribution":
            continue
        return following.kind == "prose" and bool(_prose_lines([following], strict=True))
    return False


def _is_diff_line(content: str) -> bool:
    """A line of a hunk once its quote prefix is removed: "+..", "-.." or "@@"."""
    if content.startswith("@@"):
        return True
    return content[:1] in ("+", "-") and content not in ("+", "-", "--", "---", "+++")


def _quoted_hunk(quote: str) -> str:
    """The end of a quoted hunk the reviewer answers ("" when the quote ends in prose).

    Walks back from the last quoted line over hunk lines (added, removed, context lines
    starting with a blank, empty lines) and stops at quoted prose: the previous mail's
    text, which the model already has. At most QUOTE_CONTEXT_LINES lines are kept.
    """
    lines = [line.rstrip() for line in quote.split("\n")]
    while lines and _EMPTY_QUOTE.fullmatch(lines[-1]):
        lines.pop()
    kept: list[str] = []
    for line in reversed(lines):
        content = _QUOTE_PREFIX.sub("", line, count=1)
        if content and not (content[0] in " \t" or _is_diff_line(content)):
            break
        kept.append(line)
        if len(kept) == QUOTE_CONTEXT_LINES:
            break
    kept.reverse()
    while kept and _EMPTY_QUOTE.fullmatch(kept[0]):
        kept.pop(0)
    if not any(_is_diff_line(_QUOTE_PREFIX.sub("", line, count=1)) for line in kept):
        return ""
    return "\n".join(kept)


def _diffstat(text: str) -> str:
    """A posting's diffstat: no "---" separator, no +/- bars, long ones cut before the summary."""
    lines = [
        _DIFFSTAT_BAR.sub(r" | \1", line.rstrip())
        for line in text.split("\n")
        if line.strip() and line.strip() != "---"
    ]
    if len(lines) <= DIFFSTAT_LINES + 1:
        return "\n".join(lines)
    summary = [line for line in lines if "changed" in line]
    kept = lines[:DIFFSTAT_LINES]
    more = len(lines) - len(kept) - len(summary)
    return "\n".join([*kept, f" [… {more} more lines]", *summary])


def _own_text(mail: MailFacts, *, prose_only: bool = False) -> str:
    """What the sender wrote this week, as sent: prose, posting diffstat, answered hunks."""
    posting = not mail.subject.is_reply
    if prose_only:
        return "\n\n".join(t for s in mail.segments if s.kind == "prose" and (t := _flat(s.text)))
    parts: list[str] = []
    segments = mail.segments
    for index, segment in enumerate(segments):
        if segment.kind == "prose":
            text = _flat(segment.text)
            if text:
                parts.append(text)
        elif segment.kind == "quoted" and _quote_is_answered(segments, index):
            hunk = _quoted_hunk(segment.text)
            if hunk:
                parts.append(hunk)
        elif segment.kind == "diffstat" and posting:
            parts.append(_diffstat(segment.text))
        elif segment.kind == "diff" and not posting:
            count = segment.text.count("\n") + 1
            parts.append(f"[a diff of {count} lines, not shown]")
    return "\n\n".join(parts)


def _earlier_text(mail: MailFacts) -> str:
    """An earlier mail without a previous summary: its prose, cut to ~600 characters."""
    return _cut("\n".join(_prose_lines(mail.segments, strict=False)), EARLIER_PROSE_CHARS)


def _utc(utc: int) -> str:
    return datetime.fromtimestamp(utc, UTC).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class _Mail:
    """One thread mail as the prompt shows it."""

    label: str
    mail: MailFacts
    header: str  # "[m3] 2022-05-09 16:25 Name: Subject (reply to m2)"
    body: str  # what is sent below the header ("" for header-only)
    prose: str  # the body without quoted hunks or diffstat: what is kept when cutting
    listed: bool  # False: a trailer-only reply, labelled but not shown

    @property
    def earlier(self) -> bool:
        return not self.mail.in_window

    def block(self, body: str | None = None) -> str:
        """The mail in its <mail> block; its header line alone when there is no body to send
        (earlier mail under last week's summary) or the body was cut away ("… […]")."""
        text = self.body if body is None else body
        if not text:
            return self.header
        if text == _CUT:
            return f"{self.header} {_CUT}"
        return f'<mail id="{self.label}">\n{self.header}\n{text}\n</mail>'


# -- facts JSON ---------------------------------------------------------------------------------


_SUBJECT_TAGS = re.compile(r"^(?:\s*(?:re|fwd?)\s*:\s*|\s*\[[^\]]*\]\s*)+", re.IGNORECASE)


def _title(subject: str) -> str:
    """A patch subject without its "[PATCH v5 03/21]" tag: the number is a key already."""
    return _SUBJECT_TAGS.sub("", subject) or subject


def _compact(value: Any) -> Any:
    """Drop None and empty lists/dicts/strings (they cost tokens and say nothing)."""
    if isinstance(value, dict):
        out = {k: _compact(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


class _SenderText:
    """What the facts refer to that senders wrote: names, subjects, the changelog, the
    branch and commit titles of a thank-you mail, a pull request's repository.

    It stays out of FACTS, which the model is told to trust: anyone chooses their own
    display name and subject ("Marc Zyngier (applied)"). FACTS name people p1, p2, ...
    and patches by number; this table, printed inside the untrusted MAILS part, says
    what those were written as.
    """

    def __init__(self) -> None:
        self.people: dict[str, str] = {}  # "Name" (else the address) -> "p1"
        self.fields: dict[str, Any] = {}

    def person(self, name: str | None, email: str | None) -> str | None:
        """The reference of a person ("p2"), None when neither name nor address is known."""
        text = " ".join((name or "").split()) or email or ""  # prose names people
        if not text:
            return None
        return self.people.setdefault(text, f"p{len(self.people) + 1}")

    def put(self, key: str, value: Any) -> None:
        self.fields[key] = value

    def dump(self) -> str:
        """The table as one JSON line, delimiters neutralised like mail bodies."""
        data = {"people": {ref: text for text, ref in self.people.items()}, **self.fields}
        return _safe(_dump(data))


def _applied(
    data: dict[str, Any] | None, label: Callable[[str], str], texts: _SenderText
) -> dict[str, Any] | None:
    if data is None:
        return None
    by = data["by"]
    texts.put("applied_branch", data["branch"])
    texts.put("applied_commits", [c["subject"] for c in data["commits"]])
    return {
        "mail": label(data["message_id"]),
        "by": texts.person(by["name"], by["email"]),
        "partial": data["partial"],
        "commits": [c["commit"][:SHA_CHARS] for c in data["commits"]],
    }


def _trailer(t: dict[str, Any], label: Callable[[str], str], texts: _SenderText) -> str:
    if t["kind"] in UTILITY_TRAILERS:  # "Link: <url>", "Fixes: <sha>": a thing, no person
        return f"{t['kind']} ({label(t['message_id'])}; its value is in that mail)"
    who = texts.person(t["name"], t["email"]) or texts.person(t["value"], None)
    text = f"{t['kind']}: {who} ({label(t['message_id'])}"
    if t["via_cover"]:
        text += ", on the cover letter"
    if t["differs_from_sender"]:
        text += ", names someone other than the mail's sender"
    return text + ")"


def _series_facts(
    data: dict[str, Any],
    label: Callable[[str], str],
    patches: set[str] | None,
    texts: _SenderText,
) -> dict[str, Any]:
    """serialize.series_facts made compact: labels for ids, one string per trailer,
    people as references and their words in `texts`.

    `patches`: only these patches' entries and no changelog (a map part), None for all.
    """
    author = data["author"]
    superseded = data["superseded_by"]
    texts.put("prefixes", data["prefixes"])
    if patches is None:  # a map part summarises its mails; the reduce prompt has this
        texts.put("changelog", data["changes"])
    kept = [p for p in data["patches"] if patches is None or p["message_id"] in patches]
    texts.put("patch_subjects", {str(p["number"]): _title(p["subject"]) for p in kept})
    return {
        "version": data["version"],
        "patches_total": data["total"],
        "rfc": data["rfc"] or None,
        "author": texts.person(author["name"], author["email"]),
        "cover": label(data["cover_message_id"]) if data["cover_message_id"] else None,
        "revisions": [
            {"version": r["version"], "mail": label(r["message_id"]), "date": r["date"][:10]}
            for r in data["revisions"]
        ],
        "superseded_by": None
        if superseded is None
        else {"version": superseded["version"], "mail": label(superseded["message_id"])},
        "status": data["status"],
        "status_evidence": [label(e) for e in data["status_evidence"]],
        "applied": _applied(data["applied"], label, texts),
        "changes_requested": [label(e) for e in data["changes_requested"]],
        "naks": [label(e) for e in data["naks"]],
        "patches": [
            {
                "number": p["number"],
                "mail": label(p["message_id"]),
                "trailers": [_trailer(t, label, texts) for t in p["trailers"]],
            }
            for p in kept
        ],
        "patches_without_review": data["patches_without_review"],
    }


def _status_facts(
    data: dict[str, Any], label: Callable[[str], str], texts: _SenderText
) -> dict[str, Any]:
    pull = data["pull"]
    if pull is not None:
        texts.put("pull_repository", pull["repo"])
        texts.put("pull_ref", pull["ref"])
    return {
        "status": data["status"],
        "evidence": [label(e) for e in data["evidence"]],
        "applied": _applied(data["applied"], label, texts),
        "pull": None
        if pull is None
        else {
            "mail": label(pull["message_id"]),
            "base_commit": (pull["base_commit"] or "")[:SHA_CHARS],
            "tip_commit": (pull["tip_commit"] or "")[:SHA_CHARS],
            "merged_by": label(pull["merged_by"]) if pull["merged_by"] else None,
        },
    }


def _fact_ids(series: dict[str, Any] | None, status: dict[str, Any] | None) -> list[str]:
    """Every message id the facts name, in order of appearance."""
    ids: list[str] = []
    if series is not None:
        ids.extend(r["message_id"] for r in series["revisions"])
        if series["superseded_by"]:
            ids.append(series["superseded_by"]["message_id"])
        ids.extend(series["status_evidence"])
        if series["applied"]:
            ids.append(series["applied"]["message_id"])
        ids.extend(series["changes_requested"])
        ids.extend(series["naks"])
        for p in series["patches"]:
            ids.append(p["message_id"])
            ids.extend(t["message_id"] for t in p["trailers"])
    if status is not None:
        ids.extend(status["evidence"])
        if status["applied"]:
            ids.append(status["applied"]["message_id"])
        if status["pull"]:
            ids.append(status["pull"]["message_id"])
            if status["pull"]["merged_by"]:
                ids.append(status["pull"]["merged_by"])
    return ids


def _dump(data: Any) -> str:
    return json.dumps(_compact(data), ensure_ascii=False, separators=(",", ":"))


# -- one thread ---------------------------------------------------------------------------------

# How the "Earlier" section reads: bodies (prose cut), headers (under last week's summary),
# merged (a map part's headers, last week's summary left to the reduce prompt), revisions
# (no earlier mail but earlier revisions in the facts), none.
_EarlierKind = Literal["bodies", "headers", "merged", "revisions", "none"]


class _ThreadPrompt:
    """Everything the prompts of one thread share: labels, facts, mail blocks."""

    def __init__(
        self,
        thread: Thread,
        mails: Sequence[MailFacts],
        lang: str,
        previous: Summary | None,
        history_only: bool = False,
    ) -> None:
        self.system = system_prompt(lang)
        self.thread = thread
        self.history_only = history_only
        self.max_chars = MAX_PROMPT_CHARS  # the reduce prompt's cap (build_plan sets it)
        unique = {m.message_id: m for m in mails}
        ordered = sorted(unique.values(), key=lambda m: (m.date_utc, m.message_id))
        self.by_id = {m.message_id: m for m in ordered}
        self.label_of: dict[str, str] = {
            m.message_id: f"m{n}" for n, m in enumerate(ordered, start=1)
        }
        self.series = series_facts(thread)
        self.status = status_facts(thread)
        # The series' own patches, by number: their header line is "patch 4/69", the
        # subject being in SENDERS' TEXT already (patch_subjects).
        self.patch_number: dict[str, str] = (
            {
                p["message_id"]: f"{p['number']}/{self.series['total']}"
                for p in self.series["patches"]
            }
            if self.series is not None
            else {}
        )
        for message_id in _fact_ids(self.series, self.status):
            if message_id not in self.label_of:
                self.label_of[message_id] = f"m{len(self.label_of) + 1}"
        self.labels = {label: message_id for message_id, label in self.label_of.items()}
        self.outside = self._outside_lines()
        self.previous = self._previous(previous)
        has_earlier = any(not m.in_window for m in ordered)
        earlier_revisions = self.series is not None and len(self.series["revisions"]) > 1
        self.history_required = has_earlier or previous is not None or earlier_revisions
        self.earlier_kind: _EarlierKind = (
            "headers"
            if previous is not None
            else "bodies"
            if has_earlier
            else "revisions"
            if earlier_revisions
            else "none"
        )
        senders = {m.message_id: m.from_email for m in ordered}
        self.answered = {
            m.parent_id
            for m in ordered
            if m.parent_id and senders.get(m.parent_id, m.from_email) != m.from_email
        }
        total = thread.series.total if thread.series is not None else None
        self.big_series = (total or 0) > BIG_SERIES_PATCHES
        self.has_cover = thread.series is not None and thread.series.cover_message_id is not None
        self.mails = [self._mail(m) for m in ordered]

    def label(self, message_id: str) -> str:
        """The label of a message id (the id itself if unknown, which cannot happen)."""
        return self.label_of.get(message_id, message_id)

    def _outside_lines(self) -> list[str]:
        """One line per labelled mail that is not in the thread (other revisions)."""
        series = self.thread.series
        refs = {r.message_id: r for r in series.revisions} if series is not None else {}
        if series is not None and series.superseded_by is not None:
            refs[series.superseded_by.message_id] = series.superseded_by
        lines = []
        for message_id, label in self.label_of.items():
            if message_id in self.by_id:
                continue
            ref = refs.get(message_id)
            if ref is not None:
                lines.append(
                    f"[{label}] {_utc(ref.date_utc)} {_safe(ref.subject)} (revision v{ref.version})"
                )
            else:
                lines.append(f"[{label}] <{_safe(message_id)}>")
        return lines

    def _previous(self, previous: Summary | None) -> str:
        """Last week's summary with its cites as this prompt's labels (unknown ones dropped)."""
        if previous is None:
            return ""
        data = summary_to_dict(previous)
        out = {}
        for part in ("original", "history", "this_week"):
            out[part] = [
                {
                    "text": item["text"],
                    "cites": [self.label_of[c] for c in item["cites"] if c in self.label_of],
                }
                for item in data[part]
            ]
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"))

    def _mail(self, mail: MailFacts) -> _Mail:
        label = self.label_of[mail.message_id]
        parent = self.label_of.get(mail.parent_id or "") if mail.parent_id else None
        name = " ".join((mail.from_name or mail.from_email).split())
        subject = " ".join(mail.subject.subject.split())
        number = self.patch_number.get(mail.message_id)
        if (
            number is not None
            and self.series is not None
            and (mail.from_email == self.series["author"]["email"])
        ):
            header = f"[{label}] patch {number}"
        else:
            header = _safe(
                f"[{label}] {_utc(mail.date_utc)} {name}: {subject}"
                + (f" (reply to {parent})" if parent else "")
            )
        if not mail.in_window:
            body = prose = "" if self.earlier_kind == "headers" else _earlier_text(mail)
        elif self._unanswered_patch(mail):
            body = prose = UNANSWERED_PATCH
        elif self._series_patch(mail):
            # The cover letter's diffstat covers the series; a patch's own would repeat it.
            body = prose = _own_text(mail, prose_only=True) or "(no commit message)"
        else:
            body = _own_text(mail) or "(nothing written of its own)"
            prose = _own_text(mail, prose_only=True) or body
        return _Mail(label, mail, header, _safe(body), _safe(prose), not _trailer_only(mail))

    def _big_series_patch(self, mail: MailFacts) -> bool:
        """A patch posting (not the cover letter, not a reply) of a series of more than
        BIG_SERIES_PATCHES patches: what the two rules below are about."""
        subject = mail.subject
        return (
            self.big_series
            and subject.is_patch
            and not subject.is_reply
            and (subject.counter or 0) >= 1
        )

    def _series_patch(self, mail: MailFacts) -> bool:
        """A patch (not the cover letter) of a big series with a cover letter."""
        return self._big_series_patch(mail) and self.has_cover

    def _unanswered_patch(self, mail: MailFacts) -> bool:
        """A patch of a big series that nobody else answered: its subject says enough.

        The cover letter says what the series does; a 20-patch series' commit messages
        are most of its prompt, and only those reviewers discussed shape the summary.
        Patch 1 stays when there is no cover letter.
        """
        return (
            self._big_series_patch(mail)
            and (self.has_cover or mail.subject.counter != 1)
            and mail.message_id not in self.answered
        )

    # -- rendering ------------------------------------------------------------------------

    def facts(self, patches: set[str] | None = None) -> tuple[str, str]:
        """(the facts JSON, the senders' text it refers to as JSON); for a map part only
        the patches it concerns."""
        texts = _SenderText()
        texts.put("thread_subject", self.thread.subject)
        data: dict[str, Any] = {
            "category": str(self.thread.category),
            "mails": {
                "total": len(self.mails),
                "this_week": sum(1 for m in self.mails if not m.earlier),
                "earlier": sum(1 for m in self.mails if m.earlier),
            },
            "series": None
            if self.series is None
            else _series_facts(self.series, self.label, patches, texts),
            "status": None
            if self.status is None
            else _status_facts(self.status, self.label, texts),
        }
        return _dump(data), texts.dump()

    def trailer_only(self, mails: Iterable[_Mail]) -> str:
        """Labels of the trailer-only mails among `mails`, for the one line naming them."""
        return ", ".join(m.label for m in mails if not m.listed)

    def render(
        self,
        mails: Sequence[_Mail],
        *,
        part: int = 0,
        parts: int = 0,
        patches: set[str] | None = None,
        bodies: Mapping[str, str] | None = None,
    ) -> Prompt:
        """The thread prompt for `mails` (all of them, or one map part's)."""
        bodies = bodies or {}
        listed = [m for m in mails if m.listed]
        earlier = [m.block(bodies.get(m.label)) for m in listed if m.earlier]
        this_week = [m.block(bodies.get(m.label)) for m in listed if not m.earlier]
        kind: _EarlierKind
        if part:
            # A part summarises its own mail; last week's summary and the earlier
            # revisions are the reduce prompt's business.
            kind = (
                "none" if not earlier else "merged" if self.earlier_kind == "headers" else "bodies"
            )
            history_required = kind == "bodies"
        else:
            kind = self.earlier_kind
            history_required = self.history_required
        facts, texts = self.facts(patches)
        user = _render(
            "thread",
            part=part,
            parts=parts,
            facts=facts,
            texts=texts,
            outside=self.outside,
            earlier_kind=kind,
            earlier=earlier,
            previous=self.previous if not part else "",
            this_week=this_week,
            history_only=self.history_only,
            # (the facts of an earlier-mail summary carry no trailers: see history_plan)
            trailer_only="" if self.history_only else self.trailer_only(mails),
            history_required=history_required,
        )
        return _prompt(self.system, user, self.labels, history_required)

    def reduce(self, partials: Sequence[LLMSummary]) -> Prompt:
        """Full facts, this week's mail lines, the earlier ones named, last week's summary,
        the partial answers: their longest sentences cut until it is within the cap."""
        prompt = self._reduce(partials)
        cut = max((len(i.text) for p in partials for i in _sentences(p)), default=0)
        while prompt.chars > self.max_chars and cut > REDUCE_MIN_SENTENCE:
            cut = max(REDUCE_MIN_SENTENCE, cut * 4 // 5)
            prompt = self._reduce([_shortened(p, cut) for p in partials])
        return prompt

    def _reduce(self, partials: Sequence[LLMSummary]) -> Prompt:
        facts, texts = self.facts()
        answers = [summary_json(p) for p in partials]
        # Earlier mail the parts cite or the facts name; the others are summarised in the
        # parts already, and listing 130 header lines would make the reduce the biggest
        # request of a big series.
        named = set(_LABEL_WORD.findall(facts + " ".join(answers) + self.previous))
        user = _render(
            "reduce",
            facts=facts,
            texts=texts,
            outside=self.outside,
            earlier=[m.header for m in self.mails if m.listed and m.earlier and m.label in named],
            left_out=sum(1 for m in self.mails if m.listed and m.earlier and m.label not in named),
            this_week=[m.header for m in self.mails if m.listed and not m.earlier],
            trailer_only="" if self.history_only else self.trailer_only(self.mails),
            previous=self.previous,
            history_only=self.history_only,
            partials=answers,
            history_required=self.history_required,
        )
        return _prompt(self.system, user, self.labels, self.history_required)

    # -- map-reduce -------------------------------------------------------------------------

    def _anchor(self, mail: MailFacts) -> str:
        """The posting (patch, cover letter or root) a mail answers, climbing parents."""
        node: MailFacts | None = mail
        last = mail.message_id
        seen: set[str] = set()
        while node is not None and node.message_id not in seen:
            if not node.subject.is_reply:
                return node.message_id
            seen.add(node.message_id)
            last = node.message_id
            node = self.by_id.get(node.parent_id) if node.parent_id else None
        return last

    def _units(self, budget: Budget) -> list[list[_Mail]]:
        """Mail grouped per patch answered; a group over budget split per reviewer."""
        groups: dict[str, list[_Mail]] = {}
        for m in self.mails:
            groups.setdefault(self._anchor(m.mail), []).append(m)
        ordered = sorted(groups.items(), key=lambda kv: self._sort_key(kv[0]))
        author = self.series["author"]["email"] if self.series else None
        units: list[list[_Mail]] = []
        for anchor, group in ordered:
            if self._over(group, budget) <= 0:
                units.append(group)
                continue
            by_reviewer: dict[str, list[_Mail]] = {}
            for m in group:
                by_reviewer.setdefault(self._reviewer(m.mail, anchor, author), []).append(m)
            units.extend(by_reviewer.values())  # in order of each reviewer's first mail
        return units

    def _sort_key(self, message_id: str) -> tuple[int, str]:
        mail = self.by_id[message_id]
        return (mail.date_utc, message_id)

    def _reviewer(self, mail: MailFacts, anchor: str, author: str | None) -> str:
        """Whose conversation a mail belongs to: its sender, or the reviewer an author answers."""
        if mail.message_id == anchor:
            return ""
        author = author or self.by_id[anchor].from_email
        if mail.from_email != author:
            return mail.from_email
        parent = self.by_id.get(mail.parent_id) if mail.parent_id else None
        if parent is not None and parent.from_email != author:
            return parent.from_email
        return ""

    def _patches_of(self, mails: Sequence[_Mail]) -> set[str]:
        return {self._anchor(m.mail) for m in mails}

    def _over(self, mails: Sequence[_Mail], budget: Budget) -> int:
        return self.render(mails, part=1, parts=1, patches=self._patches_of(mails)).over(budget)

    def split(self, budget: Budget) -> tuple[Prompt | None, tuple[Prompt, ...]]:
        """(single, map parts) within `budget`: units packed in order, oldest bodies cut.

        When everything lands in one part anyway (little mail this week, a long earlier
        discussion), that part is the single prompt with its oldest bodies cut: one call,
        no reduce.
        """
        prose = {m.label: m.prose or _CUT for m in self.mails if m.listed and m.prose != m.body}
        trimmed = self.render(self.mails, part=0, parts=0, bodies=prose)
        if trimmed.over(budget) <= 0:
            return trimmed, ()
        packed: list[list[_Mail]] = []
        for unit in self._units(budget):
            if packed and self._over([*packed[-1], *unit], budget) <= 0:
                packed[-1].extend(unit)
            else:
                packed.append(list(unit))
        packed = _merge_without_this_week(packed)
        if len(packed) == 1:
            return self._fit(self.mails, budget), ()
        prompts = []
        for index, group in enumerate(packed, start=1):
            group.sort(key=lambda m: (m.mail.date_utc, m.mail.message_id))
            prompts.append(self._fit(group, budget, index, len(packed)))
        return None, tuple(prompts)

    def _fit(self, mails: list[_Mail], budget: Budget, part: int = 0, parts: int = 0) -> Prompt:
        """Render a prompt, cutting the oldest bodies first until it fits (labels always stay).

        A body is cut in steps, each tried before touching the next mail: quoted hunks
        and diffstat dropped (the sender's prose is what counts), the prose cut to what
        the budget leaves, then nothing but "[…]". part 0 is the whole thread.
        """
        patches = self._patches_of(mails) if part else None
        bodies: dict[str, str] = {}
        prompt = self.render(mails, part=part, parts=parts, patches=patches)
        for m in mails:  # oldest first
            if not m.listed or not m.body:
                continue
            for step in range(3):
                if prompt.over(budget) <= 0:
                    return prompt
                if step == 0:
                    if m.prose == m.body:
                        continue
                    bodies[m.label] = m.prose or _CUT
                elif step == 1:
                    over = prompt.over(budget)
                    current = bodies.get(m.label, m.body)
                    keep = len(current) - 4 * over - 16
                    if keep < 80 or current == _CUT:
                        continue
                    bodies[m.label] = _cut(current, keep)
                else:
                    bodies[m.label] = _CUT
                prompt = self.render(mails, part=part, parts=parts, patches=patches, bodies=bodies)
        return prompt


def _merge_without_this_week(packed: list[list[_Mail]]) -> list[list[_Mail]]:
    """Give every part some mail of this week: parts with only earlier mail join the next."""
    out: list[list[_Mail]] = []
    carry: list[_Mail] = []
    for group in packed:
        group = [*carry, *group]
        carry = []
        if any(m.listed and not m.earlier for m in group):
            out.append(group)
        else:
            carry = group
    if carry:
        if out:
            out[-1].extend(carry)
        else:
            out.append(carry)
    return out


def build_plan(
    thread: Thread,
    mails: Sequence[MailFacts],
    *,
    lang: str,
    previous: Summary | None = None,
    budget_tokens: int = 12000,
    max_chars: int = MAX_PROMPT_CHARS,
) -> PromptPlan:
    """The prompt(s) for one thread: a single prompt, or map parts when over budget
    (`budget_tokens` input tokens, `max_chars` characters: see MAX_REQUEST_CHARS)."""
    return _plan(_ThreadPrompt(thread, mails, lang, previous), budget_tokens, max_chars)


def history_plan(
    thread: Thread,
    mails: Sequence[MailFacts],
    *,
    lang: str,
    budget_tokens: int = 12000,
    max_chars: int = MAX_PROMPT_CHARS,
) -> PromptPlan | None:
    """The prompt(s) that summarise a thread's earlier mail on its own, or None when it
    has too little of it (HISTORY_MIN_CHARS) to be worth a request.

    For a thread that comes with no summary from an earlier report (a first report in a
    fresh store, a thread seen for the first time), the week's prompt would carry every
    earlier mail's prose; this summary of them is asked once, cached, and refined by the
    week's prompt like last week's summary. Its input is the earlier mail only, with
    neither status nor series facts (they describe the week's end), so the same earlier
    mail gives the same prompt, and cache key, whichever week asks.
    """
    earlier = [m for m in mails if not m.in_window]
    if sum(len(_earlier_text(m)) for m in earlier) < HISTORY_MIN_CHARS:
        return None
    past = replace(
        thread,
        messages=[m for m in thread.messages if not m.in_window],
        series=None,
        status=None,
        summary=None,
        subsystems=(),
        questions=(),
    )
    context = _ThreadPrompt(past, earlier, lang, None, history_only=True)
    return _plan(context, budget_tokens, max_chars)


def _plan(context: _ThreadPrompt, budget_tokens: int, max_chars: int) -> PromptPlan:
    budget = Budget(budget_tokens, max_chars)
    context.max_chars = max_chars
    single = context.render(context.mails)
    if single.over(budget) <= 0:
        return PromptPlan(single=single, parts=(), _thread=context)
    single_cut, parts = context.split(budget)
    return PromptPlan(single=single_cut, parts=parts, _thread=context)


def retry_prompt(prompt: Prompt, bad_output: str, error: OutputError) -> Prompt:
    """The same prompt plus the invalid answer (cut) and why it was refused."""
    room = MAX_REQUEST_CHARS - prompt.chars - RETRY_WORDS_CHARS
    reason = _shorten(error.reason, max(80, min(RETRY_REASON_CHARS, room)))
    keep = max(0, min(RETRY_ANSWER_CHARS, room - len(reason)))
    truncated = len(bad_output) > keep
    user = _render(
        "retry",
        user=prompt.user.rstrip("\n"),
        reason=reason,
        answer=_safe(bad_output[:keep]),
        truncated=truncated,
    )
    return replace(
        prompt,
        user=user,
        input_tokens=estimate_tokens(prompt.system) + estimate_tokens(user),
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


REDUCE_MIN_SENTENCE = 60  # characters a partial answer's sentence keeps at the least


def _sentences(summary: LLMSummary) -> list[CitedSentence]:
    return [*summary.original, *summary.history, *summary.this_week]


def _shortened(summary: LLMSummary, limit: int) -> LLMSummary:
    """A partial answer with each sentence cut to `limit` characters (cites kept)."""

    def cut(items: list[CitedSentence]) -> list[CitedSentence]:
        return [
            i if len(i.text) <= limit else i.model_copy(update={"text": _shorten(i.text, limit)})
            for i in items
        ]

    return LLMSummary(
        original=cut(summary.original),
        history=cut(summary.history),
        this_week=cut(summary.this_week),
    )
