"""Mail text in Markdown stays text: each escaping function of `report.escape` against
hostile payloads, round trips through markdown-it (the renderer of the site and the
digest mail), and a report of crafted mails whose changelog and cover letter carry the
payloads. The same mails are added to the hostile site of test_site.py and
test_site_browser.py (`attack_mails`)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

import hostile_mail
from lore_digest.deliver import markdown_to_html
from lore_digest.digest import Digest, DigestSettings
from lore_digest.ingest import sync_mbox
from lore_digest.report.escape import md_code_fence, md_code_span, md_inline, md_url
from lore_digest.report.markdown import md_escape, render_markdown
from lore_digest.report.model import Report
from lore_digest.store.db import Store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
_RUN = f"window.{hostile_mail.SENTINEL}=1"
PHISH = "[Security advisory: click to update](https://evil.example/phish)"
IMG = f'<img src=x onerror="{_RUN};alert(1)">'
SCRIPT = f"<script>{_RUN}</script>"
# The payloads every function is tried with (the brief's list, and a few of our own).
PAYLOADS = [
    *("`" * n for n in range(1, 11)),
    *(f"a {'`' * n} b" for n in range(3, 11)),
    *(f"{'`' * n}python" for n in range(3, 11)),
    "~~~",
    "~~~ then [x](https://evil.example/t)",
    "~~strike~~",
    "](https://evil.example/x)",
    "text](https://evil.example/x) [y",
    "<img src=x onerror=alert(1)>",
    IMG,
    "<script>alert(1)</script>",
    SCRIPT,
    "[a](javascript:alert(1))",
    "<https://evil.example>",
    "<mallory@evil.example>",
    "https://evil.example/phish",
    "see www.evil.example/phish",
    PHISH,
    "![tracker](https://evil.example/pixel.png)",
    "[ref]: https://evil.example/ref",
    "[ref][] and [ref]",
    "&lt;img src=x onerror=alert(1)&gt; &amp; &#60;script&#62; &#x3C;b&#x3E;",
    "https://lore.kernel.org/kvmarm/a) [x](https://evil.example/b",
    "<!-- comment --> <div>block</div>",
    "**bold** __bold__ *em* _em_ `code` $x^2$",
    "# heading",
    "- item",
    "+ item",
    "* item",
    "1. item",
    "1) item",
    "---",
    "===",
    "> quote",
    "| a | b |",
    "back\\slash\\",
    "trailing backslash \\",
    "\\[not a link\\](https://evil.example)",
    "line one\n\n# line two\n```\n[x](https://evil.example)",
    "-next 4.14 KVM: arm64: fix A & B (v2)",
]


# -- helpers ------------------------------------------------------------------------------


def _strict() -> MarkdownIt:
    """A renderer more permissive than ours: raw HTML on, GFM tables and strikethrough.

    If escaped text makes no markup here, it makes none in our renderers either.
    """
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


MARKUP = {
    "link_open",
    "image",
    "html_inline",
    "html_block",
    "code_inline",
    "em_open",
    "strong_open",
    "s_open",
    "fence",
    "code_block",
    "heading_open",
    "bullet_list_open",
    "ordered_list_open",
    "blockquote_open",
    "hr",
    "table_open",
}


def _markup(text: str) -> set[str]:
    return {t.type for t in _walk(_strict().parse(text))} & MARKUP


def _plain(rendered_html: str) -> str:
    """The text a reader sees of rendered HTML."""
    return html.unescape(re.sub(r"<[^>]*>", "", rendered_html)).strip()


def _flat(text: str) -> str:
    return " ".join(text.split())


# -- md_inline ----------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_inline_text_renders_literally(payload: str) -> None:
    escaped = md_inline(payload)
    assert "\n" not in escaped
    assert _markup(escaped) == set()
    assert _plain(_strict().render(escaped)) == _flat(payload)


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize(
    ("context", "markup"),
    [
        ("[{}](https://lore.kernel.org/kvmarm/x@y/)", {"link_open"}),  # link text
        ("### Thread 1: {}", {"heading_open"}),
        ("- **Reviewers**:\n  - {} — 2 trailers", {"bullet_list_open", "strong_open"}),
        ("| head | x |\n| --- | --- |\n| {} | y |", {"table_open"}),
        ("1. **[05-10 10:00]** [s](https://lore.kernel.org/kvmarm/x@y/) — {} \\<a@b\\>", None),
        (  # the reply tree: the sender, then the first line of the mail as the link
            "- x\n  - 05-10 10:00 **{0}**: [{0}](https://lore.kernel.org/kvmarm/x@y/)",
            {"bullet_list_open", "strong_open", "link_open"},
        ),
    ],
)
def test_inline_text_stays_inside_its_template_context(
    payload: str, context: str, markup: set[str] | None
) -> None:
    """In every place the report template puts running text, it adds no markup and
    keeps the markup around it (one link, one heading, one cell...)."""
    expected = {"ordered_list_open", "strong_open", "link_open"} if markup is None else markup
    tokens = list(_walk(_strict().parse(context.format(md_inline(payload)))))
    assert {t.type for t in tokens} & MARKUP == expected
    links = [t for t in tokens if t.type == "link_open"]
    assert all(t.attrGet("href") == "https://lore.kernel.org/kvmarm/x@y/" for t in links)
    assert len(links) <= 1
    if markup == {"table_open"}:
        assert sum(t.type == "td_open" for t in tokens) == 2  # no "|" made a new cell


@pytest.mark.parametrize(
    "url", ["https://evil.example/phish", "http://x.example", "www.evil.example"]
)
def test_inline_text_has_no_bare_url_for_an_autolinker(url: str) -> None:
    """GFM (and linkify) make links of bare URLs: the escaped text no longer reads as one."""
    escaped = md_inline(f"see {url} now")
    assert not re.search(r"[A-Za-z]://|(?<![\w.])www\.", escaped)
    assert _plain(_strict().render(escaped)) == f"see {url} now"


def test_inline_keeps_harmless_text_as_it_was() -> None:
    assert md_inline("KVM: arm64: vgic: Misc ITS fixes") == "KVM: arm64: vgic: Misc ITS fixes"
    assert md_inline("-next") == "-next" and md_inline("4.14") == "4.14"
    assert md_inline("fake-model") == "fake-model"
    assert md_inline("- x") == "\\- x" and md_inline("1. x") == "1\\. x"
    assert md_escape is md_inline  # the old name routes to the inline function


_PUNCTUATION = st.text(
    alphabet=st.sampled_from(list("`*_[]()<>!#+-.|~&;:/=$\\\"' \nabc1@w")), max_size=40
)


@settings(max_examples=300, deadline=None)
@given(_PUNCTUATION)
def test_inline_any_punctuation_round_trips(text: str) -> None:
    escaped = md_inline(text)
    assert _markup(escaped) == set()
    assert _plain(_strict().render(escaped)) == _flat(text)


# -- md_code_span -------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_code_span_holds_any_text(payload: str) -> None:
    tokens = list(_walk(_strict().parse(f"applied to {md_code_span(payload)} — done **ok**")))
    codes = [t for t in tokens if t.type == "code_inline"]
    assert len(codes) == 1 and codes[0].content == _flat(payload)
    assert {t.type for t in tokens} & MARKUP == {"code_inline", "strong_open"}


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("next", "`next`"),
        ("a`b", "``a`b``"),
        ("`tick", "`` `tick ``"),
        ("tick`", "`` tick` ``"),
        ("```", "```` ``` ````"),
        ("", ""),
    ],
)
def test_code_span_delimiters(text: str, span: str) -> None:
    assert md_code_span(text) == span


# -- md_code_fence ------------------------------------------------------------------------

CHANGELOGS = [
    "- fixed a thing\n```\n[pwn](https://evil.example/fence)\n" + IMG + "\n```",
    *("- x\n" + "`" * n + "\n# not a heading\n" + "`" * n for n in range(3, 11)),
    "~~~\n[pwn](https://evil.example/tilde)\n~~~",
    "   ```\n- indented fence\n   ```",
    "````` ```` ``` ``\n<script>alert(1)</script>",
    "ends with backticks ```",
    "```",
]


@pytest.mark.parametrize("changelog", CHANGELOGS)
def test_code_fence_cannot_be_closed_from_inside(changelog: str) -> None:
    document = f"**Changes**:\n\n{md_code_fence(changelog)}\n\nafter **the fence**\n"
    tokens = list(_walk(_strict().parse(document)))
    fences = [t for t in tokens if t.type == "fence"]
    assert len(fences) == 1 and fences[0].content == changelog + "\n"
    assert {t.type for t in tokens} & MARKUP == {"fence", "strong_open"}
    assert sum(t.type == "strong_open" for t in tokens) == 2  # the text after it is ours


def test_code_fence_is_at_least_three_backticks() -> None:
    assert md_code_fence("plain") == "```\nplain\n```"
    assert md_code_fence("a ``` b") == "````\na ``` b\n````"
    assert md_code_fence("x" + "`" * 10) == "`" * 11 + "\nx" + "`" * 10 + "\n" + "`" * 11


# -- md_url -------------------------------------------------------------------------------

URLS = [
    "https://lore.kernel.org/kvmarm/20220510-1-x@y.example/",
    "https://lore.kernel.org/kvmarm/a) [x](https://evil.example/b/",
    "https://lore.kernel.org/kvmarm/a b <c> \"d\" 'e'/",
    "https://lore.kernel.org/kvmarm/a\\b`c[d]{e}|f^g/",
    "https://lore.kernel.org/kvmarm/&lt;img&gt;&amp;&#60;/",
    "https://lore.kernel.org/kvmarm/%41%zz%/",
    "https://lore.kernel.org/kvmarm/\u00e9t\u00e9\u202e/",
    "https://lore.kernel.org/kvmarm/a\nb\tc\x00/",
    "https://lore.kernel.org/kvmarm/x@y/?q=a&b=c#frag",
]


@pytest.mark.parametrize("url", URLS)
def test_url_cannot_break_out_of_a_link(url: str) -> None:
    safe = md_url(url)
    tokens = list(_walk(_strict().parse(f"[subject]({safe}) tail")))
    links = [t for t in tokens if t.type == "link_open"]
    assert len(links) == 1 and links[0].attrGet("href") == safe
    assert {t.type for t in tokens} & MARKUP == {"link_open"}
    assert _plain(_strict().render(f"[subject]({safe}) tail")) == "subject tail"
    assert unquote(safe) == unquote(url)  # the same address, only encoded
    assert md_url(safe) == safe  # encoding twice changes nothing


def test_url_leaves_archive_links_alone() -> None:
    url = "https://lore.kernel.org/kvmarm/20220510-1-x@y.example/"
    assert md_url(url) == url
    assert md_url("https://x/?a=1&b=2") == "https://x/?a=1&b=2"
    assert md_url("https://x/a(b)") == "https://x/a%28b%29"


# -- a report of crafted mail -------------------------------------------------------------

ATTACK_DAY = datetime(2024, 3, 5, 9, 0, tzinfo=UTC)  # in hostile_mail.WEEK
COVER = "cover@attack.example"
COVER_BODY = f"""\
This series makes things safer. {PHISH} and {IMG} and {SCRIPT}
and <https://evil.example/auto> and https://evil.example/bare and &lt;b&gt;entity&lt;/b&gt;.

