"""mail.charset and mail.mime: raw bytes -> the text a reader sees, on the real archive.

The corpus tests decode all 18,728 kvmarm messages and pin specific ones by commit id:
base64 bodies, iso-2022-jp, windows-1252, iso-8859-1, multipart/signed, HTML-only, an
RFC 2047 encoded "Berrangé" sender. Run with -s to see the figures.
"""

from __future__ import annotations

import collections
import email.utils
import random
import subprocess
import time
from email.parser import BytesParser
from email.policy import compat32
from pathlib import Path

import pytest

from lore_digest.mail import mime
from lore_digest.mail.charset import (
    decode_bytes,
    decode_bytes_checked,
    decode_rfc2047,
    normalize_charset,
)
from lore_digest.mail.mime import MessageText, message_text

FOOTER = "kvmarm mailing list\nkvmarm@lists.cs.columbia.edu\n"


def read_mail(corpus_git: Path, commit: str) -> bytes:
    """The raw mail of one message of the corpus, by the commit that added it."""
    return subprocess.run(
        ["git", "-C", str(corpus_git), "cat-file", "-p", f"{commit}:m"],
        check=True,
        capture_output=True,
    ).stdout


def header(raw: bytes, name: str) -> str:
    """A raw header value as the parser keeps it (encoded-words not decoded)."""
    value = BytesParser(policy=compat32).parsebytes(raw, headersonly=True)[name]
    return str(value)


# --- charset.decode_bytes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        ("Berrangé".encode(), "utf-8", "Berrangé"),
        ("Berrangé".encode(), '"UTF-8"', "Berrangé"),
        ("Berrangé".encode("latin-1"), "iso-8859-1", "Berrangé"),
        ("it’s €5".encode("cp1252"), "iso-8859-1", "it’s €5"),  # latin-1 label, cp1252 bytes
        ("it’s €5".encode("cp1252"), "windows-1252", "it’s €5"),
        ("Berrangé".encode(), "iso-8859-1", "Berrangé"),  # mislabelled UTF-8
        ("Berrangé".encode(), "us-ascii", "Berrangé"),  # 8-bit in an ascii body
        ("Berrangé".encode(), None, "Berrangé"),
        ("Berrangé".encode("latin-1"), None, "Berrangé"),
        ("Berrangé".encode(), "unknown-8bit", "Berrangé"),
        ("Berrangé".encode("latin-1"), "x-unknown", "Berrangé"),
        ("Berrangé".encode(), "", "Berrangé"),
        ("Berrangé".encode(), "no-such-charset", "Berrangé"),
        ("岡本 高幸".encode("iso-2022-jp"), "iso-2022-jp", "岡本 高幸"),
        ("岡本 高幸".encode("iso-2022-jp"), "ISO-2022-JP", "岡本 高幸"),
        ("中文 €".encode("gb18030"), "gb2312", "中文 €"),  # gb2312 label, gb18030 bytes
        ("中文".encode("gbk"), "gbk", "中文"),
        (b"\\n \\x41", "unicode-escape", "\\n \\x41"),  # not a charset: bytes stay text
        (b"caf\xe9 \\n", "unicode-escape", "café \\n"),
        (b"aGVsbG8=", "base64", "aGVsbG8="),  # a bytes transform, not a charset
        (b"\x81\x8d\x8f\x90\x9d", None, "\x81\x8d\x8f\x90\x9d"),  # undefined in cp1252
        ("éé".encode() + b"\xff", "utf-8", "éé\ufffd"),  # UTF-8 with one broken byte
    ],
)
def test_decode_bytes(data: bytes, charset: str | None, expected: str) -> None:
    assert decode_bytes(data, charset) == expected


def test_decode_bytes_never_raises_on_random_bytes() -> None:
    rng = random.Random(2022)
    labels = [None, "", "utf-8", "us-ascii", "iso-2022-jp", "gb2312", "utf-16", "utf-7", "hz"]
    for _ in range(2000):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        assert isinstance(decode_bytes(data, rng.choice(labels)), str)


