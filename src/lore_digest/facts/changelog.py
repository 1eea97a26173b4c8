"""The changelog of one version, cut out of a cover letter (or a patch's notes).

A reviewer opening v5 of a series first wants "what changed since v4". Authors write that
in many shapes, all of them a short heading that names versions followed by a list:

    Changes since v2:          Changes in v3:          v2 -> v3:        v3:
    Changelog v2 ... v3:       * From v2 [1]:          Since v2:        v3 changes:
    from v2 to v3:             RFC -> v1:              --- v3 ---       - v3: one-liner

Older sections usually follow ("v2 -> v3:" then "v1 -> v2:"), and the letter goes on with
links, the shortlog ("Author (N):"), the diffstat and a signature. changelog_for_version
finds the heading whose section describes the requested version and returns the section's
text up to the next heading or any of those endings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["changelog_for_version"]

MAX_CHARS: Final = 1500

_VREF: Final = r"""["']?(?:rfc[ \t]*)?(?:v|version[ \t]*)\d+["']?|["']?rfc["']?"""
_RANGE_SEP: Final = r"(?:-+>|=>|→|\.{2,3}|-|–|to|vs\.?)"
_FROM_WORDS: Final = (
    r"since|from|after|over|vs\.?|versus|wrt\.?|w\.r\.t\.?|against"
    r"|compared[ \t]+(?:to|with)|relative(?:ly)?[ \t]+to"
)
_HEADING: Final = re.compile(
    rf"""
    (?:(?:major|minor|main|other|notable)\s+)?
    (?:(?:changes?|changelog|change\s*log|history|updates?|modifications?|revisions?
        |differences?|notes?)\s*)?
    (?:(?P<prep>{_FROM_WORDS}|in|for|of|to)\s+)?
    (?:the\s+)?(?:previous\s+|last\s+|prior\s+)?
    (?P<a>{_VREF})
    (?:\s*{_RANGE_SEP}\s*(?P<b>{_VREF}))?
    (?:\s+(?:changes?|changelog|updates?|posting|version|series))?
    (?:\s*\[\d+\])?
    (?:\s*\([^)]*\)|\s*<[^>]*>)?
    (?:\s+include[sd]?)?
    \s*(?P<colon>:)?
    \s*(?P<inline>.*)
    """,
    re.IGNORECASE | re.VERBOSE,
)
_FROM_PREP: Final = re.compile(rf"(?:{_FROM_WORDS})$", re.IGNORECASE)
_GENERIC_HEADING: Final = re.compile(
    r"(?:changes?|changelog|change\s*log|history|revision\s+history|version\s+history)"
    r"(?:\s+log)?\s*:?",
    re.IGNORECASE,
)
# Bullets and decoration around a heading ("* v1 -> v2", "=== v3 ===", "--- v3").
_LEAD: Final = re.compile(r"[-*+•#=>~_\s]*")
_TRAIL: Final = re.compile(r"[\s=~#*_-]*$")
_BULLET: Final = re.compile(r"\s*(?:[-*+•]|\(?\d{1,2}[.)]|\([a-z]\))\s")

# Where the changelog ends.
_STOP_LINES: Final = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"--\s?$",  # signature
        r"-{3,}\s*$|={3,}\s*$|_{5,}\s*$|\*{3,}\s*$",  # separators, list footer
        r"\S.*\(\d+\):\s*$",  # shortlog "Author Name (12):"
        r"\s*\S.*\s\|\s+(?:\d+ ?\+*-*|Bin\b.*)\s*$",  # diffstat line
        r"\s*\d+ files? changed",
        r"(?:diff --git |Index: |base-commit:|change-id:|prerequisite-)",
        r"(?:Signed-off-by|Reviewed-by|Acked-by|Tested-by|Suggested-by|Reported-by|Cc):",
        r"\[\d+\]",  # a reference list ("[1] https://...")
        r"(?:v\d+|\[v\d+\]|link to v\d+)\s*:?\s*<?https?://",  # "v1: https://..." list
        r"(?:thanks|thank you|many thanks|cheers|regards|best regards|kind regards|br|best)"
        r"\b[\s\w,.!]{0,25}$",
        r">",
    )
]


@dataclass(frozen=True, slots=True)
class _Heading:
    """A version heading: the versions it spans and any text after its colon."""

    line: int
    indent: int
    bulleted: bool
    since: int | None  # "since v2", "v2 -> v3": the older version (0 for RFC)
    to: int | None  # "in v3", "v3:", "v2 -> v3": the version described
    inline: str


def changelog_for_version(cover_text: str, version: int) -> str | None:
    """What the cover letter says changed in `version` (from version-1), or None.

    The section is stripped and dedented, and cut at a line boundary to about 1,500
    characters.
    """
    lines = cover_text.replace("\r\n", "\n").split("\n")
    headings = [h for i, line in enumerate(lines) if (h := _heading(line, i)) is not None]
    chosen = _choose(headings, version)
    text: str | None = None
    if chosen is not None:
        text = _section(lines, chosen)
    elif version >= 2 and not headings:
        text = _generic_section(lines)
    return _shorten(text) if text else None


