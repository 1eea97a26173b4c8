"""Facts you can trust: forged decisions are claims, forged trailers are not credited.

Crafted threads (tests/forged_mail.py) go through the real ingester and report, under
both trust rules: a MAINTAINERS file, and appliers learned from the list's history.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from forged_mail import (
    ALICE,
    BOB,
    LIST,
    MALLORY,
    MARC,
    WEEK,
    Mail,
    b4_thanks,
    history,
    old_postings,
    patch,
    scenarios,
    write_maintainers,
    write_mbox,
)
from lore_digest.digest import Digest, DigestSettings
from lore_digest.facts.classify import Category
from lore_digest.ingest import sync_mbox
from lore_digest.model import Thread
from lore_digest.report.jsonout import render_json
from lore_digest.report.markdown import render_markdown
from lore_digest.report.model import Report
from lore_digest.store.db import Store


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("trust")
    mbox = write_mbox(folder / "trust.mbox", history() + old_postings() + scenarios())
    db = folder / "store.sqlite3"
    with Store.open(db) as store:
        sync_mbox(store, mbox, LIST)
    return db


@pytest.fixture(scope="module", params=["maintainers", "learned"])
def report(
    request: pytest.FixtureRequest, store_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Report]:
    maintainers = None
    if request.param == "maintainers":
        maintainers = write_maintainers(tmp_path_factory.mktemp("m") / "MAINTAINERS")
    with (
        Store.open(store_path) as store,
        Digest(store, LIST, DigestSettings(maintainers=maintainers)) as digest,
    ):
        yield digest.week(WEEK, lang="en")


def _thread(report: Report, message_id: str) -> Thread:
    for thread in report.threads:
        if thread.id == message_id or any(m.message_id == message_id for m in thread.messages):
            return thread
    raise AssertionError(f"no thread with {message_id}")


def _status(report: Report, message_id: str) -> str:
    status = _thread(report, message_id).status
    assert status is not None
    return str(status.status)


def _claims(report: Report, message_id: str) -> list[tuple[str, str, str]]:
    status = _thread(report, message_id).status
    assert status is not None
    return [(c.kind, c.by_email, c.message_id) for c in status.claims]


def test_a_strangers_applied_is_a_claim(report: Report) -> None:
    assert _status(report, "stranger@x") != "applied"
    assert _claims(report, "stranger@x") == [("applied", "mallory@evil.example", "stranger-ty@x")]
    applied = [item.message_id for item in report.highlights.applied] if report.highlights else []
    assert "stranger@x" not in applied


def test_an_outsiders_nack_is_a_claim(report: Report) -> None:
    assert _status(report, "nack@x") != "NAKed"
    assert ("NAKed", "mallory@evil.example", "nack-r@x") in _claims(report, "nack@x")


def test_the_authors_own_b4_list_is_a_claim(report: Report) -> None:
    assert _status(report, "own@x") != "applied"
    assert ("applied", "mallory@evil.example", "own-ty@x") in _claims(report, "own@x")


def test_a_forged_robot_merge_is_a_claim(report: Report) -> None:
    assert _thread(report, "pull@x").category == Category.PULL
    assert _status(report, "pull@x") != "applied"
    assert ("merged", "pr-tracker-bot@kernel.org", "pull-bot@x") in _claims(report, "pull@x")


def test_a_forged_trailer_is_never_credited(report: Report) -> None:
    series = _thread(report, "forged-rb@x").series
    assert series is not None
    given = [t for p in series.patches for t in p.trailers if t.kind == "Reviewed-by"]
    assert [(t.email, t.sent_by_email, t.credited) for t in given] == [
        ("maz@kernel.org", "mallory@evil.example", False)
    ]
    assert report.highlights is not None
    assert all(
        r.email != "maz@kernel.org" or r.trailers == 0 for r in report.highlights.top_reviewers
    )
    summary = _thread(report, "forged-rb@x").summary
    assert summary is not None
    text = " ".join(item.text for item in summary.history + summary.this_week)
    assert "sent by Mallory" in text and "Marc Zyngier gave" not in text
    data = json.loads(render_json(report))
    thread = next(t for t in data["threads"] if t["id"] == "forged-rb@x")
    trailer = thread["series"]["patches"][0]["trailers"][-1]
    assert trailer["credited"] is False and trailer["sent_by"]["email"] == "mallory@evil.example"


def test_the_maintainer_applies_and_drops(report: Report) -> None:
    assert _status(report, "good@x") == "applied"
    assert _claims(report, "good@x") == []
    assert _status(report, "drop@x") == "dropped"
    status = _thread(report, "drop@x").status
    assert status is not None and status.evidence == ("drop-r@x",)


def test_another_maintainers_applied_depends_on_the_rule(report: Report) -> None:
    """Will maintains arch/arm64/ but not arch/arm64/kvm/ (X:), and has no b4 history."""
    assert _status(report, "will@x") != "applied"
    kinds = [kind for kind, _, _ in _claims(report, "will@x")]
    assert kinds == ["applied"]


def test_the_author_withdraws(report: Report) -> None:
    assert _status(report, "withdraw@x") == "withdrawn"


def test_a_pull_request_sent_as_patches(report: Report) -> None:
    thread = _thread(report, "fixes@x")
    assert thread.category == Category.PULL
    assert thread.status is not None and thread.status.pull is not None


def test_robot_findings_are_listed_not_counted(report: Report) -> None:
    thread = _thread(report, "robot@x")
    assert thread.series is not None
    assert [f.describe() for f in thread.series.bot_findings] == [
        "kernel test robot: build failure (arm64 allmodconfig)"
    ]
    assert "lkp@intel.com" not in thread.participants
    assert thread.status is not None and not thread.status.reviewed


def test_stable_and_withdrawn_postings_do_not_wait(report: Report) -> None:
    assert report.highlights is not None
    waiting = {item.message_id for item in report.highlights.waiting_for_review}
    assert "ignored@x" in waiting  # the control: a real silent series waits
    assert "stable@x" not in waiting
    assert "self-ignore@x" not in waiting
    assert "twin-rfc@x" not in waiting  # its twin, sent half an hour before, was reviewed


def test_markdown_shows_claims_as_claims(report: Report) -> None:
    text = render_markdown(report)
    assert "Mallory says it was applied to next" in text
    assert (
        "not a maintainer of these files" in text or "not one of the list's known appliers" in text
    )


def test_the_site_renders_again_when_a_tree_moves(
    store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new commit in a tree may merge any week's series: the site does not keep old pages."""
    from lore_digest.site.build import build_site
    from tree_builder import WorkTree

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    work = WorkTree(tmp_path / "work")
    bare = tmp_path / "tree.git"
    work.push(bare)
    copy = tmp_path / "store.sqlite3"
    copy.write_bytes(store_path.read_bytes())

    def build() -> list[str]:
        with (
            Store.open(copy) as store,
            Digest(store, LIST, DigestSettings(trees=(f"{bare}@next",))) as digest,
        ):
            return build_site(digest, tmp_path / "site", weeks=[WEEK]).weeks_rebuilt

    assert build() == [WEEK]
    assert build() == []  # nothing new anywhere
    work.commit_files({"new.c": b"int x;\n"}, "A new commit")
    work.push(bare)
    assert build() == [WEEK]


