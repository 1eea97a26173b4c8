"""Scale on generated lists (20k, 50k, 100k mails by default; 1M with --sizes): sync,
re-sync, the busiest week's report, and one new week on top.

    .venv/bin/python benchmarks/scale.py [--sizes 20000,50000,100000] [--cache DIR] [--runs 1]
    .venv/bin/python benchmarks/scale.py --sizes 100000,1000000      # the 1M figures

The real kvmarm epoch (18,728 mails) cannot show whether work stays proportional, so the
inboxes come from `tests/scale_list.py` (~7 KB a mail, ~100 a day, series, reviews,
replies), cut into public-inbox epochs of 300,000 mails (~1 GB of git each, where
public-inbox rolls over). They are cached under --cache (default: a folder in the temp
dir), keyed by size, seed and the generator's source, so re-runs only time lore-digest.

Every figure is a whole `lore-digest` process (start-up included) into a fresh store:
`sync --mirror INBOX --list scale` of all but the last week's mail, a no-op re-sync, on
each store `report --week W` (md, json, txt) of its busiest ISO week, then the last week
arrives: sync + report + site of that week, by those three commands and by one `run`
(the weekly job: sync, reports, site in one process, on a copy of the store set up with
`since` a week before), the package's bytecode compiled first as an install does
(benchmarks/installed.py). Peak RSS is per process (os.wait4, the git
processes it waits for included), not of this script. Targets: sync of the largest
≤ (its size / the smallest's + 1) × the smallest (6x for 5x the mail, 11x for 10x),
peak RSS ≤ 250 MB, no-op re-sync ≤ 1 s, the busiest week's report ≤ 2 s (issue 13) and
≤ 0.8 s at 100k, ≤ 1.0 s at 1M (issue 15), one new week ≤ 5 s.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from installed import compile_package

CLI = [sys.executable, "-m", "lore_digest"]
# The generator is test code, not part of the installed package.
TESTS = Path(__file__).resolve().parents[1] / "tests"
GENERATOR = TESTS / "scale_list.py"
# Generated in a child: on Linux a child's peak RSS counts this process's RSS at fork,
# so this one must stay small for the per-process figures to mean anything.
GENERATE = (
    "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[4]);"
    " from scale_list import write_scale_inbox;"
    " write_scale_inbox(Path(sys.argv[1]), int(sys.argv[2]), seed=int(sys.argv[3]))"
)
NEW_WEEK = 700  # mails of the week that arrives last (~100 a day)
RSS_TARGET = 250.0
RESYNC_TARGET = 1.0
REPORT_TARGET = 2.0
REPORT_TARGETS = {100_000: 0.8, 1_000_000: 1.0}  # issue 15's, where it names one
NEW_WEEK_TARGET = 5.0


def generator_key(seed: int) -> str:
    """Changes when the generator's code or seed does: a stale cached epoch is not reused."""
    source = GENERATOR.read_bytes()
    return f"s{seed}-{hashlib.sha256(source).hexdigest()[:12]}"


def inbox(cache: Path, count: int, seed: int) -> tuple[Path, float | None]:
    """The cached inbox of `count` + NEW_WEEK mails, generated first if missing (and how
    long that took)."""
    path = cache / f"scale-{count}-{generator_key(seed)}"
    if (path / "git" / "0.git").is_dir():
        return path, None
    start = time.perf_counter()
    total = str(count + NEW_WEEK)
    subprocess.run(
        [sys.executable, "-c", GENERATE, str(path), total, str(seed), str(TESTS)], check=True
    )
    return path, time.perf_counter() - start


def without_last_week(full: Path, into: Path) -> tuple[Path, Path]:
    """An inbox in `into` that is `full` without its last NEW_WEEK mails: the earlier
    epochs linked, the last one a shared clone reset back. Returns (inbox, last epoch)."""
    epochs = sorted((full / "git").glob("*.git"), key=lambda p: int(p.name.split(".")[0]))
    (into / "git").mkdir(parents=True)
    for epoch in epochs[:-1]:
        (into / "git" / epoch.name).symlink_to(epoch)
    last = into / "git" / epochs[-1].name
    git = ["git", "--git-dir", str(last)]
    subprocess.run(
        ["git", "clone", "-q", "--bare", "--shared", str(epochs[-1]), str(last)], check=True
    )
    subprocess.run([*git, "update-ref", "refs/heads/master", f"master~{NEW_WEEK}"], check=True)
    return into, last


