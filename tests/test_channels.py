"""Chat delivery: each channel's format, limits, signatures and resumption, over real
HTTP to loopback fakes of the services (tests/fake_chat.py), on the real 2022-W19."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fake_chat import (
    DINGTALK_SECRET,
    FEISHU_SECRET,
    MATRIX_TOKEN,
    TELEGRAM_TOKEN,
    WEBHOOK_SECRET,
    FakeChatServer,
)
from lore_digest.channels.formats import LIMITS, render_parts
from lore_digest.channels.message import ChatDigest, Entry, Section, chat_digest
from lore_digest.channels.notify import STATE_FILE, notify_week
from lore_digest.channels.send import Poster, matrix_txn_id
from lore_digest.digest import Digest, DigestSettings
from lore_digest.report.model import Report
from lore_digest.settings import ChannelSettings, parse_settings
from lore_digest.store.db import Store

WEEK = "2022-W19"
NOW = datetime(2026, 11, 23, tzinfo=UTC)
SITE = "https://digest.example.org/kvmarm"
ENV = {
    "FEISHU_SECRET": FEISHU_SECRET,
    "DINGTALK_SECRET": DINGTALK_SECRET,
    "WEBHOOK_SECRET": WEBHOOK_SECRET,
    "MATRIX_TOKEN": MATRIX_TOKEN,
    "TELEGRAM_TOKEN": TELEGRAM_TOKEN,
}
HOSTILE = (
    '<at user_id="all">所有人</at> @all <!channel> <b>bold</b> **star** [x](javascript:1) '
    "<font color=red>red</font> <@everyone>"
)


def channels(url: str) -> dict[str, ChannelSettings]:
    """One channel of every kind, all pointing at the fake."""
    table: dict[str, dict[str, Any]] = {
        "feishu": {
            "kind": "feishu",
            "url": f"{url}/feishu/hook/tok-signed",
            "secret_env": "FEISHU_SECRET",
        },
        "dingtalk": {
            "kind": "dingtalk",
            "url": f"{url}/dingtalk/robot/send?access_token=dingtoken0123",
            "secret_env": "DINGTALK_SECRET",
        },
        "wecom": {"kind": "wecom", "url": f"{url}/wecom/send?key=wecomkey0123"},
        "slack": {
            "kind": "slack",
            "url": f"{url}/slack/services/T0/B0/slacktoken0123",
            "lang": "en",
        },
        "matrix": {
            "kind": "matrix",
            "homeserver": url,
            "room": "!room:example.org",
            "token_env": "MATRIX_TOKEN",
            "lang": "en",
        },
        "telegram": {
            "kind": "telegram",
            "api_url": url,
            "chat_id": "-1001",
            "token_env": "TELEGRAM_TOKEN",
        },
        "webhook": {"kind": "webhook", "url": f"{url}/webhook", "secret_env": "WEBHOOK_SECRET"},
    }
    settings = parse_settings({"channels": {n: {**t, "site_url": SITE} for n, t in table.items()}})
    return dict(settings.channels)


def _poster(sleeps: list[float]) -> Any:
    clock = [1_700_000_000.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    def now() -> float:
        clock[0] += 0.001
        return clock[0]

    return lambda endpoint: Poster(endpoint, sleep=sleep, clock=now, timeout=5.0)


@pytest.fixture
def digest(writable_store: Store) -> Any:
    with Digest(writable_store, "kvmarm", DigestSettings(now=NOW)) as opened:
        yield opened


def _report(digest: Digest, lang: str = "zh") -> Report:
    return digest.week(WEEK, lang=lang)


def test_every_channel_gets_the_week_signed_once_and_a_rerun_sends_nothing(
    digest: Digest, tmp_path: Path
) -> None:
    sleeps: list[float] = []
    with FakeChatServer() as server:
        chosen = channels(server.url)
        outcomes = notify_week(
            digest,
            WEEK,
            chosen,
            tmp_path,
            default_lang="zh",
            env=ENV,
            poster=_poster(sleeps),
            now=NOW,
        )
        assert [o.error for o in outcomes] == [None] * len(chosen)
        for outcome in outcomes:
            kind = chosen[outcome.channel].kind
            assert len(server.received[kind]) == outcome.parts == outcome.sent >= 1, kind
        card = server.received["feishu"][0]["card"]
        assert "KVMARM" in card["header"]["title"]["content"]
        tags = {e["tag"] for e in card["elements"]} | {
            e["text"]["tag"] for e in card["elements"] if "text" in e
        }
        assert "lark_md" not in tags and "markdown" not in tags  # strangers' text is plain_text
        last = server.received["feishu"][-1]["card"]["elements"][-1]
        assert last["tag"] == "action" and last["actions"][0]["url"] == f"{SITE}/kvmarm-{WEEK}.html"
        slack = server.received["slack"][0]
        assert slack["blocks"][0]["type"] == "header" and "digest" in slack["text"]
        hook = server.received["webhook"][0]
        assert hook["list"] == "kvmarm" and hook["week"] == WEEK  # the report's own JSON
        matrix = server.received["matrix"][0]
        assert (
            matrix["format"] == "org.matrix.custom.html"
            and "<script" not in matrix["formatted_body"]
        )
        state = json.loads((tmp_path / STATE_FILE).read_text("utf-8"))
        assert set(state["sent"]) == set(chosen)
        before = len(server.requests)
        again = notify_week(
            digest, WEEK, chosen, tmp_path, default_lang="zh", env=ENV, poster=_poster([]), now=NOW
        )
        assert len(server.requests) == before  # each week once per channel
        assert all(o.sent == 0 and o.already == o.parts for o in again)


@pytest.fixture
def small_wecom(monkeypatch: pytest.MonkeyPatch) -> None:
    """WeCom messages of at most 1,200 bytes: a week in several parts (kvmarm's digests
    fit one 4,096-byte message), to test what happens between parts."""
    monkeypatch.setitem(LIMITS, "wecom", replace(LIMITS["wecom"], size=1200))


@pytest.mark.usefixtures("small_wecom")
def test_a_failing_channel_never_stops_the_others_and_a_rerun_sends_only_the_rest(
    digest: Digest, tmp_path: Path
) -> None:
    with FakeChatServer() as server:
        chosen = channels(server.url)
        wecom = {"wecom": chosen["wecom"], "slack": chosen["slack"]}
        parts = len(render_parts("wecom", chat_digest(_report(digest), SITE)))
        assert parts >= 3
        # The second part is refused (a permanent error): the first stays sent.
        server.script("/wecom/", ("pass", ""), ("refuse", ""))
        first = notify_week(
            digest, WEEK, wecom, tmp_path, default_lang="zh", env=ENV, poster=_poster([])
        )
        assert (
            first[0].error
            and "channel wecom" in first[0].error
            and "wecomkey" not in first[0].error
        )
        assert first[0].sent == 1 and first[1].ok and first[1].sent >= 1
        # Now the service works: everything of WeCom is sent, nothing of Slack again.
        second = notify_week(
            digest, WEEK, wecom, tmp_path, default_lang="zh", env=ENV, poster=_poster([])
        )
        assert second[0].ok and second[0].already == 1 and second[0].sent == parts - 1
        assert second[1].sent == 0
        assert len(server.received["wecom"]) == parts
        assert all(len(m["markdown"]["content"].encode()) <= 1200 for m in server.received["wecom"])
        titles = [m["markdown"]["content"].splitlines()[0] for m in server.received["wecom"]]
        assert all(f"1/{parts}" in t or f"{n}/{parts}" in t for n, t in enumerate(titles, 1))


@pytest.mark.usefixtures("small_wecom")
def test_a_crash_mid_week_resumes_with_the_missing_parts(digest: Digest, tmp_path: Path) -> None:
    with FakeChatServer() as server:
        wecom = {"wecom": channels(server.url)["wecom"]}
        parts = len(render_parts("wecom", chat_digest(_report(digest), SITE)))
        calls = {"n": 0}

        class Crashing(Poster):
            def send(self, *args: Any, **kwargs: Any) -> None:
                calls["n"] += 1
                if calls["n"] == 2:
                    raise KeyboardInterrupt  # the process dies after part 1
                super().send(*args, **kwargs)

        with pytest.raises(KeyboardInterrupt):
            notify_week(digest, WEEK, wecom, tmp_path, default_lang="zh", env=ENV, poster=Crashing)
        assert len(server.received["wecom"]) == 1
        resumed = notify_week(
            digest, WEEK, wecom, tmp_path, default_lang="zh", env=ENV, poster=_poster([])
        )
        assert resumed[0].already == 1 and resumed[0].sent == parts - 1
        assert len(server.received["wecom"]) == parts


@pytest.mark.usefixtures("small_wecom")
def test_parts_are_paced_to_the_rate_limit(digest: Digest, tmp_path: Path) -> None:
    sleeps: list[float] = []
    with FakeChatServer() as server:
        wecom = {"wecom": channels(server.url)["wecom"]}
        (outcome,) = notify_week(
            digest, WEEK, wecom, tmp_path, default_lang="zh", env=ENV, poster=_poster(sleeps)
        )
    assert outcome.ok and outcome.sent >= 3
    # WeCom takes 20 a minute: 3.1 s between two parts, less what the post itself took
    assert len(sleeps) == outcome.sent - 1 and all(3.0 < s <= 3.1 for s in sleeps), sleeps


def test_a_matrix_retry_after_a_timeout_is_stored_once(digest: Digest, tmp_path: Path) -> None:
    """The server took the first PUT but answered too late: the retry has the same
    transaction id, so the room gets the message once."""

    def poster(endpoint: Any) -> Poster:
        return Poster(endpoint, sleep=lambda _: None, timeout=0.3)

    with FakeChatServer() as server:
        matrix = {"matrix": channels(server.url)["matrix"]}
        server.script("/_matrix/", ("stall", "0.8"), ("500", ""))
        (outcome,) = notify_week(
            digest, WEEK, matrix, tmp_path, default_lang="zh", env=ENV, poster=poster
        )
        assert outcome.ok and outcome.sent == 1
        puts = [path for method, path in server.requests if method == "PUT"]
        assert len(puts) == 3 and len(set(puts)) == 1  # one txn id, three attempts
        assert len(server.received["matrix"]) == 1


def test_rate_limits_are_waited_out(digest: Digest, tmp_path: Path) -> None:
    sleeps: list[float] = []
    with FakeChatServer() as server:
        chosen = channels(server.url)
        picked = {"telegram": chosen["telegram"], "slack": chosen["slack"]}
        server.script(f"/bot{TELEGRAM_TOKEN}", ("429", "7"))
        server.script("/slack/", ("429", "3"), ("500", ""))
        outcomes = notify_week(
            digest, WEEK, picked, tmp_path, default_lang="zh", env=ENV, poster=_poster(sleeps)
        )
        assert all(o.ok for o in outcomes)
        assert 7.0 in sleeps and 3.0 in sleeps  # Retry-After and Telegram's retry_after
        assert len(server.received["telegram"]) == outcomes[0].parts


def test_a_timeout_is_retried_and_a_dead_service_is_one_line(
    digest: Digest, tmp_path: Path
) -> None:
    sleeps: list[float] = []

    def poster(endpoint: Any) -> Poster:
        return Poster(endpoint, sleep=sleeps.append, timeout=0.3)

    with FakeChatServer() as server:
        picked = {"slack": channels(server.url)["slack"]}
        server.script("/slack/", ("stall", "1.0"))
        (late,) = notify_week(
            digest, WEEK, picked, tmp_path, default_lang="zh", env=ENV, poster=poster
        )
        assert late.ok and late.sent == 1 and sleeps[0] >= 2.0  # a backoff, then posted
        dead = {"slack": picked["slack"].model_copy(update={"url": "http://127.0.0.1:9/slack/x"})}
        (gone,) = notify_week(
            digest, WEEK, dead, tmp_path / "b", default_lang="zh", env=ENV, poster=poster
        )
        assert (
            gone.error
            == "channel slack: cannot reach the service (ConnectError), gave up after 5 attempts"
        )


def test_a_wrong_secret_is_one_line_naming_the_channel(digest: Digest, tmp_path: Path) -> None:
    with FakeChatServer() as server:
        chosen = channels(server.url)
        env = {
            **ENV,
            "FEISHU_SECRET": "wrong-secret-value",
            "MATRIX_TOKEN": "syt_wrong_token_value",
        }
        picked = {k: chosen[k] for k in ("feishu", "dingtalk", "matrix")}
        outcomes = notify_week(
            digest, WEEK, picked, tmp_path, default_lang="zh", env=env, poster=_poster([])
        )
        feishu, dingtalk, matrix = outcomes
        assert feishu.error and "19021" in feishu.error and "wrong-secret" not in feishu.error
        assert dingtalk.ok  # the others go on
        assert matrix.error and "401" in matrix.error and "syt_wrong" not in matrix.error
        missing = notify_week(
            digest, WEEK, picked, tmp_path, default_lang="zh", env={}, poster=_poster([])
        )
        assert "channels.feishu.secret_env: $FEISHU_SECRET is not set" in str(missing[0].error)


def test_matrix_retries_reuse_the_transaction_id() -> None:
    first = matrix_txn_id("kvmarm", WEEK, 1, "!room:example.org")
    assert first == matrix_txn_id("kvmarm", WEEK, 1, "!room:example.org")
    assert first != matrix_txn_id("kvmarm", WEEK, 2, "!room:example.org")
    assert first != matrix_txn_id("kvmarm", "2022-W20", 1, "!room:example.org")


def test_mail_text_arrives_as_text_in_every_format(digest: Digest) -> None:
    base = chat_digest(_report(digest, "en"), SITE)
    hostile_url = "https://lore.kernel.org/kvmarm/a)**boom**_x_|y>@z/"
    hostile = replace(
        base,
        sections=(
            Section(
                "Applied to " + HOSTILE,
                (Entry(HOSTILE, hostile_url, "3 commits"),),
            ),
        ),
    )
    for kind in LIMITS:
        (part,) = render_parts(kind, hostile)
        text = json.dumps(part.payload, ensure_ascii=False)
        if kind == "feishu":
            shown = [e["text"]["content"] for e in part.payload["card"]["elements"] if "text" in e]
            assert any(HOSTILE in line for line in shown) and "lark_md" not in text  # plain_text
        elif kind in ("dingtalk", "wecom"):
            body = part.payload["markdown"].get("text") or part.payload["markdown"]["content"]
            assert "<" not in body and ">" not in body and r"\*\*star\*\*" in body
            # the Message-ID's ")" cannot end the link early: the destination is encoded
            assert "](https://lore.kernel.org/kvmarm/a%29" in body and "/a)" not in body
        elif kind == "slack":
            assert (
                "<!channel>" not in text
                and "&lt;!channel&gt;" in text
                and "<@everyone>" not in text
            )
            section = part.payload["blocks"][2]["text"]["text"]
            assert "**star**" not in section and "*\u2060*\u2060star*\u2060*\u2060" in section
            (link,) = re.findall(r"<(https://[^|>]*)\|", section)
            assert link.endswith("_x_%7Cy%3E@z/")  # neither "|" nor ">" ends it
        elif kind == "telegram":
            body = part.payload["text"]
            assert "&lt;b&gt;bold&lt;/b&gt;" in body and "&lt;at user_id" in body
            assert 'href="https://lore.kernel.org/kvmarm/a)**boom**_x_|y&gt;@z/"' in body
            assert all(h.startswith("https://") for h in re.findall(r'href="([^"]*)"', body))
        elif kind == "matrix":
            assert (
                "<at " not in part.payload["formatted_body"]
                and "&lt;at" in part.payload["formatted_body"]
            )
            assert HOSTILE.split()[0] in part.payload["body"]  # the plain body is the text itself


def test_long_digests_split_between_entries_within_each_limit(digest: Digest) -> None:
    base = chat_digest(_report(digest, "en"), SITE)
    entries = tuple(
        Entry(
            f"[PATCH v{n} {n}/9] KVM: arm64: a long series subject number {n} " * 3,
            f"https://lore.kernel.org/kvmarm/{n}@x/",
        )
        for n in range(120)
    )
    big = replace(base, sections=(Section("New series", entries),))
    for kind, limit in LIMITS.items():
        parts = render_parts(kind, big)
        assert len(parts) >= 2 or kind in ("matrix", "feishu"), kind
        assert all(limit.measure(p.payload) <= limit.size for p in parts), kind
        text = "".join(json.dumps(p.payload, ensure_ascii=False) for p in parts)
        for n in (0, 57, 119):  # every entry whole, in one part
            needle = f"https://lore.kernel.org/kvmarm/{n}@x/"
            assert sum(needle in json.dumps(p.payload) for p in parts) == 1, (kind, n)
        assert [p.number for p in parts] == list(range(1, len(parts) + 1)), kind
        assert (SITE in json.dumps(parts[-1].payload)) and all(
            SITE not in json.dumps(p.payload) for p in parts[:-1]
        ), kind
        assert text  # rendered


def test_telegram_counts_utf16_units() -> None:
    """An emoji is two of Telegram's 4,096 units: 12 entries of 300 emoji fit by len()
    (3,600 characters) but not by Telegram's count."""
    emoji = ChatDigest(
        "en",
        "T",
        "1 mail",
        (Section("S", tuple(Entry("😀" * 300) for _ in range(12))),),
        "",
        "Full",
    )
    parts = render_parts("telegram", emoji)
    assert len(parts) >= 2
    assert all(len(p.payload["text"].encode("utf-16-le")) // 2 <= 4096 for p in parts)


def test_a_digest_of_one_giant_subject_is_cut_to_fit() -> None:
    giant = ChatDigest(
        "en", "T", "1 mail", (Section("S", (Entry("x" * 10_000, "https://l/"),)),), "", "Full"
    )
    (part,) = render_parts("wecom", giant)
    assert (
        LIMITS["wecom"].measure(part.payload) <= 4096 and "…" in part.payload["markdown"]["content"]
    )


def test_config_names_each_bad_channel_key() -> None:
    for table, message in (
        ({"kind": "feishu"}, "channels.t: a feishu channel needs url"),
        (
            {"kind": "matrix", "homeserver": "https://m", "room": "!r", "url": "https://x"},
            "needs token_env and does not use url",
        ),
        ({"kind": "telegram", "chat_id": "1", "token_env": "1BAD"}, "channels.t.token_env"),
        ({"kind": "irc", "url": "https://x"}, "channels.t.kind"),
        ({"kind": "slack", "url": "ftp://x"}, "channels.t.url"),
    ):
        with pytest.raises(Exception, match="invalid config") as err:
            parse_settings({"channels": {"t": table}})
        assert message in str(err.value), str(err.value)
    with pytest.raises(Exception, match=r"lists\.k\.channels\[0\]: no channel 'nope'"):
        parse_settings({"lists": {"k": {"mbox": "a", "output": "o", "channels": ["nope"]}}})


def _cli(
    db: Path, config: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "lore_digest",
            "--db",
            str(db),
            "--config",
            str(config),
            "notify",
            *args,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
        timeout=120,
    )


def test_cli_notify_dry_run_prints_the_requests_with_secrets_redacted(
    synced_db: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[channels.team]
kind = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send?access_token=dingtoken0123456789"
secret_env = "DINGTALK_SECRET"
site_url = "{SITE}"

[channels.card]
kind = "feishu"
url = "https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d-feishu-hook-id"
secret_env = "SHORT_SECRET"

[channels.tg]
kind = "telegram"
chat_id = "-1001"
token_env = "TELEGRAM_TOKEN"

[lists.kvmarm]
mirror = "../shared/corpus/kvmarm-0.git"
output = "out"
channels = ["team", "card", "tg"]
""",
        encoding="utf-8",
    )
    db = tmp_path / "db.sqlite3"
    shutil.copy(synced_db, db)
    env = {**ENV, "SHORT_SECRET": "qz9x"}  # a secret of any length is redacted
    dry = _cli(db, config, env, "--list", "kvmarm", "--week", WEEK, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert '"sign": "[redacted]"' in dry.stdout  # Feishu's signature, in the body
    assert "/open-apis/bot/v2/hook/[redacted]" in dry.stdout
    for secret in (DINGTALK_SECRET, TELEGRAM_TOKEN, "dingtoken0123456789", "qz9x", "0a1b2c3d"):
        assert secret not in dry.stdout + dry.stderr
    assert (
        "channel team part 1/1: POST https://oapi.dingtalk.com/robot/send?access_token=[redacted]"
        in dry.stdout
    )
    assert "sign=[redacted]" in dry.stdout and '"msgtype": "markdown"' in dry.stdout
    assert (
        "channel tg part 1/1: POST https://api.telegram.org/bot[redacted]/sendMessage" in dry.stdout
    )
    assert not (tmp_path / "out" / STATE_FILE).exists()  # a dry run remembers nothing
    unknown = _cli(db, config, ENV, "--list", "kvmarm", "--week", WEEK, "--channel", "nope")
    assert unknown.returncode == 1 and unknown.stderr.count("\n") == 1, unknown.stderr
    assert "no channel nope in the config (known: team, card, tg)" in unknown.stderr
    unset = _cli(
        db,
        config,
        {"DINGTALK_SECRET": "", "TELEGRAM_TOKEN": "", "SHORT_SECRET": ""},
        "--list",
        "kvmarm",
        "--week",
        WEEK,
    )
    assert unset.returncode == 1 and "$DINGTALK_SECRET is not set" in unset.stderr
    assert "Traceback" not in unset.stderr
