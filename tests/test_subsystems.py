"""Subsystem names per thread (facts.subsystems): path groups, MAINTAINERS, directories."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lore_digest.digest import DigestSettings
from lore_digest.facts.maintainers import Maintainers
from lore_digest.facts.subsystems import MAX_SUBSYSTEMS, Subsystems, matches
from lore_digest.facts.week import iso_week_window
from lore_digest.report.build import ReportBuilder
from lore_digest.report.jsonout import render_json
from lore_digest.report.markdown import render_markdown
from lore_digest.settings import load_settings
from lore_digest.store.db import Store

NOW = datetime(2026, 11, 23, tzinfo=UTC)
ITS = "vgic: Misc ITS fixes"
GROUPS = {"VGIC": ("arch/arm64/kvm/vgic/",), "selftests": ("tools/testing/selftests/kvm/",)}
MAINTAINERS = """\
KERNEL VIRTUAL MACHINE FOR ARM64 (KVM/arm64)
M:	Marc Zyngier <maz@kernel.org>
F:	arch/arm64/kvm/
F:	arch/arm64/include/asm/kvm*

ARM64 PORT (AARCH64 ARCHITECTURE)
M:	Catalin Marinas <catalin.marinas@arm.com>
F:	arch/arm64/

THE REST
M:	Linus Torvalds <torvalds@linux-foundation.org>
F:	*
F:	*/
"""


def test_directories_by_default() -> None:
    names = Subsystems().of(
        [
            "arch/arm64/kvm/vgic/vgic-its.c",
            "arch/arm64/kvm/arm.c",
            "include/kvm/arm_vgic.h",
            "MAINTAINERS",
        ]
    )
    assert names == ("arch/arm64/kvm", "MAINTAINERS", "include/kvm")
    assert Subsystems().of([]) == ()
    many = [f"dir{n}/x/y/z.c" for n in range(10)]
    assert len(Subsystems().of(many)) == 10  # all kept: a filter sees the tenth too
    assert MAX_SUBSYSTEMS < 10  # ... the report shows the first ones and "…"


def test_path_groups_win_and_name_only_what_they_cover() -> None:
    rules = Subsystems(GROUPS, Maintainers.parse(MAINTAINERS))
    assert rules.of(["arch/arm64/kvm/vgic/vgic-its.c", "arch/arm64/kvm/arm.c"]) == ("VGIC",)
    assert rules.of(["virt/kvm/kvm_main.c"]) == ()


def test_maintainers_name_the_most_specific_section_never_the_rest() -> None:
    rules = Subsystems(maintainers=Maintainers.parse(MAINTAINERS))
    kvm = "KERNEL VIRTUAL MACHINE FOR ARM64 (KVM/arm64)"
    assert rules.of(["arch/arm64/kvm/arm.c", "arch/arm64/kvm/mmu.c", "arch/arm64/mm/fault.c"]) == (
        kvm,
        "ARM64 PORT (AARCH64 ARCHITECTURE)",
    )
    assert rules.of(["mm/memory.c"]) == ()  # only THE REST covers it


@pytest.mark.parametrize(
    ("wanted", "found"),
    [(["kvm/arm64"], True), (["VGIC"], True), (["x86"], False), ([" "], False), ([], False)],
)
def test_matches(wanted: list[str], found: bool) -> None:
    assert matches(["KERNEL VIRTUAL MACHINE FOR ARM64 (KVM/arm64)", "vgic"], wanted) is found


def test_a_real_week_names_what_each_series_touches(synced_db: Path) -> None:
    with Store.open(synced_db) as store:
        builder = ReportBuilder(store, "kvmarm", path_groups=GROUPS)
        report = builder.build(iso_week_window("2022-W19"), lang="en", now=NOW)
        plain = ReportBuilder(store, "kvmarm").build(
            iso_week_window("2022-W19"), lang="en", now=NOW
        )
    (its,) = [t for t in report.threads if ITS in t.subject and t.series and t.series.version == 3]
    assert its.subsystems == ("VGIC",)
    assert all(not t.subsystems for t in report.threads if t.series is None)
    by_dirs = {t.id: t.subsystems for t in plain.threads}
    assert by_dirs[its.id] == ("arch/arm64/kvm",)
    assert "**Subsystems**: VGIC" in render_markdown(report)
    data = json.loads(render_json(report))
    assert {t["id"]: tuple(t["subsystems"]) for t in data["threads"]}[its.id] == ("VGIC",)


def test_path_groups_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[lists.kvmarm]\nmirror = "https://lore.kernel.org/kvmarm"\noutput = "out"\n'
        '[lists.kvmarm.path_groups]\nVGIC = ["arch/arm64/kvm/vgic/"]\n',
        encoding="utf-8",
    )
    settings = DigestSettings.for_list(load_settings(config), "kvmarm")
    assert settings.path_groups == {"VGIC": ("arch/arm64/kvm/vgic/",)}


def test_a_report_of_one_subsystem(synced_db: Path) -> None:
    """Only the threads touching VGIC (ITS fixes v3 and v2 among them); the figures,
    highlights and TL;DR are theirs, and the report says what it holds."""
    with Store.open(synced_db) as store:
        builder = ReportBuilder(store, "kvmarm", path_groups=GROUPS)
        report = builder.build(iso_week_window("2022-W19"), lang="en", now=NOW, subsystems=["vgic"])
    assert report.threads and all("VGIC" in t.subsystems for t in report.threads)
    its = [t for t in report.threads if ITS in t.subject and t.series]
    assert {t.series.version for t in its if t.series} == {2, 3}
    assert len(report.threads) < 14
    assert report.stats.messages == sum(len(t.window_messages) for t in report.threads)
    assert report.stats.threads == len(report.threads)
    ids = {t.id for t in report.threads} | {
        t.series.first_message_id for t in report.threads if t.series
    }
    h = report.highlights
    assert h is not None
    assert all(i.message_id in ids for i in (*h.applied, *h.new_revisions, *h.most_active))
    assert all(i.message_id in ids for line in report.tldr for i in line.entries)
    assert "**Only threads touching**: vgic" in render_markdown(report)
    assert json.loads(render_json(report))["subsystems"] == ["vgic"]


def _report(synced_db: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`lore-digest report` of 2022-W19 in English on a private copy of the store."""
    db = out / "store.sqlite3"
    db.write_bytes(synced_db.read_bytes())
    return subprocess.run(
        [
            sys.executable, "-m", "lore_digest", "report", "--db", str(db), "--list", "kvmarm",
            "--week", "2022-W19", "--lang", "en", "--out", str(out), *extra,
        ],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_the_report_command_filters_and_names_the_file(synced_db: Path, tmp_path: Path) -> None:
    result = _report(
        synced_db, tmp_path, "--format", "json", "--subsystem", "tools/testing/selftests", "--json"
    )
    assert result.returncode == 0, result.stderr
    (written,) = json.loads(result.stdout)["files"]
    assert Path(written).name == "kvmarm-2022-W19-tools-testing-selftests.en.json"
    data = json.loads(Path(written).read_text(encoding="utf-8"))
    assert data["threads"] and data["stats"]["threads"] == len(data["threads"]) < 14
    assert all("tools/testing/selftests" in t["subsystems"] for t in data["threads"])


@pytest.mark.parametrize(
    ("names", "suffix"),
    [((), ""), (("VGIC",), "-vgic"), (("tools/testing", "PMU"), "-tools-testing-pmu")],
)
def test_a_filtered_report_has_its_own_file_name(names: tuple[str, ...], suffix: str) -> None:
    from lore_digest.cli import _subsystem_suffix

    assert _subsystem_suffix({"subsystems": names}) == suffix


def test_a_name_without_latin_letters_still_gets_a_file_of_its_own() -> None:
    from lore_digest.cli import _subsystem_suffix

    first = _subsystem_suffix({"subsystems": ("虚拟化",)})
    assert first.startswith("-") and len(first) == 9
    assert first != _subsystem_suffix({"subsystems": ("中断",)})


def test_a_filter_that_matches_nothing_says_so(synced_db: Path, tmp_path: Path) -> None:
    result = _report(synced_db, tmp_path, "--format", "md", "--subsystem", "nosuch")
    assert result.returncode == 0, result.stderr
    assert "2022-W19: no thread touches nosuch" in result.stderr
    assert "Traceback" not in result.stderr
