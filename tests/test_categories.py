"""Thread categories per list: other projects' prefixes are the list's (config
`other_projects`), kvmarm's by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from lore_digest.digest import DigestSettings
from lore_digest.facts.classify import Category, classify
from lore_digest.mail.subject import parse_subject
from lore_digest.settings import load_settings


def _category(subject: str, other_projects: list[str] | None = None) -> Category:
    return classify(
        parse_subject(subject), "a@example.org", has_replies=False, other_projects=other_projects
    )


@pytest.mark.parametrize(
    ("subject", "default", "nvdimm"),
    [
        ("[PATCH kvmtool 00/15] arm64: RAM base", Category.OTHER_PROJECT, Category.PATCH),
        ("[kvm-unit-tests PATCH] arm: pmu", Category.OTHER_PROJECT, Category.PATCH),
        ("[PATCH] kvmtool: arm64: fix", Category.OTHER_PROJECT, Category.PATCH),
        ("[ndctl PATCH 1/2] test: fix", Category.PATCH, Category.OTHER_PROJECT),
        ("[PATCH] ndctl: monitor: fix", Category.PATCH, Category.OTHER_PROJECT),
        ("[PATCH] ndctlx: no word boundary", Category.PATCH, Category.PATCH),
        ("[PATCH v2 1/3] KVM: arm64: fix", Category.PATCH, Category.PATCH),
    ],
)
def test_other_projects_are_the_lists(subject: str, default: Category, nvdimm: Category) -> None:
    assert _category(subject) == default
    assert _category(subject, ["ndctl"]) == nvdimm


def test_other_projects_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[lists.nvdimm]\nmirror = "https://lore.kernel.org/nvdimm"\noutput = "out"\n'
        'other_projects = ["ndctl"]\n'
        '[lists.kvmarm]\nmirror = "https://lore.kernel.org/kvmarm"\noutput = "out2"\n',
        encoding="utf-8",
    )
    settings = load_settings(config)
    assert DigestSettings.for_list(settings, "nvdimm").other_projects == ("ndctl",)
    assert DigestSettings.for_list(settings, "kvmarm").other_projects is None


def test_a_report_sorts_by_the_lists_projects(synced_db: Path) -> None:
    from datetime import UTC, datetime

    from lore_digest.facts.week import iso_week_window
    from lore_digest.report.build import ReportBuilder
    from lore_digest.store.db import Store

    now = datetime(2026, 11, 23, tzinfo=UTC)
    with Store.open(synced_db) as store:
        week = iso_week_window("2022-W18")
        kvmarm = ReportBuilder(store, "kvmarm").build(week, lang="en", now=now)
        only_qemu = ReportBuilder(store, "kvmarm", other_projects=["qemu"]).build(
            week, lang="en", now=now
        )
    before = {t.id for t in kvmarm.threads if t.category == Category.OTHER_PROJECT}
    after = {t.id for t in only_qemu.threads if t.category == Category.OTHER_PROJECT}
    assert before and not after  # kvmtool and kvm-unit-tests are kernel patches now
    assert all(t.category == Category.PATCH for t in only_qemu.threads if t.id in before)
