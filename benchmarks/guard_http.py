"""The fact guard end to end: a loopback model that lies, through HTTP, on real weeks.

    .venv/bin/python benchmarks/guard_http.py [--corpus ../shared/corpus/kvmarm-0.git]
        [--weeks 2019-W43,2020-W07,...]

benchmarks/guard.py calls the checks directly. This one runs what a report runs: for
each thread of ten busy weeks of the shared corpus that has a series, and each language,
`LLMSummarizer` builds the real prompt and asks a fake OpenAI-compatible server on
127.0.0.1 (tests/fake_llm.py), which answers in the output schema with sentences written
from the thread's facts (benchmarks/guard.py `_truths`) and, in one run per lie, one lie
of a kind (`_lies`: a person not in the thread, a version never posted, a status word
the status contradicts, a wrong count, an identifier no cited mail has; and a cite of a
label the prompt does not have). The fake repeats its answer when re-asked, so what the
guard does not catch reaches the report. Printed: per kind and language, the share of
lies that did not reach the summary (target >= 95 %), and the share of true sentences
the truthful runs lost (target <= 2 %).
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fake_llm import FakeLLMServer, user_text  # noqa: E402
from guard import _lies, _truths, parse_args, print_caught, week_threads  # noqa: E402
from lore_digest.ingest import sync_mirror  # noqa: E402
from lore_digest.model import Summary, SummaryItem  # noqa: E402
from lore_digest.store.db import Store  # noqa: E402
from lore_digest.summarize.clients import OpenAICompatibleClient  # noqa: E402
from lore_digest.summarize.guard import guard_facts  # noqa: E402
from lore_digest.summarize.llm import LLMSettings, LLMSummarizer  # noqa: E402
from lore_digest.summarize.prompt import build_plan  # noqa: E402

NO_HISTORY = re.compile(r'There is no earlier mail: "history" must be \[\]')
MISSING_LABEL = "m99999"


class Answers:
    """What the fake model says: the sentences of the run, cites as the prompt's labels."""

    def __init__(self) -> None:
        self.sentences: list[dict[str, Any]] = []
        self.lie: dict[str, Any] | None = None

    def set(
        self, truths: Sequence[SummaryItem], lie: SummaryItem | None, labels: dict[str, str]
    ) -> None:
        self.sentences = [_cited(item, labels) for item in truths]
        self.lie = _cited(lie, labels) if lie is not None else None

    def __call__(self, body: dict[str, Any]) -> str:
        history = [] if NO_HISTORY.search(user_text(body)) else self.sentences[:1]
        this_week = [self.lie] if self.lie is not None else self.sentences[-1:]
        return json.dumps(
            {"original": self.sentences, "history": history, "this_week": this_week},
            ensure_ascii=False,
        )


def _cited(item: SummaryItem, labels: dict[str, str]) -> dict[str, Any]:
    return {"text": item.text, "cites": [labels.get(c, MISSING_LABEL) for c in item.cites]}


def _texts(summary: Summary) -> set[str]:
    if summary.source != "llm":
        return set()
    return {i.text for part in (summary.original, summary.history, summary.this_week) for i in part}


def main() -> int:
    args = parse_args(__doc__ or "")
    if args is None:
        return 2
    caught: Counter[tuple[str, str]] = Counter()
    lies: Counter[tuple[str, str]] = Counter()
    truths: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    examples: list[str] = []
    answers = Answers()
    runs = 0
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeLLMServer("openai", responder=answers) as server,
        Store.open(Path(tmp) / "store.sqlite3") as store,
    ):
        sync_mirror(store, str(args.corpus), "kvmarm")
        info = store.get_list("kvmarm")
        assert info is not None
        client = OpenAICompatibleClient(
            base_url=server.url, api_key="sk-bench", sleep=lambda _: None
        )
        for week, window, built in week_threads(store, args.weeks):
            for index, (thread, mails) in enumerate(built):
                if thread.series is None:
                    continue
                facts = guard_facts(thread, mails)
                other = built[index - 1][0].messages[0].message_id
                for lang in ("en", "zh"):
                    plan = build_plan(thread, mails, lang=lang)
                    first = plan.single or plan.parts[0]
                    labels = {mid: label for label, mid in first.labels.items()}
                    true = [item for tl, item in _truths(thread, facts) if tl == lang]
                    if not true:
                        continue
                    wrong = [(k, item) for k, ll, item in _lies(thread, facts, other) if ll == lang]
                    for kind, lie in [("truth", None), *wrong]:
                        runs += 1
                        answers.set(true, lie, labels)
                        settings = LLMSettings(model=f"bench-{runs}", concurrency=1)
                        summarizer = LLMSummarizer(client, settings, store, info.id)
                        summary = summarizer.summarize(
                            [(thread, mails)], lang=lang, window_start_utc=window.start_utc
                        )[thread.id]
                        kept = _texts(summary)
                        if lie is None:
                            truths[lang] += len({t.text for t in true})
                            gone = {t.text for t in true} - kept
                            lost[lang] += len(gone)
                            examples.extend(f"{week} {lang}: {text!r}" for text in gone)
                        else:
                            lies[(kind, lang)] += 1
                            caught[(kind, lang)] += lie.text not in kept
        client.close()
    print(f"through HTTP: {runs} summaries, {server.count} requests to the loopback model")
    title = "lies kept out of the summary, per kind and language (target >= 95 %)"
    total_caught, total_lies = print_caught(title, caught, lies)
    print("true sentences lost (target <= 2 %)")
    for lang in sorted(truths):
        print(f"  {lang}  {lost[lang]:>4}/{truths[lang]:<4} {lost[lang] / truths[lang]:6.1%}")
    for line in examples[:20]:
        print("   lost:", line)
    ok = total_caught >= 0.95 * total_lies and sum(lost.values()) <= 0.02 * sum(truths.values())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
