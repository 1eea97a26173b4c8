"""Raw message bytes -> the text a reader of the list sees.

Kernel mail is mostly one text/plain part, but the archive also holds base64 bodies,
quoted-printable, multipart/alternative from webmail, multipart/signed from PGP users,
mailing-list footers added as an extra part, patches attached as text/x-patch, and the
occasional broken boundary or misspelled Content-Transfer-Encoding. message_text turns
all of it into one string and never raises: a message that cannot be parsed still gets
its bytes shown, with a defect saying why.

The stdlib parser with policy compat32 is used (about 3x faster than policy.default and
it never decodes payloads for us); payloads are decoded here so that a bad charset or a
bad base64 body is repaired instead of raising. Single-part messages, 98% of the
archive, skip the body parser altogether: only their header block is parsed.
"""

from __future__ import annotations

import binascii
import html
import re
from dataclasses import dataclass, field
from email import errors as email_errors
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from typing import Final

from lore_digest.mail.charset import decode_bytes_checked, decode_rfc2047

__all__ = ["MessageText", "message_text"]


@dataclass(frozen=True, slots=True)
class MessageText:
    """What a reader sees of one message, plus what was left out or repaired.

    text: the plain-text body (text/plain parts in order, else crude text of an HTML-only
        body), with attached patches (text/x-patch, text/x-diff, *.patch) appended.
    attachments: filename (or content type when unnamed) of every part not shown.
    defects: short reasons for each repair (bad base64, bad boundary, unknown charset...).
    """

    text: str
    attachments: tuple[str, ...] = ()
    defects: tuple[str, ...] = ()


_PARSER: Final = BytesParser(policy=compat32)

# Deeper nesting than this is an attack or a loop, not a mail.
_MAX_DEPTH: Final = 30

_PATCH_TYPES: Final = frozenset({"text/x-patch", "text/x-diff", "text/x-patch-file"})
_PATCH_NAME = re.compile(r"\.(?:patch|diff)$", re.IGNORECASE)

_CANONICAL_CTE: Final = frozenset({"", "7bit", "8bit", "binary", "base64", "quoted-printable"})

# Short names for the parser's own complaints (class name -> reason).
_PARSER_DEFECTS: Final = {
    email_errors.NoBoundaryInMultipartDefect: "multipart without boundary",
    email_errors.StartBoundaryNotFoundDefect: "multipart boundary not found",
    email_errors.CloseBoundaryNotFoundDefect: "missing closing boundary",
    email_errors.FirstHeaderLineIsContinuationDefect: "malformed headers",
    email_errors.MissingHeaderBodySeparatorDefect: "malformed headers",
    email_errors.MultipartInvariantViolationDefect: "multipart without parts",
    email_errors.MisplacedEnvelopeHeaderDefect: "misplaced envelope header",
}


@dataclass(slots=True)
class _Collected:
    """Mutable accumulator for one walk over the MIME tree."""

    texts: list[str] = field(default_factory=list)
    patches: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    def defect(self, reason: str) -> None:
        if reason not in self.defects:
            self.defects.append(reason)

    def result(self) -> MessageText:
        parts = [t for t in self.texts if t] + [p for p in self.patches if p]
        text = "".join(t if t.endswith("\n") else t + "\n" for t in parts)
        return MessageText(text, tuple(self.attachments), tuple(self.defects))


def message_text(raw: bytes) -> MessageText:
    """Return the text a reader sees in a raw message; never raises on any input bytes."""
    try:
        return _message_text(raw)
    except Exception as exc:  # hostile input must not stop a weekly run
        return _unparsable(raw, exc)


def _unparsable(raw: bytes, exc: BaseException) -> MessageText:
    """Last resort: show whatever follows the header block, decoded by guessing."""
    try:
        sep = re.search(rb"\r?\n\r?\n", raw)
        body = raw[sep.end() :] if sep else raw
        text, _ = decode_bytes_checked(body, None)
        return MessageText(_normalize_newlines(text), (), (f"unparsable: {type(exc).__name__}",))
    except Exception:
        return MessageText("", (), (f"unparsable: {type(exc).__name__}",))


_BARE_CR = re.compile(rb"[^\r\n]*\r(?!\n)")


def _message_text(raw: bytes) -> MessageText:
    out = _Collected()
    if _BARE_CR.match(raw):  # old Mac line endings: without this the body is lost
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        out.defect("bare CR line endings")
    fast = _split_single_part(raw)
    if fast is not None:
        headers, body = fast
        _leaf(headers, body, out)
        return out.result()
    msg = _PARSER.parsebytes(raw)
    _walk(msg, out, 0)
    return out.result()


