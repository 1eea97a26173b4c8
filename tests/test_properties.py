"""Property tests: the mail parsers against thousands of generated inputs.

Hand-written cases cover the shapes we thought of; the archive covers the shapes kernel
people send. Neither covers what nobody has sent yet, so hypothesis generates it: the
parsers must keep their contracts (parse_headers returns headers or says
UnparsableMessage, message_text / parse_subject / parse_trailers never raise) on any
input, and round-trip what a well-behaved mailer writes.

Each test runs 2,000 examples; the database is off so CI stays deterministic per
hypothesis version and no .hypothesis/ directory appears in the tree.
"""

from __future__ import annotations

import base64
import calendar
import re
import string
from collections.abc import Callable
from datetime import datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lore_digest.mail.headers import (
    MessageHeaders,
    UnparsableMessage,
    parse_headers,
)
from lore_digest.mail.mime import MessageText, message_text
from lore_digest.mail.subject import parse_subject
from lore_digest.mail.trailers import parse_trailers

PROPERTY = settings(
    max_examples=2000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _parse_headers_contract(raw: bytes) -> MessageHeaders | None:
    """parse_headers' whole contract: headers with an id, or UnparsableMessage, nothing else."""
    try:
        headers = parse_headers(raw)
    except UnparsableMessage:
        return None
    assert isinstance(headers, MessageHeaders)
    assert headers.message_id and headers.message_id.strip() == headers.message_id
    assert headers.in_reply_to != headers.message_id
    assert headers.message_id not in headers.references
    return headers


# -- (1) header and MIME parsing ------------------------------------------------------------

_HEADER_NAMES = (
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "List-Id",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "X-Junk",
)
# Simple alphabets instead of from_regex: generation, not parsing, dominates the run time.
_LOCAL = st.text(string.ascii_letters + string.digits + "._%+$-", min_size=1, max_size=20)
_HOST = st.text(string.ascii_lowercase + string.digits + ".-", min_size=1, max_size=15)
_ID = st.builds("{}@{}".format, _LOCAL, _HOST)
_WORDS = st.text(max_size=40)


@st.composite
def _encoded_word(draw: st.DrawFn) -> str:
    """An RFC 2047 word, well formed or not, in a known or made-up charset."""
    charset = draw(st.sampled_from(["utf-8", "iso-8859-1", "x-klingon", "gb2312", "utf-7", ""]))
    payload = draw(st.binary(max_size=30))
    if draw(st.booleans()):
        text = base64.b64encode(payload).decode()
        if draw(st.booleans()):
            text = text.rstrip("=")[: draw(st.integers(0, len(text)))]
        return f"=?{charset}?b?{text}?="
    return f"=?{charset}?q?{''.join(f'={b:02X}' for b in payload)}?="


def _message_id_value() -> st.SearchStrategy[str]:
    """Message-ID values, good and bad (several ids, junk around, no brackets, "<>")."""
    return st.one_of(
        _ID.map(lambda i: f"<{i}>"),
        _ID,
        st.tuples(_ID, _ID).map(lambda p: f" junk <{p[0]}> <{p[1]}> "),
        st.sampled_from(["<>", "< >", ""]),
        _WORDS,
    )


def _date_value() -> st.SearchStrategy[str]:
    return st.one_of(
        st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S +0000")),
        st.builds(
            "{}, {} {} {} {}:{:02d}:{:02d} {}{:04d}".format,
            st.sampled_from(["Mon", "Xyz"]),
            st.integers(0, 999),
            st.sampled_from(["Jan", "Feb", "Foo"]),
            st.integers(0, 999_999),
            st.integers(0, 999),
            st.integers(0, 99),
            st.integers(0, 99),
            st.sampled_from("+-"),
            st.integers(0, 9999),
        ),
        _WORDS,
    )


def _value(name: str) -> st.SearchStrategy[str]:
    """A plausible-or-hostile value for a header name."""
    if name == "Message-ID":
        return _message_id_value()
    if name == "Date":
        return _date_value()
    if name in ("In-Reply-To", "References"):
        return st.lists(_ID.map(lambda i: f"<{i}>"), max_size=5).map(" ".join) | _WORDS
    if name == "From":
        return st.one_of(
            st.tuples(_WORDS, _ID).map(lambda p: f"{p[0]} <{p[1]}>"),
            st.tuples(_encoded_word(), _ID).map(lambda p: f"{p[0]} <{p[1]}>"),
            _WORDS,
        )
    if name == "Content-Type":
        return st.sampled_from(
            [
                "text/plain",
                "text/plain; charset=x-klingon",
                "text",
                "multipart/mixed",
                'multipart/mixed; boundary="b"',
                "multipart/alternative; boundary=b",
                "message/rfc822",
                "text/html; charset=utf-8",
            ]
        )
    if name == "Content-Transfer-Encoding":
        return st.sampled_from(["base64", "quoted-printable", "8bit", "b64", "x-uuencode", ""])
    return st.one_of(_WORDS, _encoded_word())


@st.composite
def structured_mail(draw: st.DrawFn) -> bytes:
    """A mail built field by field: random headers (repeats, folds), a line ending, a body."""
    names = draw(st.lists(st.sampled_from(_HEADER_NAMES), max_size=8))
    eol = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    lines = []
    for name in names:
        value = draw(_value(name)).encode("utf-8", "surrogateescape")
        if draw(st.booleans()) and b" " in value:
            value = value.replace(b" ", eol + b"\t", 1)  # a folded header
        lines.append(name.encode() + b": " + value)
    body_parts = draw(
        st.lists(
            st.one_of(
                st.binary(max_size=80),
                st.sampled_from([b"--b", b"--b--", b"Content-Type: text/plain", b"", b"=ZZ"]),
            ),
            max_size=5,
        )
    )
    return eol.join(lines) + eol + eol + eol.join(body_parts)


@PROPERTY
@given(st.binary(max_size=3000))
@example(b"")
@example(b"\x00\x01\x02 no header")
@example(b"Subject: x\n\nbody")
@example(b"Content-Type: multipart/mixed\n\n--x\n")
@example(b"Content-Transfer-Encoding: base64\n\n====\n")
def test_parsers_on_arbitrary_bytes(raw: bytes) -> None:
    """Both parsers of raw mail, on the same bytes (one generation serves two properties)."""
    _parse_headers_contract(raw)
    assert isinstance(message_text(raw), MessageText)


@PROPERTY
@given(structured_mail())
def test_parsers_on_structured_mail(raw: bytes) -> None:
    _parse_headers_contract(raw)
    assert isinstance(message_text(raw), MessageText)


@PROPERTY
@given(
    _ID,
    st.text(alphabet=string.ascii_letters + string.digits + " .,:;!?()-_/", max_size=120),
    st.builds(
        "{}@{}.{}".format,
        st.text(string.ascii_lowercase + string.digits + "._+-", min_size=1, max_size=12),
        st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=10),
        st.text(string.ascii_lowercase, min_size=2, max_size=6),
    ),
    st.datetimes(min_value=datetime(1000, 1, 1)),
)
def test_parse_headers_reads_back_a_wellformed_mail(
    message_id: str, subject: str, address: str, when: datetime
) -> None:
    """What a well-behaved mailer writes comes back field for field.

    Years from 1000 (a year written below 100 is refused; see test_broken_input).
    """
    date = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
    raw = (
        f"From: Some One <{address.upper()}>\nSubject: {subject}\nDate: {date}\n"
        f"Message-ID: <{message_id}>\n\nbody\n"
    ).encode()
    headers = parse_headers(raw)
    assert headers.message_id == message_id
    assert headers.from_email == address
    assert headers.subject == " ".join(subject.split())
    if 1970 <= when.year < 2100:
        assert headers.date_utc == calendar.timegm(when.utctimetuple())
        assert headers.date_offset_min == 0
    else:
        assert headers.date_utc is None and "unparsable Date" in headers.repairs


