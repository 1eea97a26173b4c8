"""LLM summaries end to end: real report code, real HTTP to a fake server on loopback."""

from __future__ import annotations

import json
import mailbox
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fake_llm import FakeLLMServer, user_text
from lore_digest.facts.week import iso_week_window
from lore_digest.ingest import sync_mbox
from lore_digest.report.build import ReportBuilder
from lore_digest.report.jsonout import report_dict, series_dict
from lore_digest.report.markdown import render_markdown
from lore_digest.report.model import Report
from lore_digest.store.db import Store
from lore_digest.summarize.clients import AnthropicClient, OpenAICompatibleClient
from lore_digest.summarize.llm import LLMSettings, LLMSummarizer
from report_cli import env_without_llm_keys, run_report

NOW = datetime(2026, 11, 23, tzinfo=UTC)
WEEK = iso_week_window("2022-W19")
KEY = "sk-test-DO-NOT-LEAK-0123456789"


@pytest.fixture
def store(writable_store: Store) -> Store:
    """A private copy of the synced corpus store (the LLM cache writes to it)."""
    return writable_store


def _report(
    store: Store, server: FakeLLMServer, flavour: str = "openai", **settings: object
) -> tuple[Report, LLMSummarizer]:
    info = store.get_list("kvmarm")
    assert info is not None
    kind = OpenAICompatibleClient if flavour == "openai" else AnthropicClient
    # Real HTTP and real retry logic; only the waits between retries are skipped.
    client = kind(base_url=server.url, api_key=KEY, timeout=2.0, sleep=lambda _: None)
    summarizer = LLMSummarizer(client, LLMSettings(model="fake-model", **settings), store, info.id)  # type: ignore[arg-type]
    report = ReportBuilder(store, "kvmarm").build(WEEK, now=NOW, summarizer=summarizer)
    return report, summarizer


def test_llm_report_keeps_facts_and_cites_real_mail(store: Store) -> None:
    offline = ReportBuilder(store, "kvmarm").build(WEEK, now=NOW)
    with FakeLLMServer("openai") as server:
        report, _ = _report(store, server)
    assert server.count >= len(report.threads)
    for thread in report.threads:
        summary = thread.summary
        assert summary is not None and summary.source == "llm" and summary.model == "fake-model"
        ids = {m.message_id for m in thread.messages}
        if thread.series:  # earlier revisions and the superseding one are citable too
            ids |= {r.message_id for r in thread.series.revisions}
            if thread.series.superseded_by:
                ids.add(thread.series.superseded_by.message_id)
        for item in (*summary.original, *summary.history, *summary.this_week):
            assert item.cites and set(item.cites) <= ids
    # Facts are computed, never taken from model text.
    assert [series_dict(t) for t in report.threads] == [series_dict(t) for t in offline.threads]
    assert report.stats == offline.stats
    text = render_markdown(report)
    assert "(fake-model)" in text and "https://lore.kernel.org/kvmarm/" in text
    for body in server.requests:
        prompt = user_text(body)
        assert "diff --git" not in prompt  # whole diffs are never sent
    assert KEY not in json.dumps(report_dict(report), ensure_ascii=False)
    dump = "\n".join(str(r) for r in store.conn.execute("SELECT * FROM llm_cache"))
    assert KEY not in dump and KEY not in text


def test_rerun_is_served_from_the_cache(store: Store) -> None:
    with FakeLLMServer("openai") as server:
        _report(store, server)
        first = server.count
        _, again = _report(store, server)
        assert server.count == first  # zero requests on a re-run with no new mail
        assert again.cache_hits > 0


def test_one_new_mail_resummarises_one_thread(store: Store, tmp_path: Path) -> None:
    with FakeLLMServer("openai") as server:
        report, _ = _report(store, server)
        target = next(
            t for t in report.threads if "Misc ITS fixes" in t.subject and "v3" in t.subject
        )
        parent = target.messages[-1]
        mbox_path = tmp_path / "new.mbox"
        box = mailbox.mbox(mbox_path)
        box.add(
            (
                "From: New Reviewer <new@example.org>\n"
                f"Subject: Re: {parent.subject}\n"
                "Date: Fri, 13 May 2022 10:00:00 +0000\n"
                "Message-ID: <new-reply-1@example.org>\n"
                f"In-Reply-To: <{parent.message_id}>\n"
                f"References: <{target.id}> <{parent.message_id}>\n\n"
                "Looks good to me.\n\nReviewed-by: New Reviewer <new@example.org>\n"
            ).encode()
        )
        box.close()
        assert sync_mbox(store, mbox_path, "kvmarm").new == 1
        before = server.count
        _report(store, server)
        assert server.count - before == 1