def _synced(folder: Path, mails: list[Mail]) -> Path:
    """A store in `folder` with `mails` synced as the list, through the real ingester."""
    db = folder / "store.sqlite3"
    with Store.open(db) as store:
        sync_mbox(store, write_mbox(folder / "list.mbox", mails), LIST)
    return db


def _archive(folder: Path, start_days: int) -> Path:
    """A list whose archive starts `start_days` before the week (negative: after).

    Marc applies three series of other people by b4 a week after the week; in the week
    he queues Alice's patch in plain words, and Mallory sends b4 lists on two series; she
    also says "Applied" to a third, then forges two b4 lists after the week.
    """
    mails = [patch("first@x", "[PATCH] KVM: arm64: first", BOB, -24 * start_days, "a/a.c")]
    for n, who in ((1, ALICE), (2, BOB), (3, ALICE)):
        title = f"[PATCH] KVM: arm64: later fix {n}"
        mails.append(patch(f"later{n}@x", title, who, 24 * 10 + n, "arch/arm64/kvm/x.c"))
        mails.append(b4_thanks(f"later{n}-ty@x", f"later{n}@x", title, MARC, 24 * 11 + n))
    title = "[PATCH] KVM: arm64: queued in words"
    mails.append(patch("words@x", title, ALICE, 1, "arch/arm64/kvm/y.c"))
    mails.append(Mail("words-q@x", f"Re: {title}", MARC, "Queued, thanks.\n", 2, "words@x"))
    for n, who in ((1, ALICE), (2, BOB)):
        title = f"[PATCH] KVM: arm64: forged {n}"
        mails.append(patch(f"forged{n}@x", title, who, 3 + n, "arch/arm64/kvm/z.c"))
        mails.append(b4_thanks(f"forged{n}-ty@x", f"forged{n}@x", title, MALLORY, 4 + n))
        title = f"[PATCH] KVM: arm64: forged later {n}"
        mails.append(patch(f"flater{n}@x", title, who, 24 * 12 + n, "arch/arm64/kvm/z.c"))
        mails.append(b4_thanks(f"flater{n}-ty@x", f"flater{n}@x", title, MALLORY, 24 * 13 + n))
    title = "[PATCH] KVM: arm64: claimed by mallory"
    mails.append(patch("claimed@x", title, BOB, 6, "arch/arm64/kvm/w.c"))
    mails.append(Mail("claimed-q@x", f"Re: {title}", MALLORY, "Queued, thanks.\n", 7, "claimed@x"))
    return _synced(folder, mails)