Changes in v2:
- dropped the old helper
```
[Changelog link](https://evil.example/changelog)
{IMG}
~~~
{SCRIPT}
- renamed the flag `` ` `` ```` ``` ``

Signed-off-by: Mallory <mallory@attack.example>
"""
QUESTION = (
    "Did you mean [the advisory](https://evil.example/asked) or <img src=x onerror=alert(2)>?"
)


AUTHOR = '"[Admin](https://evil.example/admin) `x`" <mallory@attack.example>'
MAINTAINER = "Maintainer <maint@kernel.example>"
BRANCH = "`kvm`*arm*_x_"  # authors write branches in backticks; the rest is the attack
ASKER = '"Eve <https://evil.example/eve> *x*" <eve@attack.example>'


def _attack_mail(
    message_id: str,
    subject: str,
    body: str,
    when: datetime,
    parent: str | None = None,
    sender: str = AUTHOR,
) -> bytes:
    lines = [
        f"From mallory@attack.example {when.strftime('%a %b %d %H:%M:%S %Y')}",
        f"From: {sender}",
        f"To: {hostile_mail.LIST}@lists.example.org",
        f"Subject: {subject}",
        f"Date: {format_datetime(when)}",
        f"Message-ID: <{message_id}>",
    ]
    if parent:
        lines += [f"In-Reply-To: <{parent}>", f"References: <{parent}>"]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", body, ""]
    return "\n".join(lines).encode("utf-8")


def attack_mails() -> list[bytes]:
    """A v2 series whose cover letter and changelog carry Markdown attacks, its patch, a
    question quoting a phishing link, a mail whose Message-ID holds `)` and an "applied"
    reply naming a branch in backticks."""
    subject = "[PATCH v2 0/1] KVM: arm64: " + PHISH + " ``` " + IMG
    return [
        _attack_mail(COVER, subject, COVER_BODY, ATTACK_DAY),
        _attack_mail(
            "patch1@attack.example",
            "[PATCH v2 1/1] KVM: arm64: " + PHISH,
            f"{PHISH}\n\nSigned-off-by: Mallory <mallory@attack.example>\n---\n"
            "diff --git a/x b/x\n+x\n",
            ATTACK_DAY + timedelta(seconds=5),
            COVER,
        ),
        _attack_mail(
            "q@attack.example",
            "Re: [PATCH v2 0/1] KVM: arm64: questions",
            f"{QUESTION}\n",
            ATTACK_DAY + timedelta(hours=2),
            COVER,
            ASKER,
        ),
        _attack_mail(
            "a)](https://evil.example/mid)@attack.example",
            "Re: [PATCH v2 0/1] KVM: arm64: an odd id",
            "Looks fine to me, and it is a long enough sentence.\n",
            ATTACK_DAY + timedelta(hours=3),
            COVER,
        ),
        _attack_mail(
            "applied@attack.example",
            "Re: [PATCH v2 0/1] KVM: arm64: applied",
            f"Applied to {BRANCH}, thanks!\n\n[1/1] KVM: arm64: {PHISH}\n"
            "      commit: 0123456789ab\n",
            ATTACK_DAY + timedelta(hours=4),
            COVER,
            MAINTAINER,
        ),
    ]


