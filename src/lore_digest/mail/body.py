"""Body text -> typed segments: what the author wrote versus what they quoted or pasted.

A digest must summarise what a person *said*: the prose of a reply, not the patch it
quotes, the diffstat, the trailers or the signature. Kernel mail follows strong
conventions (git format-patch layout, "> " quoting, "On ... wrote:" attributions,
"-- " signatures) and split_body reads them line by line:

- quoted: lines whose first non-blank character is ">", at any depth;
- attribution: the "On <date>, X wrote:" line(s) right before a quote;
- diff: from "diff --git", "--- a/..." + "+++ b/...", "Index: ..." or a hunk header to
  the end of the last hunk, hunk lengths counted as git does (so a "-- " removed line
  inside a hunk is not a signature, and the signature right after the last hunk is);
- diffstat: the "---" separator of a patch mail and the diffstat block
  (" path | 12 ++--", " 3 files changed, ...", " create mode ...");
- signature: from a "-- " (or bare "--") line to the end, and the mailing-list footer;
  the mail resumes after it only for a patch pasted below a scissors line ("-- >8 --",
  "From <sha> Mon Sep 17 ...") or attached after the list footer, and a "--" directly
  followed by "From: ..." is a scissors line, not a signature;
- quoted, too: a reply written the Outlook way, below the quote's header instead of
  above "> " lines: from a "-----Original Message-----" line (any number of dashes, 3
  or more, any case; Thunderbird's "-------- Original Message --------" too) or a
  "From: ..." line directly followed by "Sent: ..." (Outlook's header block; Outlook
  Web puts a "_____" rule above it; Chinese Outlook writes 发件人/发送时间) to the end
  of the mail. The separator and the header block are the attribution, the rest is
  quoted, unless "> " lines follow the header: then they say what is quoted and the
  sender's inline answers stay prose. "From:" followed by "Date:" is not one: that is
  a patch pasted in a reply;
- trailer: "Xxx-by:", Fixes:, Link:, Closes:, Cc:, Change-Id: lines, with their
  wrapped continuations (plus git's base-commit: / prerequisite-patch-id: metadata);
  indented ones too ("So for the code:\n\n\tAcked-by: ..." is a real ack), except in
  a pasted "git log" (indented Signed-off-by lines) and except a line indented by 4+
  spaces or a tab whose paragraph is indented as well: that is someone else's text
  pasted indented (a commit message, or a reply quoted without ">"), and its
  trailers were given by others;
- prose: everything else.

Blank lines never make a segment of their own; segments joined with "\\n" give back the
text (without its final newline).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["TRAILER_LINE", "Segment", "SegmentKind", "first_paragraph", "prose_text", "split_body"]

SegmentKind = Literal["prose", "quoted", "diff", "diffstat", "signature", "trailer", "attribution"]


@dataclass(frozen=True, slots=True)
class Segment:
    """Consecutive lines of one kind; text keeps them as written ("> " included)."""

    kind: SegmentKind
    text: str


_QUOTED = re.compile(r"[ \t]*>")
# git format-patch also writes "base-commit:" / "prerequisite-patch-id:" after the diff:
# metadata like trailers, not prose.
TRAILER_LINE = re.compile(
    r"[ \t]*(?:[A-Za-z][A-Za-z0-9-]*-by|Fixes|Link|BugLink|Closes|Cc|Change-Id"
    r"|base-commit|prerequisite-patch-id)[ \t]*:[ \t]*\S",
    re.IGNORECASE,
)
_ADDRESS_LINE = re.compile(r"[ \t]*<[^<>\s]+@[^<>\s]+>\s*$")
_EXTINFO_LINE = re.compile(r"[ \t]*\[[^\]]+\][ \t]*$")
_FIXES = re.compile(r"[ \t]*Fixes[ \t]*:", re.IGNORECASE)
# An indented Signed-off-by is a pasted "git log" (pull requests, stable mails): its
# indented trailers belong to those commits, not to the author of the mail.
# Searched from each newline: a "^" under MULTILINE is tried at every character of
# the mail (six times slower on patch mail, most of split_body's regex time).
_INDENTED_SIGNOFF = re.compile(r"\n[ \t]+(?i:signed-off-by:)")

_DIFF_COMMAND = re.compile(r"diff(?: -[-\w=]+)+ \S+ \S+\s*$")
_HUNK = re.compile(r"@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_DIFF_HEADER_PREFIXES: Final = (
    "diff --git ",
    "diff -",
    "index ",
    "new file mode ",
    "deleted file mode ",
    "old mode ",
    "new mode ",
    "similarity index ",
    "dissimilarity index ",
    "rename from ",
    "rename to ",
    "copy from ",
    "copy to ",
    "Binary files ",
    "Index: ",
    "=====",
)
_BINARY_LINE = re.compile(r"(?:literal|delta) \d+$|[A-Za-z][0-9A-Za-z!#$%&()*+;<=>?@^_`{|}~-]+$")
# Context lines: " " as git writes them; "" when a mailer stripped trailing spaces;
# "\xa0" when one turned spaces into non-breaking ones.
_CONTEXT_HEADS: Final = frozenset({" ", "", "\xa0"})
_GIT_VERSION = re.compile(r"\d+\.\d+(?:\.\S+)?\s*$")

_DIFFSTAT_LINE = re.compile(r"[ \t]*\S.*?\s\|\s+(?:\d+ ?\+*-*|Bin\b.*)\s*$")
_DIFFSTAT_SUMMARY = re.compile(
    r"[ \t]*\d+ files? changed(?:, \d+ insertions?\(\+\))?(?:, \d+ deletions?\(-\))?\s*$"
)
_DIFFSTAT_MODE = re.compile(
    r"[ \t]+(?:(?:create|delete) mode \d+ \S|mode change \d+ => \d+ \S|(?:rename|copy) .*\(\d+%\)\s*$)"
)

# What starts the mail again after a signature: a scissors line, format-patch's mbox
# separator, or a diff.
_RESUMES_AFTER_SIGNATURE = re.compile(
    r"[-_=\s]*(?:8<|>8|%<|>%)[-_=\s8<>%]*$|From [0-9a-f]{40} Mon Sep 17 00:00:00 2001"
    r"|diff --git "
)
_MBOX_FROM = re.compile(r"From [0-9a-f]{40} Mon Sep 17 00:00:00 2001")
_LIST_FOOTER_RULE = re.compile(r"_{10,}\s*$")

# Outlook-style quoting (see the module docstring). The hint is a plain substring test
# once per body (a regex over every body costs more than all the rest of split_body), so
# that mail without it (nearly all kernel mail) pays nothing per line.
_OUTLOOK_HINTS: Final = ("riginal", "RIGINAL", "Sent", "SENT", "发送时间")
_ORIGINAL_MESSAGE = re.compile(
    r"[ \t]*-{3,}[ \t]*Original Message[ \t]*-{3,}[ \t]*$", re.IGNORECASE
)
_OUTLOOK_FROM = re.compile(r"[ \t]*\*?(?:From|发件人)\*?[ \t]*[:：][ \t]*\S", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(r"[ \t]*\*?(?:Sent|发送时间)\*?[ \t]*[:：][ \t]*\S", re.IGNORECASE)
_OUTLOOK_RULE = re.compile(r"[ \t]*(?:_{10,}|-{10,})[ \t]*$")
# A trailer indented this deep may be part of an indented paste (see _in_indented_paste).
_DEEP_INDENT = re.compile(r" {4}| {0,3}\t")
_LIST_FOOTER_NAME = re.compile(r".*mailing list\s*$", re.IGNORECASE)

_ATTRIBUTION_END = re.compile(
    r"(?:.*\b(?:wrote|writes|said|says|schrieb|escribió|kirjoitti|napisał|skrev|scrisse"
    r"|a écrit|ha scritto)|.*(?:写道|寫道)|Quoting\b.*|Excerpts from\b.*)\s*[:：]\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(r"(?:On|Le|Am|El|Il|Op|Em|Quoting|在)\b", re.IGNORECASE)
# An attribution that long is a paragraph ending in "wrote:", not a header line.
_ATTRIBUTION_MAX_LEN: Final = 300

_BLANK: Final = ""  # kind of a blank line until it is attached to a neighbour


def split_body(text: str) -> list[Segment]:
    """Split a message body into typed segments (see the module docstring for the rules)."""
    lines = _lines(text)
    if not any(line.strip() for line in lines):
        return []
    kinds = _classify(
        lines,
        git_log=_INDENTED_SIGNOFF.search("\n" + text) is not None,
        outlook=any(hint in text for hint in _OUTLOOK_HINTS),
    )
    _resolve_blanks(kinds)
    segments: list[Segment] = []
    start = 0
    for kind, group in itertools.groupby(kinds):
        size = len(list(group))  # counted in C: a generator per line cost more
        segment_kind: SegmentKind = kind  # type: ignore[assignment]
        segments.append(Segment(segment_kind, "\n".join(lines[start : start + size])))
        start += size
    return segments


def _lines(text: str) -> list[str]:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n") if text else []


def _classify(lines: list[str], git_log: bool, outlook: bool = False) -> list[str]:
    """Kind of every line; blank lines get _BLANK and are attached afterwards.

    git_log: the text pastes a "git log" (indented Signed-off-by), whose indented
    trailers are not the author's. outlook: the text may hold an Outlook-style quote
    (a cheap hint; _outlook_quote_end decides line by line).
    """
    count = len(lines)
    kinds = [_BLANK] * count
    diffstat = _diffstat_lines(lines)
    patch_after = _last_patch_line(lines, diffstat)
    index = 0
    while index < count:
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        if _QUOTED.match(line):
            kinds[index] = "quoted"
        elif outlook and (header_end := _outlook_quote_end(lines, index)) > index:
            quoted_below = _quotes_follow(lines, header_end)
            _mark_outlook_quote(lines, kinds, index, header_end, quoted_below)
            if quoted_below:
                index = header_end  # the "> " quote below says what is quoted
                continue
            break  # everything below an Outlook header is the quoted mail
        elif (line in ("-- ", "--") and not _pastes_patch(lines, index)) or (
            line[0] == "_" and _is_list_footer(lines, index)
        ):
            end = _signature_end(lines, index)
            kinds[index:end] = ["signature"] * (end - index)
            index = end
            continue
        elif line[0] in _DIFF_START_HEADS and _diff_starts(lines, index):
            end = _diff_end(lines, index)
            kinds[index:end] = ["diff"] * (end - index)
            index = end
            continue
        elif index in diffstat or (line.rstrip() == "---" and index < patch_after):
            kinds[index] = "diffstat"
        elif TRAILER_LINE.match(line) and not (
            line[0] in " \t" and (git_log or _in_indented_paste(lines, kinds, index))
        ):
            end = _trailer_end(lines, index)
            kinds[index:end] = ["trailer"] * (end - index)
            index = end
            continue
        else:
            kinds[index] = "prose"
        index += 1
    _mark_attributions(lines, kinds)
    return kinds


def _outlook_quote_end(lines: list[str], index: int) -> int:
    """End of the separator + header block of an Outlook quote starting at index; -1 if none.

    The header block (From:, Sent:, To:, Cc:, Subject:, wrapped as the client pleased)
    runs to the first blank or "> " line.
    """
    line = lines[index]
    if _ORIGINAL_MESSAGE.match(line):
        start = index + 1
    elif _OUTLOOK_FROM.match(line) and any(
        _OUTLOOK_SENT.match(following) for following in lines[index + 1 : index + 3]
    ):
        if not lines[index + 1].strip():
            return -1  # "From:" and "Sent:" are one block, never split by a blank line
        start = index
    else:
        return -1
    end = start
    while end < len(lines) and lines[end].strip() and not _QUOTED.match(lines[end]):
        end += 1
    return end


def _quotes_follow(lines: list[str], index: int) -> bool:
    """Whether the next non-blank line from index on is a "> " quote.

    Outlook writes its separator unquoted above a "> " quote when the reply is set to
    prefix the original (or a second client re-quotes it); then the "> " quote says what
    is quoted, and the sender's inline answers between its lines stay their own.
    """
    following = next((line for line in lines[index:] if line.strip()), "")
    return _QUOTED.match(following) is not None


def _mark_outlook_quote(
    lines: list[str], kinds: list[str], index: int, header_end: int, header_only: bool
) -> None:
    """Header block (and Outlook Web's rule above it) as attribution, the rest as quoted.

    header_only: a "> " quote follows, which split_body reads as any other.
    """
    if index > 0 and _OUTLOOK_RULE.match(lines[index - 1]):
        kinds[index - 1] = "attribution"
    end = header_end if header_only else len(lines)
    for position in range(index, end):
        if lines[position].strip():
            kinds[position] = "attribution" if position < header_end else "quoted"


def _in_indented_paste(lines: list[str], kinds: list[str], index: int) -> bool:
    """Whether the deeply indented trailer at index ends an indented paragraph.

    Reviewers do indent their own trailers ("So for the code:" then a tab and
    "Acked-by: ..."), but the text before them is their own, flush left. When the text
    before is indented as deep, the trailer belongs to what was pasted: a commit
    message, or a reply quoted by indenting instead of "> ".
    """
    if not _DEEP_INDENT.match(lines[index]):
        return False
    for back in range(index - 1, -1, -1):
        line = lines[back]
        if not line.strip() or kinds[back] == "trailer":
            continue
        return _DEEP_INDENT.match(line) is not None
    return False


def _trailer_end(lines: list[str], index: int) -> int:
    """Index after a trailer line and its wrapped continuation lines."""
    first = lines[index]
    index += 1
    while index < len(lines):
        line = lines[index]
        if not line.strip() or _QUOTED.match(line):
            break
        if line[0] in " \t" or _ADDRESS_LINE.match(line) or _EXTINFO_LINE.match(line):
            index += 1
            continue
        if _FIXES.match(first) and first.count("(") > first.count(")") and ")" in line:
            index += 1  # Fixes: 0123abcd ("subject wrapped\nonto the next line")
            continue
        break
    return index


def _pastes_patch(lines: list[str], index: int) -> bool:
    """A "--" used as a scissors line: a pasted patch ("From: ...", "diff ...") follows."""
    following = lines[index + 1] if index + 1 < len(lines) else ""
    return following.startswith(("From: ", "Subject: ", "diff --git ")) or bool(
        _MBOX_FROM.match(following)
    )


def _signature_end(lines: list[str], index: int) -> int:
    """Index after a signature: the end of the mail, unless the mail goes on after it.

    Two things do follow a signature in kernel mail: a patch pasted below a scissors
    line ("-- >8 --") or starting with format-patch's "From <sha> Mon Sep 17 ..." line,
    and patches attached as separate MIME parts, which come after the list footer.
    """
    count = len(lines)
    for scan in range(index, count):
        if _is_list_footer(lines, scan):
            end = scan + 2
            while end < count and lines[end].strip():
                end += 1  # the footer's address and URL lines
            attached = any(line.strip() for line in lines[end:])
            return end if attached else count
        if scan > index and _RESUMES_AFTER_SIGNATURE.match(lines[scan]):
            return scan
    return count


def _is_list_footer(lines: list[str], index: int) -> bool:
    """The "____\\nkvmarm mailing list\\n..." block a list server appends to each mail."""
    return (
        index + 1 < len(lines)
        and _LIST_FOOTER_RULE.match(lines[index]) is not None
        and _LIST_FOOTER_NAME.match(lines[index + 1]) is not None
    )


_DIFF_START_HEADS: Final = frozenset("d@-I")  # cheap filter before _diff_starts


def _diff_starts(lines: list[str], index: int) -> bool:
    line = lines[index]
    if line.startswith("diff --git ") or _DIFF_COMMAND.match(line):
        return True
    if _HUNK.match(line):
        return True
    following = lines[index + 1] if index + 1 < len(lines) else ""
    if line.startswith("--- ") and following.startswith("+++ "):
        return True
    return line.startswith("Index: ") and following.startswith("====")


def _diff_end(lines: list[str], index: int) -> int:
    """Index of the first line after the diff starting at index.

    Hunk lengths from the "@@ -a,b +c,d @@" headers say where each hunk ends, as git
    apply reads them; between hunks only diff headers continue the diff. Damage done
    by mailers is tolerated: stripped or non-breaking spaces on context lines, and
    long lines wrapped onto a next line (kept when the line after is diff again).
    """
    count = len(lines)
    old_left = new_left = 0
    while index < count:
        # A hunk's body, line by line: most of a patch mail, so kept to plain tests.
        while (old_left > 0 or new_left > 0) and index < count:
            line = lines[index]
            head = line[:1]
            if head == "+":
                new_left -= 1
            elif head == "-":
                if (
                    line in ("-- ", "--")
                    and index + 1 < count
                    and _GIT_VERSION.match(lines[index + 1])
                ):
                    return index  # a miscounted hunk followed by format-patch's signature
                old_left -= 1
            elif head in _CONTEXT_HEADS:
                old_left -= 1
                new_left -= 1
            elif head != "\\" and not _is_wrapped(
                line, lines[index + 1] if index + 1 < count else None
            ):
                old_left = new_left = 0  # malformed hunk: re-read this line as a header
                break
            index += 1
        if index >= count:
            break
        line = lines[index]
        following = lines[index + 1] if index + 1 < count else None
        hunk = _HUNK.match(line)
        if hunk:
            old_left = int(hunk.group(1) or 1)
            new_left = int(hunk.group(2) or 1)
            index += 1
        elif line.startswith("\\") or line.startswith(_DIFF_HEADER_PREFIXES):
            index += 1
        elif line.startswith("--- ") and following is not None and following.startswith("+++ "):
            index += 2
        elif line == "GIT binary patch":
            index = _binary_end(lines, index + 1)
        elif (
            index > 0
            and lines[index - 1].startswith(("diff --git ", "--- ", "+++ "))
            and following is not None
            and following.startswith((*_DIFF_HEADER_PREFIXES, "--- ", "+++ ", "@@ "))
        ):
            index += 1  # "diff --git a/long/path b/long/path" wrapped by a mailer
        else:
            break
    return index


def _is_wrapped(line: str, following: str | None) -> bool:
    """Whether a non-diff line inside a diff is the wrapped tail of a long line.

    Only when the next line is diff again: prose after a truncated hunk is followed by
    more prose (or a blank line), never by a "+", "-" or context line.
    """
    if not line.strip() or following is None:
        return False
    head = following[:1]
    return (head in ("+", "-", " ", "\t", "\xa0", "@") and following.strip() != "") and not (
        _QUOTED.match(line) or line in ("-- ", "--")
    )


def _binary_end(lines: list[str], index: int) -> int:
    """Skip the base85 blocks of a "GIT binary patch" (forward and reverse)."""
    while index < len(lines):
        line = lines[index] or (lines[index + 1] if index + 1 < len(lines) else "")
        if not _BINARY_LINE.match(line):  # a blank line separates the forward/reverse blocks
            break
        index += 1
    return index


def _diffstat_lines(lines: list[str]) -> set[int]:
    """Indexes of the lines of each diffstat block (anchored on its summary line)."""
    found: set[int] = set()
    for index, line in enumerate(lines):
        if "changed" not in line or not _DIFFSTAT_SUMMARY.match(line):
            continue
        found.add(index)
        back = index - 1
        while back >= 0 and _DIFFSTAT_LINE.match(lines[back]) and not _QUOTED.match(lines[back]):
            found.add(back)
            back -= 1
        forward = index + 1
        while forward < len(lines) and _DIFFSTAT_MODE.match(lines[forward]):
            found.add(forward)
            forward += 1
    return found


def _last_patch_line(lines: list[str], diffstat: set[int]) -> int:
    """Index of the last diffstat or diff start: a "---" before it is a patch separator."""
    last = max(diffstat, default=-1)
    for index in range(len(lines) - 1, last, -1):
        line = lines[index]
        if line[:1] in _DIFF_START_HEADS and _diff_starts(lines, index):
            return index
    return last


def _mark_attributions(lines: list[str], kinds: list[str]) -> None:
    """Turn the prose line(s) introducing a quote into attribution."""
    next_kind = _BLANK
    for index in range(len(lines) - 1, -1, -1):
        kind = kinds[index]
        if kind == _BLANK:
            continue
        if (
            kind == "prose"
            and next_kind == "quoted"
            and len(lines[index]) <= _ATTRIBUTION_MAX_LEN
            and _ATTRIBUTION_END.match(lines[index])
        ):
            kinds[index] = "attribution"
            _mark_wrapped_start(lines, kinds, index)
        next_kind = kind


def _mark_wrapped_start(lines: list[str], kinds: list[str], end: int) -> None:
    """Extend an attribution upwards when its "On <date>, X" start was wrapped."""
    if _ATTRIBUTION_START.match(lines[end]):
        return
    for back in (end - 1, end - 2):
        if back < 0 or kinds[back] != "prose":
            return
        if _ATTRIBUTION_START.match(lines[back]):
            for index in range(back, end):
                kinds[index] = "attribution"
            return


def _resolve_blanks(kinds: list[str]) -> None:
    """Attach each run of blank lines to a neighbour segment.

    Same kind on both sides: the run joins them ("> a\\n\\n> b" is one quote). Otherwise
    it goes to the neighbouring prose (paragraph spacing), else to the segment before.
    """
    count = len(kinds)
    index = 0
    previous = _BLANK
    while index < count:
        if kinds[index] != _BLANK:
            previous = kinds[index]
            index += 1
            continue
        end = index
        while end < count and kinds[end] == _BLANK:
            end += 1
        following = kinds[end] if end < count else _BLANK
        if previous == following or previous == "prose" or following == _BLANK:
            kind = previous or following
        elif following == "prose" or previous == _BLANK:
            kind = following
        else:
            kind = previous
        kinds[index:end] = [kind or "prose"] * (end - index)
        index = end


def prose_text(segments: Sequence[Segment]) -> str:
    """The prose of a message only, paragraphs kept, one blank line between them."""
    paragraphs: list[str] = []
    for segment in segments:
        if segment.kind == "prose":
            paragraphs.extend(_paragraphs(segment.text))
    return "\n\n".join(paragraphs)


def _paragraphs(text: str) -> list[str]:
    paragraphs: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            current.append(line.rstrip())
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return paragraphs


_GREETING_WORD = re.compile(
    r"(?:hi|hello|hey|hallo|hola|dear|greetings|good (?:morning|afternoon|evening|day))"
    r"(?:[ \t,&]+[\w.'-]+){0,4}[ \t]*[,!.:]?[ \t]*$",
    re.IGNORECASE,
)
# "Marc," / "Will, Catalin," alone on a line; closings ("Thanks,") are not greetings.
_NAME_GREETING = re.compile(
    r"(?!(?i:thanks|thank|regards|cheers|best|br|ok|yes|no|however|also|so|but)\b)"
    r"[A-Z][\w.'-]*(?:(?:, | and | & | )[A-Z][\w.'-]*){0,3},[ \t]*$"
)


# git send-email's in-body "From: Author <addr>" (and Subject:/Date:) lines that open a
# patch whose author is not the sender: metadata, not the gist of the message.
_PSEUDO_HEADER = re.compile(r"(?:From|Subject|Date)[ \t]*:[ \t]")


def _is_greeting(line: str) -> bool:
    """ "Hi Marc," / "Hello all!" / "Marc," alone on a line: no content."""
    stripped = line.strip()
    return bool(_GREETING_WORD.match(stripped) or _NAME_GREETING.match(stripped))


def first_paragraph(text_or_segments: str | Sequence[Segment]) -> str:
    """The first paragraph of prose, greetings ("Hi Marc,") skipped; "" when none.

    Used as the one-line gist of a message: quotes, diffs and trailers never count.
    """
    segments = (
        split_body(text_or_segments) if isinstance(text_or_segments, str) else text_or_segments
    )
    for segment in segments:
        if segment.kind != "prose":
            continue
        for paragraph in _paragraphs(segment.text):
            lines = paragraph.split("\n")
            if all(_PSEUDO_HEADER.match(line) for line in lines):
                continue
            while lines and _is_greeting(lines[0]):
                lines.pop(0)
            if lines:
                return "\n".join(lines).strip()
    return ""