def test_decode_bytes_reports_repairs() -> None:
    assert decode_bytes_checked(b"plain", None) == ("plain", None)
    assert decode_bytes_checked("é".encode("latin-1"), "iso-8859-1") == ("é", None)
    assert decode_bytes_checked("é".encode(), "iso-8859-1")[1] == "charset 'iso-8859-1' was utf-8"
    assert decode_bytes_checked(b"\xe9", None)[1] == "undeclared 8-bit charset"
    assert decode_bytes_checked(b"\xe9", "x-foo")[1] == "unknown charset 'x-foo'"
    assert decode_bytes_checked(b"\xe9", "us-ascii")[1] == "8-bit bytes in us-ascii"


def test_normalize_charset() -> None:
    assert normalize_charset(" 'ISO-8859-1' ") == "cp1252"
    assert normalize_charset("latin1") == "cp1252"
    assert normalize_charset("x-gbk") == "gb18030"
    assert normalize_charset("iso-2022-jp") == "iso2022_jp_ext"
    assert normalize_charset("utf8") == "utf-8"
    for unknown in (None, "", "unknown-8bit", "x-unknown", "rot13", "idna", "nonsense"):
        assert normalize_charset(unknown) is None


# --- charset.decode_rfc2047 --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "=?utf-8?q?Daniel_P=2E_Berrang=C3=A9?= <berrange@redhat.com>",
            "Daniel P. Berrangé <berrange@redhat.com>",
        ),
        (
            "Daniel =?utf-8?B?UC4gQmVycmFuZ8Op?= <berrange@redhat.com>",
            "Daniel P. Berrangé <berrange@redhat.com>",
        ),
        ("=?ISO-8859-1?Q?Andr=E9_Przywara?=", "André Przywara"),
        # Adjacent words: the whitespace and folding between them is dropped.
        ("=?utf-8?q?Re=3A_=5BPATCH=5D?=\n =?utf-8?q?_KVM?=", "Re: [PATCH] KVM"),
        ("=?utf-8?B?w6k=?= \t =?utf-8?B?w6k=?=", "éé"),
        # A multi-byte character split across two words ("中" is e4 b8 ad).
        ("=?utf-8?B?5Lg=?= =?utf-8?B?rQ==?=", "中"),
        ("=?iso-2022-jp?B?GyRCMixLXBsoQiAbJEI5YjksGyhC?=", "岡本 高幸"),
        # Text around words keeps its spaces; words separated by text are not joined.
        ("a =?utf-8?q?b?= c =?utf-8?q?d?=", "a b c d"),
        # Unknown charset: the bytes go through the fallback chain.
        ("=?x-unknown?q?Berrang=C3=A9?=", "Berrangé"),
        ("=?x-unknown?q?Berrang=E9?=", "Berrangé"),
        # Malformed words stay as written.
        ("=?utf-8?B?####?= x", "=?utf-8?B?####?= x"),
        ("=?utf-8?B?w?=", "=?utf-8?B?w?="),
        ("=?utf-8?x?abc?=", "=?utf-8?x?abc?="),
        ("=?utf-8?q?unterminated", "=?utf-8?q?unterminated"),
        ("no words at all", "no words at all"),
        ("", ""),
        # Raw 8-bit header bytes, as BytesParser hands them over (surrogate escapes).
        ("Berrangé".encode().decode("ascii", "surrogateescape"), "Berrangé"),
        ("Berrangé".encode("latin-1").decode("ascii", "surrogateescape"), "Berrangé"),
    ],
)
def test_decode_rfc2047(value: str, expected: str) -> None:
    assert decode_rfc2047(value) == expected


def test_decode_rfc2047_name_parses_as_address() -> None:
    decoded = decode_rfc2047("=?utf-8?q?Daniel_P=2E_Berrang=C3=A9?= <berrange@redhat.com>")
    assert email.utils.parseaddr(decoded) == ("Daniel P. Berrangé", "berrange@redhat.com")


def test_decode_rfc2047_never_raises_on_random_words() -> None:
    rng = random.Random(2047)
    alphabet = "=?QqBb_utf-8iso2022jpABCxyz0123456789+/ \t\n"
    for _ in range(3000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(40)))
        assert isinstance(decode_rfc2047(f"=?{value}?="), str)