# -- headings ---------------------------------------------------------------------------


def _heading(line: str, index: int) -> _Heading | None:
    """Parse `line` as a version heading; None when it is anything else."""
    if len(line) > 120:
        return None
    lead = _LEAD.match(line)
    start = lead.end() if lead else 0
    body = _TRAIL.sub("", line[start:]) if line[start:].strip() else ""
    match = _HEADING.fullmatch(body)
    if match is None:
        return None
    inline = match.group("inline").strip()
    if inline and (not match.group("colon") or _is_url_line(inline)):
        return None
    a, b = _version(match.group("a")), _version(match.group("b"))
    prep = (match.group("prep") or "").lower()
    if b is not None:
        since, to = a, b
    elif prep and _FROM_PREP.fullmatch(prep):
        since, to = a, None
    else:
        since, to = None, a
    indent = len(line[:start].expandtabs()) - len(line[:start].expandtabs().lstrip())
    bulleted = bool(line[:start].strip())
    return _Heading(index, indent, bulleted, since, to, inline)


def _version(ref: str | None) -> int | None:
    """The number of "v3" / "version 3" / "RFC v2"; a bare "RFC" counts as 0."""
    if ref is None:
        return None
    digits = re.search(r"\d+", ref)
    return int(digits.group(0)) if digits else 0


def _is_url_line(text: str) -> bool:
    return text.lstrip("<(").lower().startswith(("http://", "https://"))


def _choose(headings: list[_Heading], version: int) -> _Heading | None:
    """The heading describing `version`: exact first, then the nearest open-ended one.

    "v2 -> v3" and "Changes in v3" name it; "Changes since v2" does when v2 is the
    previous version; a lone "Changes since v1" in a v3 letter still covers v3.
    """
    exact = [h for h in headings if h.to == version]
    if exact:
        return exact[0]
    since_previous = [h for h in headings if h.to is None and h.since == version - 1]
    if since_previous:
        return since_previous[0]
    open_ended = [h for h in headings if h.to is None and h.since is not None and h.since < version]
    if open_ended and all(h.to is None or h.to < version for h in headings):
        return max(open_ended, key=lambda h: h.since or 0)
    return None


# -- sections ---------------------------------------------------------------------------


def _section(lines: list[str], heading: _Heading) -> str:
    """The heading's own text: inline words, then its lines until a stop."""
    body: list[str] = []
    blank_seen = False
    for line in lines[heading.line + 1 :]:
        if not line.strip():
            blank_seen = True
            body.append("")
            continue
        if _is_stop(line) or _heading(line, 0) is not None or _is_generic_heading(line):
            break
        started = heading.inline or any(b.strip() for b in body)
        if blank_seen and started and not _continues(line, heading):
            break
        blank_seen = False
        body.append(line)
    text = _dedent(body).strip("\n")
    parts = [heading.inline, text] if heading.inline else [text]
    return "\n".join(p for p in parts if p).strip()


def _dedent(body: list[str]) -> str:
    """Remove the first line's indentation from every line (wrapped lines may have less)."""
    expanded = [line.expandtabs() for line in body]
    first = next((line for line in expanded if line.strip()), "")
    margin = len(first) - len(first.lstrip())
    return "\n".join(_strip_margin(line, margin) for line in expanded)


def _strip_margin(line: str, margin: int) -> str:
    indent = len(line) - len(line.lstrip(" "))
    return line[min(indent, margin) :]


def _continues(line: str, heading: _Heading) -> bool:
    """After a blank line, whether `line` still belongs to the section.

    Lists go on after blank lines; a paragraph starting at the heading's own margin is
    the letter going on about something else.
    """
    indent = len(line.expandtabs()) - len(line.expandtabs().lstrip())
    if indent > heading.indent:
        return True
    return not heading.bulleted and _BULLET.match(line) is not None


def _generic_section(lines: list[str]) -> str | None:
    """Text under a bare "Changes:" / "Changelog:" heading, for letters with no versions."""
    for index, line in enumerate(lines):
        if _is_generic_heading(line):
            heading = _Heading(index, 0, False, None, None, "")
            return _section(lines, heading) or None
    return None


def _is_generic_heading(line: str) -> bool:
    return _GENERIC_HEADING.fullmatch(_TRAIL.sub("", line.strip(" \t*-#="))) is not None


def _is_stop(line: str) -> bool:
    return any(stop.match(line) for stop in _STOP_LINES)


def _shorten(text: str) -> str:
    """At most MAX_CHARS, cut after a whole line when possible."""
    if len(text) <= MAX_CHARS:
        return text
    cut = text.rfind("\n", 0, MAX_CHARS - 2)
    if cut < MAX_CHARS // 2:
        cut = MAX_CHARS - 2
    return text[:cut].rstrip() + "\n…"