_BLANK_LINE = re.compile(rb"\n\r?\n")


def _header_end(raw: bytes) -> tuple[int, int]:
    """(end of the header block, start of the body); a message may have no body."""
    if raw.startswith(b"\n"):
        return 0, 1
    if raw.startswith(b"\r\n"):
        return 0, 2
    match = _BLANK_LINE.search(raw)
    if match is None:
        return len(raw), len(raw)
    return match.start() + 1, match.end()


# A well-formed header block: "From " envelope line, "Name: value" lines and their
# folded continuations. Anything else sends the message to the full parser.
_HEADER_BLOCK = re.compile(rb"(?:(?:From |[\x21-\x39\x3b-\x7e]+:)[^\n]*\n(?:[ \t][^\n]*\n)*)*")
# The only headers the body depends on (first occurrence wins, as in Message.get).
# Searched from each newline (the block is given one in front): a "^" under MULTILINE
# is tried at every byte of the ~3 KB header block, most of this fast path's time.
_BODY_HEADERS = re.compile(
    rb"\n((?i:content-type|content-transfer-encoding|content-disposition))[ \t]*:[ \t]*"
    rb"([^\n]*(?:\n[ \t][^\n]*)*)"
)


def _split_single_part(raw: bytes) -> tuple[Message, bytes] | None:
    """Headers that matter and body of a single-part message; None if the parser is needed.

    Kernel mail carries ~45 headers (Received, DKIM...) and the feed parser handles each
    in Python, which is most of its cost; a single-part body needs only its
    Content-Type, Content-Transfer-Encoding and Content-Disposition.
    """
    head_end, body_start = _header_end(raw)
    block = raw[:head_end]
    if not block.endswith(b"\n"):
        block += b"\n"
    if _HEADER_BLOCK.fullmatch(block) is None:
        return None  # something in the header block is not a header: let the parser judge
    headers = Message()
    seen: set[bytes] = set()
    for match in _BODY_HEADERS.finditer(b"\n" + block):
        name = match.group(1).lower()
        if name in seen:
            continue
        seen.add(name)
        value = match.group(2).rstrip(b"\r\n").decode("ascii", "surrogateescape")
        headers[name.decode("ascii")] = value
    if headers.get_content_maintype() in ("multipart", "message"):
        return None
    return headers, raw[body_start:]


def _walk(part: Message, out: _Collected, depth: int) -> None:
    """Collect the shown text, patches and attachments of a MIME (sub)tree, in order."""
    for defect in part.defects:
        out.defect(_PARSER_DEFECTS.get(type(defect), type(defect).__name__))
    if depth > _MAX_DEPTH:
        out.defect("MIME nesting too deep")
        return
    ctype = part.get_content_type()
    if ctype.startswith("message/"):
        out.attachments.append(_label(part))
        return
    if not part.is_multipart():
        if ctype.startswith("multipart/"):
            _broken_multipart(part, out, depth)
            return
        _leaf(part, _payload_bytes(part), out)
        return
    children = [p for p in part.get_payload() if isinstance(p, Message)]
    if ctype == "multipart/alternative":
        chosen = _choose_alternative(children)
        if chosen is not None:
            _walk(chosen, out, depth + 1)
        return
    if ctype in ("multipart/related", "multipart/signed", "multipart/encrypted"):
        # The first part is the content; the rest are its images, signature, key...
        for index, child in enumerate(children):
            if index == 0:
                _walk(child, out, depth + 1)
            else:
                out.attachments.append(_label(child))
        return
    for child in children:
        _walk(child, out, depth + 1)


def _choose_alternative(children: list[Message]) -> Message | None:
    """The text/plain rendering if there is one, else the richest (last) one."""
    for child in children:
        if _has_plain_text(child, 0):
            return child
    return children[-1] if children else None


def _has_plain_text(part: Message, depth: int) -> bool:
    if depth > _MAX_DEPTH:
        return False
    if part.is_multipart():
        return any(
            _has_plain_text(p, depth + 1) for p in part.get_payload() if isinstance(p, Message)
        )
    return part.get_content_type() == "text/plain"


_BOUNDARY_LINE = re.compile(rb"^--(\S[^\r\n]{0,199}?)[ \t]*\r?$", re.MULTILINE)


