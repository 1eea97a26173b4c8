"""Backfills through the batch APIs (summarize.batch), against loopback fakes of both.

The fakes (tests.fake_batch) refuse what the real services refuse (wrong multipart, bad
custom ids, missing params, missing keys), so a summary that comes back proves the
requests had the providers' shape.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fake_batch import FakeBatchServer
from fake_llm import FakeLLMServer, default_responder, user_text
from lore_digest.facts.week import iso_week_window
from lore_digest.report.build import ReportBuilder
from lore_digest.report.model import Report
from lore_digest.store.db import Store
from lore_digest.summarize.base import BatchWait
from lore_digest.summarize.batch import BatchPending
from lore_digest.summarize.clients import AnthropicClient, OpenAICompatibleClient
from lore_digest.summarize.llm import LLMSettings, LLMSummarizer
from report_cli import env_without_llm_keys, run_report

WEEK = iso_week_window("2022-W19")
KEY = "sk-test-batch-0123456789abcdef"
RETRY = "Your previous answer could not be used:"
REDUCE = "too long for one request, so it was summarised in"
HISTORY = "this request summarises only the mail before this week"
REFINE = "Summary from last week's report"


def _summarizer(
    store: Store, url: str, flavour: str, *, wait_s: float = 60.0, **settings: Any
) -> LLMSummarizer:
    info = store.get_list("kvmarm")
    assert info is not None
    kind = OpenAICompatibleClient if flavour == "openai" else AnthropicClient
    client = kind(base_url=url, api_key=KEY, timeout=5.0, sleep=lambda _: None)
    wait = BatchWait(wait_s=wait_s, poll_s=0.0, sleep=lambda _: None)
    return LLMSummarizer(
        client,
        LLMSettings(model="fake-model", batch=wait, **settings),
        store,
        info.id,
    )


def _report(store: Store, summarizer: LLMSummarizer) -> Report:
    with summarizer:
        return ReportBuilder(store, "kvmarm").build(WEEK, summarizer=summarizer)


def _summaries(report: Report) -> dict[str, Any]:
    return {t.id: t.summary for t in report.threads}


@pytest.mark.parametrize("flavour", ["openai", "anthropic"])
def test_a_batched_report_equals_the_direct_one_and_a_rerun_asks_nothing(
    writable_store: Store, synced_db: Path, tmp_path: Path, flavour: str
) -> None:
    store = writable_store
    with FakeBatchServer(flavour, api_key=KEY, polls_to_end=2) as server:
        batched = _report(store, _summarizer(store, server.url, flavour))
        # Two rounds: every thread's first ask (a big thread's map parts together, and
        # the summary of a long thread's earlier mail), then the reduce prompts of the
        # big threads and the week's prompts that refine those earlier summaries.
        first, second = server.submitted
        later = [user_text(body) for body in second]
        assert any(REDUCE in text for text in later) and any(REFINE in text for text in later)
        assert all(REDUCE in text or REFINE in text for text in later)
        assert not any(REDUCE in user_text(body) or REFINE in user_text(body) for body in first)
        assert sum(HISTORY in user_text(body) for body in first) == sum(
            REFINE in text for text in later
        )
        assert len(first) > len(batched.threads)  # the map parts
        assert server.polls == 3 * 2  # running, running, ended; for each batch
        again = _report(store, _summarizer(store, server.url, flavour))
        assert len(server.submitted) == 2  # served from the summary cache
    assert all(t.summary is not None and t.summary.source == "llm" for t in batched.threads)
    assert _summaries(again) == _summaries(batched)
    # The same prompts asked directly give the same summaries: one conversation, two ways.
    fresh = tmp_path / "direct.sqlite3"
    shutil.copy(synced_db, fresh)
    with Store.open(fresh) as other:
        info = other.get_list("kvmarm")
        assert info is not None
        kind = OpenAICompatibleClient if flavour == "openai" else AnthropicClient
        with FakeLLMServer(flavour) as direct:
            client = kind(base_url=direct.url, api_key=KEY, timeout=5.0, sleep=lambda _: None)
            summarizer = LLMSummarizer(client, LLMSettings(model="fake-model"), other, info.id)
            plain = _report(other, summarizer)
            sent = [user_text(body) for body in direct.requests]
    assert _summaries(plain) == _summaries(batched)
    assert sorted(sent) == sorted(user_text(body) for batch in server.submitted for body in batch)


def _invalid_first(body: dict[str, Any]) -> str:
    """Prose for a first ask, a valid answer to the retry that quotes the refusal."""
    if RETRY in user_text(body):
        return default_responder(body)
    return "Here is a summary in prose, not JSON."


def test_a_retry_is_a_second_round(writable_store: Store) -> None:
    store = writable_store
    with FakeBatchServer("openai", responder=_invalid_first, api_key=KEY) as server:
        report = _report(store, _summarizer(store, server.url, "openai"))
    # First asks, their retries, the reduce prompts, the retries of those.
    asks, retries, reduces, reduce_retries = server.submitted
    assert len(retries) == len(asks) and len(reduce_retries) == len(reduces)
    assert all(RETRY in user_text(body) for body in retries + reduce_retries)
    assert all(t.summary is not None and t.summary.source == "llm" for t in report.threads)


@pytest.mark.parametrize("flavour", ["openai", "anthropic"])
def test_a_run_that_stops_waiting_is_resumed_without_submitting_again(
    writable_store: Store, flavour: str
) -> None:
    store = writable_store
    with FakeBatchServer(flavour, api_key=KEY, polls_to_end=1000) as server:
        summarizer = _summarizer(store, server.url, flavour, wait_s=0.0)
        with pytest.raises(BatchPending) as pending:
            _report(store, summarizer)
        info = store.get_list("kvmarm")
        assert info is not None
        (batch_id, _created, keys), *more = store.open_llm_batches(flavour, info.id)
        assert not more and batch_id in str(pending.value) and "--resume" in str(pending.value)
        assert len(keys) == server.asked
        server.polls_to_end = 0
        resumed = _summarizer(store, server.url, flavour)
        report = _report(store, resumed)
        first, _reduces = server.submitted  # the first batch collected, not submitted twice
        assert len(first) == len(keys)
        assert store.open_llm_batches(flavour, info.id) == []
    assert all(t.summary is not None and t.summary.source == "llm" for t in report.threads)


@pytest.mark.parametrize("flavour", ["openai", "anthropic"])
def test_requests_a_batch_could_not_answer_fall_back_and_are_asked_again(
    writable_store: Store, flavour: str
) -> None:
    store = writable_store
    with FakeBatchServer(flavour, api_key=KEY) as server:
        server.script_results("errored", "expired")
        first = _report(store, _summarizer(store, server.url, flavour))
        notes = [t.summary.note for t in first.threads if t.summary and t.summary.source != "llm"]
        assert len(notes) == 2 and all(notes)
        rounds = len(server.submitted)
        second = _report(store, _summarizer(store, server.url, flavour))
        # Only what failed is asked again: two first asks (and what follows them).
        assert len(server.submitted[rounds]) == 2
    assert all(t.summary is not None and t.summary.source == "llm" for t in second.threads)


def test_a_batch_refused_as_a_whole_leaves_offline_summaries_with_a_note(
    writable_store: Store,
) -> None:
    store = writable_store
    with FakeBatchServer("openai", api_key=KEY) as server:
        server.fail_batch = "Line 3: model not found"
        report = _report(store, _summarizer(store, server.url, "openai"))
    notes = {t.summary.note for t in report.threads if t.summary is not None}
    assert {t.summary.source for t in report.threads if t.summary} == {"facts"}
    assert len(notes) == 1 and None not in notes


def test_results_on_another_host_are_not_fetched_with_the_key(writable_store: Store) -> None:
    store = writable_store
    with (
        FakeBatchServer("anthropic", api_key=KEY) as server,
        FakeBatchServer("anthropic", api_key=KEY) as elsewhere,
    ):
        server.hosts_results_at = elsewhere.root
        report = _report(store, _summarizer(store, server.url, "anthropic"))
    assert elsewhere.requests == []  # the key never went there
    # ...the results were read at the documented path under the configured base instead.
    assert {t.summary.source for t in report.threads if t.summary} == {"llm"}


def test_a_wrong_key_is_one_line_before_any_wait(writable_store: Store) -> None:
    from lore_digest.summarize.llm import LLMUnavailable

    store = writable_store
    with (
        FakeBatchServer("openai", api_key="another-key") as server,
        pytest.raises(LLMUnavailable) as failed,
    ):
        _report(store, _summarizer(store, server.url, "openai"))
    assert "HTTP 401" in str(failed.value) and KEY not in str(failed.value)
    assert server.submitted == []


def _cli(db: Path, out: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = env_without_llm_keys()
    env.update(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=url)
    return run_report(db, out, env, *extra, timeout=300)


def test_cli_batch_stops_with_exit_75_and_resume_collects(synced_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite3"
    shutil.copy(synced_db, db)
    out = tmp_path / "out"
    with FakeBatchServer("openai", api_key=KEY, polls_to_end=1000) as server:
        nothing = _cli(db, out, server.url, "--batch", "--resume")
        assert nothing.returncode == 1, nothing.stderr
        assert "no openai batch of kvmarm is waiting" in nothing.stderr
        stopped = _cli(db, out, server.url, "--batch", "--batch-wait", "0")
        assert stopped.returncode == 75, stopped.stderr
        errors = [line for line in stopped.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "--resume" in errors[0] and "Traceback" not in stopped.stderr
        assert "requests submitted" in stopped.stderr  # said as it happened
        assert not list(out.glob("*.json"))  # no half-summarised report
        server.polls_to_end = 0
        resumed = _cli(db, out, server.url, "--batch", "--resume", "--json")
        assert resumed.returncode == 0, resumed.stderr
        first = server.submitted[0]
        assert not any(REDUCE in user_text(body) for body in first)
        later = [user_text(b) for batch in server.submitted[1:] for b in batch]
        # After the first asks: reduces, and the week's prompts (or their map parts)
        # that come after a long thread's earlier mail was summarised on its own.
        assert any(HISTORY in user_text(body) for body in first)
        assert any(REDUCE in text for text in later)
        assert not any(HISTORY in text for text in later)
    data = json.loads((out / "kvmarm-2022-W19.en.json").read_text(encoding="utf-8"))
    assert {t["summary"]["source"] for t in data["threads"]} == {"llm"}
    assert KEY not in stopped.stderr + resumed.stdout + resumed.stderr


def test_cli_resume_needs_batch_and_batch_needs_an_llm(synced_db: Path, tmp_path: Path) -> None:
    lone = _cli(synced_db, tmp_path / "o", "http://127.0.0.1:1/v1", "--resume")
    assert lone.returncode == 2 and "--resume goes with --batch" in lone.stderr
    offline = subprocess.run(
        [
            sys.executable, "-m", "lore_digest", "report", "--db", str(synced_db),
            "--list", "kvmarm", "--week", "2022-W19", "--batch", "--out", str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert offline.returncode == 2 and "--batch needs an LLM summarizer" in offline.stderr


def _rounds(store: Store, url: str, **wait: Any) -> Any:
    from lore_digest.summarize.batch import BatchRounds, batch_api

    info = store.get_list("kvmarm")
    assert info is not None
    client = OpenAICompatibleClient(base_url=url, api_key=KEY, timeout=5.0, sleep=lambda _: None)
    settings = {"poll_s": 0.0, "sleep": lambda _: None, **wait}
    return BatchRounds(batch_api(client), store, info.id, "m", BatchWait(**settings))


def _asks(*texts: str) -> dict[str, Any]:
    from lore_digest.summarize.clients import ChatRequest

    return {f"k{i}-{text}": ChatRequest("s", f"[m1] {text}", "m") for i, text in enumerate(texts)}


def test_a_recorded_batch_is_collected_whole_even_when_asked_for_part(
    writable_store: Store,
) -> None:
    """What was paid for is kept: a later run that asks for less still stores it all."""
    store = writable_store
    both = _asks("a", "b")
    with FakeBatchServer("openai", api_key=KEY, polls_to_end=1000) as server:
        with pytest.raises(BatchPending):
            _rounds(store, server.url, wait_s=0.0).run(both, lambda _n: None)
        server.polls_to_end = 0
        one = dict(list(both.items())[:1])
        _rounds(store, server.url).run(one, lambda _n: None)
        assert len(server.submitted) == 1
    assert all(store.llm_response(key) is not None for key in both)
    info = store.get_list("kvmarm")
    assert info is not None and store.open_llm_batches("openai", info.id) == []


def test_a_batch_the_provider_no_longer_has_is_asked_again(writable_store: Store) -> None:
    store = writable_store
    info = store.get_list("kvmarm")
    assert info is not None
    asks = _asks("a")
    store.add_llm_batch("openai", "batch_purged", info.id, 0, asks.keys())
    with FakeBatchServer("openai", api_key=KEY) as server:
        rounds = _rounds(store, server.url)
        rounds.run(asks, lambda _n: None)  # polls the purged one: 404, forgotten
        assert rounds.lost and store.open_llm_batches("openai", info.id) == []
        rounds.run(asks, lambda _n: None)  # what the next round does: ask again
        assert len(server.submitted) == 1
    assert all(store.llm_response(key) is not None for key in asks)


def test_resume_refuses_to_submit_when_no_recorded_batch_matches(writable_store: Store) -> None:
    from lore_digest.errors import UsageError

    store = writable_store
    info = store.get_list("kvmarm")
    assert info is not None
    store.add_llm_batch("openai", "batch_other_week", info.id, 0, ["some-other-key"])
    with FakeBatchServer("openai", api_key=KEY) as server:
        with pytest.raises(UsageError, match="run without --resume"):
            _rounds(store, server.url, resume=True).run(_asks("a"), lambda _n: None)
        assert server.submitted == []


def test_a_network_blip_while_waiting_stops_the_run_instead_of_going_offline(
    writable_store: Store,
) -> None:
    store = writable_store
    with FakeBatchServer("openai", api_key=KEY) as server:
        server.failing_polls = 100
        with pytest.raises(BatchPending, match="HTTP 500"):
            _report(store, _summarizer(store, server.url, "openai"))
        assert len(server.submitted) == 1
        server.failing_polls = 0
        report = _report(store, _summarizer(store, server.url, "openai"))
        assert len(server.submitted) == 2  # collected the first, then the reduce round
    assert {t.summary.source for t in report.threads if t.summary} == {"llm"}
