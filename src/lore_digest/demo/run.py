"""`lore-digest demo`: generated list → mbox → throwaway store → report and site, offline."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from lore_digest.demo.generator import generate_demo_list, write_mbox
from lore_digest.digest import Digest, DigestSettings
from lore_digest.facts.week import last_complete_week
from lore_digest.ingest import sync_mbox
from lore_digest.report.write import write_report
from lore_digest.site.build import build_site
from lore_digest.store.db import Store

DEMO_LIST = "demo-kvmarm"
SITE_LANGS = ("zh", "en")


def run_demo(
    out_dir: Path, *, langs: Sequence[str] = ("zh",), now: datetime | None = None
) -> list[Path]:
    """Build the demo report (in each of `langs`) and its HTML site (zh + en) into `out_dir`.

    Goes through the same Digest as `report` and `site` do. Returns the report files,
    then the site's index.html.
    """
    week = last_complete_week(now or datetime.now(UTC))  # so the demo looks current
    mails = generate_demo_list(week.start, list_name=DEMO_LIST)
    files: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="lore-digest-demo-") as tmp:
        mbox = Path(tmp) / f"{DEMO_LIST}.mbox"
        write_mbox(mails, mbox)
        with Store.open(Path(tmp) / "demo.sqlite3") as store:
            sync_mbox(store, mbox, DEMO_LIST)
            settings = DigestSettings(now=now, maintainers=Path(tmp) / "MAINTAINERS")
            settings.maintainers.write_bytes(  # type: ignore[union-attr]
                resources.files("lore_digest.demo").joinpath("data/MAINTAINERS").read_bytes()
            )
            with Digest(store, DEMO_LIST, settings) as digest:
                for report in digest.weeks([week], langs):
                    files += write_report(report, out_dir, ["md", "json"])
                site = build_site(digest, out_dir / "site", langs=SITE_LANGS)
    return [*files, site.index]
