"""How many lies the fact guard catches, and how many true sentences it drops.

    .venv/bin/python benchmarks/guard.py [--corpus ../shared/corpus/kvmarm-0.git]
        [--weeks 2019-W43,2020-W07,...]

For every thread of ten busy weeks of the shared corpus, sentences are written from the
computed facts the way a truthful model would (who posted it, its version, its status,
its patch count, who reviewed it, an identifier quoted from the cover letter), in
English and Chinese, and lies of each kind are made from the same facts (a person who
is not in the thread, a version that was never posted, a status word the status
contradicts, a wrong count, an identifier no cited mail has, a cite of another thread).
Each goes through `summarize.guard.check_sentence`; the script prints, per kind, the
share of lies caught (target >= 95 %) and the share of true sentences dropped (target
<= 2 %). The same checks run on every LLM answer (summarize.llm); the end-to-end path
through a loopback model that lies is tests/test_guard.py.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from lore_digest.facts.model import MailFacts
from lore_digest.facts.week import Window, iso_week_window
from lore_digest.ingest import sync_mirror
from lore_digest.model import SummaryItem, Thread
from lore_digest.report.build import ReportBuilder
from lore_digest.store.db import Store
from lore_digest.summarize.guard import GuardFacts, check_sentence, guard_facts

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "kvmarm-0.git"
WEEKS = "2019-W43,2019-W51,2020-W07,2020-W37,2020-W50,2021-W11,2021-W40,2021-W46,2022-W04,2022-W16"
_IDENT = re.compile(r"\b[a-z_][a-z0-9_]{4,}\(\)|\bCONFIG_[A-Z0-9_]+|\b[A-Z][A-Z0-9]*_EL[12]\b")
OTHER_STATUS = {
    "applied": ("NAKed the series", "该系列被拒绝"),
    "partly applied": ("NAKed the series", "该系列被拒绝"),
}
APPLIED_LIE = ("applied the series to kvmarm/next", "该系列已合入 kvmarm/next 分支")


def _truths(thread: Thread, facts: GuardFacts) -> list[tuple[str, SummaryItem]]:
    """(language, sentence) a truthful model could write from the facts."""
    series = thread.series
    root = thread.messages[0].message_id
    out: list[tuple[str, SummaryItem]] = []
    if series is None:
        return out
    cover = series.cover_message_id or series.first_message_id
    author = series.author_name or series.author_email
    out.append(("en", SummaryItem(f"{author} posted v{series.version} of the series.", (cover,))))
    out.append(("zh", SummaryItem(f"{author} 发布了该系列的 v{series.version}。", (cover,))))
    if series.total:
        out.append(("en", SummaryItem(f"This {series.total}-patch series was posted.", (cover,))))
        out.append(("zh", SummaryItem(f"该系列共 {series.total} 个补丁。", (cover,))))
    status = str(thread.status.status) if thread.status else ""
    if status in ("applied", "partly applied") and thread.status and thread.status.applied:
        by = thread.status.applied.by_name or thread.status.applied.by_email
        ev = thread.status.applied.message_id
        out.append(("en", SummaryItem(f"{by} applied the series to next.", (ev,))))
        out.append(("zh", SummaryItem(f"{by} 表示该系列已合入。", (ev,))))
    else:
        out.append(("en", SummaryItem("The series has not been applied yet.", (root,))))
        out.append(("zh", SummaryItem("该系列尚未合入。", (root,))))
    for patch in series.patches[:2]:
        for trailer in patch.trailers[:1]:
            who = trailer.sent_by_name or trailer.name
            if who:
                item = SummaryItem(f"{who} reviewed patch {patch.number}.", (trailer.message_id,))
                out.append(("en", item))
    text = facts.texts.get(cover, "")
    found = _IDENT.search(text)
    if found:
        name = found.group(0)
        out.append(("en", SummaryItem(f"The series changes {name}.", (cover,))))
        out.append(("zh", SummaryItem(f"该系列修改了 {name}。", (cover,))))
    return out


def _lies(thread: Thread, facts: GuardFacts, foreign: str) -> list[tuple[str, str, SummaryItem]]:
    """(kind, language, sentence) lies about this thread, one or two per kind."""
    series = thread.series
    root = thread.messages[0].message_id
    cite = (series.cover_message_id or series.first_message_id) if series else root
    out: list[tuple[str, str, SummaryItem]] = [
        ("person", "en", SummaryItem("Greg Smithson asked for the locking to change.", (cite,))),
        ("person", "zh", SummaryItem("Greg Smithson 要求修改加锁方式。", (cite,))),
        ("identifier", "en", SummaryItem("It rewrites kvm_fake_handler_xyz().", (cite,))),
        ("identifier", "zh", SummaryItem("它重写了 CONFIG_KVM_FAKE_OPTION。", (cite,))),
        ("cite", "en", SummaryItem("The series was discussed.", (foreign,))),
    ]
    if series is not None:
        wrong = max(facts.versions, default=series.version) + 3
        out.append(("version", "en", SummaryItem(f"In v{wrong} the author reworked it.", (cite,))))
        out.append(("version", "zh", SummaryItem(f"作者在 v{wrong} 中重写了它。", (cite,))))
        if series.total:
            n = series.total + 2
            out.append(("count", "en", SummaryItem(f"This {n}-patch series was posted.", (cite,))))
            out.append(("count", "zh", SummaryItem(f"该系列共 {n} 个补丁。", (cite,))))
    status = str(thread.status.status) if thread.status else ""
    en, zh = OTHER_STATUS.get(status, APPLIED_LIE)
    out.append(("status", "en", SummaryItem(f"Marc Zyngier {en}.", (cite,))))
    out.append(("status", "zh", SummaryItem(f"Marc Zyngier 表示{zh}。", (cite,))))
    return out


def parse_args(doc: str) -> argparse.Namespace | None:
    """--corpus and --weeks, for this script and guard_http.py; None (said on stderr)
    when the corpus is not there."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--weeks", default=WEEKS)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return None
    return args


