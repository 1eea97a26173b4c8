"""Mail text into Markdown: one escaping function per place a string can land.

Everything a report shows from mail (subjects, names, addresses, branches, changelogs,
quoted excerpts) is hostile: a subject may carry `[click](https://evil.example)`, a
changelog a line of three backticks that closes our fence and turns the rest of the
mail into live Markdown (links, raw `<img onerror>`). Each Markdown context has its own
rules, so each has its own function, and the templates use the one that fits:

- `md_inline`: running text (a heading, a list item, a table cell, link text);
- `md_code_span`: a short literal in backticks (a branch, a ref, a commit);
- `md_code_fence`: a block shown verbatim (a changelog);
- `md_url`: the destination of `[text](url)`.

The rules are CommonMark's (what markdown-it, the renderer of the site and the mail,
follows); the inline escapes also cover the GFM extensions a reader's viewer may add
(tables, strikethrough, bare-URL autolinks).
"""

from __future__ import annotations

import re

__all__ = ["md_code_fence", "md_code_span", "md_inline", "md_url"]

# Markdown and HTML metacharacters, escaped wherever they are. Every ASCII punctuation
# character may be backslash-escaped in CommonMark, so an escape never shows up as a
# stray backslash. `&` starts an entity (`&lt;` would become "<"), `<` raw HTML and
# autolinks, `|` a GFM table cell, `~` GFM strikethrough, `$` math on GitHub.
_INLINE_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&$])")
# At the start of a line's content only: a list item ("- x", "1. x"), a thematic break
# or setext underline ("---", "==="); "-next" or "4.14" start nothing and stay as they
# are. ("+", "*", "#", ">" and ")" are escaped everywhere.) Text is put on one line, so
# the start of the text is the only line start it has.
_BLOCK_START = re.compile(r"^(?:([-=])(?=[-= ]*$|\s)|(\d{1,9})(\.)(?=\s|$))")
# Bare URLs that GFM (and linkify) turn into links without any markup: "https://…",
# "www.…". An escaped ":" or "." is still shown as itself but no longer read as a URL.
_AUTOLINK = re.compile(r"(?<=[A-Za-z])(:)(?=//)|(?<![\w.])([Ww]{3})(\.)")
_BACKTICKS = re.compile(r"`+")


def _one_line(text: object) -> str:
    """Whitespace (newlines included) collapsed: mail text never starts a Markdown block."""
    return " ".join(str(text).split())


def md_inline(text: object) -> str:
    """Text from mail as inline Markdown that renders literally, on one line.

    Escapes Markdown metacharacters, HTML (`<`, `&`), block markers at the start and
    bare URLs, so no link, image, emphasis, HTML element or table cell comes out of it.
    """
    flat = _INLINE_SPECIAL.sub(r"\\\1", _one_line(text))
    flat = _BLOCK_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", flat, count=1)
    return _AUTOLINK.sub(lambda m: "\\:" if m[1] else f"{m[2]}\\.", flat)


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def md_code_span(text: object) -> str:
    """Text from mail as an inline code span (`` `next` ``), on one line.

    The span is delimited by a run of backticks longer than any run inside, so nothing
    in the text can close it early; a space pads a text that starts or ends with a
    backtick (CommonMark strips exactly one such space each side). Backslash escapes do
    not work in a code span, so this is not safe inside a GFM table cell (`|` there
    still ends the cell): use `md_inline` in tables. "" for empty text.
    """
    flat = _one_line(text)
    if not flat:
        return ""
    ticks = "`" * (_longest_backtick_run(flat) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{ticks}{pad}{flat}{pad}{ticks}"


def md_code_fence(text: object) -> str:
    """Text from mail as a fenced code block, shown verbatim, lines kept.

    The fence is a run of backticks longer than the longest run inside (at least 3), so
    no line of the text can close it; a `~~~` line cannot close a backtick fence either.
    The block must start at the beginning of a line, outside any list or quote.
    """
    body = str(text)
    fence = "`" * max(3, _longest_backtick_run(body) + 1)
    return f"{fence}\n{body}\n{fence}"


# Kept as they are in a link destination: RFC 3986's unreserved and reserved characters
# except the parentheses (they end or nest `[text](url)`) and the brackets.
_URL_KEEP = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#@!$&'*+,;="
)
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
# A CommonMark entity reference: decoded even inside a link destination.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[Xx][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def md_url(url: object) -> str:
    """A URL as the destination of `[text](url)` that nothing can break out of.

    Percent-encodes `(`, `)`, `<`, `>`, `[`, `]`, `\\`, backticks, spaces, quotes,
    control and non-ASCII characters (as UTF-8), a `%` that starts no escape, and the `&`
    of an entity reference; existing `%XX` escapes are kept, so encoding twice changes
    nothing. The URL means the same to a browser, but cannot end the link early, start
    a title, or decode into another character.
    """
    text = str(url)
    out: list[str] = []
    for i, char in enumerate(text):
        if char == "%" and _PERCENT.match(text, i):
            out.append(char)
        elif char == "&" and _ENTITY.match(text, i):
            out.append("%26")
        elif char in _URL_KEEP:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    return "".join(out)
