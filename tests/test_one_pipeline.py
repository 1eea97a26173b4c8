"""One pipeline: a week label means the same mail in every output, whatever the zone.

The report, the site (its pages and the JSON it publishes beside them), the mail and
`run` all take their weeks from one `Digest`. These tests build every week of the
shared corpus through the command line, `report` and `site` with the same time zone,
and compare the in-window mail week by week.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lore_digest.digest import Digest, DigestSettings
from lore_digest.store.db import Store

ZONE = "Asia/Shanghai"


def _cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lore_digest", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def _in_window(path: Path) -> set[str]:
    data = json.loads(path.read_text("utf-8"))
    return {m["message_id"] for t in data["threads"] for m in t["messages"] if m["in_window"]}


@pytest.fixture(scope="module")
def store_copy(synced_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the session's store (report and site write caches into it)."""
    target = tmp_path_factory.mktemp("one-pipeline") / "store.sqlite3"
    shutil.copy(synced_db, target)
    return target


def test_report_and_site_agree_on_every_week_in_a_zone(store_copy: Path, tmp_path: Path) -> None:
    with Store.open(store_copy) as store, Digest(store, "kvmarm", DigestSettings(tz=ZONE)) as d:
        weeks = d.weeks_with_mail()
        utc_weeks = Digest(store, "kvmarm").weeks_with_mail()
        total = store.count_messages(d.info.id)
    assert len(weeks) > 150
    reports, site = tmp_path / "reports", tmp_path / "site"
    made = _cli(
        "--db", store_copy, "report", "--list", "kvmarm", "--tz", ZONE,
        "--week", ",".join(weeks), "--format", "json", "--out", reports, "--json",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    after = _cli("report", "--db", store_copy, "--list", "kvmarm", "--out", tmp_path / "last")
    assert after.returncode == 0, after.stderr  # --db after the command's name works too
    built = _cli("--db", store_copy, "site", "--list", "kvmarm", "--tz", ZONE, "--out", site)
    assert built.returncode == 0, built.stderr
    differ, seen = [], 0
    for week in weeks:
        in_report = _in_window(reports / f"kvmarm-{week}.json")
        in_site = _in_window(site / f"kvmarm-{week}.json")
        seen += len(in_report)
        if in_report != in_site:
            differ.append(week)
    assert differ == [], f"report and site differ in {len(differ)} weeks: {differ[:5]}"
    assert seen == total  # every mail in exactly one week of the zone
    # The zone matters (else this test would prove nothing): the UTC week has other mail.
    with Store.open(store_copy) as store:
        plain = Digest(store, "kvmarm")
        utc = plain.window("2019-W21")
        mails = store.messages_between(plain.info.id, utc.start_utc, utc.end_utc)
        in_utc = {m.message_id for m in mails}
    assert in_utc != _in_window(reports / "kvmarm-2019-W21.json")
    assert utc_weeks != weeks or in_utc
    page = (site / "kvmarm-2019-W21.html").read_text("utf-8")
    figures = json.loads((site / "kvmarm-2019-W21.json").read_text("utf-8"))["stats"]
    assert f'class="n-messages">{figures["messages"]}<' in page
    assert figures["messages"] == len(_in_window(reports / "kvmarm-2019-W21.json"))


def test_site_publishes_each_weeks_json_in_every_language(store_copy: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    built = _cli(
        "--db", store_copy, "site", "--list", "kvmarm", "--week", "2022-W18..2022-W19",
        "--lang", "zh,en", "--out", site,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    for week in ("2022-W18", "2022-W19"):
        zh = json.loads((site / f"kvmarm-{week}.json").read_text("utf-8"))
        en = json.loads((site / f"kvmarm-{week}.en.json").read_text("utf-8"))
        assert zh["week"] == en["week"] == week and (zh["lang"], en["lang"]) == ("zh", "en")
        assert zh["window"]["tz"] == "UTC"
    assert json.loads((site / "kvmarm-2022-W19.json").read_text())["stats"]["messages"] == 111
    # And the same through `report --lang zh,en`, the same grammar:
    reports = tmp_path / "reports"
    made = _cli(
        "--db", store_copy, "report", "--list", "kvmarm", "--week", "2022-W19",
        "--lang", "zh,en", "--out", reports,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in reports.iterdir()) == [
        "kvmarm-2022-W19.en.json",
        "kvmarm-2022-W19.en.md",
        "kvmarm-2022-W19.json",
        "kvmarm-2022-W19.md",
    ]
    assert _in_window(reports / "kvmarm-2022-W19.json") == _in_window(site / "kvmarm-2022-W19.json")


def test_a_week_asked_again_is_made_once_until_new_mail_arrives(
    corpus_blobs: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    """`run` reports a week and then puts it on the site: one Digest makes it once, and
    makes it again as soon as the list's mail changed (here: later mail of that week)."""
    from conftest import write_mboxrd
    from lore_digest.ingest import sync_mbox

    blobs = [raw for _, raw in corpus_blobs[9000:9080]]  # 2021-02-01 …
    store_path = tmp_path / "s.sqlite3"
    with Store.open(store_path) as store:
        sync_mbox(store, write_mboxrd(tmp_path / "a.mbox", blobs[:40]), "small")
        with Digest(store, "small", DigestSettings()) as digest:
            first = digest.week("2021-W05", lang="en")
            assert digest.week("2021-W05", lang="en") is first
            other = digest.week("2021-W05", lang="zh")
            assert other is not first and other.lang == "zh"
            sync_mbox(store, write_mboxrd(tmp_path / "b.mbox", blobs), "small")
            again = digest.week("2021-W05", lang="en")
            assert again is not first
            assert again.stats.messages > first.stats.messages
