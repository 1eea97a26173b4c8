"""Per-person views (report.people, `--person EMAIL`) on kvmarm 2022-W19."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lore_digest.digest import DigestSettings
from lore_digest.facts.maintainers import Maintainers
from lore_digest.facts.model import MailFacts
from lore_digest.facts.questions import names_person, questions_in
from lore_digest.facts.status import Status
from lore_digest.facts.week import iso_week_window
from lore_digest.mail.body import split_body
from lore_digest.mail.subject import parse_subject
from lore_digest.report.build import ReportBuilder
from lore_digest.report.jsonout import render_json
from lore_digest.report.markdown import render_markdown
from lore_digest.report.model import PersonView, Report
from lore_digest.report.people import CLOSED, _numbers
from lore_digest.settings import load_settings
from lore_digest.store.db import Store

NOW = datetime(2026, 11, 23, tzinfo=UTC)
DATA = Path(__file__).parent / "data"
MARC, OLIVER, OLIVER_LATER = "maz@kernel.org", "oupton@google.com", "oliver.upton@linux.dev"


@pytest.fixture(scope="module")
def w19(synced_db: Path) -> Report:
    maintainers = Maintainers.load(DATA / "MAINTAINERS-kvmarm")
    with Store.open(synced_db) as store:
        builder = ReportBuilder(store, "kvmarm", maintainers)
        return builder.build(
            iso_week_window("2022-W19"),
            lang="en",
            now=NOW,
            people=[MARC, " Oupton@Google.com ", OLIVER_LATER, "nobody@example.org", MARC],
        )


def _view(report: Report, email: str) -> PersonView:
    (view,) = [p for p in report.people if p.email == email]
    return view


def test_one_view_per_address_in_the_order_given(w19: Report) -> None:
    assert [p.email for p in w19.people] == [MARC, OLIVER, OLIVER_LATER, "nobody@example.org"]
    assert _view(w19, MARC).name == "Marc Zyngier"
    assert _view(w19, OLIVER_LATER).name == "Oliver Upton"  # from MAINTAINERS: no mail
    nobody = _view(w19, "nobody@example.org")
    assert (nobody.name, nobody.series, nobody.asked, nobody.given) == (
        "nobody@example.org",
        (),
        (),
        (),
    )


def test_their_series_with_its_state(w19: Report) -> None:
    marc = _view(w19, MARC)
    assert [(i.subject.split("] ")[1][:25], i.detail) for i in marc.series] == [
        ("KVM: arm64: vgic-v3: List", "applied")
    ]
    (pkvm,) = _view(w19, OLIVER).series
    assert "Minor pKVM cleanups" in pkvm.subject and pkvm.detail == "applied"


def test_what_waits_for_them_oldest_first(w19: Report) -> None:
    threads = {t.id: t for t in w19.threads}
    marc = _view(w19, MARC)
    assert marc.asked and "Skip tests if we can't create a vgic-v3" in marc.asked[0].subject
    days = [i.count for i in marc.asked]
    assert days == sorted(days, reverse=True) and days[0] == 81
    for item in marc.asked:
        assert item.detail not in {str(s) for s in CLOSED | {Status.CHANGES_REQUESTED}}
        thread = threads.get(item.message_id)
        if thread is not None:  # else a waiting series, nobody but its author wrote
            assert all(m.from_email != MARC for m in thread.messages)
            assert thread.series is not None and thread.series.author_email != MARC


def test_the_reviews_they_gave(w19: Report) -> None:
    assert sorted(i.detail for i in _view(w19, OLIVER).given) == [
        "Reviewed-by (1-2/4)",
        "Reviewed-by (1-4/4)",
        "Reviewed-by (3-4/4)",
    ]
    assert _view(w19, OLIVER_LATER).given == ()  # another address: not the same sender


def test_rendered_in_markdown_and_json(w19: Report) -> None:
    markdown = render_markdown(w19)
    assert "## 👤 For Marc Zyngier (maz@kernel.org)" in markdown
    assert markdown.index("## 👤 For") < markdown.index("## ✨")
    data = json.loads(render_json(w19))
    assert [p["email"] for p in data["people"]] == [p.email for p in w19.people]
    assert data["people"][0]["series"][0]["chain"]


def test_numbers() -> None:
    assert _numbers({1, 2, 3, 4}, 4) == "1-4/4"
    assert _numbers({1, 3}, 4) == "1, 3/4"
    assert _numbers({2, 3, 5}, 9) == "2-3, 5/9"


def test_people_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[lists.kvmarm]\nmirror = "https://lore.kernel.org/kvmarm"\noutput = "out"\n'
        'people = ["maz@kernel.org"]\n',
        encoding="utf-8",
    )
    assert DigestSettings.for_list(load_settings(config), "kvmarm").people == ("maz@kernel.org",)
    assert DigestSettings.for_list(load_settings(config), "kvmarm", people=["x@y"]).people == (
        "x@y",
    )


def test_the_week_page_shows_each_person_and_the_subsystems(w19: Report) -> None:
    from html.parser import HTMLParser

    from lore_digest.site.render import SiteRenderer, WeekNav

    page = SiteRenderer("kvmarm", ("en",)).week(w19, WeekNav(None, None))
    assert page.count('<section class="person"') == len(w19.people)
    assert "For Marc Zyngier" in page and "&lt;maz@kernel.org&gt;" in page
    assert page.count('<p class="subsystems">') == sum(1 for t in w19.threads if t.subsystems) - (
        sum(1 for earlier in w19.folded().values() for t in earlier if t.subsystems)
    )

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.open: list[str] = []

        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag in {"section", "ul", "li", "details", "p"}:
                self.open.append(tag)

        def handle_endtag(self, tag: str) -> None:
            if tag in {"section", "ul", "li", "details", "p"}:
                assert self.open and self.open[-1] == tag, (tag, self.open[-3:])
                self.open.pop()

    checker = Tags()
    checker.feed(page)
    assert checker.open == []


# -- named in a question ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("OK, Will, can you review those?", True),
        ("Marc, any thoughts on this?", True),
        ("Any thoughts, Marc?", True),
        ("@Marc do you want this in fixes?", True),
        ("Does Marc Zyngier agree with the ABI?", True),
        ("Will this break 32-bit guests?", False),  # a verb, not a name
        ("Could you explain why Marcus needs it?", False),
        ("Do we need this?", False),
    ],
)
def test_a_question_names_a_person(question: str, named: bool) -> None:
    who = "Will Deacon" if "Will" in question else "Marc Zyngier"
    assert names_person(question, who) is named


def test_questions_come_from_the_senders_own_text() -> None:
    body = (
        "On Mon, Marc wrote:\n> Marc, is this quoted?\n\n"
        "Thanks. Will, can you review those? I think it is fine.\n-- \nF. Fainelli? sig\n"
    )
    mail = MailFacts(
        "q@x", None, 5, "Florian", "F@X.org", parse_subject("Re: [PATCH] x"),
        tuple(split_body(body)), True,
    )  # fmt: skip
    assert [(q.from_email, q.text) for q in questions_in([mail])] == [
        ("f@x.org", "Will, can you review those?")
    ]


def test_questions_of_a_long_log_are_read_in_linear_time() -> None:
    """2020-W38 holds a pasted log with no sentence end: a pattern searched from every
    position took 20 s there. The split is linear: a 200 kB line ends in well under a
    second (the deadline only catches a return of the quadratic search)."""
    body = "mov x0, x1 " * 20_000 + "\n"  # 220 kB, no sentence end, no question mark
    mail = MailFacts(
        "l@x", None, 5, "Log", "log@x.org", parse_subject("Re: [PATCH] x"),
        tuple(split_body(body)), True,
    )  # fmt: skip
    started = time.perf_counter()
    found = questions_in([mail])
    assert time.perf_counter() - started < 5
    assert found == ()


def test_a_person_named_in_a_question_is_asked(synced_db: Path) -> None:
    """Alexandru on his own series (2020-W26): "Mark, would you mind explaining why
    keeping it 32 bit wide makes more sense?" — asked of Mark Rutland, whom neither the
    list's appliers nor a MAINTAINERS section would ask; not of Catalin, whom it does
    not name."""
    with Store.open(synced_db) as store:
        report = ReportBuilder(store, "kvmarm", None).build(
            iso_week_window("2020-W26"),
            lang="en",
            now=NOW,
            people=["mark.rutland@arm.com", "catalin.marinas@arm.com"],
        )
    mark, catalin = report.people
    series = "20200625150026.867727-1-alexandru.elisei@arm.com"
    assert series in {item.message_id for item in mark.asked}
    assert series not in {item.message_id for item in catalin.asked}


def test_a_person_silent_this_week_keeps_their_name(synced_db: Path) -> None:
    """Mark Rutland wrote nothing in 2020-W28: his name comes from his mail on the list
    (no MAINTAINERS file here), so questions that name him still find him."""
    with Store.open(synced_db) as store:
        report = ReportBuilder(store, "kvmarm", None).build(
            iso_week_window("2020-W28"), lang="en", now=NOW, people=["mark.rutland@arm.com"]
        )
    (mark,) = report.people
    assert mark.name == "Mark Rutland"
