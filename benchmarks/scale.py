"""Ingest curve on generated lists of 20k, 50k and 100k mails, and a report on the biggest.

    .venv/bin/python benchmarks/scale.py [--sizes 20000,50000,100000] [--cache DIR] [--runs 1]

The real kvmarm epoch (18,728 mails) cannot show whether ingest stays linear, so the
epochs come from `tests/scale_list.py` (~7 KB a mail, ~100 a day, series, reviews,
replies). They are cached under --cache (default: a folder in the temp dir), keyed by
size, seed and the generator's source, so re-runs only time lore-digest.

Every figure is a whole `lore-digest` process (start-up included) into a fresh store:
`sync --mirror EPOCH --list scale`, then on the largest store `report --week W` for its
busiest ISO week. Peak RSS is per process (os.wait4), not of this script. Targets:
ingest of the largest ≤ 6x the smallest (for 5x the mail), report ≤ 2 s.
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

CLI = [sys.executable, "-m", "lore_digest"]
# The generator is test code, not part of the installed package.
TESTS = Path(__file__).resolve().parents[1] / "tests"
GENERATOR = TESTS / "scale_list.py"
# Generated in a child: on Linux a child's peak RSS counts this process's RSS at fork,
# so this one must stay small for the per-process figures to mean anything.
GENERATE = (
    "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[4]);"
    " from scale_list import write_scale_epoch;"
    " write_scale_epoch(Path(sys.argv[1]), int(sys.argv[2]), seed=int(sys.argv[3]))"
)
RATIO_TARGET = 6.0
REPORT_TARGET = 2.0


def generator_key(seed: int) -> str:
    """Changes when the generator's code or seed does: a stale cached epoch is not reused."""
    source = GENERATOR.read_bytes()
    return f"s{seed}-{hashlib.sha256(source).hexdigest()[:12]}"


def epoch(cache: Path, count: int, seed: int) -> tuple[Path, float | None]:
    """The cached epoch of `count` mails, generated first if missing (and how long that took)."""
    path = cache / f"scale-{count}-{generator_key(seed)}.git"
    if path.is_dir():
        return path, None
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", GENERATE, str(path), str(count), str(seed), str(TESTS)], check=True
    )
    return path, time.perf_counter() - start


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


def busiest_week(db: Path) -> tuple[str, int]:
    """The ISO week (UTC) with the most mail in the store, and its mail count."""
    with sqlite3.connect(db) as conn:
        dates = [row[0] for row in conn.execute("SELECT date_utc FROM messages")]
    weeks = Counter(
        "{}-W{:02d}".format(*datetime.fromtimestamp(d, UTC).isocalendar()[:2]) for d in dates
    )
    return weeks.most_common(1)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,50000,100000")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "lore-digest-scale-cache"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1, help="best of N for each figure")
    opts = parser.parse_args()
    sizes = sorted(int(s) for s in opts.sizes.split(","))
    opts.cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="lore-digest-scale-"))
    try:
        ingest: dict[int, float] = {}
        stores: dict[int, Path] = {}
        for count in sizes:
            path, made = epoch(opts.cache, count, opts.seed)
            if made is not None:
                print(f"generated {count:,} mails in {made:.1f} s ({path})", flush=True)
            best = (float("inf"), 0.0)
            for attempt in range(opts.runs):
                db = tmp / f"scale-{count}-{attempt}.sqlite3"
                args = ["--db", str(db), "sync", "--mirror", str(path), "--list", "scale"]
                best = min(best, run([*args, "--json"]))
                stores[count] = db
            ingest[count] = best[0]
            size_mb = stores[count].stat().st_size / 1e6
            print(
                f"sync {count:>7,} mails: {best[0]:6.2f} s  "
                f"({count / best[0]:,.0f} mails/s, peak RSS {best[1]:.0f} MB, "
                f"store {size_mb:.0f} MB)",
                flush=True,
            )
        small, large = sizes[0], sizes[-1]
        ratio = ingest[large] / ingest[small]
        verdict = "ok" if ratio <= RATIO_TARGET else "OVER TARGET"
        print(
            f"ratio {large:,}/{small:,}: {ratio:.2f}x for {large / small:.0f}x the mail "
            f"(target <= {RATIO_TARGET:g}x: {verdict})"
        )
        db = stores[large]
        resync = run(["--db", str(db), "sync", "--mirror", str(path), "--list", "scale", "--json"])
        print(f"no-op resync of {large:,}: {resync[0]:.2f} s")
        week, mails = busiest_week(db)
        out = tmp / "reports"
        report_args = ["--db", str(db), "report", "--list", "scale", "--week", week]
        report_args += ["--format", "md,json,txt"]  # every format a report writes
        report = min(
            run([*report_args, "--out", str(out), "--json"]) for _ in range(max(3, opts.runs))
        )
        verdict = "ok" if report[0] <= REPORT_TARGET else "OVER TARGET"
        print(
            f"report {week} ({mails} mails, busiest week of {large:,}; md, json, txt): "
            f"{report[0]:.2f} s, "
            f"peak RSS {report[1]:.0f} MB (target <= {REPORT_TARGET:g} s: {verdict})"
        )
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"(this script's own peak RSS, a floor under the figures above: {own:.0f} MB)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
