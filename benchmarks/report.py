"""Report/facts figures on the shared corpus: one week, and every week in one process.

    .venv/bin/python benchmarks/report.py [--corpus ../shared/corpus/kvmarm-0.git]

Syncs the corpus into a temporary store first (not timed here: see ingest.py).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lore_digest.digest import Digest
from lore_digest.facts.week import week_of
from lore_digest.ingest import sync_mirror
from lore_digest.store.db import Store

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "kvmarm-0.git"


def all_weeks(store: Store, list_name: str) -> list[str]:
    """Every ISO week (UTC) from the list's first mail to its last."""
    info = store.get_list(list_name)
    assert info is not None
    span = store.date_range(info.id)
    assert span is not None
    day = datetime.fromtimestamp(span[0], UTC)
    last = datetime.fromtimestamp(span[1], UTC)
    weeks: list[str] = []
    while day <= last + timedelta(days=7):
        label = week_of(day)
        if label not in weeks:
            weeks.append(label)
        day += timedelta(days=7)
    return weeks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--week", default="2022-W19")
    opts = parser.parse_args()
    if not opts.corpus.exists():
        sys.exit(f"corpus {opts.corpus} not found (expected ../shared/corpus)")
    tmp = Path(tempfile.mkdtemp(prefix="lore-digest-bench-"))
    try:
        with Store.open(tmp / "s.sqlite3") as store:
            sync_mirror(store, str(opts.corpus), "kvmarm")
            start = time.perf_counter()
            digest = Digest(store, "kvmarm")
            report = digest.week(opts.week)
            one = time.perf_counter() - start
            print(
                f"facts + offline summary for {opts.week} (fresh Digest, index included): {one:.2f} s "
                f"({report.stats.messages} mails, {report.stats.threads} threads)"
            )
            start = time.perf_counter()
            digest.week(opts.week)
            print(f"same week again with a warm Digest: {time.perf_counter() - start:.2f} s")
            weeks = all_weeks(store, "kvmarm")
            start = time.perf_counter()
            digest = Digest(store, "kvmarm")
            mails = 0
            slowest = (0.0, "")
            for label in weeks:
                t0 = time.perf_counter()
                mails += digest.week(label).stats.messages
                slowest = max(slowest, (time.perf_counter() - t0, label))
            total = time.perf_counter() - start
            print(
                f"every week of the corpus ({len(weeks)} weeks, {mails} mails) in one process: {total:.1f} s"
                f" (slowest {slowest[1]}: {slowest[0]:.2f} s)"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
