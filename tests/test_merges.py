"""Merges confirmed in git, in reports: real corpus series against real git trees.

The trees are built (tests/tree_builder.py) from the patch mails of a 2022-W19 series:
patch by patch, with a Link: trailer, by patch-id only, or edited (subject only). The
report must say which patches landed where, by which rule, and the series' state.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from click.testing import Result as CliResult

from lore_digest.cli import cli
from lore_digest.digest import Digest, DigestSettings
from lore_digest.facts.status import Status
from lore_digest.mail.subject import parse_subject
from lore_digest.report.jsonout import render_json
from lore_digest.report.markdown import render_markdown
from lore_digest.store.db import Store
from tree_builder import Kind, WorkTree, parse_mail_patch

WEEK = "2022-W19"


@pytest.fixture
def store_copy(synced_db: Path, tmp_path: Path) -> Path:
    """The session's corpus store, copied: trees and caches are written into it."""
    target = tmp_path / "store.sqlite3"
    shutil.copyfile(synced_db, target)
    return target


def _series(store: Store) -> tuple[str, list[tuple[str, bytes]]]:
    """A W19 series of several patches nobody applied in mail: its cover and patch mails."""
    with Digest(store, "kvmarm") as digest:
        report = digest.week(WEEK, lang="en")
    for thread in report.threads:
        s = thread.series
        if s is None or len(s.patches) < 3 or s.status.status != Status.UNDER_REVIEW:
            continue
        info = store.get_list("kvmarm")
        assert info is not None
        pks = store.known_ids(info.id, [p.message_id for p in s.patches])
        raws = [(p.message_id, store.raw_bytes(pks[p.message_id])) for p in s.patches]
        return thread.id, raws
    raise AssertionError("no multi-patch series under review in 2022-W19")


def _tree(path: Path, patches: list[tuple[bytes, Kind]]) -> Path:
    """A bare repository whose `next` holds these patch mails, applied as `kind`."""
    work = WorkTree(path / "work")
    for number, (raw, kind) in enumerate(patches):
        mail = parse_mail_patch(raw)
        assert mail is not None
        assert work.add_patch(mail, kind, number) is not None
    bare = path / "tree.git"
    work.push(bare)
    return bare


def _empty_tree(path: Path) -> Path:
    """A bare repository whose `next` holds no patch of the corpus."""
    bare = path / "empty.git"
    WorkTree(path / "empty").push(bare)
    return bare


