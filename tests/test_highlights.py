"""Highlights keyed by revision chain: one entry per series, not per posting (2022-W19).

The PMU series ("Do not communicate host pmu event changes by accessing hyp data") was
posted as v2, v3 and v4 in 2022-W19 and v4 was applied; Eager Page Splitting had v4's
review and v5's posting. Each appears once per highlight group, its newest revision
standing for the chain, the versions in the detail, the chain's id in the JSON.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from lore_digest.facts.week import iso_week_window
from lore_digest.report.build import ReportBuilder
from lore_digest.report.highlights import SHOWN_COMMITS, applied_detail
from lore_digest.report.jsonout import render_json
from lore_digest.report.markdown import render_markdown
from lore_digest.report.model import HighlightItem, Report
from lore_digest.store.db import Store

NOW = datetime(2026, 11, 23, tzinfo=UTC)
PMU = "host pmu event changes"
EAGER = "Eager Page Splitting"


@pytest.fixture(scope="module")
def w19(synced_db: object) -> Report:
    with Store.open(synced_db) as store:  # type: ignore[arg-type]
        return ReportBuilder(store, "kvmarm").build(iso_week_window("2022-W19"), lang="en", now=NOW)


def _groups(report: Report) -> dict[str, tuple[HighlightItem, ...]]:
    h = report.highlights
    assert h is not None
    return {
        "applied": h.applied,
        "new_series": h.new_series,
        "new_revisions": h.new_revisions,
        "waiting_for_review": h.waiting_for_review,
        "most_active": h.most_active,
    }


def test_every_revision_of_a_series_shares_its_chain(w19: Report) -> None:
    pmu = [t for t in w19.threads if PMU in t.subject and t.series is not None]
    assert sorted(t.series.version for t in pmu if t.series) == [2, 3, 4]
    assert len({t.chain for t in pmu}) == 1
    assert len({t.chain for t in w19.threads}) < len(w19.threads)


def test_a_series_appears_once_per_highlight_group(w19: Report) -> None:
    for name, items in _groups(w19).items():
        chains = [i.chain for i in items]
        assert all(chains) and len(chains) == len(set(chains)), name
    groups = _groups(w19)
    (revised,) = [i for i in groups["new_revisions"] if PMU in i.subject]
    assert (revised.detail, revised.count) == ("v2 → v3 → v4", 3)
    assert revised.subject.startswith("[PATCH v4 0/4]")
    (active,) = [i for i in groups["most_active"] if PMU in i.subject]
    threads = [t for t in w19.threads if t.chain == active.chain]
    assert active.count == sum(len(t.window_messages) for t in threads)  # 9 + 13 + 9
    assert active.detail == "v2 → v3 → v4"
    (eager,) = [i for i in groups["most_active"] if EAGER in i.subject]
    assert eager.subject.startswith("[PATCH v5") and eager.detail == "v4 → v5"
    assert [i.count for i in groups["most_active"]] == sorted(
        (i.count for i in groups["most_active"]), reverse=True
    )


def test_applied_names_its_commits(w19: Report) -> None:
    threads = {t.id: t for t in w19.threads}
    (pmu,) = [i for i in _groups(w19)["applied"] if PMU in i.subject]
    status = threads[pmu.message_id].status
    assert status is not None and status.applied is not None
    commits = status.applied.commits
    assert pmu.count == len(commits) == 4
    shas = [sha[:12] for _, sha in commits[:SHOWN_COMMITS]]
    assert pmu.detail == f"next (4 commits: {' '.join(shas)} …)"
    markdown = render_markdown(w19)
    assert shas[0] in markdown


def test_applied_detail() -> None:
    one = (("[1/1] x", "0123456789abcdef"),)
    assert applied_detail("next", one) == "next (1 commit: 0123456789ab)"
    assert applied_detail(None, ()) == ""
    assert applied_detail("fixes", ()) == "fixes"
    four = tuple((f"[{n}/4] x", f"{n}" * 40) for n in range(1, 5))
    assert applied_detail(None, four) == "(4 commits: 111111111111 222222222222 333333333333 …)"


def test_json_items_carry_the_chain(w19: Report) -> None:
    data = json.loads(render_json(w19))
    chains = {t.id: t.chain for t in w19.threads}
    for name in _groups(w19):
        for item in data["highlights"][name]:
            listed = item["message_id"]
            owner = next(
                (
                    t
                    for t in w19.threads
                    if listed in (t.id, t.series and t.series.first_message_id)
                ),
                None,
            )
            if owner is not None:  # waiting series are found in the store, not the week
                assert item["chain"] == chains[owner.id], (name, listed)
            assert item["chain"]
    for line in data["tldr"]:
        assert all(i["chain"] for i in line["items"])


def test_superseded_revisions_fold_under_the_newest(w19: Report) -> None:
    """The thread list reads one series as one thread: PMU v2 and v3 under v4, Eager Page
    Splitting v4 under v5; their mail still counted, linked and in the JSON."""
    folded = w19.folded()
    by_id = {t.id: t for t in w19.threads}
    versions = {
        by_id[lead].subject.split("]")[0]: [t.series.version for t in earlier if t.series]
        for lead, earlier in folded.items()
    }
    assert versions["[PATCH v4 0/4"] == [2, 3]
    assert versions["[PATCH v5 00/21"] == [4]
    for lead, earlier in folded.items():
        assert all(t.chain == by_id[lead].chain for t in earlier)
        assert all(t.series is not None and t.series.superseded_by for t in earlier)
    shown = [t for _, threads in w19.by_category() for t in threads]
    hidden = {t.id for earlier in folded.values() for t in earlier}
    assert len(shown) + len(hidden) == len(w19.threads) and not hidden & {t.id for t in shown}
    assert w19.stats.messages == sum(len(t.window_messages) for t in w19.threads) == 111
    markdown = render_markdown(w19)
    assert len(re.findall(r"^### Thread \d+: ", markdown, re.MULTILINE)) == len(shown)
    assert markdown.count("#### Earlier revisions (superseded)") == len(folded)
    data = json.loads(render_json(w19))
    into = {t["id"]: t["folded_into"] for t in data["threads"]}
    assert {i for i, lead in into.items() if lead} == hidden
    for t in data["threads"]:
        assert t["chain"] == by_id[t["id"]].chain
        if t["folded_into"]:
            assert by_id[t["folded_into"]].chain == t["chain"]


def test_a_series_split_in_two_stays_two_entries(synced_db: object) -> None:
    """James Morse's 2019 SError v1 was split into two v3 series (one chain id, two lines
    of revisions): both wait for review in 2019-W27, neither hides the other."""
    with Store.open(synced_db) as store:  # type: ignore[arg-type]
        w27 = ReportBuilder(store, "kvmarm").build(iso_week_window("2019-W27"), lang="en", now=NOW)
    assert w27.highlights is not None
    waiting = {i.message_id: i.chain for i in w27.highlights.waiting_for_review}
    a = "20190618151738.258983-1-james.morse@arm.com"
    b = "20190618151809.259038-1-james.morse@arm.com"
    assert a in waiting and b in waiting and waiting[a] == waiting[b]
