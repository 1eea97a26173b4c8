"""A corpus of broken and hostile mail, written by code (never copied from an archive).

Real list archives hold every way a mail can be wrong: MIME boundaries that never
close, charsets nobody knows, NUL bytes, dates in year 0, reference loops, a subject of
10,000 characters, a 20 MB patch, bytes that are no mail at all. Ingest must survive all
of it and account for every mail (stored, repaired, logged as duplicate or unparsable),
threading must terminate, and a report over the week containing it must still build.
This module writes one mail per kind so tests can check each outcome on its own.

Everything is a pure function of the seed: the same seed gives the same bytes on every
machine. All names and addresses are fictional (example.org / example.com).
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Final, Literal

__all__ = [
    "HUGE_DEFAULT_SIZE",
    "LIST",
    "WEEK",
    "BrokenMail",
    "Expect",
    "broken_mails",
    "huge_mail",
    "write_broken_maildir",
    "write_broken_mbox",
]

Expect = Literal["stored", "repaired", "unparsable", "duplicate", "known"]
"""Where ingest must put a mail.

stored: a message, no repair noted; repaired: a message with a repair noted (missing
Message-ID, unusable Date...); unparsable / duplicate: the ingest log, not a message;
known: counted as already stored (an identical copy of an earlier mail), nowhere new.
"""

LIST: Final = "broken"
WEEK: Final = "2024-W10"  # every mail whose Date is usable falls in this ISO week
HUGE_DEFAULT_SIZE: Final = 20 * 1024 * 1024

_MONDAY: Final = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)
_DOMAIN: Final = "broken.example.org"
_ENVELOPE: Final = b"From broken@example.org Thu Jan  1 00:00:00 1970\n"


@dataclass(frozen=True, slots=True)
class BrokenMail:
    """One hostile mail and what ingest must make of it.

    kind: unique slug naming what is wrong (also usable as a file name).
    raw: the mail's bytes, exactly as an archive would hold them.
    expect: the outcome ingest must reach (see Expect).
    message_id: the id the mail must be stored under when it declares a usable one
        (None when ingest has to synthesise one, or when it is not stored).
    note: why the expectation is what it is, for a reader of a failing test.
    """

    kind: str
    raw: bytes
    expect: Expect
    message_id: str | None = None
    note: str = ""


# -- building blocks --------------------------------------------------------------------


class _Ctx:
    """Per-corpus state: the seed's random stream and the clock handing out dates."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self._minutes = 0

    def mid(self, kind: str) -> str:
        """A Message-ID (without brackets) unique to a kind and the seed."""
        return f"{kind}.{self.seed}@{_DOMAIN}"

    def date(self) -> str:
        """The next Date header value: 7 minutes apart, all inside WEEK."""
        self._minutes += 7
        return format_datetime(_MONDAY + timedelta(minutes=self._minutes))


def _mail(
    ctx: _Ctx,
    kind: str,
    body: bytes | str = "",
    *,
    subject: bytes | str | None = None,
    message_id: bytes | str | None = "",
    date: bytes | str | None = "",
    from_: bytes | str | None = "Broken Tester <tester@example.org>",
    extra: Iterable[bytes | str] = (),
    eol: bytes = b"\n",
) -> bytes:
    """Assemble a mail; header values are written verbatim, which is the point.

    message_id / date: "" means a good generated value, None leaves the header out, any
    other value is written as given (brackets included).
    """
    lines: list[bytes] = []

    def add(name: str, value: bytes | str | None) -> None:
        if value is None:
            return
        data = value.encode() if isinstance(value, str) else value
        lines.append(name.encode() + b": " + data)

    add("From", from_)
    add("To", f"{LIST}@lists.example.org")
    add("Subject", f"[PATCH] broken: {kind}" if subject is None else subject)
    add("Date", ctx.date() if date == "" else date)
    add("Message-ID", f"<{ctx.mid(kind)}>" if message_id == "" else message_id)
    lines.extend(x.encode() if isinstance(x, str) else x for x in extra)
    data = body.encode() if isinstance(body, str) else body
    if eol != b"\n":
        data = data.replace(b"\n", eol)
    return eol.join(lines) + eol + eol + data