@pytest.mark.parametrize(("start_days", "trusted"), [(30, True), (400, False)])
def test_an_archive_that_starts_late_learns_from_its_first_months(
    tmp_path: Path, start_days: int, trusted: bool
) -> None:
    """Where the archive holds less history than BOOTSTRAP_S before the week, appliers
    are learned from its first months (Marc's three later b4 lists count); the week's own
    mail never vouches for itself (Mallory's two b4 lists in it stay claims), nor do two
    forged after it. With a long history before the week, only mail before it counts."""
    with (
        Store.open(_archive(tmp_path, start_days)) as store,
        Digest(store, LIST, DigestSettings()) as digest,
    ):
        report = digest.week(WEEK, lang="en")
    assert (_status(report, "words@x") == "applied") is trusted
    assert _claims(report, "words@x") == (
        [] if trusted else [("applied", "maz@kernel.org", "words-q@x")]
    )
    # Two forged b4 lists after the week are not the three a late vouch needs.
    assert _status(report, "claimed@x") != "applied"
    assert _claims(report, "claimed@x") == [("applied", "mallory@evil.example", "claimed-q@x")]
    for n in (1, 2):
        assert _status(report, f"forged{n}@x") != "applied"
        assert _claims(report, f"forged{n}@x") == [
            ("applied", "mallory@evil.example", f"forged{n}-ty@x")
        ]


PETER = ("Peter Maydell", "peter.maydell@linaro.org")


def _words_archive(folder: Path, earlier: int) -> Path:
    """Peter applies `earlier` QEMU series of others long before the week, in words that
    name his branch (no b4 list); in the week he applies Alice's QEMU patch the same way."""
    mails = [patch("first@x", "[PATCH] KVM: arm64: first", BOB, -24 * 400, "a/a.c")]
    for n in range(1, earlier + 1):
        title = f"[PATCH] target/arm: old fix {n}"
        mails.append(
            patch(f"q{n}@x", title, (ALICE, BOB)[n % 2], -24 * 300 + n, "target/arm/kvm.c")
        )
        body = "Applied to target-arm.next, thanks.\n\n-- PMM\n"
        mails.append(Mail(f"q{n}-ty@x", f"Re: {title}", PETER, body, -24 * 299 + n, f"q{n}@x"))
    title = "[PATCH] target/arm: this week"
    mails.append(patch("qemu@x", title, ALICE, 1, "target/arm/kvm.c"))
    body = "Applied to target-arm.next, thanks.\n\n-- PMM\n"
    mails.append(Mail("qemu-ty@x", f"Re: {title}", PETER, body, 2, "qemu@x"))
    return _synced(folder, mails)