@pytest.mark.parametrize("value", ["<>", "< >", "<<>>", ">", " <> "])
def test_message_id_without_id_is_synthesised(value: str) -> None:
    headers = parse_headers(f"Message-ID: {value}\nFrom: a@b.c\n\nx".encode())
    assert headers.message_id.endswith("@lore-digest.invalid")
    assert "missing Message-ID" in headers.repairs


@st.composite
def mime_part(draw: st.DrawFn, depth: int = 0) -> bytes:
    """A MIME entity, leaf or multipart, with any of the mistakes mailers make."""
    if depth < 3 and draw(st.booleans()):
        boundary = draw(st.sampled_from(["b", "b", "same", "x y", "", "--"])) + str(depth)
        subtype = draw(st.sampled_from(["mixed", "alternative", "signed", "related", "digest"]))
        children = draw(st.lists(mime_part(depth + 1), max_size=3))
        parts = [b"--" + boundary.encode() + b"\n" + child for child in children]
        if draw(st.booleans()):
            parts.append(b"--" + boundary.encode() + b"--\n")  # else: never closed
        declared = draw(st.sampled_from([boundary, boundary, "other", None]))
        param = "" if declared is None else f'; boundary="{declared}"'
        multipart = f"Content-Type: multipart/{subtype}{param}\n\n".encode()
        return multipart + b"".join(parts)
    ctype = draw(
        st.sampled_from(["text/plain", "text/html", "text/x-patch", "text", "application/x"])
    )
    charset = draw(st.sampled_from(["", "; charset=utf-8", "; charset=x-klingon", "; charset="]))
    cte = draw(st.sampled_from(["", "base64", "quoted-printable", "8bit", "bas64"]))
    body = draw(st.binary(max_size=80))
    if cte == "base64" and draw(st.booleans()):
        body = base64.encodebytes(body)
    head = f"Content-Type: {ctype}{charset}\n"
    if cte:
        head += f"Content-Transfer-Encoding: {cte}\n"
    if draw(st.booleans()):
        head += 'Content-Disposition: attachment; filename="x.patch"\n'
    return head.encode() + b"\n" + body + b"\n"


