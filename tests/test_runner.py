"""`run_all` on a small real list: 300 consecutive kvmarm mails (Feb 2021) as an mbox.

The clock is fixed inside that stretch, so the run sees complete weeks, the week in
progress, and (a week later) that week becoming complete. Mail goes to aiosmtpd on
127.0.0.1 (see test_deliver), so "mailed once" is checked by what a server received.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aiosmtpd", reason="aiosmtpd is needed for the SMTP tests (test extras)")

from conftest import write_mboxrd
from lore_digest.runner import STATE_FILE, RunSummary, run_all
from lore_digest.settings import Settings, parse_settings
from lore_digest.store.db import Store
from test_deliver import SmtpServer, free_port, start_server

SLICE = slice(9000, 9300)  # 2021-02-01 … 2021-02-17
NOW = datetime(2021, 2, 17, 18, 0, tzinfo=UTC)  # Thursday 02:00 in Asia/Shanghai: W07
TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
def kvmarm_mbox(
    corpus_blobs: list[tuple[str, bytes]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """An mboxrd file of 300 consecutive real messages of the corpus."""
    path = tmp_path_factory.mktemp("runner") / "kvmarm.mbox"
    return write_mboxrd(path, (raw for _, raw in corpus_blobs[SLICE]))


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    yield from start_server()


def _config(tmp: Path, lists: dict[str, dict[str, Any]], smtp_port: int | None) -> Settings:
    data: dict[str, Any] = {"lists": lists}
    if smtp_port is not None:
        data["smtp"] = {
            "host": "127.0.0.1",
            "port": smtp_port,
            "security": "none",
            "from": "lore-digest <digest@example.org>",
            "timeout": 5,
        }
    return parse_settings(data, base=tmp)


def _kvmarm(mbox: Path, **extra: Any) -> dict[str, Any]:
    return {
        "mbox": str(mbox),
        "output": "out/kvmarm",
        "languages": ["zh", "en"],
        "timezone": TZ,
        "recipients": ["kvmarm-digest@example.org"],
        **extra,
    }


def _snapshot(directory: Path) -> dict[str, tuple[int, bytes]]:
    """Complete-week report files with their mtime and bytes (in-progress ones excluded)."""
    return {
        p.name: (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(directory.iterdir())
        if ".in-progress" not in p.name
    }


def _run(settings: Settings, store: Path, now: datetime) -> tuple[RunSummary, list[str]]:
    lines: list[str] = []
    return run_all(settings, store, now=now, log=lines.append), lines


def test_run_twice_then_a_week_later(
    tmp_path: Path, kvmarm_mbox: Path, smtp_server: SmtpServer
) -> None:
    settings = _config(tmp_path, {"kvmarm": _kvmarm(kvmarm_mbox)}, smtp_server.port)
    store = tmp_path / "store.sqlite3"
    out = tmp_path / "out" / "kvmarm"
    reports = out / "reports"

    first, lines = _run(settings, store, NOW)
    assert first.ok, first.as_dict()
    [run] = first.lists
    assert run.synced is not None and run.synced["new"] == 300
    assert {"2021-W05", "2021-W06"} <= set(run.reported_weeks)
    assert all(week < "2021-W07" for week in run.reported_weeks)
    for week in ("2021-W05", "2021-W06"):
        for stem in (f"kvmarm-{week}", f"kvmarm-{week}.en"):
            assert (reports / f"{stem}.md").is_file() and (reports / f"{stem}.json").is_file()
    assert run.current_week == "2021-W07"
    current = reports / "kvmarm-2021-W07.in-progress.md"
    assert "本周尚未结束" in current.read_text("utf-8")
    data = json.loads((reports / "kvmarm-2021-W07.in-progress.en.json").read_text("utf-8"))
    assert data["in_progress"] is True and data["week"] == "2021-W07"
    assert run.site_index == out / "site" / "index.html" and run.site_index.is_file()
    assert run.mailed_week == "2021-W06" and run.message_id
    [sent] = smtp_server.recorder.received
    assert sent.rcpt_tos == ["kvmarm-digest@example.org"]
    assert sent.message["Subject"].startswith("[kvmarm 周报] 2021-W06：")
    state = json.loads((out / STATE_FILE).read_text("utf-8"))
    assert state["mailed"]["2021-W06"]["message_id"] == run.message_id
    assert any("mailed 2021-W06" in line for line in lines)
    before = _snapshot(reports)

    second, _ = _run(settings, store, NOW + timedelta(hours=1))
    [run] = second.lists
    assert second.ok and run.synced is not None and run.synced["new"] == 0
    assert run.reported_weeks == [] and run.mailed_week is None
    assert _snapshot(reports) == before  # no complete week rewritten
    assert len(smtp_server.recorder.received) == 1  # nothing re-sent
    assert run.current_week == "2021-W07" and run.site_files_written == 0

    third, _ = _run(settings, store, NOW + timedelta(days=7))
    [run] = third.lists
    assert third.ok and run.reported_weeks == ["2021-W07"]
    assert (reports / "kvmarm-2021-W07.md").is_file()
    assert not list(reports.glob("kvmarm-2021-W07.in-progress*"))  # replaced by the report
    assert (reports / "kvmarm-2021-W08.in-progress.en.md").is_file()
    assert run.mailed_week == "2021-W07" and len(smtp_server.recorder.received) == 2
    assert {k: v for k, v in _snapshot(reports).items() if k in before} == before


def test_one_broken_list_does_not_stop_the_others(tmp_path: Path, kvmarm_mbox: Path) -> None:
    plain_git = tmp_path / "plain.git"  # a git repository, but no public-inbox
    subprocess.run(["git", "init", "-q", str(plain_git)], check=True)
    (plain_git / "README").write_text("not mail\n")
    git = ["git", "-C", str(plain_git), "-c", "user.name=x", "-c", "user.email=x@example.org"]
    subprocess.run([*git, "add", "README"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    lists = {
        "broken": {"mbox": "missing.mbox", "output": "out/broken"},
        "notinbox": {"mirror": str(plain_git), "output": "out/notinbox"},
        "kvmarm": {"mbox": str(kvmarm_mbox), "output": "out/kvmarm", "timezone": TZ},
    }
    store = tmp_path / "s.sqlite3"
    summary, lines = _run(_config(tmp_path, lists, None), store, NOW)
    broken, notinbox, good = summary.lists
    assert not summary.ok
    assert broken.errors and broken.errors[0].startswith("sync: lists.broken.mbox:")
    assert "does not exist" in broken.errors[0]
    assert notinbox.errors and "not a public-inbox archive" in notinbox.errors[0]
    assert notinbox.errors[0].startswith("sync: lists.notinbox.mirror:")
    assert good.ok and "2021-W06" in good.reported_weeks
    assert (tmp_path / "out/kvmarm/reports/kvmarm-2021-W06.md").is_file()
    assert not (tmp_path / "out/broken/reports").exists()
    assert any(line.startswith("broken: sync failed") for line in lines)
    assert summary.as_dict()["lists"][0]["ok"] is False
    with Store.open(store) as opened:  # refused sources leave no empty list behind
        assert [info.name for info in opened.lists()] == ["kvmarm"]


def test_lore_source_gets_the_configs_since(
    tmp_path: Path, kvmarm_mbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run` makes a list's source through the registry, like `sync` does."""
    from lore_digest.sources import registry
    from lore_digest.sources.mbox import MboxSource

    calls: list[tuple[str, str | None, dict[str, Any]]] = []

    def fake_lore(location: str, name: str | None, url_base: str | None, **options: Any) -> Any:
        calls.append((location, name, options))
        assert name is not None
        return MboxSource(kvmarm_mbox, name, url_base=url_base)  # the mail lore would give

    kind = dataclasses.replace(registry.SOURCES["lore"], make=fake_lore)
    monkeypatch.setitem(registry.SOURCES, "lore", kind)
    lists = {
        "kvmarm": {
            "lore": "https://lore.kernel.org/kvmarm",
            "output": "out",
            "since": "2021-02-08",
            "languages": ["en"],
        }
    }
    settings = _config(tmp_path, lists, None)
    summary, _ = _run(settings, tmp_path / "s.sqlite3", NOW)
    assert summary.ok, summary.as_dict()
    assert calls == [
        ("https://lore.kernel.org/kvmarm", "kvmarm", {"first_since": date(2021, 2, 8)})
    ]
    [run] = summary.lists
    assert run.reported_weeks == ["2021-W06"]  # W05 is before `since`
    assert run.synced is not None and run.synced["new"] == 300
    # ... and the site starts there too (W07: the week in progress, as in the reports)
    manifest = json.loads((tmp_path / "out" / "site" / ".lore-digest-site.json").read_text())
    assert sorted(manifest["weeks"]) == ["2021-W06", "2021-W07"]


