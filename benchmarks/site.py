"""HTML site figures on the shared corpus: a full build, a no-op rebuild, and the rebuild
after one new mail (targets: full build <= 60 s, one new mail <= 3 s).

    .venv/bin/python benchmarks/site.py [--corpus ../shared/corpus/kvmarm-0.git] [--langs zh]

Syncs the corpus into a temporary store first (not timed here: see ingest.py). The new
mail is a reply to the busiest thread of 2022-W19, dated in that week, added with
`sync_mbox` as a later sync would; then one more reply lands in the corpus's last week.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from lore_digest.digest import Digest
from lore_digest.facts.week import iso_week_window
from lore_digest.ingest import sync_mbox, sync_mirror
from lore_digest.site import SiteResult, build_site
from lore_digest.store.db import Store

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "kvmarm-0.git"
LIST = "kvmarm"


def busiest_root(store: Store, start_utc: int, end_utc: int) -> tuple[str, str, int]:
    """(Message-ID, subject, date) of the first mail of the busiest thread in a range."""
    info = store.get_list(LIST)
    assert info is not None
    mails = store.messages_between(info.id, start_utc, end_utc)
    busiest, _ = Counter(m.thread_id for m in mails if m.thread_id).most_common(1)[0]
    root = store.messages_of_threads(info.id, [busiest], 2**62)[0]
    return root.message_id, root.subject, root.date_utc


def reply_mbox(path: Path, parent: str, subject: str, date: datetime, n: int) -> Path:
    """An mbox holding one plain reply to `parent`."""
    lines = [
        f"From bench@example.org {date.strftime('%a %b %d %H:%M:%S %Y')}",
        "From: Bench Mark <bench@example.org>",
        f"Subject: Re: {subject}",
        f"Date: {format_datetime(date)}",
        f"Message-ID: <bench-reply-{n}@example.org>",
        f"In-Reply-To: <{parent}>",
        f"References: <{parent}>",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Tested-by: Bench Mark <bench@example.org>",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def timed(store: Store, out: Path, langs: list[str]) -> tuple[float, SiteResult]:
    start = time.perf_counter()
    with Digest(store, LIST) as digest:
        result = build_site(digest, out, langs=langs)
    return time.perf_counter() - start, result


def describe(result: SiteResult) -> str:
    weeks = result.weeks_rebuilt
    shown = ", ".join(weeks[:6]) + (" ..." if len(weeks) > 6 else "")
    return (
        f"{len(weeks)} week reports rebuilt ({shown or 'none'}), "
        f"{len(result.written)} files written, {result.skipped_unchanged} week pages unchanged"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--langs", default="zh", help="comma-separated, e.g. zh,en")
    parser.add_argument("--keep", type=Path, help="build the site here and keep it")
    opts = parser.parse_args()
    if not opts.corpus.exists():
        sys.exit(f"corpus {opts.corpus} not found (expected ../shared/corpus)")
    langs = [lang.strip() for lang in opts.langs.split(",") if lang.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="lore-digest-site-bench-"))
    out = opts.keep or tmp / "site"
    try:
        with Store.open(tmp / "s.sqlite3") as store:
            sync_mirror(store, str(opts.corpus), LIST)
            seconds, result = timed(store, out, langs)
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
            series = len(list((out / "series").glob("*.html")))
            print(
                f"full site build ({','.join(langs)}, offline summaries, "
                f"{len(result.weeks_rebuilt)} weeks): {seconds:.1f} s "
                f"({len(result.written)} files, {series} series pages, {size / 2**20:.0f} MiB)"
            )
            seconds, result = timed(store, out, langs)
            print(f"rebuild with nothing new: {seconds:.2f} s ({describe(result)})")

            w19 = iso_week_window("2022-W19")
            parent, subject, _ = busiest_root(store, w19.start_utc, w19.end_utc)
            date = datetime.fromtimestamp(w19.start_utc, UTC) + timedelta(days=3, hours=12)
            sync_mbox(store, reply_mbox(tmp / "r1.mbox", parent, subject, date, 1), LIST)
            seconds, result = timed(store, out, langs)
            print(f"rebuild after one new reply in 2022-W19: {seconds:.2f} s ({describe(result)})")

            info = store.get_list(LIST)
            assert info is not None
            span = store.date_range(info.id)
            assert span is not None
            parent, subject, _ = busiest_root(store, span[1] - 7 * 86400, span[1] + 1)
            date = datetime.fromtimestamp(span[1], UTC) + timedelta(minutes=5)
            sync_mbox(store, reply_mbox(tmp / "r2.mbox", parent, subject, date, 2), LIST)
            seconds, result = timed(store, out, langs)
            print(
                f"rebuild after one new reply in the last week: {seconds:.2f} s ({describe(result)})"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
