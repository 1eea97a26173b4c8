"""Input tokens of our LLM prompts against the old tool's, on 10 busy weeks of the corpus.

    .venv/bin/python benchmarks/llm_cost.py [--corpus ../shared/corpus/kvmarm-0.git]
        [--lang zh|en] [--budget 12000]

No model is called: both sides are counted with `prompt.estimate_tokens`, the estimate
the run budget uses. Per thread:

- ours: the single prompt, or every map part plus the reduce prompt with one partial
  answer of ~PARTIAL_TOKENS tokens per part, as a first report in a fresh store asks
  it: a thread with much earlier mail (prompt.history_plan) costs the summary of its
  earlier mail on its own plus the week's prompt refining it (the earlier summary a
  ~300-token placeholder, as below); that summary is cached, so later weeks and a
  re-run of the week after new mail do not pay it again;
- old: what the previous tool sent: every in-window mail's decoded text in full (diffs
  included), 500 characters of each earlier mail, and the same system prompt;
- "w/ prev": ours in the steady state of weekly runs, where a thread that had mail
  before the week comes with last week's stored summary (a ~300-token placeholder
  here) and its earlier mail is sent as header lines only.

It also checks that no fact is lost: every status-evidence id, trailer-giving mail and
revision of the facts must be a label present in our prompt (the single prompt, or the
reduce prompt that carries the full facts), and every map part must be within budget.
Exits non-zero when a check fails or ours exceeds TARGET of old.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lore_digest.facts.week import iso_week_window
from lore_digest.ingest import sync_mirror
from lore_digest.mail.mime import message_text
from lore_digest.model import Summary, SummaryItem, Thread
from lore_digest.report.build import ReportBuilder
from lore_digest.store.db import Store
from lore_digest.summarize.prompt import (
    MAX_REQUEST_CHARS,
    PARTIAL_TOKENS,
    PromptPlan,
    build_plan,
    estimate_tokens,
    history_plan,
    retry_prompt,
    system_prompt,
)
from lore_digest.summarize.schema import CitedSentence, LLMSummary, OutputError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "kvmarm-0.git"

# Busy weeks (by mail count) spread over the corpus' 2019-2022 span.
WEEKS = (
    "2019-W43",
    "2019-W51",
    "2020-W07",
    "2020-W37",
    "2020-W50",
    "2021-W11",
    "2021-W40",
    "2021-W46",
    "2022-W04",
    "2022-W16",
)
OLD_EARLIER_CHARS = 500
TARGET = 0.35
_LABEL = re.compile(r"\bm\d+\b")


@dataclass
class WeekCost:
    """Figures of one week."""

    week: str
    threads: int = 0
    old: int = 0
    ours: int = 0
    with_previous: int = 0
    map_reduce: int = 0
    histories: int = 0  # threads whose earlier mail is summarised on its own first
    checked: int = 0
    largest: int = 0  # characters of the longest request, a worst-case retry included


def placeholder_partial() -> LLMSummary:
    """A partial answer of about PARTIAL_TOKENS tokens, to size the reduce prompt."""
    filler = "x" * (PARTIAL_TOKENS * 4 - 120)
    return LLMSummary(
        original=[CitedSentence(text=filler, cites=["m1"])],
        history=[],
        this_week=[CitedSentence(text="x", cites=["m1"])],
    )


def placeholder_previous(thread: Thread, lang: str) -> Summary | None:
    """Last week's summary as the steady state would have it (~300 tokens), or None."""
    earlier = [m.message_id for m in thread.messages if not m.in_window]
    if not earlier:
        return None
    text = "摘" * 90 if lang == "zh" else "word " * 70
    item = SummaryItem(text, (earlier[0],))
    return Summary(lang=lang, original=(item,), history=(item,), this_week=(item,), source="llm")


def our_tokens(plan: PromptPlan) -> tuple[int, str]:
    """Input tokens of a plan, and the user text that carries the full facts."""
    if plan.single is not None:
        return plan.single.input_tokens, plan.single.user
    reduce = plan.reduce([placeholder_partial() for _ in plan.parts])
    return sum(p.input_tokens for p in plan.parts) + reduce.input_tokens, reduce.user


def largest_request(plan: PromptPlan) -> int:
    """Characters of the plan's longest request, counting for each first ask the retry
    that could follow it with the longest reason and answer a retry may quote."""
    asks = [plan.single] if plan.single is not None else [*plan.parts]
    if plan.single is None:
        asks.append(plan.reduce([placeholder_partial() for _ in plan.parts]))
    worst = OutputError("r" * 5000)
    return max(max(p.chars, retry_prompt(p, "a" * 5000, worst).chars) for p in asks)


def fact_ids(thread: Thread) -> list[str]:
    """Message ids the facts rest on: status evidence, trailer givers, revisions."""
    ids: list[str] = []
    if thread.series is not None:
        s = thread.series
        ids.extend(s.status.evidence)
        ids.extend(t.message_id for p in s.patches for t in p.trailers)
        ids.extend(r.message_id for r in s.revisions)
        if s.superseded_by is not None:
            ids.append(s.superseded_by.message_id)
    elif thread.status is not None:
        ids.extend(thread.status.evidence)
    return ids


