"""A busy list stays readable: a week of 1,000+ mails (generated, tests/scale_list.py).

linux-arm-kernel has weeks of ~1,400 mails and 340 threads. Its Markdown must open with
a first screen (title, TL;DR, highlights) under 60 lines, and each thread must be one
line and its summary unless the full detail is asked for.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lore_digest.digest import Digest, DigestSettings
from lore_digest.facts.week import week_of
from lore_digest.ingest import sync_mirror
from lore_digest.report.labels import LABELS
from lore_digest.report.markdown import render_markdown
from lore_digest.report.model import Report
from lore_digest.report.text import render_text
from lore_digest.site.build import build_site
from lore_digest.site.render import WAITING_SHOWN
from lore_digest.store.db import Store
from scale_list import write_scale_epoch

START = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday
FIRST_SCREEN = 60


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("busy")
    epoch = folder / "busy-0.git"
    write_scale_epoch(epoch, 3000, seed=11, start=START, per_day=220.0)
    db = folder / "store.sqlite3"
    with Store.open(db) as store:
        sync_mirror(store, str(epoch), "busy")
    return db


@pytest.fixture(scope="module")
def busiest(store_path: Path) -> str:
    with Store.open(store_path) as store:
        info = store.get_list("busy")
        assert info is not None
        dates = store.message_dates(info.id)
        weeks = Counter(week_of(datetime.fromtimestamp(utc, UTC)) for utc in dates)
    label, count = weeks.most_common(1)[0]
    assert count >= 1000, weeks
    return label


def _report(store_path: Path, label: str, **settings: object) -> Report:
    with (
        Store.open(store_path) as store,
        Digest(
            store, "busy", DigestSettings(now=datetime(2026, 1, 1, tzinfo=UTC), **settings)
        ) as digest,  # type: ignore[arg-type]
    ):
        return digest.week(label, lang="en")


def _first_screen(markdown: str) -> int:
    """Lines before the statistics: title, window, TL;DR and highlights."""
    lines = markdown.splitlines()
    stats = f"## {LABELS['en']['stats']}"
    return next(i for i, line in enumerate(lines) if line.startswith(stats))


def test_a_busy_week_is_brief_with_a_short_first_screen(store_path: Path, busiest: str) -> None:
    report = _report(store_path, busiest)
    assert report.stats.messages >= 1000 and len(report.threads) >= 100
    assert report.detail == "brief"  # more than brief_over (500) mails
    markdown = render_markdown(report)
    assert _first_screen(markdown) <= FIRST_SCREEN, _first_screen(markdown)
    # One line (and its summary) per thread: no trailer tables, no reply trees.
    assert "| --- | --- |" not in markdown and f"#### {LABELS['en']['mail_list']}" not in markdown
    assert markdown.count("\n- **") >= len(report.by_category()[0][1])
    # The mutt text wraps long subjects at 72 columns: more lines, the same entries.
    text = render_text(report)
    assert text.count("+20 more") == markdown.count("\\+20 more") == 1


def test_full_detail_still_opens_with_a_short_first_screen(store_path: Path, busiest: str) -> None:
    report = _report(store_path, busiest, detail="full")
    assert report.detail == "full"
    markdown = render_markdown(report)
    assert _first_screen(markdown) <= FIRST_SCREEN
    assert f"#### {LABELS['en']['mail_list']}" in markdown  # every thread in full
    assert len(markdown) > 3 * len(render_markdown(_report(store_path, busiest)))


def test_a_persons_block_is_capped_too(store_path: Path, busiest: str) -> None:
    """A --person block opens the report after the TL;DR: at most five entries per
    list, so it adds at most 22 lines to the first screen."""
    top = _report(store_path, busiest).highlights
    assert top is not None and top.top_reviewers
    email = top.top_reviewers[0].email
    report = _report(store_path, busiest, people=(email,))
    markdown = render_markdown(report)
    (view,) = report.people
    heading = f"## {LABELS['en']['person'].format(name=view.name)}"
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    end = next(i for i, line in enumerate(lines) if i > start and line.startswith("## "))
    assert end - start <= 22
    assert _first_screen(markdown) <= FIRST_SCREEN + 22


def test_the_site_keeps_everything_of_a_busy_week_folded(
    store_path: Path, busiest: str, tmp_path: Path
) -> None:
    """The HTML of a brief week has every thread's details, closed; its long "waiting
    for review" list shows the oldest WAITING_SHOWN and links a page with all of them."""
    out = tmp_path / "site"
    with (
        Store.open(store_path) as store,
        Digest(store, "busy", DigestSettings(now=datetime(2026, 1, 1, tzinfo=UTC))) as digest,
    ):
        build_site(digest, out, langs=("en",), weeks=[busiest])
        report = digest.week(busiest, lang="en")
    waiting = report.highlights.waiting_for_review if report.highlights else ()
    assert len(waiting) > WAITING_SHOWN, "the generated week has a long waiting list"
    page = (out / f"busy-{busiest}.en.html").read_text(encoding="utf-8")
    assert '<details class="mails">' in page and '<details class="mails" open>' not in page
    # every thread's reply tree is there (older revisions fold under their newest)
    assert page.count('<details class="mails">') >= 0.9 * len(report.threads)
    listed = page.split(f"busy-{busiest}-waiting.en.html", 1)[0].rsplit("<ul>", 1)[1]
    assert listed.count("<li>") == WAITING_SHOWN + 1  # and the link's own
    assert waiting[0].subject in listed and waiting[WAITING_SHOWN].subject not in listed
    full = (out / f"busy-{busiest}-waiting.en.html").read_text(encoding="utf-8")
    assert full.count("<li>") == len(waiting)
    assert all(item.url in full for item in waiting)
    # A quiet week keeps its details open and its list on the week page.
    with (
        Store.open(store_path) as store,
        Digest(store, "busy", DigestSettings(now=datetime(2026, 1, 1, tzinfo=UTC))) as digest,
    ):
        quiet = next(
            w
            for w in sorted({digest.week_of(u) for u in store.message_dates(digest.info.id)})
            if digest.week(w, lang="en").detail == "full"
        )
        build_site(digest, out, langs=("en",), weeks=[quiet])
    assert '<details class="mails" open>' in (out / f"busy-{quiet}.en.html").read_text("utf-8")
