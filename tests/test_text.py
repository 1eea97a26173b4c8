"""`--format txt` and the mail's text part (report.text): what mutt shows."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from lore_digest.facts.week import iso_week_window
from lore_digest.report.build import ReportBuilder
from lore_digest.report.escape import md_inline
from lore_digest.report.markdown import render_markdown
from lore_digest.report.model import Report
from lore_digest.report.text import WIDTH, display_width, markdown_to_text, render_text, wrap
from lore_digest.store.db import Store

NOW = datetime(2026, 11, 23, tzinfo=UTC)
_MD_LINK = re.compile(r"\]\((https?://[^)\s]+)\)")
_FOOTNOTE = re.compile(r"^\[(\d+)\] (https?://\S+)$")


@pytest.fixture(scope="module", params=["en", "zh"])
def week(request: pytest.FixtureRequest, synced_db: object) -> tuple[Report, str, str]:
    with Store.open(synced_db) as store:  # type: ignore[arg-type]
        report = ReportBuilder(store, "kvmarm").build(
            iso_week_window("2022-W19"), lang=request.param, now=NOW
        )
    return report, render_markdown(report), render_text(report)


def test_lines_fit_72_columns_and_links_are_numbered_footnotes(
    week: tuple[Report, str, str],
) -> None:
    _report, markdown, text = week
    body, _, notes = text.rpartition("\n--------------------\n")
    assert body and notes
    for line in body.splitlines():
        assert display_width(line) <= WIDTH, line
    footnotes = [_FOOTNOTE.match(line) for line in notes.splitlines()]
    assert all(footnotes), notes[:300]
    numbers = [int(m.group(1)) for m in footnotes if m]
    urls = [m.group(2) for m in footnotes if m]
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(urls) == len(set(urls))  # one number per URL
    assert set(urls) == set(_MD_LINK.findall(markdown))  # every link of the report
    used = {int(n) for n in re.findall(r"\[(\d+)\]", body)}
    assert set(numbers) <= used  # every footnote is referred to (mail text may say "[0]")
    assert "lore.kernel.org" in notes


def test_no_markdown_is_left(week: tuple[Report, str, str]) -> None:
    report, markdown, text = week
    assert "\\[" in markdown and "\\[" not in text  # escapes resolved
    assert "**" in markdown and not re.search(r"^\*\*|\(\*\*", text, re.MULTILINE)
    assert "](http" not in text and "`" not in text.replace("'", "")
    for thread in report.threads:  # subjects as the senders wrote them
        subject = " ".join(thread.subject.split())
        words = subject.split()
        assert all(w in text for w in words), subject
    title = text.splitlines()[0]
    assert text.splitlines()[1] == "=" * display_width(title)


@pytest.mark.parametrize(
    "nasty",
    [
        "[PATCH v2 0/3] arm64: fix *foo* and _bar_ in `baz`",
        "Re: [x](javascript:alert(1)) <script>alert(1)</script> &amp;",
        "# not a heading | not | a table \\ backslash",
        "1. not a list > not a quote ![img](http://x/y.png)",
        "Zyngier 的补丁【v3】：修复 ID_AA64PFR0_EL1（第 2 版）",
    ],
)
def test_text_from_mail_comes_out_as_written(nasty: str) -> None:
    """Whatever md_inline escaped for Markdown, the text shows literally."""
    assert markdown_to_text(md_inline(nasty), width=10_000).strip() == nasty


def test_wrap_counts_wide_characters_and_keeps_punctuation_with_its_word() -> None:
    zh = "该系列修改了 kvm_arch_vcpu_ioctl()，并在第 3 版中根据评审意见重写了陷入处理的路径。" * 3
    lines = wrap(zh, 40, "- ", "  ")
    assert len(lines) > 3
    assert all(display_width(line) <= 40 for line in lines)
    assert not any(line.lstrip("- ")[0] in "，。、）" for line in lines)
    assert "kvm_arch_vcpu_ioctl()" in "".join(lines)  # an identifier is never split
    url = "https://lore.kernel.org/kvmarm/" + "x" * 80
    assert wrap(f"see {url} now", 40) == ["see", url, "now"]  # a long word stays whole
    assert display_width("中文ab") == 6
    assert wrap("中中中中（中中", 10) == ["中中中中", "（中中"]  # an opening bracket goes down
