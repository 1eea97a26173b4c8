"""Fast header-only parsing of one raw message: the fields ingest needs, nothing more.

Ingest must keep pace with `git cat-file --batch` (issue: ≤ 4× a bare read), and the
stdlib `email` parser costs ~120 µs a message just for headers. Splitting the header
block ourselves and decoding only the handful of fields we index is ~10× cheaper; full
MIME parsing of bodies happens later, only for the messages a report needs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.utils import getaddresses, parseaddr

from lore_digest.mail.charset import decode_rfc2047
from lore_digest.mail.dates import parse_date_header

WANTED = frozenset(
    {b"message-id", b"date", b"from", b"subject", b"in-reply-to", b"references", b"list-id"}
)
_MSGID_RE = re.compile(r"<([^<>\s]+)>")
# One C-level scan picks the wanted fields out of a header block that is mostly
# Received:/DKIM lines we do not need; values run on over folded continuation lines.
_WANTED_RE = re.compile(rb"\n(" + b"|".join(re.escape(n) for n in sorted(WANTED)) + rb"):")
_VALUE_RE = re.compile(rb"[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)")
_SIMPLE_FROM_RE = re.compile(r'^\s*"?([^"<>=@\\]*?)"?\s*<([^<>\s@]+@[^<>\s]+)>\s*$')
# A header field: printable name and a colon at the start of a line (RFC 5322 2.2). A
# ":" byte anywhere is no proof: random binary has one in most 4 KB blocks.
_FIELD_LINE_RE = re.compile(rb"(?:\A|\n)[\x21-\x39\x3b-\x7e]+[ \t]*:")
# Old Mac mail ends lines with CR alone: the first line ending tells.
_BARE_CR_RE = re.compile(rb"[^\r\n]*\r(?!\n)")
# Control characters mean nothing in a header and make a report a "binary" file.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class UnparsableMessage(ValueError):
    """Raised when bytes do not look like a mail at all (no header field could be read)."""


@dataclass(frozen=True, slots=True)
class MessageHeaders:
    """The indexed fields of a message; `message_id` is never empty (synthesised if absent)."""

    message_id: str
    date_utc: int | None  # None when the Date header is missing or unparsable
    date_offset_min: int | None
    from_name: str
    from_email: str
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]
    list_id: str
    repairs: tuple[str, ...]  # what had to be repaired, e.g. "missing Message-ID"


def _decode_header_bytes(value: bytes) -> str:
    """Raw 8-bit header bytes: most are ASCII or UTF-8; anything else is Windows-1252."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("cp1252", errors="replace")


def header_block(raw: bytes) -> bytes:
    """The bytes before the first empty line (the whole mail if there is none)."""
    lf = raw.find(b"\n\n")
    crlf = raw.find(b"\n\r\n", 0, lf if lf >= 0 else len(raw))
    ends = [i for i in (lf, crlf) if i >= 0]
    return raw[: min(ends) + 1] if ends else raw


def split_headers(raw: bytes) -> dict[bytes, bytes]:
    """Return the first occurrence of each wanted header (lowercase name → raw folded value)."""
    block = b"\n" + header_block(raw)
    # Find names in a lowercased copy (same offsets), read values from the original bytes.
    lowered = block.lower()
    fields: dict[bytes, bytes] = {}
    for match in _WANTED_RE.finditer(lowered):
        name = match.group(1)
        if name not in fields:
            value = _VALUE_RE.match(block, match.end())
            fields[name] = value.group(1) if value else b""
    return fields


def unfold(value: str) -> str:
    """Undo header folding and collapse runs of whitespace (subjects wrapped at 78 columns)."""
    return " ".join(_CONTROL_RE.sub(" ", value).split())


def extract_msgids(value: str) -> list[str]:
    """All <id> tokens of a References/In-Reply-To header, in order, without brackets."""
    return _MSGID_RE.findall(value)


def normalize_msgid(value: str) -> str:
    """A Message-ID header value → the bare id; tolerates missing brackets and junk around."""
    ids = extract_msgids(value)
    if ids:
        return ids[0]
    words = value.strip().strip("<>").split()
    return words[0] if words else ""  # "<>" or "< >": no id at all


def parse_from(value: str) -> tuple[str, str]:
    """(decoded display name, lowercased address); the name falls back to the address."""
    simple = _SIMPLE_FROM_RE.match(value)
    if simple:  # "Name <addr>", by far the most common form: skip the slow parser
        name = simple.group(1).strip()
        addr = simple.group(2).strip().lower()
        return (name or addr, addr)
    name, addr = parseaddr(value)
    if not addr and not name:
        addresses = getaddresses([value])
        if addresses:
            name, addr = addresses[0]
    if "=?" in name:
        name = decode_rfc2047(name)
    name = unfold(name).strip("\"' ")
    addr = addr.strip().lower()
    return (name or addr, addr)


def in_body_headers(text: str) -> list[tuple[str, str]]:
    """`From:`/`Subject:`/`Date:` lines opening a mail's body (a patch sent on behalf of
    its author), as git am reads them: (field in lower case, unfolded value)."""
    found: list[tuple[str, str]] = []
    for line in text.lstrip("\n").splitlines():
        field, colon, value = line.partition(":")
        if not colon or field.lower() not in ("from", "subject", "date"):
            break
        found.append((field.lower(), unfold(value)))
    return found


def synthetic_msgid(raw: bytes) -> str:
    """Deterministic id for a mail without Message-ID, so re-ingesting it dedupes."""
    return f"{hashlib.sha1(raw).hexdigest()}@lore-digest.invalid"


def parse_headers(raw: bytes) -> MessageHeaders:
    """Parse the indexed headers of one raw message; never loses a mail for a bad field."""
    repairs: list[str] = []
    lines = raw
    if _BARE_CR_RE.match(raw):
        lines = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        repairs.append("bare CR line endings")
    fields = split_headers(lines)
    if not fields and _FIELD_LINE_RE.search(header_block(lines)) is None:
        raise UnparsableMessage("no header fields")
    text = {k: _decode_header_bytes(v) for k, v in fields.items()}

    message_id = normalize_msgid(text.get(b"message-id", ""))
    if not message_id:
        message_id = synthetic_msgid(raw)
        repairs.append("missing Message-ID")

    date_utc: int | None = None
    offset: int | None = None
    if b"date" in text:
        parsed = parse_date_header(unfold(text[b"date"]))
        if parsed is None:
            repairs.append("unparsable Date")
        else:
            date_utc, offset = parsed
    else:
        repairs.append("missing Date")

    from_name, from_email = parse_from(unfold(text.get(b"from", "")))
    if not from_email:
        repairs.append("missing From")
    subject = unfold(text.get(b"subject", ""))
    if "=?" in subject:
        subject = unfold(decode_rfc2047(subject))

    refs = extract_msgids(text.get(b"references", ""))
    irt_ids = extract_msgids(text.get(b"in-reply-to", ""))
    in_reply_to = irt_ids[0] if irt_ids else None
    # Self-references would make a message its own parent: drop them here, once.
    refs = [r for r in dict.fromkeys(refs) if r != message_id]
    if in_reply_to == message_id:
        in_reply_to = None
        repairs.append("self-reference")
    return MessageHeaders(
        message_id=message_id,
        date_utc=date_utc,
        date_offset_min=offset,
        from_name=from_name,
        from_email=from_email,
        subject=subject,
        in_reply_to=in_reply_to,
        references=tuple(refs),
        list_id=unfold(text.get(b"list-id", "")),
        repairs=tuple(repairs),
    )
