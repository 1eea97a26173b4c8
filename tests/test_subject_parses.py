"""The store keeps the parse of every posting's subject, so a report need not redo it.

Made at ingest; a report parses and keeps what is missing (a store from before the
table) or was made under other SUBJECT_RULES, and always sees what parse_subject says.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from lore_digest.facts.week import iso_week_window
from lore_digest.mail.subject import SUBJECT_RULES, parse_subject
from lore_digest.report.build import ReportBuilder
from lore_digest.report.jsonout import render_json
from lore_digest.store.db import Store, is_series_candidate

WEEK = "2022-W19"


def _parses(store: Store) -> dict[int, int]:
    """message pk → the rules its stored parse was made under."""
    return dict(store.conn.execute("SELECT message_pk, rules FROM subject_parses"))


def test_ingest_keeps_the_parse_of_every_posting(synced_store: Store) -> None:
    info = synced_store.get_list("kvmarm")
    assert info is not None
    candidates = synced_store.series_candidates_parsed(info.id)
    assert len(candidates) > 5000, "the corpus posts thousands of patches"
    for msg, parsed in candidates:
        assert parsed == parse_subject(msg.subject), msg.subject
        assert is_series_candidate(msg.subject)
    # replies are not kept: "Re:" never starts a posting
    assert len(_parses(synced_store)) == len(candidates)


def test_a_report_redoes_missing_and_stale_parses(writable_store: Store) -> None:
    info = writable_store.get_list("kvmarm")
    assert info is not None
    window = iso_week_window(WEEK)
    before = render_json(ReportBuilder(writable_store, "kvmarm").build(window, lang="en"))
    kept = _parses(writable_store)
    pks = sorted(kept)
    with writable_store.transaction():
        writable_store.conn.execute(
            "DELETE FROM subject_parses WHERE message_pk IN (SELECT message_pk"
            " FROM subject_parses ORDER BY message_pk LIMIT 500)"
        )
        # a parse made under older rules, and wrong by today's: never used
        writable_store.conn.execute(
            "UPDATE subject_parses SET rules=?, title='stale', flags=0 WHERE message_pk>=?",
            (SUBJECT_RULES - 1, pks[len(pks) // 2]),
        )
    after = render_json(ReportBuilder(writable_store, "kvmarm").build(window, lang="en"))
    assert _drop_times(after) == _drop_times(before)
    assert _parses(writable_store) == {pk: SUBJECT_RULES for pk in kept}
    for msg, parsed in writable_store.series_candidates_parsed(info.id):
        assert parsed == parse_subject(msg.subject)


def test_removing_a_list_removes_its_parses(writable_store: Store) -> None:
    info = writable_store.get_list("kvmarm")
    assert info is not None
    assert _parses(writable_store)
    writable_store.remove_list(info.id)
    assert not _parses(writable_store)


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