def write_attack_mbox(path: Path) -> Path:
    """The crafted mails as one mbox (for `sync_mbox` into the hostile list)."""
    path.write_bytes(b"\n".join(attack_mails()))
    return path


@pytest.fixture(scope="module")
def attack_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    tmp = tmp_path_factory.mktemp("attack")
    with Store.open(tmp / "a.sqlite3") as store:
        sync_mbox(store, write_attack_mbox(tmp / "a.mbox"), hostile_mail.LIST)
        return Digest(store, hostile_mail.LIST, DigestSettings(now=NOW)).week(
            hostile_mail.WEEK, lang="en"
        )


def test_crafted_mail_reaches_the_report(attack_report: Report) -> None:
    """The payloads are where the attack wants them: the changelog, the quotes."""
    thread = next(t for t in attack_report.threads if t.id == COVER)
    assert thread.series is not None and thread.series.changes is not None
    assert "```\n[Changelog link](https://evil.example/changelog)" in thread.series.changes
    assert "~~~" in thread.series.changes
    assert thread.summary is not None
    statements = " ".join(i.text for i in (*thread.summary.original, *thread.summary.this_week))
    assert PHISH in statements and "https://evil.example/asked" in statements


def _links_and_html(markdown: str) -> tuple[list[str], list[Token]]:
    tokens = list(_walk(_strict().parse(markdown)))
    hrefs = [str(t.attrGet("href")) for t in tokens if t.type == "link_open"]
    raw = [t for t in tokens if t.type in {"html_inline", "html_block", "image"}]
    return hrefs, raw


