"""Decoding bytes and headers whose charset may be missing, wrong or unknown.

Mail on kernel lists is hostile input: bodies labelled us-ascii carry UTF-8, bodies
labelled iso-8859-1 are really windows-1252 (or UTF-8), some labels name no codec Python
knows ("unknown-8bit", "x-unknown", "") and some name one Python knows too strictly
(gb2312). Nothing here raises: a digest must show something readable for every message,
and a wrong guess costs a few odd characters, never a crash of the weekly run.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from typing import Final

__all__ = ["decode_bytes", "decode_bytes_checked", "decode_rfc2047", "normalize_charset"]

# Labels that say "I do not know": go straight to the guessing chain.
_UNKNOWN_LABELS: Final = frozenset(
    {
        "",
        "unknown",
        "unknown-8bit",
        "x-unknown",
        "x-user-defined",
        "default",
        "none",
        "charset",
        "7bit",
        "8bit",
        "binary",
        "us-ascii-8bit",
    }
)

# Labels Python does not know, mapped to one it does (seen in the wild / WHATWG aliases).
_LABEL_ALIASES: Final = {
    "x-gbk": "gbk",
    "x-sjis": "shift_jis",
    "x-utf-8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "x-cp1252": "cp1252",
    "iso-8859-8-i": "iso8859-8",
    "windows-874": "cp874",
    "x-mac-roman": "mac-roman",
}

# Codecs whose bytes are in practice decoded by a larger codec. WHATWG does the same for
# the latin-1 family (every browser reads iso-8859-1 and us-ascii as windows-1252); the
# CJK ones are supersets accepting the extra characters real mailers send under the old
# name. Keys are Python's canonical codec names (codecs.lookup(label).name).
_SUPERSETS: Final = {
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "iso2022_jp": "iso2022_jp_ext",
}

# "Text" codecs that are not charsets: a label naming them would turn C string escapes
# or host names in a patch into something else.
_NOT_CHARSETS: Final = frozenset(
    {"unicode-escape", "raw-unicode-escape", "punycode", "idna", "undefined", "utf-8-sig"}
)

# label -> (Python's canonical codec name, codec to decode with), or None; lookups are
# slow-ish and labels repeat a lot.
_CODEC_CACHE: dict[str, tuple[str, str] | None] = {}

# A valid multi-byte UTF-8 sequence: its presence says "this is UTF-8 with a few bad
# bytes" rather than "this is a legacy 8-bit charset".
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)

# Codecs that give ASCII bytes a meaning other than ASCII (escape sequences).
_ASCII_UNSAFE: Final = frozenset(
    {
        "iso2022_jp",
        "iso2022_jp_ext",
        "iso2022_jp_1",
        "iso2022_jp_2",
        "iso2022_jp_2004",
        "iso2022_jp_3",
        "iso2022_kr",
        "utf-7",
        "hz",
        "utf-16",
        "utf-16-le",
        "utf-16-be",
        "utf-32",
        "utf-32-le",
        "utf-32-be",
    }
)


def _cp1252_table() -> dict[int, str]:
    """Map each latin-1 code point 0x80-0x9f to its windows-1252 character.

    The five bytes windows-1252 leaves undefined keep their latin-1 (C1 control) meaning,
    as in the WHATWG encoding standard, so this decoder accepts every byte.
    """
    table: dict[int, str] = {}
    for byte in range(0x80, 0xA0):
        try:
            table[byte] = bytes([byte]).decode("cp1252")
        except UnicodeDecodeError:
            continue
    return table


_CP1252_FROM_LATIN1: Final = _cp1252_table()


def decode_windows_1252(data: bytes) -> str:
    """Decode as windows-1252 without ever failing (the last resort of every chain)."""
    return data.decode("latin-1").translate(_CP1252_FROM_LATIN1)


def _lookup(charset: str | None) -> tuple[str, str] | None:
    """(canonical codec name, codec to decode with) for a declared label, None if unknown."""
    if charset is None:
        return None
    label = charset.strip().strip("\"'").strip().lower()
    if label in _UNKNOWN_LABELS:
        return None
    if label in _CODEC_CACHE:
        return _CODEC_CACHE[label]
    found: tuple[str, str] | None = None
    try:
        info = codecs.lookup(_LABEL_ALIASES.get(label, label))
    except (LookupError, ValueError, TypeError):
        pass
    else:
        # Only real text encodings: lookup("base64") succeeds too.
        if getattr(info, "_is_text_encoding", True) and info.name not in _NOT_CHARSETS:
            found = (info.name, _SUPERSETS.get(info.name, info.name))
    if len(_CODEC_CACHE) < 512:  # labels are attacker-chosen: bound the cache
        _CODEC_CACHE[label] = found
    return found


def normalize_charset(charset: str | None) -> str | None:
    """Return the Python codec to decode a declared label with, or None when it names none.

    Quotes, spaces and case are noise mailers add; supersets replace strict codecs
    (iso-8859-1 -> cp1252, gb2312 -> gb18030, iso-2022-jp -> iso2022_jp_ext).
    """
    found = _lookup(charset)
    return found[1] if found else None


def _guess(data: bytes) -> str:
    """Decode bytes of unknown charset: UTF-8 if it is UTF-8, else windows-1252.

    UTF-8 with a few broken bytes stays UTF-8 (with U+FFFD), because re-reading a
    mostly-UTF-8 text as windows-1252 would garble every other accented letter.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if _UTF8_MULTIBYTE.search(data):
        return data.decode("utf-8", errors="replace")
    return decode_windows_1252(data)