HISTORY = "this request summarises only the mail before this week"
REFINE = "Summary from last week's report"


def _new_reply(store: Store, tmp_path: Path, root: str, parent: str, subject: str) -> None:
    """Sync one new in-window review reply to `parent` (thread `root`)."""
    mbox_path = tmp_path / "reply.mbox"
    box = mailbox.mbox(mbox_path)
    box.add(
        (
            "From: New Reviewer <new@example.org>\n"
            f"Subject: Re: {subject}\n"
            "Date: Fri, 13 May 2022 11:00:00 +0000\n"
            "Message-ID: <new-reply-2@example.org>\n"
            f"In-Reply-To: <{parent}>\n"
            f"References: <{root}> <{parent}>\n\n"
            "One more question on this.\n"
        ).encode()
    )
    box.close()
    assert sync_mbox(store, mbox_path, "kvmarm").new == 1


def test_long_earlier_mail_is_summarised_once_then_refined(store: Store, tmp_path: Path) -> None:
    """A fresh store has no last week's summary: a thread with much earlier mail gets
    it summarised on its own first (from the earlier mail only), and the week's prompt
    refines that summary with the earlier mail as header lines; the earlier summary is
    cached, so a later report of the thread asks only the week's prompt."""
    with FakeLLMServer("openai") as server:
        report, _ = _report(store, server)
        texts = [user_text(body) for body in server.requests]
        histories = [t for t in texts if HISTORY in t]
        assert histories, "2022-W19 has a thread with a long history"
        history = histories[0]
        thread = next(t for t in report.threads if t.subject in history)
        earlier = [m for m in thread.messages if not m.in_window]
        this_week = [m for m in thread.messages if m.in_window]
        # The history prompt: the earlier mail, no status facts, nothing of this week.
        facts = history.split("\n")[1]
        assert '"status"' not in facts and '"series"' not in facts  # the week's end's
        assert f'"total":{len(earlier)},"this_week":0,"earlier":{len(earlier)}' in facts
        assert "their trailers are in the facts" not in history
        refined = [t for t in texts if REFINE in t and thread.subject in t]
        assert len(refined) == 1
        assert texts.index(refined[0]) > texts.index(history)
        summary = thread.summary
        assert summary is not None and summary.source == "llm"

        _new_reply(store, tmp_path, thread.id, this_week[-1].message_id, this_week[-1].subject)
        before = server.count
        _report(store, server)
        again = [user_text(body) for body in server.requests[before:]]
        assert len(again) == 1 and REFINE in again[0] and HISTORY not in again[0]


def test_invalid_json_is_retried_once(store: Store) -> None:
    with FakeLLMServer("openai") as server:
        server.script("invalid_json")
        report, _ = _report(store, server, concurrency=1)
    assert all(t.summary is not None and t.summary.source == "llm" for t in report.threads)


def test_failures_fall_back_to_facts_with_a_note(store: Store) -> None:
    with FakeLLMServer("openai") as server:
        server.script(*(["500"] * 400))
        report, _ = _report(store, server, concurrency=2)
    for thread in report.threads:
        summary = thread.summary
        assert summary is not None and summary.source == "facts"
        assert summary.note and "500" not in summary.note and "Traceback" not in summary.note
    data = report_dict(report)
    assert all(t["summary"]["source"] == "facts" and t["summary"]["note"] for t in data["threads"])


def test_token_budget_stops_calls(store: Store) -> None:
    with FakeLLMServer("openai") as server:
        report, summarizer = _report(store, server, max_tokens_run=10)
    assert server.count == 0
    assert all(t.summary is not None and t.summary.note for t in report.threads)
    assert summarizer.budget.calls == 0


