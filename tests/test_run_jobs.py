"""`run --jobs N`: lists with their own stores digested in parallel processes.

Each list here is a slice of real kvmarm mail in an mbox, with its own store
(`lists.NAME.db`). The parallel run must write what a run one list after the other
writes, keep each store to its own list, and not let one list's failure stop the
others. The LLM limit is checked on a loopback OpenAI-compatible server that holds
every request a moment and counts how many are open at once: with one request at a
time per process, more than one open proves the processes ran side by side, and never
more than the limit proves the shared gate.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conftest import write_mboxrd
from fake_llm import FakeLLMServer, default_responder
from lore_digest.runner import run_all
from lore_digest.settings import Settings, parse_settings
from lore_digest.store.db import Store

SLICE = slice(9000, 9080)  # 2021-02-01 … : a complete week and the week in progress
NOW = datetime(2021, 2, 10, 18, 0, tzinfo=UTC)
NAMES = ("alpha", "beta", "gamma")


@pytest.fixture(scope="module")
def small_mbox(
    corpus_blobs: list[tuple[str, bytes]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """An mboxrd file of 80 consecutive real messages of the corpus."""
    path = tmp_path_factory.mktemp("jobs") / "kvmarm.mbox"
    return write_mboxrd(path, (raw for _, raw in corpus_blobs[SLICE]))


def _settings(tmp: Path, mbox: Path, **extra: Any) -> Settings:
    lists = {
        name: {
            "mbox": str(mbox),
            "output": f"out/{name}",
            "db": f"stores/{name}.sqlite3",
            "languages": ["en"],
        }
        for name in NAMES
    }
    return parse_settings({"lists": lists, **extra}, base=tmp)


def _reports(tmp: Path) -> dict[str, dict[str, Any]]:
    """Every complete week's JSON report, without the time it was generated."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(tmp.glob("out/*/reports/*.json")):
        if ".in-progress" in path.name:
            continue
        data = json.loads(path.read_text("utf-8"))
        data.pop("generated_at", None)
        found[f"{path.parent.parent.name}/{path.name}"] = data
    return found


def test_parallel_run_writes_what_a_sequential_run_writes(tmp_path: Path, small_mbox: Path) -> None:
    one, many = tmp_path / "one", tmp_path / "many"
    sequential = run_all(_settings(one, small_mbox), one / "shared.sqlite3", now=NOW)
    lines: list[str] = []
    parallel = run_all(
        _settings(many, small_mbox),
        many / "shared.sqlite3",
        now=NOW,
        jobs=3,
        log=lines.append,
        lock_wait=5,
    )
    assert sequential.ok and parallel.ok, parallel.as_dict()
    assert [r.name for r in parallel.lists] == list(NAMES)  # config order, whoever ends first
    assert all(r.reported_weeks == ["2021-W05"] for r in parallel.lists)
    reports = _reports(many)
    assert len(reports) == 3 and reports == {
        k.replace("one/", "many/"): v for k, v in _reports(one).items()
    }
    for name in NAMES:  # each list in its own store, the shared one never created
        with Store.open(many / "stores" / f"{name}.sqlite3") as store:
            assert [info.name for info in store.lists()] == [name]
    assert not (many / "shared.sqlite3").exists()
    # the workers' log lines reach the parent
    assert {f"{name}: reported 2021-W05 (en)" for name in NAMES} <= set(lines)


def test_a_failing_list_does_not_stop_the_parallel_others(tmp_path: Path, small_mbox: Path) -> None:
    settings = _settings(tmp_path, small_mbox)
    broken = settings.lists["beta"].model_copy(update={"mbox": tmp_path / "missing.mbox"})
    settings = settings.model_copy(update={"lists": {**settings.lists, "beta": broken}})
    # gamma shares alpha's store: the two run one after the other in one process
    gamma = settings.lists["gamma"].model_copy(update={"db": settings.lists["alpha"].db})
    settings = settings.model_copy(update={"lists": {**settings.lists, "gamma": gamma}})
    summary = run_all(settings, tmp_path / "shared.sqlite3", now=NOW, jobs=2)
    alpha, beta, gamma_run = summary.lists
    assert not summary.ok
    assert beta.errors and beta.errors[0].startswith("sync: lists.beta.mbox:")
    assert alpha.ok and gamma_run.ok and gamma_run.reported_weeks == ["2021-W05"]
    with Store.open(tmp_path / "stores" / "alpha.sqlite3") as store:
        assert [info.name for info in store.lists()] == ["alpha", "gamma"]


class _Holding:
    """Answers each chat request after a pause, counting the requests open at once."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.open = 0
        self.most = 0
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> str:
        with self.lock:
            self.open += 1
            self.most = max(self.most, self.open)
        try:
            time.sleep(self.pause)
            return default_responder(body)
        finally:
            with self.lock:
                self.open -= 1


def test_the_lists_share_one_limit_on_llm_requests(
    tmp_path: Path, small_mbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holding = _Holding(0.15)
    with FakeLLMServer("openai", responder=holding) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-jobs")
        summarizer = {
            "backend": "openai",
            "model": "fake-model",
            "base_url": server.url,
            "concurrency": 1,  # one request at a time in each process
        }
        settings = _settings(tmp_path, small_mbox, summarizer=summarizer)
        summary = run_all(
            settings, tmp_path / "shared.sqlite3", now=NOW, jobs=3, llm_limit=2, lock_wait=5
        )
    assert summary.ok, summary.as_dict()
    assert server.count > 20
    assert holding.most == 2, f"{holding.most} requests were open at once (limit 2)"
