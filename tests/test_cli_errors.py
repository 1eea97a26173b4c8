"""Every bad input a user can meet is one line on stderr and a non-zero exit, never a
traceback, and it leaves nothing behind (no empty list, no side file).

Each case runs the real command line in a child process, as a user would.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lore_digest.demo.generator import generate_demo_list, write_mbox

LIST = "demo"
WEEK_START = datetime(2026, 11, 16, tzinfo=UTC)
WEEK = "2026-W47"


def cli(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lore_digest", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "80"},
    )


def assert_one_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 1 (2: the command line does not parse), one line on stderr (the error), no
    traceback; returns the line."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = result.stderr.strip().splitlines()
    assert result.returncode in (1, 2) and len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: "), line
    for word in words:
        assert word in line, line
    return line


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small store: the demo list synced through the CLI."""
    tmp = tmp_path_factory.mktemp("errors")
    mbox = tmp / "demo.mbox"
    write_mbox(generate_demo_list(WEEK_START, list_name=LIST), mbox)
    db = tmp / "store.sqlite3"
    synced = cli("--db", db, "sync", "--mbox", mbox, "--list", LIST)
    assert synced.returncode == 0, synced.stderr
    return db


@pytest.fixture
def db(store: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "store.sqlite3"
    shutil.copy(store, copy)
    return copy


def _lists(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM lists ORDER BY name")]


# -- output that cannot be written ---------------------------------------------------------


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory nobody may write into: mode 555, or immutable when we are root."""
    path = tmp_path / "ro"
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        yield path
        path.chmod(0o755)
        return
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"root cannot make a read-only directory here (chattr: {made.stderr!r})")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False)


@pytest.mark.parametrize("command", ["report", "site"])
def test_unwritable_out_is_one_line(db: Path, read_only_dir: Path, command: str) -> None:
    result = cli("--db", db, command, "--list", LIST, "--week", WEEK, "--out", read_only_dir)
    assert_one_line(result, "cannot write", str(read_only_dir))


@pytest.mark.parametrize("command", ["report", "site", "demo"])
def test_out_under_proc_is_one_line(db: Path, command: str) -> None:
    target = "/proc/lore-digest-out"
    args = ["--out", target] if command == "demo" else ["--list", LIST, "--out", target]
    result = cli("--db", db, command, *args)
    assert_one_line(result, "cannot write", target)


def test_out_that_is_a_file_is_one_line(db: Path, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert_one_line(cli("--db", db, "report", "--list", LIST, "--out", afile), "is a file")


# -- dates and weeks at the end of the calendar ------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--since", "9999-12-25", "--until", "9999-12-31"], ["out of range"]),
        (["--week", "9999-W52"], ["out of range"]),
        (["--week", "2022-W54"], ["bad week"]),
        (["--week", "2022-W20..2022-W10"], ["backwards"]),
        (["--since", "2022-13-01", "--until", "2022-12-31"], ["bad date"]),
    ],
)
@pytest.mark.parametrize("command", ["report", "site"])
def test_impossible_windows_are_one_line(
    db: Path, tmp_path: Path, command: str, args: list[str], words: list[str]
) -> None:
    result = cli("--db", db, command, "--list", LIST, *args, "--out", tmp_path / "o")
    assert_one_line(result, *words)


# -- stores that are not stores ------------------------------------------------------------


def test_db_dev_null_is_refused_and_creates_nothing() -> None:
    before = set(os.listdir("/dev"))
    for command in (["lists"], ["report", "--list", LIST], ["sync", "--mbox", "x", "--list", "x"]):
        assert_one_line(cli("--db", "/dev/null", *command), "/dev/null", "not a regular file")
    assert set(os.listdir("/dev")) - before == set()


def test_db_directory_is_refused(tmp_path: Path) -> None:
    assert_one_line(cli("--db", tmp_path, "lists"), "is a directory")


def test_file_that_is_not_a_store(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(os.urandom(8192))
    assert_one_line(cli("--db", garbage, "lists"), "not a lore-digest store")


def test_damaged_store_names_doctor_and_a_resync(db: Path, tmp_path: Path) -> None:
    size = db.stat().st_size
    with db.open("r+b") as handle:  # keep the header and schema page, ruin the rest
        handle.seek(4096 * 2)
        handle.write(b"\xa5" * (size - 4096 * 2))
    result = cli("--db", db, "report", "--list", LIST, "--week", WEEK, "--out", tmp_path / "o")
    assert_one_line(result, "damaged", "doctor", "new store")
    assert_one_line(cli("--db", db, "doctor"), "damaged")


# -- sources that are not what they claim ------------------------------------------------


def test_git_repository_that_is_no_public_inbox(db: Path, tmp_path: Path) -> None:
    repo = tmp_path / "plain"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "README").write_text("hello\n")
    git = ["git", "-C", str(repo), "-c", "user.name=x", "-c", "user.email=x@example.org"]
    subprocess.run([*git, "add", "README"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    result = cli("--db", db, "sync", "--mirror", repo, "--list", "plain")
    assert_one_line(result, "not a public-inbox archive")
    assert _lists(db) == [LIST]


@pytest.mark.parametrize("content", [b"Subject: no envelope\n\nhi\n", b"\x00\x01binary", b""])
def test_mbox_that_is_no_mbox(db: Path, tmp_path: Path, content: bytes) -> None:
    fake = tmp_path / "fake.mbox"
    fake.write_bytes(content)
    result = cli("--db", db, "sync", "--mbox", fake, "--list", "fake")
    assert_one_line(result, "not an mbox")
    assert _lists(db) == [LIST]


def test_missing_paths(db: Path, tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    assert_one_line(cli("--db", db, "sync", "--mbox", gone, "--list", "x"), "does not exist")
    assert_one_line(cli("--db", db, "sync", "--mirror", gone), "does not exist")
    assert _lists(db) == [LIST]


def test_option_for_another_source(db: Path, tmp_path: Path) -> None:
    result = cli("--db", db, "sync", "--mirror", tmp_path, "--since", "2022-01-01")
    assert_one_line(result, "--since goes with --lore")


# -- lists, empty windows, output --------------------------------------------------------


def test_lists_remove(db: Path) -> None:
    removed = cli("--db", db, "lists", "--remove", LIST)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.startswith(f"removed {LIST} (") and " mails)" in removed.stdout
    assert _lists(db) == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM raw_messages").fetchone() == (0,)
    assert_one_line(cli("--db", db, "lists", "--remove", LIST), "unknown list")


def test_empty_window_warns_with_the_stores_range(db: Path, tmp_path: Path) -> None:
    result = cli("--db", db, "report", "--list", LIST, "--week", "2019-W01", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    warning = result.stderr.strip()
    assert warning.startswith("warning: demo has no mail in 2019-W01 (UTC)"), warning
    assert "from 2026-" in warning and len(warning.splitlines()) == 1
    assert "0 mails in 0 threads" in result.stdout


def test_site_never_points_at_an_empty_week(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = cli("--db", db, "site", "--list", LIST, "--week", f"2019-W01,{WEEK}", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "no mail in 2019-W01" in result.stderr
    assert not (out / f"{LIST}-2019-W01.html").exists()
    assert (out / f"{LIST}-{WEEK}.html").is_file()
    assert "2019-W01" not in (out / "index.html").read_text("utf-8")
    only_empty = cli("--db", db, "site", "--list", LIST, "--week", "2019-W01", "--out", out)
    assert_one_line(only_empty, "no mail of demo in 2019-W01")


def test_piped_output_is_not_wrapped_and_plurals_are_right(db: Path, tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-directory-name-" * 4) / "reports"
    result = cli("--db", db, "report", "--list", LIST, "--week", WEEK, "--out", deep)
    assert result.returncode == 0, result.stderr
    wrote = [line for line in result.stdout.splitlines() if line.startswith("  wrote ")]
    assert wrote and all(len(line) > 80 for line in wrote)  # one line each, however long
    assert all(Path(line.removeprefix("  wrote ")).is_file() for line in wrote)
    assert " mails in " in result.stdout and " threads" in result.stdout
    listed = cli("--db", db, "lists").stdout
    assert " mails, " in listed and "1 mails" not in listed


# -- found by trying it as a new user --------------------------------------------------


def test_bad_urls_and_unreachable_servers(db: Path, tmp_path: Path) -> None:
    assert_one_line(cli("--db", db, "sync", "--lore", "http://[::1"), "not a valid URL")
    assert_one_line(cli("--db", db, "sync", "--lore", "http://127.0.0.1:99999/x"), "valid URL")
    gone = f"file://{tmp_path}/nonexistent/path.git"
    line = assert_one_line(cli("--db", db, "sync", "--mirror", gone), "does not appear")
    assert "and the repository exists" not in line  # git's hint, not its reason
    refused = cli("--db", db, "sync", "--mirror", "http://127.0.0.1:1/kvmarm")
    assert_one_line(refused, "cannot reach http://127.0.0.1:1/kvmarm/0")
    assert _lists(db) == [LIST]


def test_a_typo_leaves_no_store_and_no_lock(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.sqlite3"
    empty = tmp_path / "empty.mbox"
    empty.write_bytes(b"")
    for args in (
        ["sync", "--mirror", tmp_path / "nope"],
        ["sync", "--mbox", empty, "--list", "x"],
        ["sync", "--mirror", ""],
        ["report", "--list", "x"],
        ["site", "--list", "x"],
        ["doctor"],
    ):
        assert_one_line(cli("--db", fresh, *args))
    listed = cli("--db", tmp_path / "no" / "such" / "dir.sqlite3", "lists", "--json")
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.mbox"]


@pytest.mark.parametrize("name", ["../x", "a/b", "x y", "-x"])
def test_list_names_that_cannot_name_files(db: Path, tmp_path: Path, name: str) -> None:
    mbox = tmp_path / "one.mbox"
    write_mbox(generate_demo_list(WEEK_START, list_name="one")[:1], mbox)
    assert_one_line(cli("--db", db, "sync", "--mbox", mbox, "--list", name), "list name")
    assert _lists(db) == [LIST]


def test_more_impossible_input(db: Path, tmp_path: Path) -> None:
    backwards = ["--since", "2022-05-01", "--until", "2022-04-01"]
    lore = cli("--db", db, "sync", "--lore", "http://127.0.0.1:1/kvmarm", *backwards)
    assert_one_line(lore, "before --since")
    huge = cli("--db", db, "report", "--list", LIST, "--week", "2022-W10..9022-W19")
    assert_one_line(huge, "more than 2000 weeks")
    assert_one_line(
        cli("--db", db, "report", "--list", LIST, "--week", "2022-W19.."), "FIRST..LAST"
    )
    assert_one_line(cli("--db", db, "report", "--list", LIST, "--tz", ""), "unknown time zone")
    dates = cli(
        "--db", db, "report", "--list", LIST, "--since", "2022-13-01", "--until", "2022-12-31"
    )
    assert_one_line(dates, "'2022-13-01'")
    shown = cli("--db", db, "serve", tmp_path)
    assert_one_line(shown, "no index.html")
    assert shown.stdout == ""  # never "serving …" for a server that does not run


def test_a_range_skips_its_empty_weeks(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli(
        "--db", db, "report", "--list", LIST, "--week", "2026-W30..2026-W47", "--out", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "of the range without mail skipped" in result.stderr
    written = sorted(p.name for p in out.iterdir())
    assert f"{LIST}-{WEEK}.md" in written and len(written) < 2 * 18


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_config_problems_are_one_line(db: Path, tmp_path: Path) -> None:
    shared = _config(
        tmp_path,
        '[lists.one]\nmbox = "a"\noutput = "out"\n[lists.two]\nmbox = "b"\noutput = "out"\n',
    )
    line = assert_one_line(cli("--db", db, "--config", shared, "run"), "lists.two.output")
    assert "lists.one.output" in line
    typed = _config(tmp_path, '[lists.x]\nmbox = "a"\noutput = 3\n')
    line = assert_one_line(cli("--db", db, "--config", typed, "run"), "lists.x.output")
    assert "class" not in line
    env = {**os.environ, "LORE_DIGEST_CONFIG": str(tmp_path / "missing.toml")}
    missing = subprocess.run(
        [sys.executable, "-m", "lore_digest", "--db", str(db), "lists"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert_one_line(missing, "does not exist")


def test_mail_never_sends_an_empty_week(db: Path, tmp_path: Path) -> None:
    smtp = _config(
        tmp_path,
        '[smtp]\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\nfrom = "d@example.org"\n',
    )
    result = cli(
        "--db", db, "--config", smtp, "mail", "--list", LIST, "--week", "2030-W01",
        "--to", "x@example.org",
    )  # fmt: skip
    assert_one_line(result, "nothing to send", "2030-W01")


def test_site_and_report_default_to_the_lists_configured_languages(
    db: Path, tmp_path: Path
) -> None:
    """`site --list NAME` into run's tree must not throw away the languages run built."""
    config = _config(
        tmp_path,
        f'[lists.{LIST}]\nmbox = "unused.mbox"\noutput = "out"\nlanguages = ["zh", "en"]\n',
    )
    built = cli("--db", db, "--config", config, "site", "--list", LIST, "--week", WEEK)
    assert built.returncode == 0, built.stderr
    site = tmp_path / "out" / "site"
    assert (site / f"{LIST}-{WEEK}.html").is_file() and (site / f"{LIST}-{WEEK}.en.html").is_file()
    made = cli("--db", db, "--config", config, "report", "--list", LIST, "--week", WEEK)
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "reports").iterdir()) == [
        f"{LIST}-{WEEK}.en.json",
        f"{LIST}-{WEEK}.en.md",
        f"{LIST}-{WEEK}.json",
        f"{LIST}-{WEEK}.md",
    ]


def test_the_sites_json_of_a_week_in_progress_says_so(db: Path, tmp_path: Path) -> None:
    import json

    from lore_digest.digest import Digest, DigestSettings
    from lore_digest.site.build import build_site
    from lore_digest.store.db import Store

    out = tmp_path / "site"
    wednesday = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    later = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with Store.open(db) as store:
        build_site(Digest(store, LIST, DigestSettings(now=wednesday)), out, weeks=[WEEK])
        data = json.loads((out / f"{LIST}-{WEEK}.json").read_text("utf-8"))
        assert data["in_progress"] is True and data["as_of"].startswith("2026-11-18")
        ended = build_site(Digest(store, LIST, DigestSettings(now=later)), out, weeks=[WEEK])
    assert ended.weeks_rebuilt == [WEEK]  # rendered again once the week has ended
    assert "in_progress" not in json.loads((out / f"{LIST}-{WEEK}.json").read_text("utf-8"))