def _broken_multipart(part: Message, out: _Collected, depth: int) -> None:
    """A multipart whose boundary never matched: guess the real one, else show the bytes.

    Mailers that rewrite Content-Type (or truncate it) leave the parts intact with a
    delimiter the header does not name; the first "--something" line followed by a
    header line is that delimiter.
    """
    out.defect("bad multipart boundary")
    data = _payload_bytes(part)
    for match in _BOUNDARY_LINE.finditer(data):
        following = data[match.end() : match.end() + 200].lstrip(b"\r\n")
        if not following[:8].lower().startswith(b"content-"):
            continue
        boundary = match.group(1).rstrip(b"\r")
        head = b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\n\n'
        repaired = _PARSER.parsebytes(head + data)
        if repaired.is_multipart():
            for child in repaired.get_payload():
                if isinstance(child, Message):
                    _walk(child, out, depth + 1)
            return
        break
    _leaf(part, data, out, ctype="text/plain")


def _leaf(part: Message, data: bytes, out: _Collected, ctype: str | None = None) -> None:
    """Decode one non-multipart part and file it as text, patch or attachment."""
    ctype = ctype or part.get_content_type()
    filename = _filename(part)
    disposition = str(part.get("Content-Disposition", "")).strip().lower()
    is_attachment = disposition.startswith("attachment")
    is_patch = ctype in _PATCH_TYPES or (
        filename is not None
        and _PATCH_NAME.search(filename) is not None
        and (ctype.startswith("text/") or ctype == "application/octet-stream")
    )
    if is_patch:
        out.patches.append(_decode_part(part, data, out))
    elif ctype == "text/plain" and not (is_attachment and filename):
        out.texts.append(_decode_part(part, data, out))
    elif ctype == "text/html" and not is_attachment and not out.texts:
        # Only shown when no plain text came first: a reader of an HTML-only mail sees it.
        out.texts.append(html_to_text(_decode_part(part, data, out)))
    else:
        out.attachments.append(filename or ctype)


def _label(part: Message) -> str:
    return _filename(part) or part.get_content_type()


def _filename(part: Message) -> str | None:
    # get_filename re-parses the parameters each time: skip it when no name can be there.
    declared = f"{part.get('Content-Disposition', '')}{part.get('Content-Type', '')}"
    if "name" not in declared.lower():
        return None
    try:
        name = part.get_filename()
    except Exception:  # RFC 2231 parameters can be malformed in many ways
        return None
    if not name:
        return None
    return decode_rfc2047(str(name)).strip() or None


def _payload_bytes(part: Message) -> bytes:
    """The still-encoded body bytes of a part, as they were on the wire."""
    payload = part.get_payload()
    if isinstance(payload, bytes):
        return payload
    if not isinstance(payload, str):
        return b""
    try:
        # BytesParser keeps non-ASCII bytes as surrogate escapes: this restores them.
        return payload.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return payload.encode("utf-8", "surrogateescape")


def _decode_part(part: Message, data: bytes, out: _Collected) -> str:
    """Undo the transfer encoding, then the charset, repairing what is broken."""
    data = _undo_transfer_encoding(part.get("Content-Transfer-Encoding"), data, out)
    charset = _charset(part, out)
    text, reason = decode_bytes_checked(data, charset)
    if reason:
        out.defect(reason)
    return _normalize_newlines(text)


_CHARSET_PARAM = re.compile(r';\s*charset\s*=\s*"?([^";\s]*)', re.IGNORECASE)


def _charset(part: Message, out: _Collected) -> str | None:
    """The charset parameter of a part (None when absent), without failing on junk."""
    ctype = str(part.get("Content-Type", ""))
    match = _CHARSET_PARAM.search(ctype)
    if match is not None:
        return match.group(1)
    if "charset*" not in ctype.lower():
        return None
    try:  # RFC 2231 form: let the library decode it
        return part.get_content_charset()
    except Exception:
        out.defect("malformed charset parameter")
        return None


def _undo_transfer_encoding(header: object, data: bytes, out: _Collected) -> bytes:
    cte = str(header).strip().strip("\"'").strip().lower() if header is not None else ""
    kind = _cte_kind(cte)
    if cte not in _CANONICAL_CTE:
        out.defect(f"transfer encoding {cte!r} read as {kind}")
    if kind == "base64":
        return _decode_base64(data, out)
    if kind == "quoted-printable":
        return binascii.a2b_qp(data)
    return data