def decode_bytes_checked(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode like decode_bytes, also returning a short reason when a repair was needed.

    The reason is None when the declared charset just worked (or nothing was declared and
    the bytes are plain ASCII); otherwise it is a short phrase for MessageText.defects.
    """
    found = _lookup(charset)
    if data.isascii() and (found is None or found[1] not in _ASCII_UNSAFE):
        # ASCII reads the same in every charset mailers use; the stateful 7-bit codecs
        # (iso-2022-jp, utf-7, hz) are ASCII on the wire, so they still need decoding.
        return data.decode("ascii"), None
    if found is None:
        declared = (charset or "").strip().strip("\"'")
        reason = f"unknown charset {declared!r}" if declared else "undeclared 8-bit charset"
        return _guess(data), reason
    canonical, codec = found
    if codec == "cp1252":
        # The latin-1 family accepts any byte: a UTF-8 body under that label is only
        # detected by trying UTF-8 first (valid multi-byte UTF-8 is never an accident).
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            latin = decode_windows_1252(data)
            return latin, ("8-bit bytes in us-ascii" if canonical == "ascii" else None)
        return text, f"charset {charset!r} was utf-8"
    try:
        return data.decode(codec), None
    except Exception:  # any codec may fail in its own way on hostile bytes
        pass
    return _guess(data), f"bytes invalid in charset {charset!r}"


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset; fall back to UTF-8, then windows-1252; never raise.

    Missing, unknown ("unknown-8bit", "x-unknown", "") and wrong labels are all handled:
    a wrong label is detected when the bytes do not decode, or, for the latin-1 family
    that accepts any byte, when the bytes are valid multi-byte UTF-8.
    """
    return decode_bytes_checked(data, charset)[0]


# An RFC 2047 encoded-word; RFC 2231 language suffixes ("utf-8*en") are allowed.
_ENCODED_WORD = re.compile(
    r"=\?(?P<charset>[^?\s*]+)(?:\*[^?\s]*)?\?(?P<enc>[bBqQ])\?(?P<text>[^?\s]*)\?="
)
_QP_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_WHITESPACE_ONLY = re.compile(r"[ \t\r\n]*")
_B64_ALPHABET = re.compile(r"[A-Za-z0-9+/]*")


def _word_bytes(enc: str, text: str) -> bytes | None:
    """Bytes of one encoded word, or None when it is malformed (it is then kept as-is)."""
    if enc in "bB":
        body = text.rstrip("=")
        if _B64_ALPHABET.fullmatch(body) is None or len(body) % 4 == 1:
            return None
        try:
            return base64.b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            return None
    raw = text.replace("_", " ").encode("ascii", errors="surrogateescape")
    return _QP_HEX.sub(lambda m: bytes([int(m.group(1), 16)]), raw)


def _decode_surrogates(value: str) -> str:
    """Decode raw 8-bit header bytes that the email parser kept as surrogate escapes."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    try:
        return decode_bytes(value.encode("utf-8", errors="surrogateescape"), None)
    except UnicodeError:
        return value.encode("utf-8", errors="replace").decode("utf-8")


def decode_rfc2047(value: str) -> str:
    """Decode the encoded-words of a header value; never raise.

    Whitespace (and header folding) between two adjacent encoded-words is dropped, as the
    RFC says, and their bytes are joined before decoding when they share a charset so a
    multi-byte character split across two words survives. Malformed words stay as
    written; unknown charsets go through decode_bytes' fallback chain.
    """
    if not isinstance(value, str):  # a compat32 Header object or None slipped through
        value = "" if value is None else str(value)
    value = _FOLD.sub("", value)
    if "=?" not in value:
        return _decode_surrogates(value)
    out: list[str] = []
    pending: list[tuple[str, bytes]] = []  # decoded words awaiting their neighbours
    pos = 0

    def flush() -> None:
        # Join runs of the same charset before decoding (split multi-byte characters).
        run_charset: str | None = None
        run = b""
        for charset, data in pending:
            if charset != run_charset and run:
                out.append(decode_bytes(run, run_charset))
                run = b""
            run_charset = charset
            run += data
        if run:
            out.append(decode_bytes(run, run_charset))
        pending.clear()

    for match in _ENCODED_WORD.finditer(value):
        gap = value[pos : match.start()]
        data = _word_bytes(match.group("enc"), match.group("text"))
        if data is None:
            flush()
            out.append(_decode_surrogates(value[pos : match.end()]))
            pos = match.end()
            continue
        if not (pending and _WHITESPACE_ONLY.fullmatch(gap)):
            flush()
            out.append(_decode_surrogates(gap))
        pending.append((match.group("charset").lower(), data))
        pos = match.end()
    flush()
    out.append(_decode_surrogates(value[pos:]))
    return "".join(out)
