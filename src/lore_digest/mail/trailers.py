"""Trailer lines ("Reviewed-by: Name <addr>", "Fixes: <sha> (...)") -> Trailer objects.

Trailers are the review currency of kernel lists: a digest counts who reviewed, acked,
tested or NAKed a series. The rules follow b4 (kernel.org's tool), the reference the
maintainers already trust:

- only lines the author wrote: not quoted (">", or below an Outlook-style
  "-----Original Message-----" / "From: ... Sent: ..." header), not after the "-- "
  signature, not in a diff, not ending a paragraph pasted with a 4-space or tab indent
  (a commit message or a reply quoted by indenting: someone else's trailers), and in a
  patch mail not after the "---" separator (the diffstat, notes and diff below it are
  not the commit message). b4 reads the Outlook-quoted and indent-pasted ones as the
  sender's; on the kvmarm archive that is three mails (two quoted Link:s, one ack);
- a person trailer counts only when its value carries an e-mail address
  ("Name <addr@host>" or a bare "addr@host"): "Reviewed-by: (sorry for the delay)" is
  chatter, not a review;
- Fixes: needs a commit id, Link: and Closes: need a URL;
- wrapped values (a continuation line starting with blanks, an address alone on the
  next line, a Fixes subject wrapped after its opening parenthesis) are re-joined;
- the same trailer written twice in one mail counts once.

The line classification itself is body.split_body's, so "what is quoted / diff /
signature" has one definition in the code base.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from lore_digest.mail.body import TRAILER_LINE, Segment, split_body
from lore_digest.mail.charset import decode_rfc2047

__all__ = [
    "TRAILER_KINDS",
    "UTILITY_TRAILERS",
    "Trailer",
    "parse_all_trailers",
    "parse_trailers",
    "parse_trailers_from_segments",
]

TRAILER_KINDS: Final = (
    "Reviewed-by",
    "Acked-by",
    "Tested-by",
    "Reported-by",
    "Suggested-by",
    "Nacked-by",
    "Fixes",
    "Link",
    "Closes",
)

# Trailers that name a thing, not a person: no name/e-mail is extracted from them.
UTILITY_TRAILERS: Final = frozenset({"Fixes", "Link", "Closes", "BugLink", "Change-Id"})

# Canonical spelling of every key we know; unknown keys keep their spelling.
_CANONICAL: Final = {
    key.lower(): key
    for key in (
        *TRAILER_KINDS,
        "Signed-off-by",
        "Co-developed-by",
        "Reported-and-tested-by",
        "Cc",
        "BugLink",
        "Change-Id",
        "base-commit",
        "prerequisite-patch-id",
    )
}
_REPORTED: Final = frozenset(TRAILER_KINDS)


@dataclass(frozen=True, slots=True)
class Trailer:
    """One trailer as written in a mail.

    kind: canonical key ("Reviewed-by"; unknown keys as written).
    value: the value as written, wrapped continuation lines re-joined with one space.
    name / email: the person (name decoded, address lowercased); "" for utility
        trailers (Fixes, Link, Closes) and when absent.
    """

    kind: str
    value: str
    name: str
    email: str


_KEY_VALUE = re.compile(r"([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)")
_MAILTO = re.compile(r"<mailto:[^>]*>", re.IGNORECASE)
_ANGLE_ADDRESS = re.compile(r"<\s*([^<>\s@]+@[^<>\s@]+\.[^<>\s@]+?)\s*>")
_BARE_ADDRESS = re.compile(r"[\w.+=-]+@[\w-]+(?:\.[\w-]+)+")
_COMMIT_ID = re.compile(r"[0-9a-f]{6,}\b", re.IGNORECASE)
# A URL, with or without its scheme ("lore.kernel.org/r/<msgid>" is common).
_URL = re.compile(r"\w+://\S|[\w-]+(?:\.[\w-]+)+/\S")


def parse_trailers(text: str) -> list[Trailer]:
    """Review trailers (TRAILER_KINDS) of a body, by b4's rules; duplicates once.

    Signed-off-by, Cc and unknown keys are left out: use parse_all_trailers for them.
    """
    return parse_trailers_from_segments(split_body(text))


def parse_trailers_from_segments(segments: Sequence[Segment]) -> list[Trailer]:
    """parse_trailers for a body already split (list or tuple; saves a second split)."""
    return [t for t in _trailers(segments) if t.kind in _REPORTED and _is_valid(t)]


def parse_all_trailers(text: str) -> list[Trailer]:
    """Every trailer line of a body (Signed-off-by, Cc, unknown "X-by:" included).

    Same position rules as parse_trailers (no quote, diff or signature) but no check of
    the value, so a caller can see e.g. "Reviewed-by: (sorry for the delay)".
    """
    return list(_trailers(split_body(text)))


def _trailers(segments: Sequence[Segment]) -> list[Trailer]:
    found: list[Trailer] = []
    seen: set[tuple[str, str]] = set()
    for segment in segments:
        if segment.kind == "signature" or _is_patch_separator(segment):
            break  # nothing below "-- " or a patch's "---" is the author's trailer
        if segment.kind != "trailer":
            continue
        for key, value in _logical_lines(segment.text):
            trailer = _make_trailer(key, value)
            identity = (trailer.kind, trailer.email or trailer.value.lower())
            if identity not in seen:
                seen.add(identity)
                found.append(trailer)
    return found


def _is_patch_separator(segment: Segment) -> bool:
    """The diffstat block of a patch mail starts at its "---" line."""
    return segment.kind == "diffstat" and any(
        line.rstrip() == "---" for line in segment.text.split("\n")
    )


def _logical_lines(text: str) -> list[tuple[str, str]]:
    """(key, value) of each trailer of a segment, continuation lines joined back."""
    pairs: list[tuple[str, str]] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        match = _KEY_VALUE.fullmatch(stripped) if TRAILER_LINE.match(line) else None
        if match:
            pairs.append((match.group(1), match.group(2).strip()))
        elif pairs and not _is_extinfo(stripped):
            key, value = pairs[-1]
            pairs[-1] = (key, f"{value} {stripped}".strip())
    return pairs


def _is_extinfo(line: str) -> bool:
    """ "[for the arm64 bits]" under a trailer: a note on it, not part of its value."""
    return line.startswith("[") and line.endswith("]")


def _make_trailer(key: str, value: str) -> Trailer:
    kind = _CANONICAL.get(key.lower(), key)
    if kind in UTILITY_TRAILERS:
        return Trailer(kind, value, "", "")
    name, email = _person(value)
    return Trailer(kind, value, name, email)


def _person(value: str) -> tuple[str, str]:
    """(name, lowercased address) of a person trailer value; ("", "") without address."""
    value = _MAILTO.sub("", value)  # left by mail clients converting from HTML
    match = _ANGLE_ADDRESS.search(value)
    if match is None:
        match = _BARE_ADDRESS.search(value)
        if match is None:
            return "", ""
        email = match.group(0)
    else:
        email = match.group(1)
    name = value[: match.start()].strip().strip("\"'()[]<>,").strip()
    if "=?" in name:
        name = decode_rfc2047(name)
    return name, email.strip(".").lower()


def _is_valid(trailer: Trailer) -> bool:
    """b4's acceptance rules for a reported trailer (see the module docstring)."""
    if trailer.kind == "Fixes":
        return _COMMIT_ID.match(trailer.value) is not None
    if trailer.kind in ("Link", "Closes"):
        return _URL.search(trailer.value) is not None
    # A person trailer: an address, and not a link dressed up as a person.
    return bool(trailer.email) and "://" not in trailer.value
