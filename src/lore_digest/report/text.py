"""Plain text of a report, for mutt and any reader of text/plain: `--format txt`.

The Markdown report is the one source: it is parsed (markdown-it, the parser the HTML
mail and the site use) and written out again as text a terminal mail reader shows
well. Lines are wrapped at 72 columns, counting East Asian wide characters as two and
breaking between them, so Chinese reports wrap as well as English ones; nothing of
Markdown's syntax is left (no escapes, no `**`, no backticks); each link becomes a
number in brackets after its text, and the URLs are listed once, numbered, at the end
("[3] https://lore.kernel.org/…"), the way mutt users write them. Tables are kept as
aligned columns when they fit the width, and become one "header: value" line per cell
when they do not.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from lore_digest.report.markdown import render_markdown
from lore_digest.report.model import Report

WIDTH = 72
_TOKEN = re.compile(r"\s+|[^\s]")  # whitespace runs, else single characters (merged below)
# A line does not start with these (closing punctuation, CJK and Latin).
_NO_LINE_START = frozenset("，。、；：！？）》」』】〕,.;:!?)]}”’")
_NO_LINE_END = frozenset("（《「『【〔“‘([{")  # and does not end with these
_BRACKETED = re.compile(r"^\[[^\[\]]*\]$")  # link text that is already "[3]" or "[mail]"


def render_text(report: Report) -> str:
    """The report as wrapped plain text, links as numbered footnotes."""
    return markdown_to_text(render_markdown(report))


def markdown_to_text(markdown: str, width: int = WIDTH) -> str:
    """Any Markdown of ours as plain text; see the module docstring."""
    writer = _Writer(width)
    for node in SyntaxTreeNode(_parser().parse(markdown)).children:
        writer.block(node, "", "")
    return writer.finish()


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal: wide and full-width characters count two."""
    if text.isascii():  # most of a digest: one column a character, 20x faster
        return len(text)
    return sum(_char_width(c) for c in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if _is_wide(char) else 1


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def wrap(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    """Greedy wrap by display width: break at spaces and between wide characters; a
    word longer than the line stays whole; closing punctuation never starts a line (the
    unit before it moves down with it)."""
    lines: list[str] = []
    units: list[str] = []  # the current line, unit by unit
    used = 0  # display width of units
    prefix, limit = first, width - display_width(first)
    for word in _words(text):
        if word.isspace():
            if units and not units[-1].isspace():
                units.append(" ")
                used += 1
            continue
        size = display_width(word)
        if units and used + size > limit:
            carried: list[str] = []
            if word[0] in _NO_LINE_START:  # take the unit before it along
                while len(units) > 1 and (units[-1].isspace() or not carried):
                    unit = units.pop()
                    if not unit.isspace():
                        carried.insert(0, unit)
                        if unit[0] not in _NO_LINE_START:
                            break
                    elif carried:
                        break
            while len(units) > 1 and units[-1][-1] in _NO_LINE_END:  # "（" goes down too
                carried.insert(0, units.pop())
            lines.append(prefix + "".join(units).rstrip())
            prefix, limit = rest, width - display_width(rest)
            units = carried
            used = sum(display_width(u) for u in units)
        units.append(word)
        used += size
    if units or not lines:
        lines.append(prefix + "".join(units).rstrip())
    return lines


def _words(text: str) -> list[str]:
    """Breakable units: whitespace runs, each wide character, runs of other characters."""
    units: list[str] = []
    for match in _TOKEN.finditer(" ".join(text.split("\n"))):
        piece = match.group(0)
        if piece.isspace():
            units.append(" ")
        elif _is_wide(piece) or not units or units[-1].isspace() or _is_wide(units[-1][-1]):
            units.append(piece)
        else:
            units[-1] += piece
    return units


@dataclass
class _Writer:
    """Accumulates blocks of text and the footnote URLs their links point to."""

    width: int
    out: list[str] = field(default_factory=list)
    urls: dict[str, int] = field(default_factory=dict)

    def finish(self) -> str:
        text = "\n".join(self.out).strip("\n")
        text = re.sub(r"\n{3,}", "\n\n", text)
        if self.urls:
            notes = [f"[{n}] {url}" for url, n in self.urls.items()]
            text += "\n\n" + "-" * min(self.width, 20) + "\n" + "\n".join(notes)
        return text + "\n"

    def _blank(self) -> None:
        if self.out and self.out[-1] != "":
            self.out.append("")

    # -- blocks -------------------------------------------------------------------------

    def block(self, node: SyntaxTreeNode, first: str, rest: str) -> None:
        kind = node.type
        if kind == "heading":
            title = self.inline(node)
            self._blank()
            self.out.extend(wrap(title, self.width, first, rest))
            if node.tag in ("h1", "h2"):
                rule = "=" if node.tag == "h1" else "-"
                self.out.append(rest + rule * min(display_width(title), self.width - len(rest)))
            self.out.append("")
        elif kind == "paragraph":
            self.out.extend(wrap(self.inline(node), self.width, first, rest))
            if not node.hidden:
                self.out.append("")
        elif kind in ("bullet_list", "ordered_list"):
            for number, item in enumerate(node.children, start=1):
                bullet = f"{number}. " if kind == "ordered_list" else "- "
                self._item(item, first + bullet if number == 1 else rest + bullet, rest)
            if not rest:  # a nested list stays inside its item, tight
                self._blank()
        elif kind == "blockquote":
            for child in node.children:
                self.block(child, first + "  ", rest + "  ")
        elif kind in ("fence", "code_block"):  # changelogs: kept as lines, long ones wrapped
            for line in node.content.rstrip("\n").split("\n"):
                lead = rest + "    " + line[: len(line) - len(line.lstrip())]
                if display_width(lead + line.strip()) <= self.width:
                    self.out.append((lead + line.strip()).rstrip())
                else:
                    self.out.extend(wrap(line.strip(), self.width, lead, lead + "  "))
            self.out.append("")
        elif kind == "hr":
            self.out.append(rest + "-" * 8)
            self.out.append("")
        elif kind == "table":
            self._table(node, rest)
        else:  # html_block cannot happen (html off); anything else: its text
            text = self.inline(node) if node.children else node.content
            if text.strip():
                self.out.extend(wrap(text, self.width, first, rest))

    def _item(self, item: SyntaxTreeNode, first: str, rest: str) -> None:
        indent = rest + " " * (display_width(first) - display_width(rest))
        lead = first
        if not item.children:
            self.out.append(first.rstrip())
        for child in item.children:
            self.block(child, lead, indent)
            lead = indent

    def _table(self, node: SyntaxTreeNode, rest: str) -> None:
        rows: list[list[str]] = []
        for section in node.children:  # thead, tbody
            for tr in section.children:
                rows.append([self.inline(cell) for cell in tr.children])
        if not rows:
            return
        columns = max(len(r) for r in rows)
        rows = [r + [""] * (columns - len(r)) for r in rows]
        widths = [max(display_width(r[i]) for r in rows) for i in range(columns)]
        total = len(rest) + sum(widths) + 2 * (columns - 1)
        self._blank()
        if total <= self.width:
            for index, row in enumerate(rows):
                cells = [c + " " * (w - display_width(c)) for c, w in zip(row, widths, strict=True)]
                self.out.append((rest + "  ".join(cells)).rstrip())
                if index == 0:
                    self.out.append(rest + "  ".join("-" * w for w in widths))
        else:  # too wide for a terminal: one "header: value" line per cell
            header, *body = rows
            if not body:
                self.out.extend(wrap(" | ".join(c for c in header if c), self.width, rest, rest))
            for row in body:
                lead = rest + "- "
                for name, cell in zip(header, row, strict=True):
                    if cell:
                        label = f"{name}: " if name else ""
                        self.out.extend(wrap(label + cell, self.width, lead, rest + "  "))
                        lead = rest + "  "
        self.out.append("")

    # -- inline -------------------------------------------------------------------------

    def inline(self, node: SyntaxTreeNode) -> str:
        """The text of a block's inline content, links replaced by footnote numbers."""
        parts: list[str] = []
        for child in node.children:
            if child.type == "inline":
                parts.append(self.inline(child))
            elif child.type == "text" or child.type == "code_inline":
                parts.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                parts.append(" ")
            elif child.type == "link":
                parts.append(self._link(child))
            elif child.type == "image":
                parts.append(child.content)
            elif child.children:  # strong, em, s: their text, without the markers
                parts.append(self.inline(child))
            else:
                parts.append(child.content)
        return "".join(parts)

    def _link(self, node: SyntaxTreeNode) -> str:
        href = str(node.attrs.get("href", ""))
        label = self.inline(node)
        if not href:
            return label
        number = self.urls.setdefault(href, len(self.urls) + 1)
        if _BRACKETED.match(label.strip()) or not label.strip():
            return f"[{number}]"  # "[3]", "[mail]": the footnote number is the link
        return f"{label} [{number}]"
