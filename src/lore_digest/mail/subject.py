"""Parse kernel mailing-list subjects into patch metadata.

Digests group messages by patch series, revision and reply status, and all of that is
encoded only in the free-form subject line ("Re: [RFC PATCH v3 02/17] KVM: ...").  The
vocabulary follows b4's LoreSubject so that results agree with the tool maintainers use,
but this parser is stricter about numbers and never raises: a digest must survive any
subject a list archive throws at it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["SUBJECT_RULES", "LoreSubject", "normalize_title", "parse_subject"]

# The version of parse_subject's rules. The store keeps the parse of every posting's
# subject so a report need not redo it for the whole list; a stored parse made under
# other rules is done again. Bump it with any change to what parse_subject returns.
SUBJECT_RULES = 1

# Mail clients in many languages prefix replies and forwards; some add a count
# ("Re[2]:", "Re^2:", "Re(2):").  The full-width colon comes from CJK clients.
_REPLY_RE = re.compile(
    r"(?:re|aw|antw|sv|vs|odp|fwd?|wg|回复|答复|回覆|转发)"
    r"(?:\s*(?:\[\d+\]|\(\d+\)|\^\d+))?\s*[:：]\s*",
    re.IGNORECASE,
)
# A pull request sent without brackets ("GIT PULL: KVM/arm fixes for 5.2").
_BARE_PULL_RE = re.compile(r"git\s+pull\b\s*:?\s*", re.IGNORECASE)
# Control characters are never meaningful in a title; they are treated as spaces.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SPACE_RE = re.compile(r"\s+")
# Prefix words are separated by spaces or commas, except inside braces, which list
# branches ("[PATCH][stable-4.{4, 9, 14}]") and stay one word.
_WORD_RE = re.compile(r"(?:[^\s,\[\]{]|\{[^}]*\}?)+")
_COUNTER_RE = re.compile(r"([0-9]+)/([0-9]+)")
_VERSION_RE = re.compile(r"v([0-9]+)(?:\.([0-9]+))?", re.IGNORECASE)
# A marker glued to what follows: "PATCHv2", "PATCH-v2", "RFCv3", "RFC/RFT", "RFC-PATCH".
_GLUED_RE = re.compile(
    r"(patch(?:es|set)?|rfc|resend|repost)(?:[-_/](.+)|(v\d[\d.]*))",
    re.IGNORECASE,
)
_PATCH_WORDS = frozenset({"patch", "patches", "patchset"})
_RESEND_WORDS = frozenset({"resend", "repost"})
# Stable backports name kernel branches as "v4.9"; there it is not a patch revision.
_STABLE_WORDS = frozenset({"autosel", "manualsel"})
_TRAILING_PUNCT = " .,;:!?…"


@dataclass(frozen=True, slots=True)
class LoreSubject:
    """What a subject line says about a message, in b4's vocabulary.

    is_patch is set by a PATCH word, and also by a counter or revision outside a pull
    request: "[RFC v2 0/7]" posts a series just as "[RFC PATCH v2 0/7]" does.  version is
    1 when the subject names none; counter and total are None without an "N/M".
    """

    subject: str
    title: str
    is_reply: bool = False
    is_patch: bool = False
    is_rfc: bool = False
    is_resend: bool = False
    is_pull: bool = False
    version: int = 1
    counter: int | None = None
    total: int | None = None
    extra_prefixes: tuple[str, ...] = field(default=())

    @property
    def is_cover(self) -> bool:
        """Patch 0/N introduces a series; a digest lists the series under it."""
        return self.counter == 0 and self.total is not None

    def normalized_title(self) -> str:
        """A key under which v1, v2 and resends of one series compare equal.

        Authors fix case and trailing full stops between revisions, so both are ignored.
        """
        return normalize_title(self.title)


@dataclass(slots=True)
class _Flags:
    """Mutable accumulator, frozen into a LoreSubject once all prefixes are read."""

    is_patch: bool = False
    is_rfc: bool = False
    is_resend: bool = False
    is_pull: bool = False
    version: int | None = None
    counter: int | None = None
    total: int | None = None
    extras: list[str] = field(default_factory=list)


def normalize_title(title: str) -> str:
    """A title as revisions compare it (`LoreSubject.normalized_title`): one space
    between words, lower case, no trailing full stop; also for titles met elsewhere
    (a b4 list's "[3/9] title" entries)."""
    return _SPACE_RE.sub(" ", title).lower().strip().rstrip(_TRAILING_PUNCT)


@functools.lru_cache(maxsize=1 << 15)
def parse_subject(subject: str) -> LoreSubject:
    """Parse a decoded Subject header; any input, however broken, yields a result.

    Remembered (a LoreSubject is immutable): a report asks about the subject of every
    reply of a thread, and replies repeat their posting's subject."""
    clean = _clean(subject)
    is_reply, groups, pos = _split_prefixes(clean)
    title = clean[pos:]
    flags = _classify(_tokens(groups))
    pull = _BARE_PULL_RE.match(title)
    if pull and not (flags.is_patch or flags.is_pull):
        flags.is_pull = True
        title = title[pull.end() :]
    return LoreSubject(
        subject=clean,
        title=title.strip(),
        is_reply=is_reply,
        is_patch=flags.is_patch,
        is_rfc=flags.is_rfc,
        is_resend=flags.is_resend,
        is_pull=flags.is_pull,
        version=1 if flags.version is None else flags.version,
        counter=flags.counter,
        total=flags.total,
        extra_prefixes=tuple(flags.extras),
    )


def _clean(subject: str) -> str:
    """Undo header folding so that prefixes and titles compare across messages."""
    return _SPACE_RE.sub(" ", _CONTROL_RE.sub(" ", subject)).strip()


def _split_prefixes(text: str) -> tuple[bool, list[str], int]:
    """Walk the leading reply markers and bracket groups, in any interleaving.

    List software and forwarding add their own layers ("RE: [Linuxarm] Re: [RFC PATCH]"),
    so a reply marker may sit between bracket groups.  Returns (is_reply, group contents,
    offset where the title starts).
    """
    is_reply = False
    groups: list[str] = []
    pos = 0
    while pos < len(text):
        reply = _REPLY_RE.match(text, pos)
        if reply:
            is_reply = True
            pos = reply.end()
            continue
        if text[pos] != "[":
            break
        end = _closing_bracket(text, pos)
        if end is None:
            salvaged = _unclosed_group(text, pos)
            if salvaged is not None:
                groups.append(salvaged[0])
                pos = salvaged[1]
            break
        groups.append(text[pos + 1 : end])
        pos = _skip_spaces(text, end + 1)
    return is_reply, groups, pos


def _skip_spaces(text: str, pos: int) -> int:
    """Offset of the next non-space; the text is already collapsed, so only " " occurs."""
    while pos < len(text) and text[pos] == " ":
        pos += 1
    return pos


def _closing_bracket(text: str, start: int) -> int | None:
    """Index of the bracket closing the one at start, honouring nesting ("[PATCH [v2]]")."""
    depth = 0
    for i in range(start, len(text)):
        char = text[i]
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return i
    return None


def _unclosed_group(text: str, start: int) -> tuple[str, int] | None:
    """Salvage a prefix whose "]" was lost ("[PATCH v2 1/3 title").

    Only leading marker words are taken, and only if one of them says patch, RFC or pull,
    so an ordinary title that happens to open a bracket stays intact.
    """
    words = text[start + 1 :].split(" ")
    taken = 0
    for word in words:
        if not word or not all(_is_marker(tok) for tok in _expand(word)):
            break
        taken += 1
    markers = [tok.lower() for word in words[:taken] for tok in _expand(word)]
    if not any(tok in _PATCH_WORDS or tok in ("rfc", "pull") for tok in markers):
        return None
    consumed = len(" ".join(words[:taken]))
    return text[start + 1 : start + 1 + consumed], _skip_spaces(text, start + 1 + consumed)


def _is_marker(token: str) -> bool:
    """Whether a word can only belong to a prefix, which is what makes salvaging safe."""
    low = _bare(token).lower()
    return (
        low in _PATCH_WORDS
        or low in _RESEND_WORDS
        or low in ("rfc", "git", "pull")
        or _COUNTER_RE.fullmatch(low) is not None
        or _VERSION_RE.fullmatch(low) is not None
    )


def _tokens(groups: list[str]) -> list[str]:
    """Split bracket contents into words; b4 treats commas like spaces."""
    return [tok for group in groups for word in _WORD_RE.findall(group) for tok in _expand(word)]


def _expand(word: str) -> Iterator[str]:
    """Separate markers glued to their neighbour, so "PATCHv2" reads as "PATCH v2"."""
    while word:
        glued = _GLUED_RE.fullmatch(_bare(word))
        if glued is None:
            yield word
            return
        yield glued.group(1)
        word = glued.group(2) or glued.group(3)


def _bare(token: str) -> str:
    """The token without decoration such as "(RESEND)" or a trailing semicolon."""
    return token.strip("(),;:")


def _classify(tokens: list[str]) -> _Flags:
    """Sort prefix words into flags, numbers and the extra prefixes kept verbatim."""
    flags = _Flags()
    lows = [_bare(tok).lower() for tok in tokens]
    has_plain_version = any(_plain_version(low) is not None for low in lows)
    stable = any("stable" in low or low in _STABLE_WORDS for low in lows)
    has_pull = "pull" in lows
    for token, low in zip(tokens, lows, strict=True):
        if _flag_word(flags, low, has_pull):
            continue
        if _number(flags, low, dotted_ok=not (has_plain_version or stable)):
            continue
        flags.extras.append(token)
    # "[RFC 1/3]" and "[kvmtool v2 0/4]" are series members although no word says PATCH.
    numbered = flags.counter is not None or flags.version is not None
    flags.is_patch = flags.is_patch or (numbered and not flags.is_pull)
    return flags


def _flag_word(flags: _Flags, low: str, has_pull: bool) -> bool:
    """Record a marker word; False when the word is not one."""
    if low in _PATCH_WORDS:
        flags.is_patch = True
    elif low == "rfc":
        flags.is_rfc = True
    elif low in _RESEND_WORDS:
        flags.is_resend = True
    elif low == "pull":
        flags.is_pull = True
    elif not (low == "git" and has_pull):
        return False
    return True


def _number(flags: _Flags, low: str, dotted_ok: bool) -> bool:
    """Record a counter or revision; False when the word is neither (or is not used).

    A "v5.5" revision counts as 5, unless a plain "vN" is present or the series is a
    stable backport, where "v4.9" names a branch and stays an extra prefix.
    """
    counter = _COUNTER_RE.fullmatch(low)
    if counter:
        numbers = _to_int(counter.group(1)), _to_int(counter.group(2))
        if numbers[0] is None or numbers[1] is None:
            return False
        if flags.counter is None:
            flags.counter, flags.total = numbers
        return True
    version = _VERSION_RE.fullmatch(low)
    if version is None or (version.group(2) is not None and not dotted_ok):
        return False
    number = _to_int(version.group(1))
    if number is None:
        return False
    if flags.version is None:
        flags.version = number
    return True


def _plain_version(low: str) -> int | None:
    """The N of a bare "vN", which outranks any dotted "vN.M" in the same subject."""
    version = _VERSION_RE.fullmatch(low)
    if version is None or version.group(2) is not None:
        return None
    return _to_int(version.group(1))


def _to_int(digits: str) -> int | None:
    """int() refuses thousands of digits (CVE-2020-10735 guard); such a word is no number."""
    try:
        return int(digits)
    except ValueError:
        return None