def test_failed_mail_is_retried_and_deleted_reports_rebuilt(
    tmp_path: Path, kvmarm_mbox: Path, smtp_server: SmtpServer
) -> None:
    store = tmp_path / "s.sqlite3"
    conf = _kvmarm(kvmarm_mbox, languages=["en", "zh"])
    down = _config(tmp_path, {"kvmarm": conf}, free_port())
    summary, _ = _run(down, store, NOW)
    [run] = summary.lists
    assert [e.split(":")[0] for e in run.errors] == ["mail"]
    assert run.reported_weeks and run.site_index is not None  # the other steps still ran
    assert not (tmp_path / "out/kvmarm" / STATE_FILE).exists()

    reports = tmp_path / "out/kvmarm/reports"
    (reports / "kvmarm-2021-W05.en.md").unlink()
    up = _config(tmp_path, {"kvmarm": conf}, smtp_server.port)
    summary, _ = _run(up, store, NOW)
    [run] = summary.lists
    assert summary.ok and run.mailed_week == "2021-W06"
    assert run.reported_weeks == ["2021-W05"]
    assert [p.name for p in run.files if "in-progress" not in p.name] == [
        "kvmarm-2021-W05.en.md",
        "kvmarm-2021-W05.en.json",
    ]
    [sent] = smtp_server.recorder.received
    assert sent.message["Subject"].startswith("[kvmarm digest] 2021-W06: ")  # first language