def test_anthropic_backend(store: Store) -> None:
    with FakeLLMServer("anthropic") as server:
        report, _ = _report(store, server, "anthropic")
    assert all(t.summary is not None and t.summary.source == "llm" for t in report.threads)
    assert server.headers[0].get("x-api-key") == KEY


def test_cli_report_through_the_fake_server(synced_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite3"
    shutil.copy(synced_db, db)
    config = tmp_path / "config.toml"
    config.write_text(
        '[summarizer]\nbackend = "openai"\nmodel = "from-config"\nconcurrency = 2\n',
        encoding="utf-8",
    )
    with FakeLLMServer("openai") as server:
        env = dict(os.environ, OPENAI_API_KEY=KEY, OPENAI_BASE_URL=server.url)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "lore_digest",
                "--db",
                str(db),
                "--config",
                str(config),
                "report",
                "--list",
                "kvmarm",
                "--week",
                "2022-W19",
                "--out",
                str(tmp_path / "out"),
                "--json",
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "kvmarm-2022-W19.json").read_text(encoding="utf-8"))
    assert {t["summary"]["source"] for t in data["threads"]} == {"llm"}
    assert {t["summary"]["model"] for t in data["threads"]} == {"from-config"}
    assert server.headers[0]["authorization"] == f"Bearer {KEY}"
    assert KEY not in result.stdout + result.stderr


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    from lore_digest.errors import UsageError
    from lore_digest.settings import load_settings

    config = tmp_path / "config.toml"
    config.write_text('[summarizer]\nbackend = "gpt"\nconcurency = 3\n', encoding="utf-8")
    with pytest.raises(UsageError) as excinfo:
        load_settings(config)
    message = str(excinfo.value)
    assert "summarizer.backend" in message and "summarizer.concurency" in message


@pytest.mark.parametrize(
    ("case", "cause"),
    [
        ("401", "Incorrect API key"),
        ("unknown model", "does not exist"),
        ("refused", "cannot connect to http://127.0.0.1:1/"),
        ("no key", "needs an API key: set OPENAI_API_KEY"),
    ],
)
def test_a_summarizer_that_cannot_work_fails_fast_or_falls_back_when_asked(
    synced_db: Path, tmp_path: Path, case: str, cause: str
) -> None:
    """No key, credentials refused, nothing listening, no such model: one line naming
    the cause within seconds and no report; with --fallback offline the report is
    written with facts-only summaries, and the fallback is said once."""
    db = tmp_path / "cli.sqlite3"
    shutil.copy(synced_db, db)
    env = env_without_llm_keys()
    with FakeLLMServer("openai") as server:
        if case != "no key":
            env["OPENAI_API_KEY"] = KEY
        if case in ("401", "unknown model"):
            env["OPENAI_BASE_URL"] = server.url
        elif case == "refused":
            env["OPENAI_BASE_URL"] = "http://127.0.0.1:1/v1"
        model = ("--model", "missing-model") if case == "unknown model" else ()
        if case == "401":
            server.script(*["401"] * 40)
        started = time.monotonic()
        failed = run_report(db, tmp_path / "failed", env, *model)
        elapsed = time.monotonic() - started
        calls = server.count
        if case == "401":
            server.script(*["401"] * 40)
        fell = run_report(db, tmp_path / "fell", env, *model, "--fallback", "offline", "--json")
    lines = failed.stderr.strip().splitlines()
    assert failed.returncode == 1 and len(lines) == 1, failed.stderr
    assert lines[0].startswith("error: ") and cause in lines[0], lines[0]
    assert "--fallback offline" in lines[0]
    assert "Traceback" not in failed.stderr and elapsed < 15, elapsed
    assert calls <= 1  # the first request goes alone; nothing after it fails
    assert not list((tmp_path / "failed").glob("*.md"))
    assert fell.returncode == 0, fell.stderr
    warnings = [line for line in fell.stderr.splitlines() if line.startswith("warning:")]
    said = [line for line in warnings if "every summary is the offline one" in line]
    assert len(said) == 1 and cause in said[0], warnings
    data = json.loads((tmp_path / "fell" / "kvmarm-2022-W19.en.json").read_text(encoding="utf-8"))
    assert {t["summary"]["source"] for t in data["threads"]} == {"facts"}
    assert KEY not in failed.stderr + fell.stdout + fell.stderr