def _cte_kind(cte: str) -> str:
    """Map a Content-Transfer-Encoding value, typos included, to what it meant."""
    if "64" in cte or cte.startswith("base"):
        return "base64"
    if "quot" in cte or "print" in cte or cte == "qp":
        return "quoted-printable"
    return "8bit"  # 7bit, 8bit, binary, empty, or a name we cannot undo: bytes as they are


_B64_ONLY = re.compile(rb"[A-Za-z0-9+/=\s]*")
_B64_NOT_LINE = re.compile(rb"^(?![A-Za-z0-9+/=]*\r?$).", re.M)
_B64_CHUNK = re.compile(rb"[A-Za-z0-9+/\s]+=*")
_B64_SPACE = re.compile(rb"[\s=]+")


def _decode_base64(data: bytes, out: _Collected) -> bytes:
    """Decode a base64 body leniently: missing padding, several padded blocks, a text
    footer appended by a list or a body that was never base64 are all repaired."""
    if _B64_ONLY.fullmatch(data):
        return _decode_base64_chunks(data, out)
    bad = _B64_NOT_LINE.search(data)
    start = bad.start() if bad else len(data)
    if start == 0:
        out.defect("body declared base64 is not")
        return data
    out.defect("text after base64 body")
    return _decode_base64_chunks(data[:start], out) + b"\n" + data[start:]


def _decode_base64_chunks(data: bytes, out: _Collected) -> bytes:
    # binascii stops at the first padding, so each padded block is decoded on its own.
    decoded: list[bytes] = []
    for chunk in _B64_CHUNK.findall(data):
        core = _B64_SPACE.sub(b"", chunk)
        if not core:
            continue
        remainder = len(core) % 4
        if remainder == 1:
            core = core[:-1]  # a lone trailing character carries no full byte
            out.defect("bad base64")
        elif remainder:
            if not chunk.rstrip().endswith(b"="):
                out.defect("bad base64 padding")
            core += b"=" * (4 - remainder)
        try:
            decoded.append(binascii.a2b_base64(core))
        except (binascii.Error, ValueError):
            out.defect("bad base64")
    return b"".join(decoded)


def _normalize_newlines(text: str) -> str:
    if "\x00" in text:  # never text: NUL would make the report a "binary" file
        text = text.replace("\x00", "")
    if "\r" not in text:
        return text
    text = text.replace("\r\n", "\n")
    if "\r" in text:
        text = re.sub(r"\r+(?=\n|$)", "", text).replace("\r", "\n")
    return text


_HTML_DROP = re.compile(
    r"<!--.*?-->|<(script|style|head|title)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_HTML_PRE = re.compile(r"(<pre\b[^>]*>.*?</pre\s*>)", re.IGNORECASE | re.DOTALL)
# A run of block boundaries ("</div> <div>") is one line break; <p> is a paragraph.
_HTML_BLOCKS = re.compile(
    r"(?: ?<\s*/?(?:div|tr|li|h[1-6]|table|tbody|ul|ol|blockquote|hr)\b[^>]*> ?)+",
    re.IGNORECASE,
)
_HTML_PRE_TAG = re.compile(r"<\s*/?pre\b[^>]*>", re.IGNORECASE)  # keeps the spaces after it
_HTML_PARAGRAPH = re.compile(r"(?: ?<\s*/?p\b[^>]*> ?)+", re.IGNORECASE)
_HTML_BR = re.compile(r" ?<\s*br\b[^>]*> ?", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_MANY_BLANKS = re.compile(r"\n{3,}")


def html_to_text(markup: str) -> str:
    """Crude text of an HTML body: tags stripped, block ends made line breaks.

    Only for the rare HTML-only message; enough to summarise it, not to render it.
    """
    markup = _HTML_DROP.sub("", markup)
    pieces = []
    for index, piece in enumerate(_HTML_PRE.split(markup)):
        # Outside <pre>, source line breaks are just spaces, as a browser shows them.
        pieces.append(piece if index % 2 else _SPACES.sub(" ", piece))
    text = _HTML_BLOCKS.sub("\n", "".join(pieces))
    text = _HTML_BR.sub("\n", _HTML_PARAGRAPH.sub("\n\n", _HTML_PRE_TAG.sub("\n", text)))
    text = html.unescape(_HTML_TAG.sub("", text)).replace("\xa0", " ")
    # rstrip only: indentation inside <pre> is meaningful (code, logs).
    lines = [line.rstrip() for line in text.split("\n")]
    return _MANY_BLANKS.sub("\n\n", "\n".join(lines)).strip("\n") + "\n"
