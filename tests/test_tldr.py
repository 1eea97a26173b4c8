"""The TL;DR block (report.tldr): eight lines from facts, one entry per revision chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lore_digest.facts.status import APPLIED_STATES, Status
from lore_digest.facts.week import iso_week_window
from lore_digest.report.build import ReportBuilder
from lore_digest.report.jsonout import render_json
from lore_digest.report.markdown import render_markdown
from lore_digest.report.model import Report
from lore_digest.report.tldr import MAX_LINES, PER_LINE, STUCK_DAYS
from lore_digest.store.db import Store

NOW = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture(scope="module")
def w19(synced_db: object) -> Report:
    with Store.open(synced_db) as store:  # type: ignore[arg-type]
        return ReportBuilder(store, "kvmarm").build(iso_week_window("2022-W19"), lang="en", now=NOW)


def _by_kind(report: Report, kind: str) -> list:  # type: ignore[type-arg]
    return [line for line in report.tldr if line.kind == kind]


def test_at_most_eight_lines_each_resting_on_this_weeks_mail(w19: Report) -> None:
    assert 0 < len(w19.tldr) <= MAX_LINES
    threads = {t.id: t for t in w19.threads}
    (next_branch, *_others) = _by_kind(w19, "applied")
    assert next_branch.detail == "next" and len(next_branch.entries) == PER_LINE
    for item in next_branch.entries:
        status = threads[item.message_id].status
        assert status is not None and status.status in APPLIED_STATES
        assert status.applied is not None and status.applied.branch == "next"
        assert item.count == len(status.applied.commits)
    for line in _by_kind(w19, "decision"):
        for item in line.entries:
            status = threads[item.message_id].status
            assert status is not None and str(status.status) == line.detail


def test_a_revision_chain_is_one_entry_v2_to_v4(w19: Report) -> None:
    """The PMU series was posted as v2, v3 and v4 this week: one entry, the newest."""
    (line,) = _by_kind(w19, "new_revisions")
    pmu = [i for i in line.entries if "host pmu event changes" in i.subject]
    assert len(pmu) == 1 and pmu[0].detail == "v2 → v3 → v4"
    assert pmu[0].subject.startswith("[PATCH v4 0/4]")
    subjects = [i.subject for i in line.entries]
    assert len(subjects) == len(set(subjects))
    # The highlights list the same chains (report.highlights), the TL;DR names the first.
    assert len(w19.highlights.new_revisions) == len(line.entries) + line.more  # type: ignore[union-attr]


def test_what_is_stuck(w19: Report) -> None:
    threads = {t.id: t for t in w19.threads}
    (waiting,) = _by_kind(w19, "waiting")
    oldest = max(w19.highlights.waiting_for_review, key=lambda i: i.count)  # type: ignore[union-attr]
    assert waiting.entries == (oldest,)
    for line in _by_kind(w19, "stuck"):
        for item in line.entries:
            series = threads[item.message_id].series
            assert series is not None and series.superseded_by is None
            assert series.status.status == Status.CHANGES_REQUESTED and item.count >= STUCK_DAYS


def test_first_in_every_format(w19: Report) -> None:
    markdown = render_markdown(w19)
    assert markdown.index("## ⚡ TL;DR") < markdown.index("## ✨ Highlights")
    assert "(v2 → v3 → v4)" in markdown and "1 more)" in markdown
    data = json.loads(render_json(w19))
    assert [line["kind"] for line in data["tldr"]] == [line.kind for line in w19.tldr]
    assert data["tldr"][0]["items"][0]["url"].startswith("https://lore.kernel.org/kvmarm/")


def test_threads_are_ordered_by_what_matters(w19: Report) -> None:
    """Applied first, decisions next, reviewed new revisions, new postings, discussion;
    superseded revisions last (the PMU v2 and v3 under its applied v4, not before it)."""
    from lore_digest.report.build import importance

    window = iso_week_window("2022-W19")
    for _category, threads in w19.by_category():
        ranks = [importance(t, window) for t in threads]
        assert ranks == sorted(ranks)
    first = w19.threads[0]
    assert first.subject.startswith("[PATCH v4 0/4] KVM: arm64: Do not communicate host pmu")
    assert first.status is not None and first.status.status in APPLIED_STATES
    tail = [t for t in w19.threads if t.series is not None and t.series.superseded_by]
    assert tail and w19.threads[-len(tail) :] == tail
