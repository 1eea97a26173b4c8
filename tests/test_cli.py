"""The command line: global --db, clear one-line errors, --json output, the demo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lore_digest.cli import cli


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lore_digest", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_help_explains_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("sync", "report", "demo", "lists", "doctor"):
        assert command in result.output
    report_help = CliRunner().invoke(cli, ["report", "--help"]).output
    assert "--week" in report_help and "--tz" in report_help


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sync", "--mirror", "/nonexistent/inbox"], "does not exist"),
        (["report", "--list", "nope", "--week", "2022-W19"], "unknown list"),
        (["report", "--list", "x", "--week", "2022-W99"], "bad week"),
        (
            ["report", "--list", "x", "--week", "2022-W19", "--tz", "Mars/Olympus"],
            "unknown time zone",
        ),
        (["report", "--list", "x", "--format", "pdf"], "unknown format"),
    ],
)
def test_errors_are_one_line_without_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run("--db", str(tmp_path / "s.db"), *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_usage_errors(tmp_path: Path) -> None:
    result = run("--db", str(tmp_path / "s.db"), "sync")
    assert result.returncode == 2 and "exactly one of --mirror, --mbox or --lore" in result.stderr
    assert "Traceback" not in result.stderr


def test_sync_report_json_and_env_db(corpus_blobs: list[tuple[str, bytes]], tmp_path: Path) -> None:
    import mailbox
    import os

    box = mailbox.mbox(tmp_path / "l.mbox")
    for _, raw in corpus_blobs[-400:]:
        box.add(raw)
    box.close()
    env = dict(os.environ, LORE_DIGEST_DB=str(tmp_path / "env.db"))
    synced = run("sync", "--mbox", str(tmp_path / "l.mbox"), "--list", "kvmarm", "--json", env=env)
    assert synced.returncode == 0, synced.stderr
    counts = json.loads(synced.stdout)
    assert counts["new"] == 400 and counts["unparsable"] == 0
    assert (tmp_path / "env.db").exists()
    listed = json.loads(run("lists", "--json", env=env).stdout)
    assert listed[0]["name"] == "kvmarm" and listed[0]["messages"] == 400
    out = tmp_path / "out"
    reported = run(
        "report", "--list", "kvmarm", "--week", "2022-W25", "--out", str(out), "--json", env=env
    )
    assert reported.returncode == 0, reported.stderr
    summary = json.loads(reported.stdout)
    assert [Path(p).name for p in summary["files"]] == [
        "kvmarm-2022-W25.md",
        "kvmarm-2022-W25.json",
    ]
    text = run(
        "report", "--list", "kvmarm", "--week", "2022-W25", "--out", str(out), "--format", "txt",
        env=env,
    )  # fmt: skip
    assert text.returncode == 0, text.stderr
    written = (out / "kvmarm-2022-W25.txt").read_text(encoding="utf-8")
    assert written.startswith("KVMARM 邮件列表周报 2022-W25\n====")  # zh by default
    doctor = json.loads(run("doctor", "--list", "kvmarm", "--json", env=env).stdout)
    assert doctor == {"rejected": [], "repaired": []}


def test_demo_command(tmp_path: Path) -> None:
    result = run("demo", "--out", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    written = sorted(p for p in (tmp_path / "demo").iterdir() if p.is_file())
    assert [p.suffix for p in written] == [".json", ".md"]
    flat = result.stdout.replace("\n", "")
    assert str(written[0]) in flat
    index = tmp_path / "demo" / "site" / "index.html"
    assert index.is_file() and str(index) in flat
