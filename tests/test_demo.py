"""The offline demo report: the generated list exercises every kind of fact."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from lore_digest.demo.run import run_demo

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_demo_report_has_the_facts(tmp_path: Path) -> None:
    md, js, index = run_demo(tmp_path, now=NOW)
    assert index.name == "index.html" and index.is_file()
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["week"] == "2026-W47"
    threads = {t["subject"]: t for t in data["threads"]}
    categories = {t["category"] for t in data["threads"]}
    assert {
        "PATCH",
        "RFC",
        "GIT PULL",
        "Bug report",
        "Other projects",
        "Question/Discussion",
    } <= categories
    v3_covers = [s for s in threads if s.startswith("[PATCH v3 0/4]")]
    assert len(v3_covers) == 2  # same "v3 0/4", different series: never merged
    for subject in v3_covers:
        numbers = {p["number"] for p in threads[subject]["series"]["patches"]}
        assert numbers == {1, 2, 3, 4}  # unthreaded patches joined their cover
    applied = [t for t in data["threads"] if t["series"] and t["series"]["status"] == "applied"]
    assert any(t["series"]["applied"]["branch"] == "next" for t in applied)
    names = {m["from_name"] for t in data["threads"] for m in t["messages"]}
    assert "Daniel P. Berrangé" in names
    assert data["highlights"]["applied"]
    text = md.read_text(encoding="utf-8")
    assert "本周要点" in text and "原始补丁内容" in text
