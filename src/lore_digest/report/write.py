"""Write a report's files (`NAME-2022-W19.md`, `.json`, `.txt`) into an output directory."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from lore_digest.errors import UsageError
from lore_digest.fsutil import write_atomic
from lore_digest.report.jsonout import render_json
from lore_digest.report.markdown import render_markdown
from lore_digest.report.model import Report
from lore_digest.report.text import markdown_to_text, render_text
from lore_digest.vocabulary import report_stem as vocabulary_stem

RENDERERS: dict[str, tuple[str, Callable[[Report], str]]] = {
    "md": (".md", render_markdown),
    "json": (".json", render_json),
    "txt": (".txt", render_text),  # plain text for mutt: wrapped, links as footnotes
}


def parse_formats(spec: str) -> list[str]:
    """`md,json` → ["md", "json"]; unknown names are a usage error."""
    formats = [f.strip().lower() for f in spec.split(",") if f.strip()]
    unknown = [f for f in formats if f not in RENDERERS]
    if unknown or not formats:
        raise UsageError(
            f"unknown format {', '.join(unknown) or spec!r} (choose from md, json, txt)"
        )
    return formats


def report_stem(report: Report) -> str:
    """File name without extension; the language is added when not the default zh."""
    return vocabulary_stem(report.list_name, report.label, report.lang)


def write_report(
    report: Report, out_dir: Path, formats: Iterable[str], *, suffix: str = ""
) -> list[Path]:
    """Render and atomically write each format; returns the paths written. `suffix`
    goes after the week ("kvmarm-2022-W19-vgic.en.md": one subsystem's report beside the
    whole one)."""
    rendered: dict[str, str] = {}

    def text_of(fmt: str) -> str:
        if fmt not in rendered:
            # the plain text is made from the Markdown: render that once for both
            rendered[fmt] = (
                markdown_to_text(text_of("md")) if fmt == "txt" else RENDERERS[fmt][1](report)
            )
        return rendered[fmt]

    written = []
    for fmt in formats:
        stem = vocabulary_stem(report.list_name, report.label + suffix, report.lang)
        path = out_dir / f"{stem}{RENDERERS[fmt][0]}"
        write_atomic(path, text_of(fmt))
        written.append(path)
    return written