def run(args: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one lore-digest process; exits on failure."""
    start = time.perf_counter()
    proc = subprocess.Popen(CLI + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        sys.exit(f"lore-digest {' '.join(args)} failed ({proc.returncode}):\n{stderr}")
    return elapsed, usage.ru_maxrss / 1024


def weeks(db: Path) -> Counter[str]:
    """Mail per ISO week (UTC) in the store."""
    with sqlite3.connect(db) as conn:
        dates = [row[0] for row in conn.execute("SELECT date_utc FROM messages")]
    return Counter(
        "{}-W{:02d}".format(*datetime.fromtimestamp(d, UTC).isocalendar()[:2]) for d in dates
    )


def verdict(value: float, target: float, unit: str) -> str:
    return f"target <= {target:g}{unit}: {'ok' if value <= target else 'OVER TARGET'}"


def report(db: Path, week: str, out: Path, runs: int) -> tuple[float, float]:
    """Best of `runs` reports of `week` in every format a report writes."""
    args = ["--db", str(db), "report", "--list", "scale", "--week", week]
    args += ["--format", "md,json,txt", "--out", str(out), "--json"]
    return min(run(args) for _ in range(runs))


def one_size(count: int, opts: argparse.Namespace, tmp: Path) -> float:
    """Every figure for one size; returns its sync time."""
    full, made = inbox(opts.cache, count, opts.seed)
    if made is not None:
        print(f"generated {count + NEW_WEEK:,} mails in {made:.1f} s ({full})", flush=True)
    best = (float("inf"), 0.0)
    for attempt in range(opts.runs):  # each into a fresh store, from a fresh mirror
        base, last = without_last_week(full, tmp / f"mirror-{count}-{attempt}")
        db = tmp / f"scale-{count}-{attempt}.sqlite3"
        best = min(best, run(["--db", str(db), "sync", "--mirror", str(base), "--list", "scale"]))
    epochs = len(list((full / "git").glob("*.git")))
    print(
        f"sync {count:>9,} mails ({epochs} epoch{'s' * (epochs > 1)}): {best[0]:7.2f} s  "
        f"({count / best[0]:,.0f} mails/s, store {db.stat().st_size / 1e6:,.0f} MB), "
        f"peak RSS {best[1]:.0f} MB ({verdict(best[1], RSS_TARGET, ' MB')})",
        flush=True,
    )
    sync_args = ["--db", str(db), "sync", "--mirror", str(base), "--list", "scale"]
    resync = run(sync_args)
    print(f"  no-op re-sync: {resync[0]:.2f} s ({verdict(resync[0], RESYNC_TARGET, ' s')})")
    week, mails = weeks(db).most_common(1)[0]
    busiest = report(db, week, tmp / "reports", max(3, opts.runs))
    targets = [verdict(busiest[0], REPORT_TARGET, " s")]
    if count in REPORT_TARGETS:
        targets.append(verdict(busiest[0], REPORT_TARGETS[count], " s") + ", any size")
    print(
        f"  report of the busiest week {week} ({mails:,} mails; md, json, txt): "
        f"{busiest[0]:.2f} s, peak RSS {busiest[1]:.0f} MB ({'; '.join(targets)})"
    )
    # The last week arrives: sync it, report it, put it on the site (built before) — by
    # three commands on this store, and by one `run` (the weekly job) on a copy of it.
    before = weeks(db)
    site = ["--db", str(db), "site", "--list", "scale", "--out", str(tmp / f"site-{count}")]
    run([*site, "--week", max(before)])
    job = _run_job(db, base, max(before), tmp / f"run-{count}")
    subprocess.run(
        ["git", "--git-dir", str(last), "fetch", "-q", "origin", "+master:master"], check=True
    )
    synced_week = run(sync_args)
    grown = weeks(db)
    newest = max(grown)
    reported = report(db, newest, tmp / "new", 1)
    published = run([*site, "--week", newest])
    new = (synced_week, reported, published)
    total = sum(seconds for seconds, _ in new)
    print(
        f"  one new week ({sum(grown.values()) - sum(before.values()):,} mails, {newest}): "
        f"sync {new[0][0]:.2f} s + report {new[1][0]:.2f} s + site {new[2][0]:.2f} s = "
        f"{total:.2f} s ({verdict(total, NEW_WEEK_TARGET, ' s')})",
        flush=True,
    )
    weekly = run(job)
    print(
        f"  the same week by `run` (sync, reports, site in one process): {weekly[0]:.2f} s, "
        f"peak RSS {weekly[1]:.0f} MB ({verdict(weekly[0], NEW_WEEK_TARGET, ' s')})",
        flush=True,
    )
    return best[0]


def _run_job(db: Path, mirror: Path, last_week: str, folder: Path) -> list[str]:
    """`run` of a copy of the store, set up (reports and site from `last_week` on, in
    the `report` command's default language); returns the command to run again."""
    folder.mkdir(parents=True)
    copy = folder / "store.sqlite3"
    shutil.copy(db, copy)
    year, week = (int(part) for part in last_week.split("-W"))
    monday = datetime.fromisocalendar(year, week, 1).date()
    config = folder / "lore-digest.toml"
    config.write_text(
        f'[lists.scale]\nmirror = "{mirror}"\noutput = "{folder / "out"}"\n'
        f'since = "{monday}"\nlanguages = ["zh"]\n',
        encoding="utf-8",
    )
    job = ["--config", str(config), "--db", str(copy), "run", "--list", "scale"]
    run(job)
    return job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,50000,100000")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "lore-digest-scale-cache"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1, help="best of N for each figure")
    opts = parser.parse_args()
    compile_package()  # time the tool as installed (benchmarks/installed.py)
    sizes = sorted(int(s) for s in opts.sizes.split(","))
    opts.cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="lore-digest-scale-"))
    try:
        synced = {count: one_size(count, opts, tmp) for count in sizes}
        small, large = sizes[0], sizes[-1]
        if large > small:
            ratio, factor = synced[large] / synced[small], large / small
            print(
                f"sync {large:,} / {small:,}: {ratio:.2f}x for {factor:g}x the mail "
                f"({verdict(ratio, factor + 1, 'x')})"
            )
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"(this script's own peak RSS, a floor under the figures above: {own:.0f} MB)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
