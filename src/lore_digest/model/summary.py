"""A thread's summary: three parts of cited statements, whoever wrote them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SummaryItem:
    """One statement of a summary and the messages it rests on."""

    text: str
    cites: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Summary:
    """Three parts, as readers of the old tool expect: original / history / this week.

    `source` says who wrote the prose: "facts" (the offline summary, built from the
    computed facts) or "llm" (with `model`); `note` says why an LLM summary fell back.
    """

    lang: str
    original: tuple[SummaryItem, ...]
    history: tuple[SummaryItem, ...]
    this_week: tuple[SummaryItem, ...]
    source: str = "facts"
    model: str | None = None
    note: str | None = None