def _good(ctx: _Ctx, kind: str, expect: Expect, raw: bytes, note: str = "") -> BrokenMail:
    """A mail that declares ctx.mid(kind) and must be stored under it."""
    return BrokenMail(kind, raw, expect, ctx.mid(kind), note)


def _b64_word(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?b?{base64.b64encode(text.encode()).decode()}?="


_PROSE: Final = (
    "This patch fixes a use-after-free in the vgic when a vcpu is torn down\n"
    "while an interrupt is still pending.\n\n"
    "Signed-off-by: Broken Tester <tester@example.org>\n"
)


# -- the kinds --------------------------------------------------------------------------
# One builder per kind keeps each hostile shape readable on its own; the list at the
# bottom fixes their order (duplicates must come after the mail they copy).


def _baseline(ctx: _Ctx) -> BrokenMail:
    return _good(ctx, "baseline", "stored", _mail(ctx, "baseline", _PROSE))


def _duplicate_identical(ctx: _Ctx, baseline: BrokenMail) -> BrokenMail:
    return BrokenMail(
        "duplicate-identical",
        baseline.raw,
        "known",
        None,
        "the same bytes again (a re-synced archive): counted as known, not logged",
    )


def _duplicate_different(ctx: _Ctx, baseline: BrokenMail) -> BrokenMail:
    raw = baseline.raw.replace(b"use-after-free", b"double free")
    return BrokenMail(
        "duplicate-different",
        raw,
        "duplicate",
        None,
        "baseline's Message-ID with other content: logged, the first copy wins",
    )


def _mime_missing_closing_boundary(ctx: _Ctx) -> BrokenMail:
    kind = "mime-missing-closing-boundary"
    body = "--b1\nContent-Type: text/plain\n\nfirst part\n--b1\nContent-Type: text/x-patch\n\n+x\n"
    ctype = 'Content-Type: multipart/mixed; boundary="b1"'
    return _good(ctx, kind, "stored", _mail(ctx, kind, body, extra=["MIME-Version: 1.0", ctype]))


def _mime_boundary_never_used(ctx: _Ctx) -> BrokenMail:
    kind = "mime-boundary-never-used"
    body = "--other\nContent-Type: text/plain\n\nthe parts use another delimiter\n--other--\n"
    ctype = 'Content-Type: multipart/mixed; boundary="declared"'
    return _good(ctx, kind, "stored", _mail(ctx, kind, body, extra=[ctype]))


def _mime_nested_boundary_equal(ctx: _Ctx) -> BrokenMail:
    kind = "mime-nested-boundary-equals-parent"
    body = (
        "--same\n"
        'Content-Type: multipart/alternative; boundary="same"\n\n'
        "--same\nContent-Type: text/plain\n\ninner text\n"
        "--same--\n"
        "--same\nContent-Type: text/plain\n\nouter text\n"
        "--same--\n"
    )
    ctype = 'Content-Type: multipart/mixed; boundary="same"'
    return _good(ctx, kind, "stored", _mail(ctx, kind, body, extra=[ctype]))


def _mime_deep_nesting(ctx: _Ctx, levels: int = 200) -> BrokenMail:
    kind = "mime-deep-nesting"
    opening = "".join(
        f'--n{i}\nContent-Type: multipart/mixed; boundary="n{i + 1}"\n\n' for i in range(levels)
    )
    closing = "".join(f"--n{i}--\n" for i in range(levels, -1, -1))
    body = opening + f"--n{levels}\nContent-Type: text/plain\n\nthe bottom\n" + closing
    ctype = 'Content-Type: multipart/mixed; boundary="n0"'
    return _good(ctx, kind, "stored", _mail(ctx, kind, body, extra=[ctype]))


def _multipart_without_boundary(ctx: _Ctx) -> BrokenMail:
    kind = "multipart-without-boundary"
    body = "--x\nContent-Type: text/plain\n\nno boundary parameter\n--x--\n"
    return _good(
        ctx, kind, "stored", _mail(ctx, kind, body, extra=["Content-Type: multipart/mixed"])
    )


def _content_type_no_subtype(ctx: _Ctx) -> BrokenMail:
    kind = "content-type-no-subtype"
    raw = _mail(ctx, kind, "a text part without subtype\n", extra=["Content-Type: text"])
    return _good(ctx, kind, "stored", raw)


def _charset_undeclared_8bit(ctx: _Ctx) -> BrokenMail:
    kind = "charset-undeclared-8bit"
    body = "Grüße aus Zürich, naïve café — 中文\n".encode()
    return _good(ctx, kind, "stored", _mail(ctx, kind, body))


def _charset_unknown(ctx: _Ctx) -> BrokenMail:
    kind = "charset-unknown-name"
    body = b"Qapla' \xe9\xfc\xff\xfe batlh\n"
    ctype = 'Content-Type: text/plain; charset="x-klingon"'
    return _good(ctx, kind, "stored", _mail(ctx, kind, body, extra=[ctype]))


def _charset_wrong_declared(ctx: _Ctx) -> BrokenMail:
    kind = "charset-wrong-declared"
    body = b"declared utf-8, written in latin-1: " + "Müller façade\n".encode("latin-1")
    ctype = "Content-Type: text/plain; charset=utf-8"
    return _good(ctx, kind, "stored", _mail(ctx, kind, body, extra=[ctype]))


def _charset_ascii_is_utf8(ctx: _Ctx) -> BrokenMail:
    kind = "charset-ascii-is-utf8"
    body = "declared us-ascii, written in UTF-8: Łukasz Żółć\n".encode()
    ctype = "Content-Type: text/plain; charset=us-ascii"
    return _good(ctx, kind, "stored", _mail(ctx, kind, body, extra=[ctype]))


def _nul_in_headers(ctx: _Ctx) -> BrokenMail:
    kind = "nul-in-headers"
    raw = _mail(
        ctx,
        kind,
        "body\n",
        subject=b"[PATCH] nul\x00inside the subject",
        from_=b"Nul\x00Name <nul@example.org>",
        extra=[b"X-Nul: \x00\x00\x00"],
    )
    return _good(ctx, kind, "stored", raw)


def _nul_in_body(ctx: _Ctx) -> BrokenMail:
    kind = "nul-in-body"
    return _good(ctx, kind, "stored", _mail(ctx, kind, b"text\x00with\x00\x00nul bytes\n\x00"))


def _missing_date(ctx: _Ctx) -> BrokenMail:
    kind = "missing-date"
    return _good(ctx, kind, "repaired", _mail(ctx, kind, "no Date header\n", date=None))


def _missing_from(ctx: _Ctx) -> BrokenMail:
    kind = "missing-from"
    return _good(ctx, kind, "repaired", _mail(ctx, kind, "no From header\n", from_=None))


def _missing_message_id(ctx: _Ctx) -> BrokenMail:
    kind = "missing-message-id"
    raw = _mail(ctx, kind, "no Message-ID header\n", message_id=None)
    return BrokenMail(kind, raw, "repaired", None, "a synthetic id is derived from the bytes")


def _empty_message_id(ctx: _Ctx) -> BrokenMail:
    kind = "empty-message-id"
    raw = _mail(ctx, kind, "Message-ID: <>\n", message_id="<>")
    return BrokenMail(kind, raw, "repaired", None, "an empty id is a missing id")


def _reference_loop(ctx: _Ctx) -> list[BrokenMail]:
    a, b = ctx.mid("reference-loop-a"), ctx.mid("reference-loop-b")
    mails = []
    for kind, parent in (("reference-loop-a", b), ("reference-loop-b", a)):
        raw = _mail(
            ctx,
            kind,
            "each of us says the other came first\n",
            subject="Re: [PATCH] broken: reference loop",
            extra=[f"In-Reply-To: <{parent}>", f"References: <{parent}>"],
        )
        mails.append(_good(ctx, kind, "stored", raw))
    return mails


def _self_reference(ctx: _Ctx) -> BrokenMail:
    kind = "self-reference"
    me = ctx.mid(kind)
    raw = _mail(
        ctx,
        kind,
        "I reply to myself\n",
        subject="Re: [PATCH] broken: self reference",
        extra=[f"In-Reply-To: <{me}>", f"References: <{me}>"],
    )
    return _good(ctx, kind, "repaired", raw, "the self-reference is dropped and noted")


def _references_500(ctx: _Ctx) -> BrokenMail:
    kind = "references-500"
    ids = " ".join(f"<ghost-{i}.{ctx.seed}@{_DOMAIN}>" for i in range(500))
    raw = _mail(
        ctx,
        kind,
        "a reply deep in a thread whose ancestors were never archived\n",
        subject="Re: [PATCH] broken: 500 references",
        extra=[f"In-Reply-To: <ghost-499.{ctx.seed}@{_DOMAIN}>", f"References: {ids}"],
    )
    return _good(ctx, kind, "stored", raw)


def _dates(ctx: _Ctx) -> list[BrokenMail]:
    cases: list[tuple[str, str, Expect, str]] = [
        ("date-year-0", "Mon, 4 Mar 0000 10:00:00 +0000", "repaired", "year 0 is no date"),
        ("date-year-1900", "Mon, 5 Mar 1900 10:00:00 +0000", "repaired", "before 1970"),
        ("date-year-9999", "Fri, 31 Dec 9999 23:59:59 +0000", "repaired", "after 2100"),
        (
            "date-feb-30",
            "Thu, 30 Feb 2024 10:00:00 +0000",
            "stored",
            "the clock is trusted: 30 Feb reads as 1 Mar (dates.py's documented leniency)",
        ),
        ("date-garbage", "the day after yesterday, at teatime", "repaired", "unparsable"),
        (
            "date-offset-9900",
            "Tue, 5 Mar 2024 10:00:00 +9900",
            "stored",
            "an impossible zone is read as +0000 (dates.py's documented policy)",
        ),
    ]
    return [
        _good(ctx, kind, expect, _mail(ctx, kind, f"Date: {value}\n", date=value), note)
        for kind, value, expect, note in cases
    ]


def _header_injection(ctx: _Ctx) -> list[BrokenMail]:
    payload = "innocent\r\nBcc: victim@example.com\r\n\r\nforged body"
    crlf = "header-injection-crlf"
    qp = "header-injection-encoded-qp"
    b64 = "header-injection-encoded-b64"
    return [
        _good(
            ctx,
            crlf,
            "stored",
            _mail(ctx, crlf, "body\n", subject=b"[PATCH] innocent\rBcc: victim@example.com"),
            "a bare CR inside the Subject must not split it",
        ),
        _good(
            ctx,
            qp,
            "stored",
            _mail(ctx, qp, "body\n", subject="=?utf-8?q?innocent=0D=0ABcc:_victim@example.com?="),
        ),
        _good(ctx, b64, "stored", _mail(ctx, b64, "body\n", subject=_b64_word(payload))),
    ]


def _invalid_base64(ctx: _Ctx) -> BrokenMail:
    kind = "invalid-base64"
    body = "SGVsbG8gd29ybGQ!!!@@@~~~\nnot*base64*at*all\nQUJD=\n=\n"
    raw = _mail(ctx, kind, body, extra=["Content-Transfer-Encoding: base64"])
    return _good(ctx, kind, "stored", raw)


def _invalid_qp(ctx: _Ctx) -> BrokenMail:
    kind = "invalid-quoted-printable"
    body = "bad escapes =ZZ =4 =\xff and a lone =\nsoft break at the end =".encode("latin-1")
    raw = _mail(ctx, kind, body, extra=["Content-Transfer-Encoding: quoted-printable"])
    return _good(ctx, kind, "stored", raw)


def _base64_plain(ctx: _Ctx) -> BrokenMail:
    kind = "base64-declared-plain-text"
    body = "This body says base64 but is plain text, as written by a broken client.\n"
    raw = _mail(ctx, kind, body, extra=["Content-Transfer-Encoding: base64"])
    return _good(ctx, kind, "stored", raw)


def _long_header_line(ctx: _Ctx) -> BrokenMail:
    kind = "header-line-100kb"
    cc = ", ".join(f"Person {i} <person{i}@example.com>" for i in range(3500))
    raw = _mail(ctx, kind, "a Cc: line of 100 KB\n", extra=[f"Cc: {cc}"])
    return _good(ctx, kind, "stored", raw)


def _long_from_line(ctx: _Ctx) -> BrokenMail:
    kind = "from-line-100kb"
    name = "Very " * 20_000
    raw = _mail(ctx, kind, "a From: line of 100 KB\n", from_=f'"{name}" <long@example.org>')
    return _good(ctx, kind, "stored", raw)


def _headers_only(ctx: _Ctx) -> BrokenMail:
    kind = "headers-only"
    raw = _mail(ctx, kind).rstrip(b"\n")  # no empty line, no body, no final newline
    return _good(ctx, kind, "stored", raw)


def _empty_file(ctx: _Ctx) -> BrokenMail:
    return BrokenMail("empty-file", b"", "unparsable", None, "zero bytes")


def _binary_garbage(ctx: _Ctx) -> BrokenMail:
    data = ctx.rng.randbytes(4096)
    return BrokenMail("binary-garbage", data, "unparsable", None, "random bytes, no header")


def _no_headers_text(ctx: _Ctx) -> BrokenMail:
    text = b"Just some text pasted into the archive\nwithout any header\n\nat all.\n"
    return BrokenMail("no-headers-text", text, "unparsable", None, "no header field")


def _crlf(ctx: _Ctx) -> BrokenMail:
    kind = "crlf-line-endings"
    return _good(ctx, kind, "stored", _mail(ctx, kind, _PROSE, eol=b"\r\n"))


def _bare_cr(ctx: _Ctx) -> BrokenMail:
    kind = "bare-cr-line-endings"
    return _good(
        ctx,
        kind,
        "repaired",
        _mail(ctx, kind, _PROSE, eol=b"\r"),
        "old Mac line endings: the headers must still be read, and the repair noted",
    )


def _latin1_headers(ctx: _Ctx) -> BrokenMail:
    kind = "latin1-8bit-headers"
    raw = _mail(
        ctx,
        kind,
        "raw latin-1 bytes in From and Subject\n",
        subject="[PATCH] réparer le pilote façade".encode("latin-1"),
        from_="José García <jose@example.org>".encode("latin-1"),
    )
    return _good(ctx, kind, "stored", raw)


def _rfc2047_unknown_charset(ctx: _Ctx) -> BrokenMail:
    kind = "rfc2047-unknown-charset"
    raw = _mail(
        ctx,
        kind,
        "encoded words in a charset nobody knows\n",
        subject="[PATCH] =?x-klingon?q?Qapla=27_=E9=FF?= works",
        from_="=?x-klingon?b?S2FobGVzcw==?= <kahless@example.org>",
    )
    return _good(ctx, kind, "stored", raw)


def _rtl_from_name(ctx: _Ctx) -> BrokenMail:
    kind = "rtl-zero-width-from-name"
    name = "\u202eredoc\u202c Ev\u200bil\u200d\ufeff Twin"
    raw = _mail(
        ctx,
        kind,
        "display tricks in the sender's name\n",
        from_=f"{name} <twin@example.org>".encode(),
        extra=[f"Reply-To: {_b64_word(name)} <twin@example.org>"],
    )
    return _good(ctx, kind, "stored", raw)


def _subject_10000(ctx: _Ctx) -> BrokenMail:
    kind = "subject-10000-chars"
    words = " ".join(f"word{i}" for i in range(2000))[:10_000]
    return _good(ctx, kind, "stored", _mail(ctx, kind, "long subject\n", subject=words))


def _from_line_in_body(ctx: _Ctx) -> BrokenMail:
    kind = "mbox-from-line-in-body"
    body = "From the start this looked wrong.\n>From quoted already.\n\nFrom here on.\n"
    return _good(ctx, kind, "stored", _mail(ctx, kind, body))


_SINGLE: Final[tuple[Callable[[_Ctx], BrokenMail], ...]] = (
    _mime_missing_closing_boundary,
    _mime_boundary_never_used,
    _mime_nested_boundary_equal,
    _mime_deep_nesting,
    _multipart_without_boundary,
    _content_type_no_subtype,
    _charset_undeclared_8bit,
    _charset_unknown,
    _charset_wrong_declared,
    _charset_ascii_is_utf8,
    _nul_in_headers,
    _nul_in_body,
    _missing_date,
    _missing_from,
    _missing_message_id,
    _empty_message_id,
    _self_reference,
    _references_500,
    _invalid_base64,
    _invalid_qp,
    _base64_plain,
    _long_header_line,
    _long_from_line,
    _headers_only,
    _empty_file,
    _binary_garbage,
    _no_headers_text,
    _crlf,
    _bare_cr,
    _latin1_headers,
    _rfc2047_unknown_charset,
    _rtl_from_name,
    _subject_10000,
    _from_line_in_body,
)


def huge_mail(size: int = HUGE_DEFAULT_SIZE, seed: int = 1) -> BrokenMail:
    """A mail of about `size` bytes: a patch adding one enormous generated file.

    Built only on request (20 MB by default): big enough to show a stage that copies
    the body many times or holds it as a list of objects, small enough for a test.
    """
    ctx = _Ctx(seed)
    kind = "huge-body"
    line = b"+\t0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,\n"
    count = max(1, size // len(line))
    head = (
        "Add the firmware blob as a C array.\n\n"
        "Signed-off-by: Broken Tester <tester@example.org>\n---\n"
        " firmware/blob.h | 1 +\n 1 file changed, 1 insertion(+)\n\n"
        "diff --git a/firmware/blob.h b/firmware/blob.h\nnew file mode 100644\n"
        f"--- /dev/null\n+++ b/firmware/blob.h\n@@ -0,0 +1,{count} @@\n"
    ).encode()
    body = head + line * count + b"-- \n2.43.0\n"
    return _good(ctx, kind, "stored", _mail(ctx, kind, body))


def broken_mails(
    seed: int = 1, *, huge: bool = False, huge_size: int = HUGE_DEFAULT_SIZE
) -> list[BrokenMail]:
    """The whole corpus, one mail per kind, in a fixed order; same seed, same bytes.

    huge=True appends huge_mail(huge_size): it is left out by default so that quick
    tests need not build (or ingest) tens of megabytes.
    """
    ctx = _Ctx(seed)
    baseline = _baseline(ctx)
    mails = [baseline]
    mails.extend(build(ctx) for build in _SINGLE)
    mails.extend(_reference_loop(ctx))
    mails.extend(_dates(ctx))
    mails.extend(_header_injection(ctx))
    # Copies last: each must follow the mail it copies, in mbox and maildir order alike.
    mails.append(_duplicate_identical(ctx, baseline))
    mails.append(_duplicate_different(ctx, baseline))
    if huge:
        mails.append(huge_mail(huge_size, seed))
    return mails


_FROM_LINE: Final = re.compile(rb"^(>*From )", re.MULTILINE)


def _mboxrd_quote(raw: bytes) -> bytes:
    """mboxrd: one more ">" before every line matching ^>*From (reversible exactly)."""
    return _FROM_LINE.sub(rb">\1", raw) if b"From " in raw else raw


def write_broken_mbox(path: Path, mails: Iterable[BrokenMail]) -> None:
    """Write the mails as an mboxrd file (lore's format), in order.

    A mail that does not end in a newline gains one (an mbox line must end), so a
    reader gets back exactly the bytes written except for that newline.
    """
    with Path(path).open("wb") as out:
        for mail in mails:
            out.write(_ENVELOPE)
            raw = _mboxrd_quote(mail.raw)
            out.write(raw)
            if raw and not raw.endswith(b"\n"):
                out.write(b"\n")
            out.write(b"\n")


def write_broken_maildir(path: Path, mails: Iterable[BrokenMail]) -> list[str]:
    """Write the mails into a new maildir, byte for byte; returns their keys in order.

    The files are named "<index>.<kind>" in new/, so the maildir's keys sort in the
    corpus order (duplicates after their original) and name the kind they hold.
    """
    root = Path(path)
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    keys = []
    for index, mail in enumerate(mails):
        key = f"{index:04d}.{mail.kind}"
        (root / "new" / key).write_bytes(mail.raw)
        keys.append(key)
    return keys