def check_facts(thread: Thread, plan: PromptPlan, user: str) -> int:
    """Number of fact ids checked; exits when one is not a label present in the prompt."""
    prompt = plan.single or plan.parts[0]
    label_of = {message_id: label for label, message_id in prompt.labels.items()}
    present = set(_LABEL.findall(user))
    ids = fact_ids(thread)
    for message_id in ids:
        label = label_of.get(message_id)
        if label is None or label not in present:
            sys.exit(
                f"FACT LOST in {thread.subject!r}: <{message_id}> (label {label}) not in prompt"
            )
    return len(ids)


def measure_week(
    builder: ReportBuilder, store: Store, week: str, lang: str, budget: int
) -> WeekCost:
    window = iso_week_window(week)
    cost = WeekCost(week)
    system = estimate_tokens(system_prompt(lang))
    _, groups = builder.collect_threads(window)
    raws = store.raw_many(m.pk for msgs in groups.values() for m in msgs)
    for messages in groups.values():
        if not any(window.start_utc <= m.date_utc < window.end_utc for m in messages):
            continue
        thread, mails = builder.build_thread(messages, raws, window)
        previous = placeholder_previous(thread, lang)
        past = history_plan(thread, mails, lang=lang, budget_tokens=budget)
        if past is not None and previous is not None:
            # A fresh store: the earlier mail is summarised on its own (cached), then
            # the week's prompt refines that summary as it would last week's.
            plan = build_plan(thread, mails, lang=lang, previous=previous, budget_tokens=budget)
            asks = [past, plan]
            cost.histories += 1
        else:
            plan = build_plan(thread, mails, lang=lang, budget_tokens=budget)
            asks = [plan]
        for part in (p for ask in asks for p in ask.parts):
            if part.input_tokens > budget:
                sys.exit(f"part over budget in {thread.subject!r}: {part.input_tokens} > {budget}")
        ours = sum(our_tokens(ask)[0] for ask in asks)
        user = our_tokens(plan)[1]
        if previous is not None:
            steady = build_plan(thread, mails, lang=lang, previous=previous, budget_tokens=budget)
            cost.with_previous += our_tokens(steady)[0]
        else:
            cost.with_previous += ours
        old_text = []
        for m in messages:
            text = message_text(raws[m.pk]).text
            inside = window.start_utc <= m.date_utc < window.end_utc
            old_text.append(text if inside else text[:OLD_EARLIER_CHARS])
        cost.threads += 1
        cost.old += system + estimate_tokens("\n\n".join(old_text))
        cost.ours += ours
        cost.map_reduce += plan.single is None
        cost.largest = max(cost.largest, *(largest_request(ask) for ask in asks))
        cost.checked += check_facts(thread, plan, user)
    return cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--lang", default="zh", choices=("zh", "en"))
    parser.add_argument("--budget", type=int, default=12000)
    opts = parser.parse_args()
    if not opts.corpus.exists():
        sys.exit(f"corpus {opts.corpus} not found (expected ../shared/corpus)")
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="lore-digest-llm-cost-"))
    try:
        with Store.open(tmp / "s.sqlite3") as store:
            sync_mirror(store, str(opts.corpus), "kvmarm")
            builder = ReportBuilder(store, "kvmarm")
            rows = [measure_week(builder, store, w, opts.lang, opts.budget) for w in WEEKS]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"input tokens per week (estimate_tokens; lang={opts.lang}, budget={opts.budget})")
    print(
        f"{'week':<10} {'threads':>7} {'map-reduce':>10} {'old':>9} {'ours':>8} {'ratio':>6}"
        f" {'w/ prev':>8} {'ratio':>6} {'largest':>8}"
    )
    for r in rows:
        print(
            f"{r.week:<10} {r.threads:>7} {r.map_reduce:>10} {r.old:>9} {r.ours:>8}"
            f" {r.ours / r.old:>6.1%} {r.with_previous:>8} {r.with_previous / r.old:>6.1%}"
            f" {r.largest:>8}"
        )
    old = sum(r.old for r in rows)
    ours = sum(r.ours for r in rows)
    steady = sum(r.with_previous for r in rows)
    threads = sum(r.threads for r in rows)
    print(
        f"{'total':<10} {threads:>7} {sum(r.map_reduce for r in rows):>10} {old:>9} {ours:>8}"
        f" {ours / old:>6.1%} {steady:>8} {steady / old:>6.1%}"
    )
    largest = max(r.largest for r in rows)
    print(
        f"earlier mail summarised on its own first (fresh store): "
        f"{sum(r.histories for r in rows)} of {threads} threads"
    )
    print(f"largest request: {largest:,} characters (retry included; cap {MAX_REQUEST_CHARS:,})")
    checked = sum(r.checked for r in rows)
    print(f"no fact lost: {checked} fact ids checked in {threads} threads, all present as labels")
    print(f"run time {time.perf_counter() - started:.1f} s")
    if largest > MAX_REQUEST_CHARS:
        sys.exit(f"a request of {largest:,} characters is over the {MAX_REQUEST_CHARS:,} cap")
    if ours > TARGET * old:
        sys.exit(f"ours is {ours / old:.1%} of old, above the {TARGET:.0%} target")


if __name__ == "__main__":
    main()
