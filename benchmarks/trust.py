"""How many "applied" decisions of the shared corpus each trust rule confirms.

    .venv/bin/python benchmarks/trust.py [--corpus ../shared/corpus/kvmarm-0.git]
        [--maintainers tests/data/MAINTAINERS-kvmarm] [--db STORE]

Builds every week's report (offline) three times — appliers learned from the list's
history, from a MAINTAINERS file, and from it with kvm-unit-tests' and QEMU's files
(tests/data/MAINTAINERS-kvm-unit-tests, -qemu) — and counts, over all threads, the mails whose
"applied"/"merged"/NAK set a status (confirmed by the rule) and those shown as claims,
with who sent the claims. Syncs the corpus into a temporary store unless --db is given.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from lore_digest.digest import Digest, DigestSettings
from lore_digest.facts.status import Status
from lore_digest.ingest import sync_mirror
from lore_digest.store.db import Store

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "kvmarm-0.git"
DEFAULT_MAINTAINERS = ROOT / "tests" / "data" / "MAINTAINERS-kvmarm"
PROJECTS = tuple(
    (name, ROOT / "tests" / "data" / f"MAINTAINERS-{name}") for name in ("kvm-unit-tests", "qemu")
)


def count(
    store: Store, maintainers: Path | None, projects: tuple[tuple[str, Path], ...] = ()
) -> tuple[Counter[str], Counter[str], float]:
    """(confirmed decisions by kind, claims by kind and sender, seconds) over all weeks."""
    confirmed: Counter[str] = Counter()
    claims: Counter[str] = Counter()
    seen: set[tuple[str, str]] = set()
    start = time.perf_counter()
    settings = DigestSettings(maintainers=maintainers, project_maintainers=projects)
    with Digest(store, "kvmarm", settings) as digest:
        for label in digest.weeks_with_mail():
            for thread in digest.week(label, lang="en").threads:
                facts = thread.status
                if facts is None:
                    continue
                window = {m.message_id for m in thread.window_messages}
                decided = {
                    Status.APPLIED: [a.message_id for a in facts.applied_replies],
                    Status.NAKED: list(facts.naks),
                }
                for kind, ids in decided.items():
                    for mid in ids:
                        if mid in window and (kind, mid) not in seen:
                            seen.add((kind, mid))
                            confirmed[str(kind)] += 1
                for claim in facts.claims:
                    if claim.message_id in window and ("claim", claim.message_id) not in seen:
                        seen.add(("claim", claim.message_id))
                        claims[f"{claim.kind} by {claim.by_email} ({claim.reason})"] += 1
    return confirmed, claims, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--maintainers", type=Path, default=DEFAULT_MAINTAINERS)
    parser.add_argument("--db", type=Path, help="an already synced store (else a temporary one)")
    opts = parser.parse_args()
    tmp = None
    db = opts.db
    if db is None:
        if not opts.corpus.exists():
            sys.exit(f"corpus {opts.corpus} not found (expected ../shared/corpus)")
        tmp = Path(tempfile.mkdtemp(prefix="lore-digest-trust-"))
        db = tmp / "s.sqlite3"
        with Store.open(db) as store:
            sync_mirror(store, str(opts.corpus), "kvmarm")
    try:
        with Store.open(db) as store:
            for name, path, projects in (
                ("learned from the list", None, ()),
                ("MAINTAINERS file", opts.maintainers, ()),
                ("MAINTAINERS file and the other projects' files", opts.maintainers, PROJECTS),
            ):
                confirmed, claims, seconds = count(store, path, projects)
                print(f"== rule: {name} ({seconds:.1f} s for every week)")
                print(f"   confirmed: {dict(confirmed)}")
                print(f"   claims: {sum(claims.values())}")
                for what, n in claims.most_common(12):
                    print(f"     {n:4d}  {what}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
