"""Hostile mail end to end: ingest, doctor, threading and a report over the broken corpus.

The corpus (tests/broken_mail.py) holds one mail per way a mail can be wrong. Each
must end where its `expect` says — stored, stored with a repair noted, or logged as
duplicate / unparsable, or counted as known — through both mbox and maildir, and nothing
downstream (threading, report building, rendering) may crash or loop on what was stored.
A 20 MB mail runs in a child process, so its peak memory can be measured on its own.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner

from broken_mail import (
    LIST,
    WEEK,
    BrokenMail,
    broken_mails,
    huge_mail,
    write_broken_maildir,
    write_broken_mbox,
)
from lore_digest.cli import cli
from lore_digest.digest import Digest
from lore_digest.ingest import SyncResult, sync_mbox
from lore_digest.mail.mime import MessageText, message_text
from lore_digest.report.jsonout import render_json
from lore_digest.report.markdown import render_markdown
from lore_digest.sources.mbox import iter_mbox
from lore_digest.store.db import Store
from lore_digest.threading.jwz import ancestors, parent_map, thread_ids

CORPUS = broken_mails()
BY_KIND = {mail.kind: mail for mail in CORPUS}
SOURCES = ("mbox", "maildir")


# The whole report must stay readable as text: no NUL or other C0 control characters.
_CONTROL = {chr(c) for c in range(32) if chr(c) not in "\n\t"} | {"\x7f"}


@dataclass(frozen=True)
class Outcome:
    """Where one mail ended up after ingest."""

    result: str  # "stored", "repaired", "unparsable", "duplicate" or "known"
    message_id: str | None
    repairs: str


@dataclass(frozen=True)
class Ingested:
    """A store after syncing the corpus from one source, and what became of each mail."""

    db: Path
    source: Path
    result: SyncResult
    refs: dict[str, str]  # kind -> source_ref
    outcomes: dict[str, Outcome]


def _outcomes(store: Store, refs: dict[str, str]) -> dict[str, Outcome]:
    """Outcome of each kind, found by the source_ref ingest recorded for it (kind → ref)."""
    info = store.get_list(LIST)
    assert info is not None
    stored = {
        str(ref): (str(mid), str(repairs))
        for ref, mid, repairs in store.conn.execute(
            "SELECT source_ref, message_id, repairs FROM messages WHERE list_id=?", (info.id,)
        )
    }
    logged = {ref: (kind, mid) for kind, mid, ref, _ in store.ingest_log(info.id)}
    out: dict[str, Outcome] = {}
    for kind, ref in refs.items():
        if ref in stored:
            mid, repairs = stored[ref]
            out[kind] = Outcome("repaired" if repairs else "stored", mid, repairs)
        elif ref in logged:
            out[kind] = Outcome(logged[ref][0], logged[ref][1], "")
        else:
            out[kind] = Outcome("known", None, "")
    return out


def _ingest(tmp: Path, source: str) -> Ingested:
    if source == "mbox":
        path = tmp / "broken.mbox"
        write_broken_mbox(path, CORPUS)
        refs = {m.kind: f"mbox:{path.name}:{i}" for i, m in enumerate(CORPUS)}
    else:
        path = tmp / "maildir"
        keys = write_broken_maildir(path, CORPUS)
        refs = {m.kind: f"maildir:{path.name}:{k}" for m, k in zip(CORPUS, keys, strict=True)}
    db = tmp / "store.sqlite3"
    with Store.open(db) as store:
        result = sync_mbox(store, path, LIST)
        outcomes = _outcomes(store, refs)
    return Ingested(db, path, result, refs, outcomes)


@pytest.fixture(scope="module", params=SOURCES)
def ingested(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    """The corpus synced once per source (mbox, maildir) for the whole module."""
    source = str(request.param)
    return _ingest(tmp_path_factory.mktemp(source), source)


def _in_thread(func: Callable[[], object], seconds: float = 30.0) -> object:
    """Run func with a deadline: a loop in threading code must fail the test, not hang it."""
    box: list[object] = []
    worker = threading.Thread(target=lambda: box.append(func()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"{func} did not terminate within {seconds} s"
    assert box, f"{func} raised (see the thread's traceback above)"
    return box[0]


# -- the corpus itself --------------------------------------------------------------------


def test_corpus_has_every_kind_once_and_is_deterministic() -> None:
    kinds = [m.kind for m in CORPUS]
    assert len(kinds) == len(set(kinds)) >= 30
    assert {m.expect for m in CORPUS} <= {"stored", "repaired", "unparsable", "duplicate", "known"}
    assert [m.raw for m in broken_mails()] == [m.raw for m in CORPUS]
    other = {m.kind: m.raw for m in broken_mails(seed=2)}
    assert other["binary-garbage"] != BY_KIND["binary-garbage"].raw
    assert "huge-body" not in BY_KIND  # only built on request


def test_huge_mail_has_the_asked_size() -> None:
    mail = huge_mail(size=1_000_000)
    assert 1_000_000 <= len(mail.raw) < 1_010_000
    assert broken_mails(huge=True, huge_size=200_000)[-1].kind == "huge-body"


def test_mbox_writer_gives_back_the_bytes(tmp_path: Path) -> None:
    """The mboxrd file must not be what breaks a mail: only a final newline is added."""
    path = tmp_path / "c.mbox"
    write_broken_mbox(path, CORPUS)
    read = [raw for _, raw in iter_mbox(path)]
    assert len(read) == len(CORPUS)
    for mail, raw in zip(CORPUS, read, strict=True):
        expected = mail.raw if not mail.raw or mail.raw.endswith(b"\n") else mail.raw + b"\n"
        assert raw == expected, mail.kind


# -- ingest -------------------------------------------------------------------------------


def test_every_mail_is_accounted_for(ingested: Ingested) -> None:
    r = ingested.result
    assert r.new + r.duplicate + r.unparsable + r.known == len(CORPUS)
    results = [o.result for o in ingested.outcomes.values()]
    assert r.new == results.count("stored") + results.count("repaired")
    assert r.repaired == results.count("repaired")
    assert (r.duplicate, r.unparsable, r.known) == (
        results.count("duplicate"),
        results.count("unparsable"),
        results.count("known"),
    )


def test_resync_accounts_for_every_mail_again(ingested: Ingested, tmp_path: Path) -> None:
    db = tmp_path / "copy.sqlite3"  # a copy: the module's store stays as the first sync left it
    shutil.copyfile(ingested.db, db)
    with Store.open(db) as store:
        again = sync_mbox(store, ingested.source, LIST)
    assert again.new == 0
    assert again.new + again.duplicate + again.unparsable + again.known == len(CORPUS)


@pytest.mark.parametrize("mail", [pytest.param(m, id=m.kind) for m in CORPUS])
def test_each_kind_ends_as_expected(ingested: Ingested, mail: BrokenMail) -> None:
    got = ingested.outcomes[mail.kind]
    assert got.result == mail.expect, f"{mail.kind}: {got} ({mail.note})"
    if mail.message_id is not None:
        assert got.message_id == mail.message_id, f"{mail.kind}: stored under another id"


@pytest.mark.parametrize("mail", [pytest.param(m, id=m.kind) for m in CORPUS])
def test_message_text_never_raises(mail: BrokenMail) -> None:
    shown = message_text(mail.raw)
    assert isinstance(shown, MessageText) and isinstance(shown.text, str)


def test_header_injection_never_reaches_stored_fields(ingested: Ingested) -> None:
    """CR/LF smuggled into a Subject (raw or encoded) must not survive as a line break."""
    with Store.open(ingested.db) as store:
        info = store.get_list(LIST)
        assert info is not None
        messages = store.messages_between(info.id, 0, 2**62)
    assert messages
    for msg in messages:
        for value in (msg.subject, msg.from_name, msg.from_email, msg.message_id):
            assert "\r" not in value and "\n" not in value, msg.message_id


def test_no_control_characters_in_stored_headers(ingested: Ingested) -> None:
    with Store.open(ingested.db) as store:
        info = store.get_list(LIST)
        assert info is not None
        messages = store.messages_between(info.id, 0, 2**62)
    for msg in messages:
        for value in (msg.subject, msg.from_name):
            assert not _CONTROL & set(value), (msg.message_id, value[:80])


def test_doctor_lists_repaired_and_rejected(ingested: Ingested) -> None:
    run = CliRunner().invoke(cli, ["--db", str(ingested.db), "doctor", "--list", LIST, "--json"])
    assert run.exit_code == 0, run.output
    report = json.loads(run.output)
    repaired = {row["message_id"]: row["repairs"] for row in report["repaired"]}
    expected = {o.message_id for o in ingested.outcomes.values() if o.result == "repaired"}
    assert set(repaired) == expected
    assert all(repaired.values())
    for kind in ("missing-date", "missing-from", "missing-message-id", "self-reference"):
        assert ingested.outcomes[kind].message_id in repaired, kind
    rejected = {row["source"]: row for row in report["rejected"]}
    for kind, outcome in ingested.outcomes.items():
        if outcome.result in ("duplicate", "unparsable"):
            row = rejected.pop(ingested.refs[kind])
            assert row["kind"] == outcome.result and row["reason"], kind
    assert not rejected  # nothing logged that the outcomes do not explain


# -- threading ----------------------------------------------------------------------------


def test_threading_terminates_on_loops(ingested: Ingested) -> None:
    loop = {str(BY_KIND[k].message_id) for k in ("reference-loop-a", "reference-loop-b")}
    with Store.open(ingested.db) as store:
        info = store.get_list(LIST)
        assert info is not None
        rows = store.threading_rows(info.id)
    by_id = {mid: (pk, tid) for pk, mid, _, _, tid in rows}
    (a_pk, a_tid), (b_pk, b_tid) = (by_id[m] for m in sorted(loop))
    assert a_tid == b_tid == min(a_pk, b_pk)  # sync threaded them: one conversation

    triples = [(mid, irt, refs.split()) for _, mid, irt, refs, _ in rows]
    parents = _in_thread(lambda: parent_map(triples))
    assert isinstance(parents, dict)
    assert any(parents[m] is None for m in loop)  # the loop was cut: one is a root
    for mid in parents:
        chain = _in_thread(partial(ancestors, parents, mid))
        assert isinstance(chain, list) and mid not in chain
    again = _in_thread(
        lambda: thread_ids((pk, mid, irt, refs.split()) for pk, mid, irt, refs, _ in rows)
    )
    assert isinstance(again, dict) and len(again) == len(rows)


# -- the report ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_over_the_broken_week_builds_and_renders(ingested: Ingested, lang: str) -> None:
    with Store.open(ingested.db) as store:
        report = Digest(store, LIST).week(WEEK, lang=lang)
    markdown = render_markdown(report)
    data = json.loads(render_json(report))
    assert report.stats.messages >= 25
    assert "broken: baseline" in markdown
    assert data
    shown = {m.message_id for t in report.threads for m in t.messages}
    for kind in ("reference-loop-a", "reference-loop-b", "references-500", "mime-deep-nesting"):
        assert BY_KIND[kind].message_id in shown, kind


def test_report_markdown_has_no_control_characters(ingested: Ingested) -> None:
    with Store.open(ingested.db) as store:
        report = Digest(store, LIST).week(WEEK, lang="en")
    markdown = render_markdown(report)
    found = sorted(_CONTROL & set(markdown))
    assert not found, [hex(ord(c)) for c in found]


# -- memory -------------------------------------------------------------------------------

TESTS = Path(__file__).resolve().parent
_HUGE_CHILD = textwrap.dedent(
    """
    import json, resource, sys, tempfile
    from pathlib import Path
    sys.path.insert(0, sys.argv[3])  # the tests folder: the generator is test code
    from broken_mail import LIST, WEEK, huge_mail, write_broken_mbox
    from lore_digest.facts.week import iso_week_window
    from lore_digest.digest import Digest
    from lore_digest.mail.mime import message_text
    from lore_digest.report.jsonout import render_json
    from lore_digest.report.markdown import render_markdown
    from lore_digest.store.db import Store
    from lore_digest.ingest import sync_mbox

    work = Path(sys.argv[1])
    mail = huge_mail(int(sys.argv[2]))
    write_broken_mbox(work / "huge.mbox", [mail])
    shown = len(message_text(mail.raw).text)
    del mail
    with Store.open(work / "huge.sqlite3") as store:
        result = sync_mbox(store, work / "huge.mbox", LIST)
        report = Digest(store, LIST).week(WEEK, lang="en")
        md, js = render_markdown(report), render_json(report)
    # VmHWM is this process image's own peak: rusage's ru_maxrss would also carry the
    # pytest parent's pages from before exec (hundreds of MB in a full test session).
    status = Path("/proc/self/status").read_text()
    hwm_kb = int(next(l.split()[1] for l in status.splitlines() if l.startswith("VmHWM:")))
    print(json.dumps({"new": result.new, "shown": shown, "md": len(md), "json": len(js), "hwm_kb": hwm_kb}))
    """
)
HUGE_SIZE = 20 * 1024 * 1024
RSS_LIMIT_MB = 400


def test_huge_mail_memory_stays_bounded(tmp_path: Path) -> None:
    """Peak RSS of ingest + report of one 20 MB mail, measured inside that child alone.

    The child reports its own VmHWM: both RUSAGE_CHILDREN and the child's ru_maxrss
    would include memory of the pytest process it was forked from.
    """
    out_path = tmp_path / "child.out"
    with out_path.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", _HUGE_CHILD, str(tmp_path), str(HUGE_SIZE), str(TESTS)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        child.wait()
    output = out_path.read_text(errors="replace")
    assert child.returncode == 0, output
    facts = json.loads(output.strip().splitlines()[-1])
    assert facts["new"] == 1 and facts["shown"] >= HUGE_SIZE * 0.9
    peak_mb = facts["hwm_kb"] / 1024
    print(f"peak RSS of the {HUGE_SIZE >> 20} MB case: {peak_mb:.0f} MB")
    assert peak_mb < RSS_LIMIT_MB