def week_threads(
    store: Store, weeks: str
) -> Iterator[tuple[str, Window, list[tuple[Thread, list[MailFacts]]]]]:
    """Per week of `weeks` (comma-separated): its window, and its threads with their
    mail built as the report builds them (the corpus synced as list "kvmarm")."""
    builder = ReportBuilder(store, "kvmarm")
    for week in weeks.split(","):
        window = iso_week_window(week)
        _, groups = builder.collect_threads(window)
        raws = store.raw_many(m.pk for msgs in groups.values() for m in msgs)
        yield week, window, [builder.build_thread(ms, raws, window) for ms in groups.values()]


def print_caught(
    title: str, caught: Counter[tuple[str, str]], lies: Counter[tuple[str, str]]
) -> tuple[int, int]:
    """The lies table, per (kind, language) and in all; (caught, lies) in all."""
    print(title)
    for key in sorted(lies):
        print(
            f"  {key[0]:<11} {key[1]}  {caught[key]:>4}/{lies[key]:<4} {caught[key] / lies[key]:6.1%}"
        )
    total_caught, total_lies = sum(caught.values()), sum(lies.values())
    print(f"  all              {total_caught:>4}/{total_lies:<4} {total_caught / total_lies:6.1%}")
    return total_caught, total_lies


def main() -> int:
    args = parse_args(__doc__ or "")
    if args is None:
        return 2
    caught: Counter[tuple[str, str]] = Counter()
    lies: Counter[tuple[str, str]] = Counter()
    kept: Counter[str] = Counter()
    truths: Counter[str] = Counter()
    dropped: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "store.sqlite3"
        with Store.open(db) as store:
            sync_mirror(store, str(args.corpus), "kvmarm")
            for week, _window, built in week_threads(store, args.weeks):
                for index, (thread, mails) in enumerate(built):
                    facts = guard_facts(thread, mails)
                    other = built[index - 1][0].messages[0].message_id
                    for lang, item in _truths(thread, facts):
                        truths[lang] += 1
                        failed = check_sentence(item, facts)
                        if failed is None:
                            kept[lang] += 1
                        else:
                            dropped.append(f"{week} {item.text!r}: {failed}")
                    for kind, lang, item in _lies(thread, facts, other):
                        lies[(kind, lang)] += 1
                        caught[(kind, lang)] += check_sentence(item, facts) is not None
        shutil.rmtree(tmp, ignore_errors=True)
    title = "lies caught, per kind and language (target >= 95 %)"
    total_caught, total_lies = print_caught(title, caught, lies)
    print("true sentences dropped (target <= 2 %)")
    for lang in sorted(truths):
        gone = truths[lang] - kept[lang]
        print(f"  {lang}  {gone:>4}/{truths[lang]:<4} {gone / truths[lang]:6.1%}")
    for line in dropped[:20]:
        print("   dropped:", line)
    ok = total_caught / total_lies >= 0.95 and sum(truths.values()) - sum(
        kept.values()
    ) <= 0.02 * sum(truths.values())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
