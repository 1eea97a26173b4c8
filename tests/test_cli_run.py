"""`lore-digest run` and `lore-digest mail` end to end, through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from lore_digest.demo.generator import generate_demo_list, write_mbox
from test_deliver import start_server

WEEK_START = datetime(2026, 11, 16, tzinfo=UTC)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lore_digest", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_run_twice_then_mail(tmp_path: Path) -> None:
    mbox = tmp_path / "demo.mbox"
    write_mbox(generate_demo_list(WEEK_START, list_name="demo"), mbox)
    for server in start_server():
        config = tmp_path / "config.toml"
        config.write_text(
            f'db = "{tmp_path / "store.sqlite3"}"\n'
            "[smtp]\n"
            f'host = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\n'
            'from = "lore-digest <digest@example.org>"\n'
            "[lists.demo]\n"
            f'mbox = "{mbox}"\nlanguages = ["zh", "en"]\ntimezone = "Asia/Shanghai"\n'
            f'output = "{tmp_path / "out"}"\n',
            encoding="utf-8",
        )
        env = dict(os.environ)
        env.pop("LORE_DIGEST_DB", None)
        first = cli("--config", str(config), "run", "--json", env=env)
        assert first.returncode == 0, first.stderr
        summary = json.loads(first.stdout)
        assert (tmp_path / "out" / "site" / "index.html").is_file()
        reports = sorted(p.name for p in (tmp_path / "out" / "reports").iterdir())
        assert any(name.endswith(".en.md") for name in reports)
        second = cli("--config", str(config), "run", "--json", env=env)
        assert second.returncode == 0, second.stderr
        assert json.dumps(summary["lists"][0]["errors"]) == "[]"
        sent = cli(
            "--config",
            str(config),
            "mail",
            "--list",
            "demo",
            "--week",
            "2026-W47",
            "--to",
            "kvm@example.org",
            env=env,
        )
        assert sent.returncode == 0, sent.stderr
        assert "Message-ID" in sent.stdout
        assert [r.rcpt_tos for r in server.recorder.received] == [["kvm@example.org"]]


def test_run_without_lists_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "empty.toml"
    config.write_text("", encoding="utf-8")
    result = cli("--db", str(tmp_path / "s.db"), "--config", str(config), "run")
    assert result.returncode == 1 and "nothing to run" in result.stderr
    assert "Traceback" not in result.stderr