def test_changed_report_settings_write_every_week_again(tmp_path: Path, kvmarm_mbox: Path) -> None:
    """Reports of finished weeks are kept from run to run, unless what shapes them
    changed: a person added to `people` gets their block in every week."""
    store = tmp_path / "s.sqlite3"
    plain = _config(tmp_path, {"kvmarm": _kvmarm(kvmarm_mbox, recipients=[])}, None)
    first, _ = _run(plain, store, NOW)
    [run] = first.lists
    reports = tmp_path / "out/kvmarm/reports"
    assert first.ok and run.reported_weeks
    assert "👤 For Marc Zyngier" not in (reports / "kvmarm-2021-W06.en.md").read_text("utf-8")
    again, _ = _run(plain, store, NOW)
    assert again.lists[0].reported_weeks == []
    people = _kvmarm(kvmarm_mbox, recipients=[], people=["maz@kernel.org"])
    changed, lines = _run(_config(tmp_path, {"kvmarm": people}, None), store, NOW)
    [run] = changed.lists
    assert changed.ok and run.reported_weeks == first.lists[0].reported_weeks
    assert any("report settings changed" in line for line in lines)
    assert "👤 For Marc Zyngier" in (reports / "kvmarm-2021-W06.en.md").read_text("utf-8")
    same, _ = _run(_config(tmp_path, {"kvmarm": people}, None), store, NOW)
    assert same.lists[0].reported_weeks == []


