"""Weekly reports built from the real corpus: counts, threads, series, renderers."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lore_digest.digest import Digest, DigestSettings
from lore_digest.errors import UsageError
from lore_digest.facts.week import iso_week_window
from lore_digest.mail.subject import parse_subject
from lore_digest.report.build import ReportBuilder
from lore_digest.report.jsonout import report_dict
from lore_digest.report.markdown import render_markdown
from lore_digest.report.model import Report
from lore_digest.report.write import write_report
from lore_digest.store.db import Store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PMU = "[PATCH v3 0/4] KVM: arm64: Do not communicate host pmu event changes by accessing hyp data"
ITS = "[PATCH v3 0/4] KVM: arm64: vgic: Misc ITS fixes"


@pytest.fixture(scope="module")
def w19(synced_db: Path) -> Report:
    with Store.open(synced_db) as store:
        return Digest(store, "kvmarm", DigestSettings(now=NOW)).week("2022-W19")


def test_w19_counts_match_public_inbox(w19: Report) -> None:
    # ../shared/README.md: by Date header, 111 messages in 14 public-inbox threads.
    assert w19.stats.messages == 111
    assert w19.stats.threads == 14
    in_window = [m.message_id for t in w19.threads for m in t.messages if m.in_window]
    assert len(in_window) == len(set(in_window)) == 111


def test_w19_same_prefix_series_stay_apart(w19: Report) -> None:
    subjects = [t.subject for t in w19.threads]
    assert PMU in subjects and ITS in subjects
    for thread in w19.threads:
        titles = {
            parse_subject(m.subject).title
            for m in thread.messages
            if not parse_subject(m.subject).is_reply
        }
        assert (
            not {
                "KVM: arm64: vgic: Misc ITS fixes",
                "KVM: arm64: Do not communicate host pmu event changes by accessing hyp data",
            }
            <= titles
        )


def test_thread_title_is_its_root(w19: Report) -> None:
    for thread in w19.threads:
        root = next(m for m in thread.messages if m.message_id == thread.id)
        assert root.parent_id is None
        assert thread.subject == root.subject
        if thread.series and thread.series.cover_message_id:
            assert parse_subject(thread.subject).is_cover


def test_messages_sorted_and_history_flagged(w19: Report) -> None:
    start, end = w19.start, w19.end
    for thread in w19.threads:
        dates = [m.date for m in thread.messages]
        assert dates == sorted(dates)
        for m in thread.messages:
            assert m.in_window == (start <= m.date < end)
            assert m.url.startswith("https://lore.kernel.org/kvmarm/") and m.url.endswith("/")
    assert any(not m.in_window for t in w19.threads for m in t.messages)


def test_json_schema(w19: Report) -> None:
    data = json.loads(json.dumps(report_dict(w19)))
    assert data["list"] == "kvmarm" and data["week"] == "2022-W19"
    assert data["window"] == {
        "start": "2022-05-09T00:00:00+00:00",
        "end": "2022-05-16T00:00:00+00:00",
        "tz": "UTC",
    }
    assert set(data["stats"]) >= {
        "messages",
        "threads",
        "participants",
        "large_threads",
        "categories",
    }
    assert sum(c["messages"] for c in data["stats"]["categories"].values()) == 111
    assert sum(c["threads"] for c in data["stats"]["categories"].values()) == 14
    thread = data["threads"][0]
    assert set(thread) >= {"id", "subject", "category", "series", "summary", "messages"}
    message = thread["messages"][0]
    assert set(message) >= {
        "message_id",
        "date",
        "from_name",
        "from_email",
        "subject",
        "in_window",
        "url",
    }
    datetime.fromisoformat(message["date"])


def test_markdown_lists_every_mail_with_local_times(w19: Report) -> None:
    text = render_markdown(w19)
    assert text.startswith("# KVMARM")
    assert "**总邮件数**: 111" in text
    assert "**总 Thread 数**: 14" in text
    links = re.findall(r"\]\((https://lore\.kernel\.org/kvmarm/[^)]+/)\)", text)
    assert {m.url for t in w19.threads for m in t.messages} <= set(links)
    assert "Misc ITS fixes" in text


def test_time_zone_moves_the_window(synced_db: Path) -> None:
    with Store.open(synced_db) as store:
        settings = DigestSettings(tz="Asia/Shanghai", now=NOW)
        shanghai = Digest(store, "kvmarm", settings).week("2022-W19", lang="en")
    assert shanghai.start.isoformat() == "2022-05-09T00:00:00+08:00"
    for thread in shanghai.threads:
        for m in thread.window_messages:
            assert shanghai.start <= m.date < shanghai.end
            assert m.date.utcoffset() is not None and m.date.utcoffset().total_seconds() == 8 * 3600
    assert "This week" in render_markdown(shanghai)


def test_every_week_with_same_prefix_covers_keeps_them_apart(synced_store: Store) -> None:
    """The corpus has 26 weeks with two different "[PATCH vN 0/M]" covers; none merge."""
    info = synced_store.get_list("kvmarm")
    assert info is not None
    covers: dict[tuple[str, int, int], dict[str, str]] = defaultdict(dict)
    for m in synced_store.messages_between(info.id, 0, 2**40):
        s = parse_subject(m.subject)
        if s.is_cover and not s.is_reply and s.is_patch:
            year, week, _ = datetime.fromtimestamp(m.date_utc, UTC).isocalendar()
            covers[(f"{year}-W{week:02d}", s.version, s.total or 0)][s.normalized_title()] = (
                m.message_id
            )
    weeks = sorted({w for (w, _, _), titles in covers.items() if len(titles) > 1})
    assert len(weeks) >= 26
    builder = ReportBuilder(synced_store, "kvmarm")
    for week in weeks:
        report = builder.build(iso_week_window(week), now=NOW)
        where = {m.message_id: t.id for t in report.threads for m in t.messages}
        for (w, _, _), titles in covers.items():
            if w == week and len(titles) > 1:
                homes = {where[mid] for mid in titles.values() if mid in where}
                assert len(homes) == len([mid for mid in titles.values() if mid in where]), (
                    week,
                    titles,
                )


def test_write_report_files(w19: Report, tmp_path: Path) -> None:
    paths = write_report(w19, tmp_path, ["md", "json"])
    assert [p.name for p in paths] == ["kvmarm-2022-W19.md", "kvmarm-2022-W19.json"]
    assert json.loads(paths[1].read_text(encoding="utf-8"))["stats"]["messages"] == 111


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_week_without_mail_says_so_and_shows_no_empty_headings(
    synced_store: Store, lang: str
) -> None:
    """2019-W10 lies before the archive: no highlights, statistics or category headings
    over nothing, one line that there was no mail (the text format follows)."""
    report = ReportBuilder(synced_store, "kvmarm").build(
        iso_week_window("2019-W10"), lang=lang, now=datetime(2026, 11, 23, tzinfo=UTC)
    )
    text = render_markdown(report)
    assert text.count("\n## ") == 0 and "###" not in text
    assert ("No mail in this window." if lang == "en" else "本周期内没有邮件。") in text
    busy = render_markdown(
        ReportBuilder(synced_store, "kvmarm").build(
            iso_week_window("2022-W19"), lang=lang, now=datetime(2026, 11, 23, tzinfo=UTC)
        )
    )
    assert busy.count("\n## ") >= 3


def test_unknown_list_is_a_usage_error(synced_store: Store) -> None:
    with pytest.raises(UsageError, match="unknown list"):
        Digest(synced_store, "nope")


@pytest.mark.parametrize("week", ["2022-W54", "22-W1", "2022W", "yesterday"])
def test_bad_week(week: str) -> None:
    with pytest.raises(UsageError):
        iso_week_window(week)


def _series(report: Report, subject: str):  # type: ignore[no-untyped-def]
    thread = next(t for t in report.threads if t.subject == subject)
    assert thread.series is not None
    return thread, thread.series


def test_w19_series_facts(w19: Report) -> None:
    pmu = "KVM: arm64: Do not communicate host pmu event changes by accessing hyp data"
    thread, v4 = _series(w19, f"[PATCH v4 0/4] {pmu}")
    assert str(v4.status.status) == "applied"
    applied = v4.status.applied
    assert applied is not None and applied.branch == "next" and len(applied.commits) == 4
    assert [r.version for r in v4.revisions] == [1, 2, 3, 4]
    assert v4.status.evidence and all(
        e in {m.message_id for m in thread.messages} for e in v4.status.evidence
    )
    assert thread.status is v4.status  # one status, not a copy
    _, v3 = _series(w19, PMU)
    assert (
        str(v3.status.status) == "superseded"
        and v3.superseded_by is not None
        and v3.superseded_by.version == 4
    )
    _, its = _series(w19, ITS)
    assert [r.version for r in its.revisions] == [1, 2, 3]
    # The cover's "v2 -> v3" section, nothing from the v1 -> v2 part below it.
    assert its.changes is not None
    assert its.changes.startswith("- collect RBs from Eric")
    assert its.changes.rstrip().endswith(
        "not skipping dummy end elements when restoring collection tables. [Eric]"
    )
    _, eager = _series(w19, "[PATCH v4 00/20] KVM: Extend Eager Page Splitting to the shadow MMU")
    assert eager.superseded_by is not None and eager.superseded_by.version == 5
    assert len(eager.patches) == 20
    reviewed = {p.number for p in eager.patches if p.reviewed}
    assert reviewed and set(eager.patches_without_review) == set(range(1, 21)) - reviewed
    assert w19.highlights is not None
    assert any(pmu in i.subject for i in w19.highlights.applied)
    assert any(pmu in i.subject for i in w19.highlights.new_revisions)


def test_summaries_cite_real_mail(w19: Report) -> None:
    for thread in w19.threads:
        assert thread.summary is not None and thread.summary.source == "facts"
        known = {m.message_id for m in thread.messages}
        if thread.series:
            known |= {r.message_id for r in thread.series.revisions}
            if thread.series.superseded_by:
                known.add(thread.series.superseded_by.message_id)
        parts = (thread.summary.original, thread.summary.history, thread.summary.this_week)
        assert all(parts)
        for part in parts:
            for item in part:
                assert set(item.cites) <= known, (thread.subject, item)


def test_summary_excerpts_are_verbatim_and_unquoted(w19: Report, synced_store: Store) -> None:
    """The "original" excerpt is the author's own first paragraph, never quoted text."""
    info = synced_store.get_list("kvmarm")
    assert info is not None
    for thread in w19.threads:
        assert thread.summary is not None
        first = thread.summary.original[0]
        assert ">" not in first.text.split("“", 1)[-1][:2]
        assert "diff --git" not in first.text
