"""The posting index: kept as mail arrives, brought up to date after a rule change, and
giving the revision and pull-request indexes exactly what mail held in memory gives.

A report looks up the postings its week's series need (store/postings.py) instead of
reading every posting of the list; these tests hold it to the answers of the in-memory
source on the real corpus, chain for chain and pull patch for pull patch.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from lore_digest.cli import cli
from lore_digest.facts.landed import PullPatchIndex
from lore_digest.facts.postings import MemoryPostings, StorePostings
from lore_digest.facts.revisions import RevisionIndex
from lore_digest.facts.week import iso_week_window
from lore_digest.mail.mime import message_text
from lore_digest.mail.shortlog import shortlog_titles
from lore_digest.mail.subject import parse_subject
from lore_digest.report.build import ReportBuilder
from lore_digest.report.jsonout import render_json
from lore_digest.store import postings as store_postings
from lore_digest.store.db import INDEX_RULES, Store, is_series_candidate
from lore_digest.store.postings import PostingRecords
from lore_digest.vocabulary import opens_pull

WEEK = "2022-W19"
FOREVER = 2**40


def _rows(store: Store) -> dict[int, tuple[int, str, str]]:
    """message pk → (rules, normalized title, lowercased id) of its index row."""
    return {
        int(pk): (int(rules), str(title), str(lower))
        for pk, rules, title, lower in store.conn.execute(
            "SELECT message_pk, rules, norm_title, lower_id FROM subject_parses"
        )
    }


def _list_id(store: Store) -> int:
    info = store.get_list("kvmarm")
    assert info is not None
    return info.id


def test_sync_indexes_every_posting_as_it_arrives(synced_store: Store) -> None:
    list_id = _list_id(synced_store)
    assert PostingRecords(synced_store).is_current(list_id)
    messages = synced_store.series_candidates(list_id)
    assert len(messages) > 5000, "the corpus posts thousands of patches"
    rows = _rows(synced_store)
    assert set(rows) == {m.pk for m in messages}  # replies are not kept: "Re:" posts nothing
    for msg in messages:
        parsed = parse_subject(msg.subject)
        assert rows[msg.pk] == (INDEX_RULES, parsed.normalized_title(), msg.message_id.lower())
    # every pull request's shortlog, as its raw mail lists it
    pulls = [m for m in messages if opens_pull(parse_subject(m.subject))]
    assert len(pulls) > 20
    raws = synced_store.raw_many(m.pk for m in pulls)
    stored: dict[int, list[str]] = {}
    for pk, title in synced_store.conn.execute(
        "SELECT message_pk, title FROM pull_shortlogs ORDER BY message_pk, seq"
    ):
        stored.setdefault(int(pk), []).append(str(title))
    expected = {
        m.pk: [parse_subject(t).normalized_title() for t in titles]
        for m in pulls
        if (titles := shortlog_titles(message_text(raws[m.pk]).text))
    }
    assert stored == expected
    assert sum(map(len, expected.values())) > 100


def test_store_and_memory_give_the_same_revision_chains(synced_store: Store) -> None:
    """Every posting of the corpus, as of forever and as of a date in its life."""
    list_id = _list_id(synced_store)
    messages = synced_store.series_candidates(list_id)

    def thread_of(message_id: str) -> int | None:
        pk = synced_store.known_ids(list_id, [message_id]).get(message_id)
        return None if pk is None else synced_store.thread_of(list_id, pk)

    memory = RevisionIndex(MemoryPostings(messages), synced_store.raw_many, thread_of)
    stored = RevisionIndex(StorePostings(synced_store, list_id), synced_store.raw_many, thread_of)
    roots = [m for m in messages if (parse_subject(m.subject).counter or 0) <= 1]
    linked = 0
    for root in roots:
        for until in (FOREVER, root.date_utc + 30 * 86400):
            chain = memory.chain(root, until)
            assert stored.chain(root, until) == chain, root.subject
            linked += chain is not None and (chain.newer is not None or bool(chain.earlier))
    assert len(roots) > 2000 and linked > 1000


def test_store_and_memory_find_the_same_pull_patches(synced_store: Store) -> None:
    list_id = _list_id(synced_store)
    messages = synced_store.series_candidates(list_id)
    memory = PullPatchIndex(MemoryPostings(messages, synced_store.raw_many))
    stored = PullPatchIndex(StorePostings(synced_store, list_id))
    titles = {parse_subject(m.subject).normalized_title() for m in messages}
    found = 0
    for title in sorted(titles):
        carried = memory.carried(title, 0, FOREVER)
        assert stored.carried(title, 0, FOREVER) == carried, title
        found += len(carried)
    assert found > 300, "kvmarm's pull requests carry hundreds of patches"


def test_a_report_redoes_missing_and_stale_rows(writable_store: Store) -> None:
    list_id = _list_id(writable_store)
    window = iso_week_window(WEEK)
    before = render_json(ReportBuilder(writable_store, "kvmarm").build(window, lang="en"))
    kept = _rows(writable_store)
    shortlogs = writable_store.conn.execute("SELECT count(*) FROM pull_shortlogs").fetchone()
    pks = sorted(kept)
    with writable_store.transaction():
        writable_store.conn.execute(
            "DELETE FROM subject_parses WHERE message_pk IN (SELECT message_pk"
            " FROM subject_parses ORDER BY message_pk LIMIT 500)"
        )
        # rows made under older rules, and wrong by today's: never used
        writable_store.conn.execute(
            "UPDATE subject_parses SET rules=?, title='stale', norm_title='stale', flags=0"
            " WHERE message_pk>=?",
            (INDEX_RULES - 1, pks[len(pks) // 2]),
        )
        writable_store.conn.execute("DELETE FROM pull_shortlogs")
        writable_store.conn.execute("UPDATE posting_index SET rules=?", (INDEX_RULES - 1,))
    assert not PostingRecords(writable_store).is_current(list_id)
    after = render_json(ReportBuilder(writable_store, "kvmarm").build(window, lang="en"))
    assert _drop_times(after) == _drop_times(before)
    assert _rows(writable_store) == kept
    assert PostingRecords(writable_store).is_current(list_id)
    # the shortlogs of the half made stale are read again from the raw mail
    again = writable_store.conn.execute("SELECT count(*) FROM pull_shortlogs").fetchone()
    assert 0 < again[0] <= shortlogs[0]
    assert PostingRecords(writable_store).update(list_id, rebuild=True) == len(kept)
    assert (
        writable_store.conn.execute("SELECT count(*) FROM pull_shortlogs").fetchone() == shortlogs
    )


def test_an_interrupted_update_resumes_where_it_stopped(
    writable_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    list_id = _list_id(writable_store)
    records = PostingRecords(writable_store)
    kept = _rows(writable_store)
    monkeypatch.setattr(store_postings, "_UPDATE_CHUNK", 2000)
    with writable_store.transaction():  # as after a change of the subject rules
        writable_store.conn.execute("UPDATE subject_parses SET rules=?", (INDEX_RULES - 1,))
        writable_store.conn.execute("UPDATE posting_index SET rules=?", (INDEX_RULES - 1,))

    def stop(done: int, total: int) -> None:
        if done > total // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        records.update(list_id, progress=stop)
    state = records.state(list_id)
    assert state is not None and state[0] == INDEX_RULES and state[1] > 0
    assert not records.is_current(list_id)
    redone = records.update(list_id)
    assert 0 < redone < len(kept)  # the rest only: the first half is stamped
    assert records.is_current(list_id) and _rows(writable_store) == kept
    assert records.update(list_id) == 0  # nothing new: a no-op


def test_removing_a_list_removes_its_index(writable_store: Store) -> None:
    list_id = _list_id(writable_store)
    assert _rows(writable_store)
    writable_store.remove_list(list_id)
    assert not _rows(writable_store)
    for table in ("pull_shortlogs", "posting_index"):
        assert writable_store.conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


@pytest.mark.parametrize(
    ("subject", "candidate"),
    [
        ("[PATCH v3 2/7] KVM: arm64: x", True),
        ("Re: [PATCH v3 2/7] KVM: arm64: x", False),
        ("RE: [PATCH] x", False),
        ("KVM: arm64: no brackets", False),
        ("Fwd: [PATCH] forwarded", True),  # the same as SQL's NOT LIKE 're:%'
    ],
)
def test_candidates_in_python_and_sql_agree(subject: str, candidate: bool) -> None:
    assert is_series_candidate(subject) is candidate
    sql = "SELECT instr(?1, '[') > 0 AND ?1 NOT LIKE 're:%'"  # series_candidates' rule
    assert bool(sqlite3.connect(":memory:").execute(sql, (subject,)).fetchone()[0]) is candidate


def _drop_times(report_json: str) -> dict[str, object]:
    """A report's JSON without the time it was generated."""
    data = json.loads(report_json)
    data.pop("generated_at", None)
    return data


def test_reindex_command_rebuilds_every_posting(writable_store: Store) -> None:
    kept = _rows(writable_store)
    with writable_store.transaction():
        writable_store.conn.execute("UPDATE subject_parses SET title='stale'")
    db = str(writable_store.path)
    run = CliRunner().invoke(cli, ["--db", db, "reindex", "--list", "kvmarm", "--json"])
    assert run.exit_code == 0, run.output
    assert json.loads(run.output) == [{"list": "kvmarm", "postings": len(kept)}]
    assert "stale" not in {
        t for (t,) in writable_store.conn.execute("SELECT title FROM subject_parses")
    }
    run = CliRunner().invoke(cli, ["--db", db, "reindex", "--list", "nosuch"])
    assert run.exit_code == 1
    assert "unknown list 'nosuch'" in run.output and "Traceback" not in run.output