def test_open_store_and_selected_lists(tmp_path: Path, kvmarm_mbox: Path) -> None:
    lists = {
        "kvmarm": {"mbox": str(kvmarm_mbox), "output": "a"},
        "other": {"mbox": "missing", "output": "b"},
    }
    settings = _config(tmp_path, lists, None)
    with Store.open(tmp_path / "s.sqlite3") as store:
        seen: list[tuple[str, int, int | None]] = []
        summary = run_all(
            settings, store, now=NOW, lists=["kvmarm"], progress=lambda *a: seen.append(a)
        )
        assert [r.name for r in summary.lists] == ["kvmarm"] and summary.ok
        assert seen[-1] == ("kvmarm: sync", 300, None)
        assert store.get_list("kvmarm") is not None  # the caller's store is left open
    from lore_digest.errors import UsageError

    with pytest.raises(UsageError, match="nosuch"):
        run_all(settings, tmp_path / "s.sqlite3", now=NOW, lists=["nosuch"])


def test_a_summarizer_that_cannot_work_is_said_once_per_list(
    tmp_path: Path, kvmarm_mbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model service refusing the key: the list that chose the offline fallback gets
    its reports and says so once (not once per week or thread); the list that did not
    fails its report step with one line naming the cause; neither asks more than once."""
    from fake_llm import FakeLLMServer

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-refused-0123456789")
    with FakeLLMServer("openai") as server:
        server.script(*["401"] * 40)
        llm = {"backend": "openai", "base_url": server.url, "model": "m"}
        lists = {
            "kind": _kvmarm(
                kvmarm_mbox, output="out/kind", summarizer={**llm, "fallback": "offline"}
            ),
            "strict": _kvmarm(kvmarm_mbox, output="out/strict", summarizer=llm),
        }
        for conf in lists.values():
            del conf["recipients"]
        summary, lines = _run(_config(tmp_path, lists, None), tmp_path / "s.sqlite3", NOW)
        calls = server.count
    kind, strict = summary.lists
    assert kind.ok and "2021-W06" in kind.reported_weeks
    said = [line for line in lines if "every summary is the offline one" in line]
    assert len(said) == 1 and said[0].startswith("kind: ") and "HTTP 401" in said[0], lines
    assert not strict.ok and strict.errors[0].startswith("report: openai: HTTP 401")
    assert "--fallback offline" in strict.errors[0]
    assert calls == 2  # one request per list: the first one tells


def test_run_posts_each_completed_week_to_its_channels_once(
    tmp_path: Path, kvmarm_mbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fake_chat import TELEGRAM_TOKEN, WEBHOOK_SECRET, FakeChatServer

    monkeypatch.setenv("TG_TOKEN", TELEGRAM_TOKEN)
    monkeypatch.setenv("HOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("BAD_TOKEN", "syt_not_the_token_0123")
    with FakeChatServer() as chat:
        data: dict[str, Any] = {
            "channels": {
                "tg": {
                    "kind": "telegram",
                    "api_url": chat.url,
                    "chat_id": "-1",
                    "token_env": "TG_TOKEN",
                },
                "hook": {
                    "kind": "webhook",
                    "url": f"{chat.url}/webhook",
                    "secret_env": "HOOK_SECRET",
                },
                "mx": {
                    "kind": "matrix",
                    "homeserver": chat.url,
                    "room": "!r:x",
                    "token_env": "BAD_TOKEN",
                },
            },
            "lists": {
                "kvmarm": {**_kvmarm(kvmarm_mbox, recipients=[]), "channels": ["tg", "hook", "mx"]}
            },
        }
        settings = parse_settings(data, base=tmp_path)
        store = tmp_path / "store.sqlite3"
        first, lines = _run(settings, store, NOW)
        [run] = first.lists
        assert run.notified == ["tg 2021-W06", "hook 2021-W06"]
        assert run.errors == [next(e for e in run.errors if e.startswith("notify: channel mx"))]
        assert "syt_not_the_token" not in " ".join(run.errors + lines)
        assert "2021-W06" in chat.received["telegram"][0]["text"]
        assert chat.received["webhook"][0]["week"] == "2021-W06"
        second, _ = _run(settings, store, NOW + timedelta(hours=1))
        assert second.lists[0].notified == [] and len(chat.received["telegram"]) == 1
        third, _ = _run(settings, store, NOW + timedelta(days=7))
        assert third.lists[0].notified[:2] == ["tg 2021-W07", "hook 2021-W07"]
        assert len(chat.received["webhook"]) == 2