def test_report_markdown_has_no_live_markup_from_mail(attack_report: Report) -> None:
    markdown = render_markdown(attack_report)
    hrefs, raw = _links_and_html(markdown)
    assert raw == []
    assert hrefs and all(urlsplit(h).netloc == "lore.kernel.org" for h in hrefs), hrefs
    # The changelog is one code block, the whole of it, and the report goes on after it.
    thread = next(t for t in attack_report.threads if t.id == COVER)
    assert thread.series is not None
    fences = [t for t in _walk(_strict().parse(markdown)) if t.type == "fence"]
    assert [f.content for f in fences] == [f"{thread.series.changes}\n"]
    # A branch from mail is one code span, whatever backticks it has.
    codes = [t.content for t in _walk(_strict().parse(markdown)) if t.type == "code_inline"]
    for t in attack_report.threads:
        applied = t.status.applied if t.status else None
        if applied and applied.branch:
            assert applied.branch in codes
    # The payloads are shown, as text.
    text = _plain(_strict().render(markdown))
    assert PHISH in text and QUESTION in text and "https://evil.example/bare" in text


def test_report_mail_html_has_no_live_markup_from_mail(attack_report: Report) -> None:
    """The digest mail's HTML part: the same Markdown through deliver's renderer."""
    page = markdown_to_html(render_markdown(attack_report), title="t", lang="en")
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(urlsplit(html.unescape(h)).netloc == "lore.kernel.org" for h in hrefs)
    assert "<img" not in page and "<script" not in page
    assert "evil.example/phish" in page  # shown as text