@PROPERTY
@given(mime_part(), st.sampled_from([b"\n", b"\r\n"]))
def test_message_text_on_structured_mime(entity: bytes, eol: bytes) -> None:
    raw = b"From: a@b.c\nSubject: x\nMIME-Version: 1.0\n" + entity
    shown = message_text(raw.replace(b"\n", eol))
    assert isinstance(shown, MessageText) and isinstance(shown.text, str)


# -- (2) subjects ---------------------------------------------------------------------------


@PROPERTY
@given(st.text())
@example("[" * 5000)
@example("[PATCH v" + "9" * 5000 + " 1/2] title")
def test_parse_subject_never_raises(subject: str) -> None:
    parsed = parse_subject(subject)
    assert parsed.version >= 0 and isinstance(parsed.title, str)


def _clean(text: str) -> str:
    """How parse_subject reads a title: controls are spaces, runs of spaces are one."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f-\x9f]", " ", text).split())


# A title's first character may not start a reply marker (Re:, AW:, SV:, Fwd:, 回复:...),
# "git pull" or a bracket group: those would rightly be read as prefixes, not title.
_TITLE_START = "BCDEHIJKLMNPQTUXYZbcdehijklmnpqtuxyz0123456789"
_TITLE = st.tuples(st.sampled_from(_TITLE_START), st.text(max_size=60)).map("".join)
_REPLY = st.sampled_from(["Re: ", "RE: ", "re: Re: ", "Fwd: ", "AW: ", "Re[2]: ", "回复: "])


@PROPERTY
@given(st.text(alphabet=st.characters(exclude_characters="[]"), max_size=30), _TITLE)
def test_title_follows_the_patch_prefix(junk: str, title: str) -> None:
    parsed = parse_subject(f"[PATCH {junk}] {title}")
    assert parsed.is_patch
    assert parsed.title == _clean(title)
    assert not parsed.title.startswith("[")


@st.composite
def patch_subject(draw: st.DrawFn) -> tuple[str, int, int, int, str, bool, bool]:
    """(subject, version, counter, total, title, is_reply, is_rfc) as git format-patch
    and b4 write them, behind optional list tags and reply markers."""
    version = draw(st.integers(1, 999))
    total = draw(st.integers(1, 9999))
    counter = draw(st.integers(0, total))
    title = _clean(draw(_TITLE))
    rfc = draw(st.booleans())
    width = len(str(total)) if draw(st.booleans()) else 1  # "02/17" as format-patch pads
    words = ["RFC"] if rfc else []
    words.append(draw(st.sampled_from(["PATCH", "patch", "PATCHv" + str(version)])))
    if not words[-1].startswith("PATCHv") and (version > 1 or draw(st.booleans())):
        words.append(f"v{version}")
    words.append(f"{counter:0{width}d}/{total}")
    reply = draw(st.one_of(st.just(""), _REPLY))
    tag = draw(st.sampled_from(["", "[kvmarm] ", "[Linuxarm] "]))
    # "Re: [list] [PATCH ...]" and "[list] Re: [PATCH ...]" both exist.
    prefix = reply + tag if draw(st.booleans()) else tag + reply
    subject = f"{prefix}[{' '.join(words)}] {title}"
    return subject, version, counter, total, title, bool(reply), rfc


@PROPERTY
@given(patch_subject())
def test_patch_subject_round_trip(case: tuple[str, int, int, int, str, bool, bool]) -> None:
    subject, version, counter, total, title, is_reply, is_rfc = case
    parsed = parse_subject(subject)
    assert (parsed.version, parsed.counter, parsed.total) == (version, counter, total)
    assert parsed.title == title
    assert parsed.is_patch and parsed.is_rfc == is_rfc
    assert parsed.is_reply == is_reply
    assert parsed.is_cover == (counter == 0)


# -- (3) trailers ---------------------------------------------------------------------------

_PERSON_KINDS = ("Reviewed-by", "Acked-by", "Tested-by", "Reported-by", "Suggested-by", "Nacked-by")
# Letters of several scripts (a fixed alphabet: category filtering is slow to generate).
_NAME_CHARS = string.ascii_letters + "ÀÉÖØßàéñøüĆłŠžŁΩαβЖжЯ李王张田中أحمدדוד"
_NAME = st.lists(st.text(alphabet=_NAME_CHARS, min_size=1, max_size=8), min_size=1, max_size=3)
_EMAIL = st.builds(
    "{}{}@{}.{}".format,
    st.sampled_from(string.ascii_letters + string.digits),
    st.text(string.ascii_letters + string.digits + "_+-", max_size=10),
    st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=9),
    st.text(string.ascii_lowercase, min_size=2, max_size=6),
)
_PROSE = st.text(alphabet=string.ascii_letters + " .", min_size=1, max_size=80).filter(str.strip)


@st.composite
def trailer_block(draw: st.DrawFn) -> list[tuple[str, str, str]]:
    """(kind, name, e-mail) of person trailers, one (kind, address) pair at most once."""
    people = draw(
        st.lists(
            st.tuples(st.sampled_from(_PERSON_KINDS), _NAME.map(" ".join), _EMAIL),
            min_size=1,
            max_size=4,
            unique_by=lambda t: (t[0], t[2].lower()),
        )
    )
    return people


def _write(block: list[tuple[str, str, str]], case: str, quote: str = "") -> str:
    spell: dict[str, Callable[[str], str]] = {"lower": str.lower, "upper": str.upper}
    key = spell.get(case, str.strip)  # "as is"
    return "".join(f"{quote}{key(kind)}: {name} <{email}>\n" for kind, name, email in block)


@PROPERTY
@given(st.text())
@example("Reviewed-by: " + "<" * 3000)
@example("-- \n" * 50 + "Acked-by: a <a@b.c>")
def test_parse_trailers_never_raises(text: str) -> None:
    assert isinstance(parse_trailers(text), list)


@PROPERTY
@given(_PROSE, trailer_block(), st.sampled_from(["lower", "upper", "as is"]))
def test_generated_trailers_come_back(
    prose: str, block: list[tuple[str, str, str]], case: str
) -> None:
    found = parse_trailers(f"{prose}\n\n{_write(block, case)}")
    assert [(t.kind, t.name, t.email) for t in found] == [
        (kind, name, email.lower()) for kind, name, email in block
    ]


@PROPERTY
@given(
    _PROSE,
    trailer_block(),
    st.sampled_from(["> ", ">", ">> ", " > ", "> > "]),
    st.sampled_from(["lower", "upper", "as is"]),
)
def test_quoted_trailers_never_come_back(
    prose: str, block: list[tuple[str, str, str]], quote: str, case: str
) -> None:
    text = f"On Mon, X wrote:\n{quote}{prose}\n{quote}\n{_write(block, case, quote)}\nThanks.\n"
    assert parse_trailers(text) == []


@PROPERTY
@given(
    _PROSE,
    st.one_of(st.just([]), trailer_block()),
    trailer_block(),
    st.lists(_PROSE, max_size=2),
    st.sampled_from(["-- ", "--"]),
)
def test_nothing_after_the_signature_comes_back(
    prose: str,
    before: list[tuple[str, str, str]],
    after: list[tuple[str, str, str]],
    noise: list[str],
    delimiter: str,
) -> None:
    signature = "\n".join([delimiter, *noise]) + "\n" + _write(after, "as is")
    found = parse_trailers(f"{prose}\n\n{_write(before, 'as is')}{signature}")
    assert [(t.kind, t.email) for t in found] == [(k, e.lower()) for k, _, e in before]
