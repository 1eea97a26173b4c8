"""A week's chat digest in each channel's own markup, split to fit its size limit.

Every subject, name and branch in a digest is a stranger's text, so each format keeps
it text: Feishu/Lark cards carry it in `plain_text` elements (never parsed); DingTalk
and WeCom Markdown get CommonMark backslash escapes and full-width angle brackets (no
`<font>`, no `<@userid>` mention can form); Slack mrkdwn gets its three entities
(`&amp;`, `&lt;`, `&gt;`: no `<!channel>`, no `<url|label>`) and a word joiner after
each `*`, `_`, `~` and backtick (mrkdwn has no escape for them); Telegram and Matrix get
HTML-escaped text inside the few tags we write, and Matrix's HTML is sanitised (nh3)
to the tags the spec recommends. Nobody is ever mentioned: no format sets an `at` /
`mentions` field.

A digest longer than a channel allows is split between entries (a thread is never cut
in two), each part titled "(part 2/3)"; the link to the full report is in the last.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from html import escape as html_escape
from typing import Any, Final

import nh3

from lore_digest.channels.message import ChatDigest, Entry, Section
from lore_digest.report.escape import md_url

__all__ = ["KINDS", "LIMITS", "Part", "render_parts"]

KINDS: Final = ("feishu", "dingtalk", "wecom", "slack", "matrix", "telegram", "webhook")


@dataclass(frozen=True, slots=True)
class Limit:
    """How big one message may be, measured as the channel measures it."""

    size: int
    measure: Callable[[dict[str, Any]], int]


def _json_bytes(payload: dict[str, Any]) -> int:
    return len(json.dumps(payload, ensure_ascii=False).encode())


LIMITS: Final[dict[str, Limit]] = {
    # a card request body is limited to 30 KB
    "feishu": Limit(28_000, _json_bytes),
    # markdown text up to 20,000 bytes
    "dingtalk": Limit(18_000, lambda p: len(p["markdown"]["text"].encode())),
    # markdown content up to 4,096 bytes (UTF-8)
    "wecom": Limit(4_096, lambda p: len(p["markdown"]["content"].encode())),
    # 50 blocks and 3,000 characters per section; a whole message well under 40,000
    "slack": Limit(12_000, lambda p: _slack_size(p)),
    # events up to 65,536 bytes
    "matrix": Limit(60_000, _json_bytes),
    # 4,096 characters after entity parsing, counted in UTF-16 units (an emoji is two):
    # the HTML source is longer than the parsed text, so this is safe
    "telegram": Limit(4_096, lambda p: len(p["text"].encode("utf-16-le")) // 2),
}
SLACK_SECTION_CHARS: Final = 2_900
SLACK_MAX_BLOCKS: Final = 45


def _slack_size(payload: dict[str, Any]) -> int:
    blocks = payload["blocks"]
    too_long = any(len(b.get("text", {}).get("text", "")) > SLACK_SECTION_CHARS for b in blocks)
    if len(blocks) > SLACK_MAX_BLOCKS or too_long:
        return 10**9
    return sum(len(json.dumps(b, ensure_ascii=False)) for b in blocks)


@dataclass(frozen=True, slots=True)
class Part:
    """One message of a week for one channel: its number (from 1) and its body."""

    number: int
    total: int
    payload: dict[str, Any]


# -- escaping ------------------------------------------------------------------------------

# Inline markup only: every line we write starts with our own "- ", "**" or "###", so
# "#", "+", "-", "." can never open a heading or a list; an escaped "[" makes no link.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def markdown_text(text: str) -> str:
    """Text for DingTalk/WeCom Markdown: one line, no markup, no mention."""
    flat = " ".join(text.split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat).replace("<", "＜").replace(">", "＞")


_SLACK_MARKERS = re.compile(r"([*_~`])")


def slack_text(text: str) -> str:
    """Text for Slack mrkdwn: its documented escapes (`&amp;`, `&lt;`, `&gt;`), and a word
    joiner after each formatting marker (mrkdwn has no escape for `*bold*`, `_it_`,
    `~strike~` or backticks: the joiner keeps them from pairing up)."""
    flat = " ".join(text.split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SLACK_MARKERS.sub("\\1\u2060", flat)


def _slack_url(url: str) -> str:
    """A URL inside `<url|label>`: entity-escaped, and no `|` or `>` can end it."""
    return url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


def html_text(text: str) -> str:
    """Text inside our HTML tags (Telegram, Matrix)."""
    return html_escape(" ".join(text.split()), quote=False)


def _safe_url(url: str) -> str:
    """Only http(s) links are written; anything else is left out."""
    return url if url.lower().startswith(("https://", "http://")) else ""


# -- one part per format ---------------------------------------------------------------------


def _line(entry: Entry) -> str:
    return entry.text + (f" ({entry.detail})" if entry.detail else "")


def _feishu(d: ChatDigest, title: str, sections: Sequence[Section], last: bool) -> dict[str, Any]:
    def plain(text: str) -> dict[str, str]:
        return {"tag": "plain_text", "content": text}

    elements: list[dict[str, Any]] = [{"tag": "div", "text": plain(d.figures)}]
    for section in sections:
        elements.append({"tag": "hr"})
        elements.append({"tag": "div", "text": plain(f"【{section.title}】")})
        for entry in section.entries:
            div: dict[str, Any] = {"tag": "div", "text": plain(f"• {_line(entry)}")}
            url = _safe_url(entry.url)
            if url:
                div["extra"] = {
                    "tag": "button",
                    "text": plain("lore"),
                    "type": "default",
                    "url": url,
                }
            elements.append(div)
        if section.more:
            elements.append({"tag": "div", "text": plain(section.more)})
    if last and _safe_url(d.link):
        button = {"tag": "button", "text": plain(d.link_text), "type": "primary", "url": d.link}
        elements.append({"tag": "action", "actions": [button]})
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {"title": plain(title), "template": "blue"},
            "elements": elements,
        },
    }


def _markdown(d: ChatDigest, title: str, sections: Sequence[Section], last: bool) -> str:
    lines = [f"### {markdown_text(title)}", "", markdown_text(d.figures)]
    for section in sections:
        lines += ["", f"**{markdown_text(section.title)}**", ""]
        for entry in section.entries:
            text = markdown_text(entry.text)
            url = _safe_url(entry.url)
            item = f"[{text}]({md_url(url)})" if url else text
            lines.append(
                f"- {item}" + (f" ({markdown_text(entry.detail)})" if entry.detail else "")
            )
        if section.more:
            lines.append(f"- {markdown_text(section.more)}")
    if last and _safe_url(d.link):
        lines += ["", f"[{markdown_text(d.link_text)}]({md_url(d.link)})"]
    return "\n".join(lines)


def _dingtalk(d: ChatDigest, title: str, sections: Sequence[Section], last: bool) -> dict[str, Any]:
    # The title is what the notification shows: plain text, not parsed.
    text = _markdown(d, title, sections, last)
    return {"msgtype": "markdown", "markdown": {"title": " ".join(title.split()), "text": text}}


def _wecom(d: ChatDigest, title: str, sections: Sequence[Section], last: bool) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"content": _markdown(d, title, sections, last)}}


def _slack(d: ChatDigest, title: str, sections: Sequence[Section], last: bool) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "context", "elements": [{"type": "plain_text", "text": d.figures}]},
    ]
    for section in sections:
        lines = [f"*{slack_text(section.title)}*"]
        for entry in section.entries:
            text, url = slack_text(entry.text), _safe_url(entry.url)
            item = f"<{_slack_url(url)}|{text.replace('|', '¦')}>" if url else text
            lines.append(f"• {item}" + (f" ({slack_text(entry.detail)})" if entry.detail else ""))
        if section.more:
            lines.append(slack_text(section.more))
        text = "\n".join(lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if last and _safe_url(d.link):
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": d.link_text},
                        "url": d.link,
                    }
                ],
            }
        )
    # `text` is the notification's fallback: plain, escaped like the rest.
    return {"text": slack_text(title), "blocks": blocks}


def _html(d: ChatDigest, title: str, sections: Sequence[Section], last: bool) -> str:
    out = [f"<b>{html_text(title)}</b>", html_text(d.figures)]
    for section in sections:
        out += ["", f"<b>{html_text(section.title)}</b>"]
        for entry in section.entries:
            url = _safe_url(entry.url)
            text = html_text(entry.text)
            item = f'<a href="{html_escape(url)}">{text}</a>' if url else text
            out.append(f"• {item}" + (f" ({html_text(entry.detail)})" if entry.detail else ""))
        if section.more:
            out.append(html_text(section.more))
    if last and _safe_url(d.link):
        out += ["", f'<a href="{html_escape(d.link)}">{html_text(d.link_text)}</a>']
    return "\n".join(out)


def _plain(d: ChatDigest, title: str, sections: Sequence[Section], last: bool) -> str:
    out = [" ".join(title.split()), d.figures]
    for section in sections:
        out += ["", section.title]
        out += [f"• {' '.join(_line(e).split())}" for e in section.entries]
        if section.more:
            out.append(section.more)
    if last and d.link:
        out += ["", f"{d.link_text}: {d.link}"]
    return "\n".join(out)


_MATRIX_TAGS: Final = {"b", "a", "br", "p"}


def _matrix(d: ChatDigest, title: str, sections: Sequence[Section], last: bool) -> dict[str, Any]:
    html = _html(d, title, sections, last).replace("\n", "<br>")
    clean = nh3.clean(
        html,
        tags=_MATRIX_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"https", "http"},
        link_rel=None,
    )
    return {
        "msgtype": "m.text",
        "body": _plain(d, title, sections, last),
        "format": "org.matrix.custom.html",
        "formatted_body": clean,
    }


def _telegram(d: ChatDigest, title: str, sections: Sequence[Section], last: bool) -> dict[str, Any]:
    return {
        "text": _html(d, title, sections, last),
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }


_RENDER: Final[dict[str, Callable[[ChatDigest, str, Sequence[Section], bool], dict[str, Any]]]] = {
    "feishu": _feishu,
    "dingtalk": _dingtalk,
    "wecom": _wecom,
    "slack": _slack,
    "matrix": _matrix,
    "telegram": _telegram,
}


# -- splitting -------------------------------------------------------------------------------


def _pieces(digest: ChatDigest) -> list[Section]:
    """One section per entry (and one for a section's "+N more"): the units a split
    may fall between; consecutive pieces of a section are joined again in a part."""
    out: list[Section] = []
    for section in digest.sections:
        out += [Section(section.title, (entry,)) for entry in section.entries]
        if section.more:
            out.append(Section(section.title, (), section.more))
    return out


def _joined(pieces: Sequence[Section]) -> list[Section]:
    out: list[Section] = []
    for piece in pieces:
        if out and out[-1].title == piece.title and not out[-1].more:
            last = out[-1]
            out[-1] = Section(last.title, last.entries + piece.entries, piece.more)
        else:
            out.append(piece)
    return out


def render_parts(kind: str, digest: ChatDigest) -> list[Part]:
    """The week's messages for one channel kind (not "webhook": it posts the report's
    JSON), each within the kind's limit; an entry too big on its own is cut."""
    render, limit = _RENDER[kind], LIMITS[kind]

    def fits(pieces: Sequence[Section], last: bool) -> bool:
        payload = render(digest, digest.part_title(99, 99), _joined(pieces), last)
        return limit.measure(payload) <= limit.size

    groups: list[list[Section]] = [[]]
    for piece in _pieces(digest):
        if not fits([piece], True):
            piece = _cut(piece, lambda p: fits([p], True))
        if groups[-1] and not fits([*groups[-1], piece], True):
            groups.append([])
        groups[-1].append(piece)
    total = len(groups)
    return [
        Part(n, total, render(digest, digest.part_title(n, total), _joined(g), n == total))
        for n, g in enumerate(groups, 1)
    ]


def _cut(piece: Section, fits: Callable[[Section], bool]) -> Section:
    """A piece with its entry's text shortened until it fits (a 2,000-character subject)."""
    if not piece.entries:
        return piece  # a "+N more" line is ours and short
    (entry,) = piece.entries
    text = entry.text
    while len(text) > 1 and not fits(replace(piece, entries=(replace(entry, text=text + "…"),))):
        text = text[: len(text) * 3 // 4]
    return replace(piece, entries=(replace(entry, text=text + "…"),))
