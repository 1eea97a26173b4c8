"""The config file: a full good file, and each kind of mistake named by its key path."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from lore_digest.config import DB_ENV
from lore_digest.errors import UsageError
from lore_digest.settings import (
    Settings,
    effective_db_path,
    load_settings,
    parse_mailbox,
)

GOOD = """
db = "data/store.sqlite3"

[summarizer]
backend = "openai"
model = "gpt-4o-mini"
concurrency = 8

[smtp]
host = "smtp.example.org"
security = "starttls"
username = "digest@example.org"
from = "lore-digest <digest@example.org>"

[lists.kvmarm]
mirror = "https://lore.kernel.org/kvmarm"
url_base = "https://lore.kernel.org/kvmarm/"
languages = ["zh", "en", "zh"]
timezone = "Asia/Shanghai"
output = "/srv/digest/kvmarm"
recipients = ["kvmarm-digest@example.org", "Zhang 三 <z@example.net>"]
since = 2024-01-01

[lists.kvmarm.summarizer]
model = "qwen2.5:14b"
base_url = "http://localhost:11434/v1"

[lists.linux-arm-kernel]
lore = "https://lore.kernel.org/linux-arm-kernel"
output = "~/digests/lak"

[lists.local]
mbox = "mail/local.mbox"
output = "out/local"

[lists.git]
mirror = "mirrors/kvmarm"
output = "out/git"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(UsageError) as excinfo:
        load_settings(_write(tmp_path, text))
    return str(excinfo.value)


def test_good_file(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, GOOD))
    base = tmp_path.resolve()
    assert settings.db == base / "data/store.sqlite3"
    kvmarm = settings.lists["kvmarm"]
    assert kvmarm.source_kind == "mirror" and kvmarm.languages == ["zh", "en"]
    assert kvmarm.since == date(2024, 1, 1)
    assert kvmarm.reports_dir == Path("/srv/digest/kvmarm/reports")
    assert kvmarm.site_dir == Path("/srv/digest/kvmarm/site")
    assert kvmarm.recipients[1] == "Zhang 三 <z@example.net>"
    assert settings.lists["linux-arm-kernel"].source_kind == "lore"
    assert settings.lists["linux-arm-kernel"].output == Path.home() / "digests/lak"
    assert settings.lists["linux-arm-kernel"].languages == ["zh"]
    assert settings.lists["linux-arm-kernel"].timezone == "UTC"
    assert settings.lists["local"].mbox == base / "mail/local.mbox"
    assert settings.lists["git"].mirror == str(base / "mirrors/kvmarm")
    merged = settings.summarizer_for("kvmarm")
    assert (merged.backend, merged.model, merged.concurrency) == ("openai", "qwen2.5:14b", 8)
    assert merged.base_url == "http://localhost:11434/v1"
    assert settings.summarizer_for("local") == settings.summarizer
    assert settings.smtp is not None
    assert settings.smtp.effective_port == 587
    assert settings.smtp.sender_address.addr_spec == "digest@example.org"
    assert list(settings.select(["local", "kvmarm"])) == ["local", "kvmarm"]
    assert list(settings.select()) == ["kvmarm", "linux-arm-kernel", "local", "git"]


def test_old_file_with_only_a_summarizer_still_loads(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, '[summarizer]\nbackend = "anthropic"\n'))
    assert settings.summarizer.backend == "anthropic"
    assert settings.lists == {} and settings.smtp is None and settings.db is None
    assert load_settings(tmp_path / "absent.toml") == Settings()
    with pytest.raises(UsageError, match="does not exist"):
        load_settings(tmp_path / "absent.toml", required=True)