def test_real_berrange_sender(corpus_git: Path) -> None:
    """The corpus' From: "Daniel =?utf-8?B?UC4gQmVycmFuZ8Op?= <berrange@redhat.com>"."""
    raw = read_mail(corpus_git, "ab08e0fc2518478f18b8801de33434d8e4a320d5")
    from_header = header(raw, "From")
    assert "=?utf-8?B?" in from_header
    name, addr = email.utils.parseaddr(decode_rfc2047(from_header))
    assert (name, addr) == ("Daniel P. Berrangé", "berrange@redhat.com")


# --- mime.message_text on real messages ---------------------------------------------


def test_base64_utf8_body(corpus_git: Path) -> None:
    raw = read_mail(corpus_git, "ab08e0fc2518478f18b8801de33434d8e4a320d5")
    assert b"Content-Transfer-Encoding: base64" in raw
    result = message_text(raw)
    assert result.text.startswith("On Tue, Dec 14, 2021 at 06:59:12PM +0800, Qu Wenruo wrote:\n")
    assert "> On 2021/12/14 18:36, Daniel P. Berrangé wrote:\n" in result.text
    assert result.defects == ()
    assert result.attachments == ()


def test_base64_gbk_body(corpus_git: Path) -> None:
    raw = read_mail(corpus_git, "b1ad6952911e8c4838408814defbf7fe7a56b705")
    assert b'charset="gbk"' in raw.lower() or b"charset=gbk" in raw.lower()
    result = message_text(raw)
    assert "在 2021/5/8 上午1:36, Marc Zyngier 写道:\n" in result.text
    assert result.defects == ()


def test_iso_2022_jp_body(corpus_git: Path) -> None:
    raw = read_mail(corpus_git, "0a98a83dd124334f6e18283aaef6e0696a2c7491")
    assert b'charset="iso-2022-jp"' in raw
    text = message_text(raw).text
    # ESC $B !! ESC ( B on the wire: an ideographic space before the comment.
    assert "if (vq_present(vqs, vq) != sve_vq_available(vq))\u3000// It failed at here." in text
    assert "\x1b" not in text


def test_iso_2022_jp_names(corpus_git: Path) -> None:
    raw = read_mail(corpus_git, "8f0c582c8126e7116754fee02c432b86f1328c64")
    text = message_text(raw).text
    assert "Okamoto, Takayuki/岡本 高幸" in text
    assert "> Lei/張 雷 <zhang.lei@jp.fujitsu.com>" in text


def test_windows_1252_in_alternative(corpus_git: Path) -> None:
    """An Exchange autoreply: alternative[plain, html] in Windows-1252, quoted-printable."""
    raw = read_mail(corpus_git, "28c69f8fbe8f1fb6a23992798dd9fb44f6716aa3")
    assert b'charset="Windows-1252"' in raw and b"Renter=92s" in raw
    result = message_text(raw)
    assert (
        "If you have a Renter’s policy, you can manage your policy online 24/7 at:" in result.text
    )
    assert "<table" not in result.text
    assert result.defects == ()


def test_windows_1252_quoted_printable(corpus_git: Path) -> None:
    raw = read_mail(corpus_git, "a0cebad31f2be5f08d3d0f96476a5273d1780777")
    assert b"Andr=E9 Przywara" in raw
    assert "On 1/9/20 6:30 PM, André Przywara wrote:" in message_text(raw).text


def test_iso_8859_1_quoted_printable(corpus_git: Path) -> None:
    raw = read_mail(corpus_git, "b53f75c2f4ee91a3f7ae5ed69c3b96b9efdc3c6b")
    assert b'charset="iso-8859-1"' in raw.lower() or b"charset=iso-8859-1" in raw.lower()
    text = message_text(raw).text
    assert text.startswith("On Tue, Aug 04, 2020 at 01:44:15PM +0100, Alex Bennée wrote:\n")
    assert "=\n" not in text and "=20" not in text  # soft breaks undone


