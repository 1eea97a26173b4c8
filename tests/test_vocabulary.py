"""The shared rules of vocabulary.py: each decision written once, tested once."""

from __future__ import annotations

import pytest

from lore_digest.errors import UsageError
from lore_digest.mail.subject import parse_subject
from lore_digest.vocabulary import (
    SERIES_SPREAD_S,
    check_list_name,
    estimate_tokens,
    is_bot,
    is_syzbot,
    lang_suffix,
    parse_languages,
    plural,
    retry_after_from_headers,
    retry_after_seconds,
    same_posting,
)


@pytest.mark.parametrize(
    "address",
    [
        "lkp@intel.com",
        "pr-tracker-bot@kernel.org",
        "patchwork-bot+netdevbpf@kernel.org",
        "syzbot+5c0b63d4e1a2f3b7@syzkaller.appspotmail.com",
        "ci-bot@example.org",
        "LKP@Intel.com",
    ],
)
def test_bots(address: str) -> None:
    assert is_bot(address)


@pytest.mark.parametrize("address", ["maz@kernel.org", "bot@example.org", "robot.smith@x.org"])
def test_people_are_not_bots(address: str) -> None:
    assert not is_bot(address)


def test_syzbot() -> None:
    assert is_syzbot("syzbot+abc@syzkaller.appspotmail.com")
    assert not is_syzbot("lkp@intel.com")


def _sent(subject: str, sender: str = "a@example.org", date: int = 0) -> tuple:
    return (sender, parse_subject(subject), date)


def test_same_posting_needs_sender_version_total_rfc_and_prefixes() -> None:
    cover = _sent("[PATCH v3 0/4] KVM: arm64: foo")
    assert same_posting(_sent("[PATCH v3 2/4] KVM: arm64: bar", date=60), cover)
    assert not same_posting(_sent("[PATCH v3 2/4] bar", sender="b@example.org"), cover)
    assert not same_posting(_sent("[PATCH v2 2/4] bar"), cover)
    assert not same_posting(_sent("[PATCH v3 2/5] bar"), cover)
    assert not same_posting(_sent("[RFC PATCH v3 2/4] bar"), cover)
    assert not same_posting(_sent("[kvmtool PATCH v3 2/4] bar"), cover)
    assert not same_posting(_sent("[PATCH v3 2/4] bar", date=SERIES_SPREAD_S + 1), cover)
    assert not same_posting(_sent("Re: [PATCH v3 2/4] bar"), cover)


def test_retry_after() -> None:
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("1.5") == 1.5
    assert retry_after_seconds("Mon, 01 Jan 2024 00:00:30 GMT", now=1704067200.0) == 30.0
    assert retry_after_seconds("Mon, 01 Jan 2024 00:00:00 GMT", now=1704067230.0) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
    assert retry_after_from_headers({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_from_headers({"retry-after": "9"}) == 9.0
    assert retry_after_from_headers({}) is None


def test_languages() -> None:
    assert parse_languages("zh,en") == ("zh", "en")
    assert parse_languages(" EN , zh, en ") == ("en", "zh")
    assert parse_languages(["en"]) == ("en",)
    with pytest.raises(UsageError, match="unknown language fr"):
        parse_languages("zh,fr")
    with pytest.raises(UsageError):
        parse_languages("")
    assert lang_suffix("zh") == "" and lang_suffix("en") == ".en"


def test_plural_and_list_names() -> None:
    assert plural(1, "mail") == "1 mail"
    assert plural(2, "mail") == "2 mails"
    assert plural(0, "thread") == "0 threads"
    assert plural(3, "reply", "replies") == "3 replies"
    assert check_list_name("kvmarm") == "kvmarm"
    with pytest.raises(ValueError):
        check_list_name("../etc")


def test_token_estimate() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("中文摘要") == 4
