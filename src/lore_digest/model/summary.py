"""A thread's summary: three parts of cited statements, whoever wrote them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SummaryItem:
    """One statement of a summary and the messages it rests on."""

    text: str
    cites: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SummaryCheck:
    """A sentence the fact guard removed: which part, the sentence, the check, why."""

    part: str  # "original" | "history" | "this_week"
    sentence: str
    check: str  # "cites" | "people" | "versions" | "status" | "counts" | "identifiers"
    reason: str


@dataclass(frozen=True, slots=True)
class Summary:
    """Three parts, as readers of the old tool expect: original / history / this week.

    `source` says who wrote the prose: "facts" (the offline summary, built from the
    computed facts) or "llm" (with `model`); `note` says why an LLM summary fell back;
    `checks` are the model's sentences the fact guard removed (summarize.guard).
    """

    lang: str
    original: tuple[SummaryItem, ...]
    history: tuple[SummaryItem, ...]
    this_week: tuple[SummaryItem, ...]
    source: str = "facts"
    model: str | None = None
    note: str | None = None
    checks: tuple[SummaryCheck, ...] = ()