@pytest.mark.parametrize(("earlier", "trusted"), [(2, True), (1, False)])
def test_applies_that_name_the_branch_teach_who_applies(
    tmp_path: Path, earlier: int, trusted: bool
) -> None:
    """Two threads of others' series "Applied to target-arm.next" make an applier, as two
    b4 lists do; one does not (one forged mail makes nobody a maintainer)."""
    with (
        Store.open(_words_archive(tmp_path, earlier)) as store,
        Digest(store, LIST, DigestSettings()) as digest,
    ):
        report = digest.week(WEEK, lang="en")
    assert (_status(report, "qemu@x") == "applied") is trusted
    assert _claims(report, "qemu@x") == ([] if trusted else [("applied", PETER[1], "qemu-ty@x")])


OLD_MARC = ("Marc Zyngier", "marc.zyngier@arm.com")


@pytest.mark.parametrize(("new_address_since", "trusted"), [(None, True), (250, False)])
def test_a_maintainers_older_address_is_trusted_through_the_lists_history(
    tmp_path: Path, new_address_since: int | None, trusted: bool
) -> None:
    """MAINTAINERS names maz@kernel.org; an archive of 2019 holds marc.zyngier@arm.com.
    The old address, seen applying others' series in two threads and sending under the
    same full name, may apply Marc's files; a stranger using the name may not, nor a
    learned applier of other files (Peter, QEMU) on kernel files. An address of that
    name still applying half a year after maz@kernel.org first wrote (250 days before
    the week) is no older address of Marc's but someone else with his name."""
    mails = [patch("first@x", "[PATCH] KVM: arm64: first", BOB, -24 * 400, "a/a.c")]
    if new_address_since is not None:
        body = "Looks good.\n"
        mails.append(
            Mail(
                "hi@x",
                "Re: [PATCH] KVM: arm64: first",
                MARC,
                body,
                -24 * new_address_since,
                "first@x",
            )
        )
    for n in (1, 2):
        title = f"[PATCH] KVM: arm64: old fix {n}"
        mails.append(
            patch(f"o{n}@x", title, (ALICE, BOB)[n % 2], -24 * 300 + n, "arch/arm64/kvm/o.c")
        )
        mails.append(b4_thanks(f"o{n}-ty@x", f"o{n}@x", title, OLD_MARC, -24 * 299 + n))
        title = f"[PATCH] target/arm: old fix {n}"
        mails.append(
            patch(f"q{n}@x", title, (ALICE, BOB)[n % 2], -24 * 300 + n, "target/arm/kvm.c")
        )
        body = "Applied to target-arm.next, thanks.\n\n-- PMM\n"
        mails.append(Mail(f"q{n}-ty@x", f"Re: {title}", PETER, body, -24 * 299 + n, f"q{n}@x"))
    for mid, who in (
        ("old", OLD_MARC),
        ("fake", ("Marc Zyngier", "marc@evil.example")),
        ("pmm", PETER),
    ):
        title = f"[PATCH] KVM: arm64: queued by {mid}"
        mails.append(patch(f"{mid}@x", title, ALICE, 1, "arch/arm64/kvm/y.c"))
        body = "Applied to kvmarm/next, thanks.\n"
        mails.append(Mail(f"{mid}-q@x", f"Re: {title}", who, body, 2, f"{mid}@x"))
    # Peter's apply to a posting the archive lacks: files unknown, the learned count.
    body = "Applied to target-arm.next, thanks.\n"
    mails.append(Mail("ghost-ty@x", "Re: [PATCH] target/arm: lost", PETER, body, 3, "lost@x"))
    maintainers = write_maintainers(tmp_path / "MAINTAINERS")
    with (
        Store.open(_synced(tmp_path, mails)) as store,
        Digest(store, LIST, DigestSettings(maintainers=maintainers)) as digest,
    ):
        report = digest.week(WEEK, lang="en")
    assert (_status(report, "ghost-ty@x"), _claims(report, "ghost-ty@x")) == ("applied", [])
    assert (_status(report, "old@x") == "applied") is trusted
    assert _claims(report, "old@x") == ([] if trusted else [("applied", OLD_MARC[1], "old-q@x")])
    assert _claims(report, "fake@x") == [("applied", "marc@evil.example", "fake-q@x")]
    assert _claims(report, "pmm@x") == [("applied", PETER[1], "pmm-q@x")]