def test_iso_8859_1_label_on_utf8_bytes(corpus_git: Path) -> None:
    raw = read_mail(corpus_git, "d2a8ba7f1971e2a1f8cdf4c581dd2be4787cf22a")
    result = message_text(raw)
    assert result.defects == ("charset 'iso-8859-1' was utf-8",)
    assert "Ã" not in result.text  # no mojibake


def test_multipart_signed(corpus_git: Path) -> None:
    """multipart/mixed[multipart/signed[text/plain, pgp-signature], list footer]."""
    raw = read_mail(corpus_git, "4d0f892910ec4a1b38daa133626a69b01dfb85e1")
    assert b"multipart/signed" in raw
    result = message_text(raw)
    assert result.text.startswith(
        "On Wed, Sep 04, 2019 at 08:07:36PM +0200, Heinrich Schuchardt wrote:\n"
    )
    assert "BEGIN PGP SIGNATURE" not in result.text
    assert result.attachments == ("signature.asc",)
    assert result.text.endswith("https://lists.cs.columbia.edu/mailman/listinfo/kvmarm\n")


def test_multipart_signed_smime(corpus_git: Path) -> None:
    raw = read_mail(corpus_git, "bff165e7128c0a1743d5201a818f093f4684d346")
    result = message_text(raw)
    assert result.text.startswith("On Mon, 9 Aug 2021 at 16:24, Quentin Perret")
    assert result.attachments == ("smime.p7s",)
    assert "<div" not in result.text


def test_multipart_alternative_prefers_plain(corpus_git: Path) -> None:
    """multipart/mixed[multipart/alternative[text/plain, text/html], list footer]."""
    raw = read_mail(corpus_git, "43c42faf3c5d8aaabd35af06970f41415080b64b")
    result = message_text(raw)
    assert result.text.startswith("Marc,\nOnly possible way to test this series is to get\n")
    assert "<div" not in result.text and "&gt;" not in result.text
    assert FOOTER in result.text
    assert result.attachments == ()  # the HTML rendering is an alternative, not an attachment


def test_html_only_body(corpus_git: Path) -> None:
    """multipart/mixed[text/html, list footer]: the reader sees the HTML as text."""
    raw = read_mail(corpus_git, "780d4f781b6ba68150058d301a07de3539181657")
    result = message_text(raw)
    assert result.text.startswith("Hello,\n\nFirst of all, Thank you so much")
    assert "The Median latency value, when ran on guests is around 30 – 35 us." in result.text
    assert "<" not in result.text.split("_____")[0]
    assert FOOTER in result.text


def test_attached_patch_is_appended(corpus_git: Path) -> None:
    """multipart/mixed[text/plain, text/x-patch, list footer]: the patch is shown."""
    raw = read_mail(corpus_git, "2b8b4595d0cf19e0d8a443b4886006877084249b")
    result = message_text(raw)
    assert result.attachments == ()
    assert result.text.startswith("On Tue, 2021-11-30 at 00:53 +0200, Maxim Levitsky wrote:")
    assert result.text.index("kvmarm mailing list") < result.text.rindex("\n+")


def test_attachment_not_shown(corpus_git: Path) -> None:
    """A kernel test robot mail: the gzipped .config is listed, not decoded."""
    raw = read_mail(corpus_git, "a41acdf8cab7d01a604ee5a8f2dfcb2030f287e4")
    result = message_text(raw)
    assert result.attachments == (".config.gz",)
    assert "\x1f\x8b" not in result.text


# --- mime.message_text on hand-made damage -------------------------------------------


def mail(headers: str, body: bytes) -> bytes:
    return headers.strip().encode() + b"\n\n" + body


@pytest.mark.parametrize(
    "cte",
    ["base64", "BASE64", " base64 ", '"base64"', "base-64", "Base 64", "x-base64", "bas64"],
)
def test_base64_transfer_encoding_spellings(cte: str) -> None:
    raw = mail(
        f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: {cte}",
        b"QmVycmFuZ8OpIHdyb3RlOgo=\n",
    )
    assert message_text(raw).text == "Berrangé wrote:\n"