LIST = '[lists.kvmarm]\nmirror = "https://lore.kernel.org/kvmarm"\noutput = "out"\n'
SMTP = '[smtp]\nhost = "smtp.example.org"\nfrom = "digest@example.org"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('colour = "red"\n', "colour: unknown key"),
        (LIST + 'colour = "red"\n', "lists.kvmarm.colour: unknown key"),
        (LIST + 'languages = ["zh", "fr"]\n', "lists.kvmarm.languages[1]: Input should be"),
        (LIST + "languages = []\n", "lists.kvmarm.languages: List should have at least 1"),
        (LIST + 'timezone = "Asia/Shanghia"\n', "lists.kvmarm.timezone: unknown time zone"),
        (LIST + 'timezone = "../../etc/passwd"\n', "lists.kvmarm.timezone: unknown time zone"),
        (LIST + 'mbox = "x.mbox"\n', "lists.kvmarm: give exactly one source key"),
        ('[lists.kvmarm]\noutput = "out"\n', "(found: none)"),
        ('[lists.kvmarm]\nmbox = "x"\n', "lists.kvmarm.output: Field required"),
        ('[lists."kvm arm"]\nmbox = "x"\noutput = "o"\n', "lists.kvm arm: list name"),
        (LIST + 'url_base = "javascript:alert(1)"\n', "lists.kvmarm.url_base: "),
        (
            '[lists.kvmarm]\nlore = "ftp://lore.kernel.org/kvmarm"\noutput = "o"\n',
            "lists.kvmarm.lore: ",
        ),
        (LIST + "since = 2024-13-01\n", "cannot read config"),  # TOML itself refuses it
        (LIST + 'since = "soon"\n', "lists.kvmarm.since: "),
        (
            SMTP + LIST + 'recipients = ["a@example.org", "b@example.org\\r\\nBcc: c@x.org"]\n',
            "lists.kvmarm.recipients[1]: must not contain line breaks",
        ),
        (
            SMTP + LIST + 'recipients = ["a@example.org, b@example.org"]\n',
            "lists.kvmarm.recipients[0]: ",
        ),
        (LIST + 'recipients = ["a@example.org"]\n', "lists.kvmarm.recipients: mailing"),
        (LIST + "[lists.kvmarm.summarizer]\nconcurrency = 0\n", "summarizer.concurrency"),
        (LIST + "[lists.kvmarm.summarizer]\nmodle = 'x'\n", "lists.kvmarm.summarizer.modle"),
        (SMTP + 'security = "tls"\n', "smtp.security: Input should be"),
        (SMTP + "port = 70000\n", "smtp.port: "),
        (SMTP + 'password = "hunter2"\n', "smtp.password: passwords are never read"),
        ('[smtp]\nhost = "smtp.example.org"\nfrom = "nobody"\n', "smtp.from: "),
        ('[smtp]\nfrom = "a@example.org"\n', "smtp.host: Field required"),
        ('[summarizer]\nbackend = "gpt"\n', "summarizer.backend: Input should be"),
    ],
)
def test_bad_key_is_named(tmp_path: Path, text: str, expected: str) -> None:
    message = _error(tmp_path, text)
    assert expected in message, message
    assert "hunter2" not in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    message = _error(
        tmp_path,
        LIST + 'timezone = "Mars/Olympus"\nlanguages = ["de"]\n[summarizer]\nconcurency = 3\n',
    )
    for key in ("lists.kvmarm.timezone", "lists.kvmarm.languages[0]", "summarizer.concurency"):
        assert key in message
    assert str(tmp_path / "config.toml") in message


def test_select_unknown_list(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, LIST))
    with pytest.raises(UsageError, match=r"nosuch is not in the config.*known: kvmarm"):
        settings.select(["nosuch"])


def test_db_path_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(_write(tmp_path, 'db = "~/from-config.sqlite3"\n'))
    monkeypatch.delenv(DB_ENV, raising=False)
    assert effective_db_path(None, settings) == Path.home() / "from-config.sqlite3"
    assert effective_db_path(tmp_path / "opt.sqlite3", settings) == tmp_path / "opt.sqlite3"
    monkeypatch.setenv(DB_ENV, str(tmp_path / "env.sqlite3"))
    assert effective_db_path(None, settings) == tmp_path / "env.sqlite3"
    monkeypatch.delenv(DB_ENV)
    assert effective_db_path(None, Settings()).name == "lore-digest.sqlite3"


@pytest.mark.parametrize(
    "value",
    ["a@example.org\nBcc: b@example.org", "a@example.org, b@example.org", "nobody", "a@localhost"],
)
def test_parse_mailbox_refuses(value: str) -> None:
    with pytest.raises(ValueError):
        parse_mailbox(value)


def test_parse_mailbox_accepts_display_names() -> None:
    address = parse_mailbox('"Doe, Jane" <jane@example.org>')
    assert (address.display_name, address.addr_spec) == ("Doe, Jane", "jane@example.org")