def test_a_store_of_schema_7_scans_its_history_again(tmp_path: Path) -> None:
    """Schema 8 learns from applies that name the branch: the events a schema-7 store
    kept (b4 lists only) are dropped and the history is scanned again on first use."""
    db = _words_archive(tmp_path, 2)
    with Store.open(db) as store, Digest(store, LIST, DigestSettings()) as digest:
        digest.week(WEEK, lang="en")  # scans and keeps the events
        store.conn.execute("DELETE FROM applier_events")  # what the old rule kept
        later_tables = ("subject_parses", "thread_keys", "thread_progress")  # schema 9, 10
        for later in (*later_tables, "pull_shortlogs", "posting_index", "thread_moves"):  # 11, 12
            store.conn.execute(f"DROP TABLE {later}")
        store.conn.execute("PRAGMA user_version=7")
    with Store.open(db) as store:
        info = store.get_list(LIST)
        assert info is not None and store.applier_scan_pk(info.id) == 0
        with Digest(store, LIST, DigestSettings()) as digest:
            report = digest.week(WEEK, lang="en")
    assert _status(report, "qemu@x") == "applied"


# -- other projects' MAINTAINERS files --------------------------------------------------

DREW, PAOLO = "drjones@redhat.com", "pbonzini@redhat.com"
PROJECT_FILES = {
    "kernel": "KVM/arm64\nM:\tMarc Zyngier <maz@kernel.org>\nF:\tarch/arm64/kvm/\n",
    "kvm-unit-tests": (
        "Project administration\nM: Paolo Bonzini <pbonzini@redhat.com>\nF: README.md\n\n"
        "Default mailing list\nL: kvm@vger.kernel.org\nF: *\nF: */\n\n"
        "ARM\nM: Andrew Jones <drjones@redhat.com>\nL: kvmarm@lists.cs.columbia.edu\n"
        "F: arm/\nF: lib/arm/\n"
    ),
    "qemu": "ARM TCG CPUs\nM: Peter Maydell <peter.maydell@linaro.org>\nF: target/arm/\n",
}


@pytest.mark.parametrize(
    ("subject", "files", "judged_by", "appliers"),
    [
        ("[PATCH] KVM: arm64: x", ["arch/arm64/kvm/arm.c"], "kernel", {"maz@kernel.org"}),
        # by its prefix, even where the list's own file would cover a path
        ("[kvm-unit-tests PATCH 0/2] arm: pmu", ["arm/pmu.c"], "kvm-unit-tests", {DREW}),
        ("[kvm-unit-test PATCH] arm: pmu", ["arm/pmu.c"], "kvm-unit-tests", {DREW}),  # typo
        # what only the catch-all (a mailing list) covers: nobody of the file, learned ones
        ("[kvm-unit-tests PATCH] lib: x", ["lib/alloc.c"], "kvm-unit-tests", set()),
        ("[kvm-unit-tests PATCH] README: x", ["README.md"], "kvm-unit-tests", {PAOLO}),
        # a project without a file: learned appliers, not kvm-unit-tests' arm/ section
        ("[PATCH kvmtool] arm64: x", ["arm/aarch64/kvm.c"], None, None),
        ("kvmtool: arm64: x", ["arm/aarch64/kvm.c"], None, None),
        # no prefix (QEMU's patches on kvmarm): the first file with a section for it
        ("[PATCH v2 0/5] target/arm: x", ["target/arm/helper.c"], "qemu", None),
        # nobody's files: the list's own file, which then leaves it to the learned
        ("[PATCH] docs: x", ["README"], "kernel", None),
    ],
)
def test_another_projects_series_is_judged_by_its_own_maintainers_file(
    store_path: Path,
    subject: str,
    files: list[str],
    judged_by: str | None,
    appliers: set[str] | None,
) -> None:
    from lore_digest.facts.classify import other_project
    from lore_digest.facts.maintainers import Maintainers
    from lore_digest.mail.subject import parse_subject
    from lore_digest.report.trust import TrustRules

    parsed = {name: Maintainers.parse(text, name) for name, text in PROJECT_FILES.items()}
    kernel = parsed.pop("kernel")
    with Store.open(store_path) as store:
        info = store.get_list(LIST)
        assert info is not None
        rules = TrustRules(store, info, kernel, parsed)
        project = other_project(parse_subject(subject))
        chosen = rules.maintainers_for(files, project)
        assert (chosen.source if chosen is not None else None) == judged_by
        found = rules.appliers(files, 0, None, project)
        assert found.rule == ("maintainers" if judged_by else "learned")
        if appliers is not None:
            assert found.emails == appliers
        # Another project's file adds its people to the learned appliers, never removes
        # one of them; the list's own file judges its files alone.
        later = rules.appliers(files, 2**40, None, project)
        assert later.upstream, "the trust list's history teaches appliers"
        if judged_by not in (None, "kernel"):
            assert later.emails == found.emails | later.upstream