@pytest.mark.parametrize("cte", ["quoted-printable", "Quoted-Printable", "quoted-printible", "qp"])
def test_quoted_printable_spellings(cte: str) -> None:
    raw = mail(
        f"Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: {cte}",
        b"Andr=E9 wrote a very long line that was =\nsoft-wrapped.\n",
    )
    result = message_text(raw)
    assert result.text == "André wrote a very long line that was soft-wrapped.\n"
    typo = cte.strip().lower() not in ("quoted-printable",)
    assert bool(result.defects) == typo


def test_base64_repairs() -> None:
    headers = "Content-Type: text/plain\nContent-Transfer-Encoding: base64"
    missing_padding = message_text(mail(headers, b"aGVsbG8gd29ybGQ\n"))
    assert missing_padding.text == "hello world\n"  # text always ends with a newline
    assert missing_padding.defects == ("bad base64 padding",)
    two_blocks = message_text(mail(headers, b"aGVsbG8=\nd29ybGQ=\n"))
    assert two_blocks.text == "helloworld\n"
    footer = message_text(mail(headers, b"aGVsbG8K\n\n-- \nList footer\n"))
    assert footer.text == "hello\n\n-- \nList footer\n"
    assert footer.defects == ("text after base64 body",)
    not_base64 = message_text(mail(headers, b"This was never base64.\n"))
    assert not_base64.text == "This was never base64.\n"
    assert not_base64.defects == ("body declared base64 is not",)


def test_unknown_and_missing_charsets() -> None:
    latin = message_text(mail("Content-Type: text/plain; charset=x-unknown", b"caf\xe9\n"))
    assert latin.text == "café\n"
    assert latin.defects == ("unknown charset 'x-unknown'",)
    utf8 = message_text(mail("Content-Type: text/plain; charset=unknown-8bit", "café\n".encode()))
    assert utf8.text == "café\n"
    undeclared = message_text(mail("Subject: no MIME at all", "café\n".encode()))
    assert undeclared.text == "café\n"
    assert undeclared.defects == ("undeclared 8-bit charset",)


NESTED = b"""\
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Plain caf=C3=A9.
--inner
Content-Type: text/html; charset=utf-8

<p>HTML caf&eacute;.</p>
--inner--
--outer
Content-Type: text/x-diff; name="fix.diff"
Content-Disposition: attachment; filename="fix.diff"

diff --git a/x b/x
--outer
Content-Type: application/pdf; name="=?utf-8?q?r=C3=A9sum=C3=A9.pdf?="
Content-Disposition: attachment; filename="=?utf-8?q?r=C3=A9sum=C3=A9.pdf?="
Content-Transfer-Encoding: base64

JVBERi0=
--outer
Content-Type: message/rfc822

Subject: forwarded

body
--outer--
"""


def test_nested_multipart() -> None:
    result = message_text(NESTED)
    assert result.text == "Plain café.\ndiff --git a/x b/x\n"
    assert result.attachments == ("résumé.pdf", "message/rfc822")
    assert result.defects == ()


def test_nested_multipart_html_only_alternative() -> None:
    raw = NESTED.replace(b"Content-Type: text/plain; charset=utf-8", b"Content-Type: text/enriched")
    assert message_text(raw).text.startswith("HTML café.\n")


def test_broken_boundary_is_repaired() -> None:
    raw = NESTED.replace(b'boundary="outer"', b'boundary="wrong"')
    result = message_text(raw)
    assert result.text == "Plain café.\ndiff --git a/x b/x\n"
    assert "bad multipart boundary" in result.defects


def test_missing_boundary_is_repaired() -> None:
    raw = NESTED.replace(b'; boundary="outer"', b"")
    result = message_text(raw)
    assert result.text == "Plain café.\ndiff --git a/x b/x\n"
    assert "bad multipart boundary" in result.defects


def test_missing_closing_boundary() -> None:
    raw = NESTED[: NESTED.index(b"--outer\nContent-Type: application/pdf")]
    result = message_text(raw)
    assert result.text == "Plain café.\ndiff --git a/x b/x\n"
    assert "missing closing boundary" in result.defects


