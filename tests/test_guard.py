"""The fact guard: each check on lies and on true sentences, in English and Chinese, and
end to end through a loopback model that lies on purpose (summarize.guard)."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from fake_llm import FakeLLMServer, user_text
from lore_digest.facts.week import iso_week_window
from lore_digest.model import Summary, SummaryItem
from lore_digest.report.build import ReportBuilder
from lore_digest.report.jsonout import report_dict
from lore_digest.report.markdown import render_markdown
from lore_digest.store.db import Store
from lore_digest.summarize.clients import OpenAICompatibleClient
from lore_digest.summarize.guard import GuardFacts, check_sentence, guard_summary
from lore_digest.summarize.llm import LLMSettings, LLMSummarizer

FACTS = GuardFacts(
    message_ids=frozenset({"a@x", "b@x", "c@x"}),
    people=frozenset({"marc zyngier", "maz@kernel.org", "oliver upton", "fuad tabba"}),
    text="kvm: arm64: fix the pmu\nthe page table walker in kvm_pgtable_walk() ...",
    texts={
        "a@x": "[PATCH v3 0/4] KVM: arm64: fix the PMU\nkvm_pgtable_walk() and "
        "ID_AA64DFR0_EL1 in arch/arm64/kvm/pmu-emul.c, CONFIG_HW_PERF_EVENTS",
        "b@x": "Looks good. Reviewed-by: Oliver Upton",
        "c@x": "This was reverted upstream",
    },
    status="under review",
    versions=frozenset({1, 2, 3}),
    patches=4,
    mail_counts=frozenset({6, 4, 2, 5}),
    revision_count=3,
)


def _check(text: str, cites: tuple[str, ...] = ("a@x",), facts: GuardFacts = FACTS) -> str | None:
    failed = check_sentence(SummaryItem(text, cites), facts)
    return failed[0] if failed else None


@pytest.mark.parametrize(
    ("text", "check"),
    [
        # invented person
        ("Greg Smith asked for the PMU counters to be reset.", "people"),
        # wrong version
        ("In v5 the author dropped the sysreg.", "versions"),
        ("第 5 版去掉了该寄存器。", "versions"),
        # wrong status, both languages
        ("Marc Zyngier applied the series to next.", "status"),
        ("The series was merged into kvmarm/next.", "status"),
        ("该系列已合入 kvmarm/next 分支。", "status"),
        ("Marc NAKed the approach.", "status"),
        ("维护者拒绝了该系列。", "status"),
        ("The author has withdrawn the series.", "status"),
        ("作者撤回了这组补丁。", "status"),
        ("It was superseded by v3.", "status"),
        ("The fix was reverted.", "status"),
        # wrong count
        ("This 7-patch series fixes the PMU.", "counts"),
        ("The thread had 12 replies.", "counts"),
        ("该系列共 9 个补丁。", "counts"),
        # identifier not in the cited mail
        ("It changes kvm_arch_vcpu_put() to reset the counters.", "identifiers"),
        ("It reads ID_AA64PFR1_EL1 at boot.", "identifiers"),
        ("It adds CONFIG_KVM_NVHE_PMU.", "identifiers"),
        ("The change lives in arch/arm64/kvm/sys_regs.c.", "identifiers"),
    ],
)
def test_each_kind_of_lie_is_caught(text: str, check: str) -> None:
    assert _check(text) == check


@pytest.mark.parametrize(
    "text",
    [
        "Oliver Upton reviewed the series and asked for a comment.",
        "Marc Zyngier wants the counters reset on vcpu load.",
        "Compared with v2, the author split the PMU patch in two.",
        "与 v2 相比，作者拆分了 PMU 补丁。",
        "The series has not been applied yet.",
        "Marc said he would queue it after -rc1.",
        "该系列尚未合入。",
        "The fix is applied to every vCPU on reset.",
        "It merges two helpers into kvm_pgtable_walk().",
        "该补丁将两个函数合并为一个。",
        "This 4-patch series fixes the PMU for cgroup v2 users on SMCCC v1.1.",
        "It reads ID_AA64DFR0_EL1 in arch/arm64/kvm/pmu-emul.c.",
        "It depends on CONFIG_HW_PERF_EVENTS.",
        "Six mails were sent this week.",
        "The series went through 3 versions.",
        "Linux 5.10 is the base.",
    ],
)
def test_true_sentences_pass(text: str) -> None:
    assert _check(text) is None


def test_a_sentence_must_cite_mail_of_this_thread() -> None:
    assert _check("The series fixes the PMU.", cites=("other@x",)) == "cites"
    assert _check("The series fixes the PMU.", cites=()) == "cites"
    assert _check("A revert was discussed; it was reverted.", cites=("c@x",)) is None


def test_status_words_agree_when_the_status_says_so() -> None:
    applied = dataclasses.replace(FACTS, status="applied")
    assert _check("Marc Zyngier applied the series to next.", facts=applied) is None
    assert _check("该系列已合入 kvmarm/next 分支。", facts=applied) is None
    assert _check("Marc NAKed the approach.", facts=applied) == "status"


def test_guard_summary_drops_failing_sentences_and_keeps_why() -> None:
    summary = Summary(
        lang="en",
        original=(SummaryItem("The series fixes the PMU.", ("a@x",)),),
        history=(),
        this_week=(
            SummaryItem("Oliver Upton reviewed it.", ("b@x",)),
            SummaryItem("Marc Zyngier applied the series to next.", ("b@x",)),
        ),
        source="llm",
    )
    guarded = guard_summary(summary, FACTS)
    assert [i.text for i in guarded.this_week] == ["Oliver Upton reviewed it."]
    [check] = guarded.checks
    assert (check.part, check.check) == ("this_week", "status")
    assert check.sentence.startswith("Marc Zyngier applied") and "under review" in check.reason


# -- end to end: a model that lies on purpose ------------------------------------------------

LIE = "Marc Zyngier applied the whole series to kvmarm/next."
WEEK = iso_week_window("2022-W19")
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _liar(keep_lying: bool) -> Any:
    """Answers with one true sentence and one lie; re-asked, lies again or corrects."""

    def respond(body: dict[str, Any]) -> str:
        text = user_text(body)
        labels = sorted(set(re.findall(r"\[(m\d+)\]", text)), key=lambda m: int(m[1:]))
        first = labels[0] if labels else "m1"
        reasked = "could not be used" in text
        this_week = [{"text": "Discussion continued this week.", "cites": [first]}]
        if keep_lying or not reasked:
            this_week.append({"text": LIE, "cites": [first]})
        return json.dumps(
            {
                "original": [{"text": "The thread proposes a change.", "cites": [first]}],
                "history": [{"text": "It was discussed before.", "cites": [first]}],
                "this_week": this_week,
            }
        )

    return respond


@pytest.mark.parametrize("keep_lying", [True, False])
def test_a_lying_model_is_reasked_once_then_its_lie_dropped(
    writable_store: Store, keep_lying: bool
) -> None:
    store = writable_store
    info = store.get_list("kvmarm")
    assert info is not None
    with FakeLLMServer("openai", responder=_liar(keep_lying)) as server:
        client = OpenAICompatibleClient(
            base_url=server.url, api_key="sk-test-0123456789", sleep=lambda _: None
        )
        summarizer = LLMSummarizer(client, LLMSettings(model="fake", concurrency=2), store, info.id)
        report = ReportBuilder(store, "kvmarm").build(WEEK, now=NOW, summarizer=summarizer)
        requests = list(server.requests)
    not_applied = [
        t
        for t in report.threads
        if t.status is None or str(t.status.status) not in ("applied", "partly applied")
    ]
    assert not_applied
    reasks = [r for r in requests if "could not be used" in user_text(r)]
    reasons = [user_text(r).split("could not be used: ", 1)[1].split("\n", 1)[0] for r in reasks]
    # The lie names Marc: where he never wrote, that is caught first ("people").
    assert reasks and all(
        LIE in why and re.search(r"\((?:status|people): ", why) for why in reasons
    )
    # At most one re-ask per thread (a big thread's map parts are first asks too).
    assert len(reasks) <= len(report.threads) <= len(requests) - len(reasks)
    data = {t["id"]: t for t in report_dict(report)["threads"]}
    for thread in not_applied:
        summary = thread.summary
        assert summary is not None and summary.source == "llm"
        assert LIE not in [i.text for i in summary.this_week]
        checks = data[thread.id]["summary"]["checks"]
        if keep_lying:
            assert len(checks) == 1 and checks[0]["sentence"] == LIE
            assert checks[0]["check"] in ("status", "people")
        else:
            assert checks == []
    text = render_markdown(report)
    assert ("事实核对删除了模型的" in text) is keep_lying  # the report is in zh by default