def test_project_maintainers_come_from_the_config(tmp_path: Path) -> None:
    from lore_digest.settings import load_settings

    (tmp_path / "kut").write_text(PROJECT_FILES["kvm-unit-tests"], encoding="utf-8")
    config = tmp_path / "lore-digest.toml"
    config.write_text(
        '[lists.kvmarm]\nmirror = "x"\noutput = "out"\n'
        '[lists.kvmarm.project_maintainers]\n"kvm-unit-tests" = "kut"\n',
        encoding="utf-8",
    )
    settings = DigestSettings.for_list(load_settings(config), "kvmarm")
    assert settings.project_maintainers == (("kvm-unit-tests", tmp_path / "kut"),)
    # an edit of the file changes what the weeks show: the site renders them again
    before = settings.fact_inputs()
    (tmp_path / "kut").write_text(PROJECT_FILES["qemu"], encoding="utf-8")
    assert settings.fact_inputs() != before


def test_a_projects_file_named_by_another_spelling_still_judges_its_postings(
    store_path: Path,
) -> None:
    """A config may key the file by any spelling the list's prefixes use."""
    from lore_digest.facts.classify import other_project
    from lore_digest.facts.maintainers import Maintainers
    from lore_digest.mail.subject import parse_subject
    from lore_digest.report.trust import TrustRules

    kut = Maintainers.parse(PROJECT_FILES["kvm-unit-tests"], "kvm-unit-tests")
    with Store.open(store_path) as store:
        info = store.get_list(LIST)
        assert info is not None
        for key in ("kvm-unit-test", "KVM-Unit-Tests", "linux-kvm-unit-tests"):
            rules = TrustRules(store, info, None, {key: kut})
            project = other_project(parse_subject("[kvm-unit-tests PATCH] arm: pmu"))
            assert rules.maintainers_for(["arm/pmu.c"], project) is kut, key


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ('kvmunittests = "kut"', "'kvmunittests' is not one of this list's other projects"),
        # a project the list does not name in its own other_projects
        ('qemu = "kut"\n[lists.kvmarm2]\nmirror = "y"\noutput = "o"', None),
        ('"kvm-unit-tests" = "kut"\n"kvm-unit-test" = "kut"', "name the same project"),
    ],
)
def test_project_maintainers_keys_are_the_lists_projects(
    tmp_path: Path, table: str, error: str | None
) -> None:
    from lore_digest.errors import UsageError
    from lore_digest.settings import load_settings

    config = tmp_path / "lore-digest.toml"
    config.write_text(
        '[lists.kvmarm]\nmirror = "x"\noutput = "out"\n'
        f"[lists.kvmarm.project_maintainers]\n{table}\n",
        encoding="utf-8",
    )
    if error is None:
        assert load_settings(config).lists["kvmarm"].project_maintainers
        return
    with pytest.raises(UsageError) as caught:
        load_settings(config)
    assert error in str(caught.value) and "\n" not in str(caught.value)
    # nvdimm names its own projects: kvmarm's are not among them
    config.write_text(
        '[lists.nvdimm]\nmirror = "x"\noutput = "out"\nother_projects = ["ndctl"]\n'
        '[lists.nvdimm.project_maintainers]\nqemu = "kut"\n',
        encoding="utf-8",
    )
    with pytest.raises(UsageError, match="'qemu' is not one of this list's other projects"):
        load_settings(config)