def test_headers_only_empty_and_crlf() -> None:
    assert message_text(b"") == MessageText("", (), ())
    assert message_text(b"Subject: x\n").text == ""
    assert message_text(b"\nbody without headers\n").text == "body without headers\n"
    crlf = message_text(b"Subject: x\r\nContent-Type: text/plain\r\n\r\nline 1\r\nline 2\r\n")
    assert crlf.text == "line 1\nline 2\n"


def test_html_to_text() -> None:
    html = (
        "<html><head><style>p{}</style></head><body><div>Hi&nbsp;Marc,</div>\n<div>"
        "second\nline</div><pre>  code\n    indented</pre><!-- c --><br>&lt;end&gt;</body>"
    )
    assert mime.html_to_text(html) == "Hi Marc,\nsecond line\n\n  code\n    indented\n\n<end>\n"


def test_message_text_never_raises_on_mutated_mail() -> None:
    """Random byte damage (truncation, flips, insertions) of a multipart mail."""
    rng = random.Random(1984)
    for _ in range(1500):
        raw = bytearray(NESTED)
        for _ in range(rng.randrange(1, 12)):
            pos = rng.randrange(len(raw))
            action = rng.randrange(3)
            if action == 0:
                raw[pos] = rng.randrange(256)
            elif action == 1:
                raw.insert(pos, rng.choice(b'\n-=?:;"\x00\xff'))
            else:
                del raw[pos : pos + rng.randrange(20)]
        result = message_text(bytes(raw))
        assert isinstance(result.text, str)


# --- the whole corpus ----------------------------------------------------------------


def test_message_text_whole_corpus(corpus_blobs: list[tuple[str, bytes]]) -> None:
    """Never raises on any of the 18,728 messages; prints time and defect counts."""
    start = time.perf_counter()
    results = [message_text(raw) for _, raw in corpus_blobs]
    elapsed = time.perf_counter() - start
    defects = collections.Counter(d for r in results for d in r.defects)
    attachments = sum(1 for r in results if r.attachments)
    empty = sum(1 for r in results if not r.text.strip())
    print(
        f"\nmessage_text: {len(results)} messages in {elapsed:.2f} s "
        f"({elapsed / len(results) * 1e6:.0f} µs/message); "
        f"{sum(1 for r in results if r.defects)} with defects, "
        f"{attachments} with attachments, {empty} empty"
    )
    for reason, count in defects.most_common():
        print(f"  defect {count:5d}  {reason}")
    assert len(results) == 18728
    assert empty == 0
    assert elapsed < 15, "message_text is called per message by the report stage"


def test_fast_path_equals_full_parser(corpus_blobs: list[tuple[str, bytes]]) -> None:
    """The header-only fast path of single-part mail gives what the full parser gives."""
    fast_used = 0
    for commit, raw in corpus_blobs:
        if mime._split_single_part(raw) is not None:
            fast_used += 1
        out = mime._Collected()
        mime._walk(mime._PARSER.parsebytes(raw), out, 0)
        assert message_text(raw) == out.result(), commit
    print(f"\nfast path used for {fast_used} of {len(corpus_blobs)} messages")
    assert fast_used > 18000


def test_fast_path_equals_full_parser_on_damaged_headers(
    corpus_blobs: list[tuple[str, bytes]],
) -> None:
    """Random damage to the header block never makes the fast path disagree."""
    rng = random.Random(822)
    sample = rng.sample(corpus_blobs, 400)
    noise = [b"\n", b" ", b":", b"\r\n", b"Content-Type: text/html\n", b"\nContent-Type: x"]
    for commit, raw in sample:
        head_end = raw.find(b"\n\n")
        for _ in range(5):
            damaged = bytearray(raw)
            for _ in range(rng.randrange(1, 4)):
                pos = rng.randrange(max(head_end, 1))
                damaged[pos:pos] = rng.choice(noise)
            data = bytes(damaged)
            out = mime._Collected()
            mime._walk(mime._PARSER.parsebytes(data), out, 0)
            assert message_text(data) == out.result(), commit
