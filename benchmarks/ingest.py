"""Ingest figures on the shared kvmarm corpus: one line per figure (quoted in the README).

    .venv/bin/python benchmarks/ingest.py [--corpus ../shared/corpus/kvmarm-0.git] [--runs 3]

Each figure is the best of --runs, measured as whole `lore-digest` processes (start-up
included, the package's bytecode compiled first as an install does:
benchmarks/installed.py), against a bare `git cat-file --batch` read of the same blobs.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from installed import compile_package

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "kvmarm-0.git"
CLI = [sys.executable, "-m", "lore_digest"]


def bare_read(corpus: Path) -> float:
    """`git rev-list | git cat-file --batch > /dev/null` over every message blob."""
    start = time.perf_counter()
    subprocess.run(
        f"git --git-dir '{corpus}' rev-list --reverse HEAD | sed 's/$/:m/' "
        f"| git --git-dir '{corpus}' cat-file --batch > /dev/null",
        shell=True,
        check=True,
    )
    return time.perf_counter() - start


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(CLI + args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--week", default="2022-W19")
    opts = parser.parse_args()
    compile_package()  # time the tool as installed (benchmarks/installed.py)
    if not opts.corpus.exists():
        sys.exit(f"corpus {opts.corpus} not found (expected ../shared/corpus)")
    bare = min(bare_read(opts.corpus) for _ in range(opts.runs))
    tmp = Path(tempfile.mkdtemp(prefix="lore-digest-bench-"))
    try:

        def sync_args(db: Path) -> list[str]:
            return [
                "--db",
                str(db),
                "sync",
                "--mirror",
                str(opts.corpus),
                "--list",
                "kvmarm",
                "--json",
            ]

        ingests = [timed(sync_args(tmp / f"run{run}.sqlite3")) for run in range(opts.runs)]
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        db = tmp / "run0.sqlite3"
        resync = min(timed(sync_args(db)) for _ in range(opts.runs))
        report = min(
            timed(
                [
                    "--db",
                    str(db),
                    "report",
                    "--list",
                    "kvmarm",
                    "--week",
                    opts.week,
                    "--out",
                    str(tmp / "out"),
                    "--json",
                ]
            )
            for _ in range(opts.runs)
        )
        ingest = min(ingests)
        print(f"bare git cat-file read: {bare:.2f} s")
        print(
            f"full ingest (18,728 mails, CLI): {ingest:.2f} s = {ingest / bare:.2f}x the bare read"
        )
        print(f"peak RSS of an ingest process: {peak_mb:.0f} MB")
        print(f"no-op resync (CLI): {resync:.2f} s")
        print(f"report {opts.week} md+json (CLI): {report:.2f} s")
        print(f"store size: {db.stat().st_size / 1e6:.0f} MB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