def test_a_partly_merged_series_then_merged(
    store_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with Store.open(store_copy) as store:
        thread_id, raws = _series(store)
        kinds: list[Kind] = ["link", "patch-id", "subject"]
        first = _tree(tmp_path / "one", [(raws[0][1], "link"), (raws[1][1], "patch-id")])
        settings = DigestSettings(trees=(f"{first}@next",))
        with Digest(store, "kvmarm", settings) as digest:
            report = digest.week(WEEK, lang="en")
        thread = next(t for t in report.threads if t.id == thread_id)
        assert thread.series is not None
        found = {(m.message_id, m.how) for m in thread.series.merged}
        assert found == {(raws[0][0], "link"), (raws[1][0], "patch-id")}
        total = len(thread.series.patches)
        assert thread.series.merge_state == f"partly merged (2/{total})"
        assert thread.status is not None and thread.status.status == Status.PARTLY_MERGED
        data = json.loads(render_json(report))
        entry = next(t for t in data["threads"] if t["id"] == thread_id)
        patch_one = entry["series"]["patches"][0]
        assert patch_one["merged"][0]["how"] == "link"
        assert patch_one["merged"][0]["tree"] == "tree.git@next"
        assert len(patch_one["merged"][0]["commit"]) == 40
        assert patch_one["merged"][0]["commit"][:12] in render_markdown(report)

        everything = [(raw, kinds[i % 3]) for i, (_, raw) in enumerate(raws)]
        full = _tree(tmp_path / "all", everything)
        settings = DigestSettings(trees=(f"{full}@next",))
        with Digest(store, "kvmarm", settings) as digest:
            report = digest.week(WEEK, lang="en")
        thread = next(t for t in report.threads if t.id == thread_id)
        assert thread.series is not None and thread.series.merge_state == "merged"
        hows = {m.how for m in thread.series.merged}
        assert hows == {"link", "patch-id", "subject"}


def test_applied_in_mail_but_in_no_tree_is_flagged(
    store_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bare = _empty_tree(tmp_path)
    with Store.open(store_copy) as store:
        settings = DigestSettings(trees=(f"{bare}@next",), tree_grace_days=0)
        with Digest(store, "kvmarm", settings) as digest:
            report = digest.week(WEEK, lang="en")
    applied = [t for t in report.threads if t.series and t.series.status.status == Status.APPLIED]
    assert applied, "2022-W19 has series a maintainer applied"
    flagged = [t for t in applied if t.series and t.series.not_in_tree]
    assert flagged
    assert "not found in empty.git@next" in (flagged[0].series.not_in_tree or "")
    assert "not found in empty.git@next" in render_markdown(report)


def _report_with_tree(store: Path, tree: str, out: Path) -> CliResult:
    """`report --tree TREE` of the week, as JSON, through the command line."""
    args = ["--db", str(store), "report", "--list", "kvmarm", "--week", WEEK, "--lang", "en"]
    return CliRunner().invoke(cli, [*args, "--tree", tree, "--format", "json", "--out", str(out)])


def test_report_tree_option_and_a_bad_tree(
    store_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bare = _empty_tree(tmp_path)
    ok = _report_with_tree(store_copy, f"{bare}@next", tmp_path / "out")
    assert ok.exit_code == 0, ok.output
    bad = _report_with_tree(store_copy, str(tmp_path / "missing.git"), tmp_path / "out2")
    assert bad.exit_code == 0, bad.output  # the report is still written
    assert "not used" in bad.output
    assert "Traceback" not in bad.output


def test_series_files_and_subjects(store_copy: Path) -> None:
    """Every W19 patch records the files it touches; the store keeps them per patch."""
    with Store.open(store_copy) as store:
        with Digest(store, "kvmarm") as digest:
            report = digest.week(WEEK, lang="en")
        series = [t.series for t in report.threads if t.series is not None]
        assert series and all(s.files for s in series if s.patches)
        info = store.get_list("kvmarm")
        assert info is not None
        window = (int(report.start.timestamp()), int(report.end.timestamp()))
        postings = [
            m
            for m in store.messages_between(info.id, *window)
            if parse_subject(m.subject).is_patch and not parse_subject(m.subject).is_reply
        ]
        stored = store.patch_files(m.pk for m in postings)
        assert stored and any("arch/arm64/kvm" in p for paths in stored.values() for p in paths)


def test_a_commit_made_after_the_reports_clock_is_not_in_the_tree_yet(
    store_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An old week shows what the trees held by its end (the builder commits each patch a
    day after its mail): the same tree, read an hour after the mail, holds nothing."""
    from datetime import UTC, datetime

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with Store.open(store_copy) as store:
        thread_id, raws = _series(store)
        tree = _tree(tmp_path / "one", [(raws[0][1], "link")])
        mail = parse_mail_patch(raws[0][1])
        assert mail is not None
        early = datetime.fromtimestamp(mail.date_utc + 3600, UTC)
        for now, merged in ((early, set()), (None, {raws[0][0]})):
            settings = DigestSettings(trees=(f"{tree}@next",), now=now)
            with Digest(store, "kvmarm", settings) as digest:
                report = digest.week(WEEK, lang="en")
            thread = next(t for t in report.threads if t.id == thread_id)
            assert thread.series is not None
            assert {m.message_id for m in thread.series.merged} == merged, now
