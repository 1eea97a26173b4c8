"""What every summariser is: the one protocol offline and LLM prose both implement.

The report builder hands a summariser the week's threads (facts computed, mail parsed)
and gets one `Summary` per thread back. Whether the prose comes from the facts alone
or from a model is the summariser's business; the builder never looks inside. A
summariser is a context manager: an LLM one holds a connection pool, closed once, by
whoever opened it (the `Digest`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from lore_digest.facts.model import MailFacts
from lore_digest.model import Summary, Thread

ThreadMail = tuple[Thread, Sequence[MailFacts]]
"""A thread of the report and its parsed mail (history included)."""

Progress = Callable[[int, int], None]
"""(threads done, threads in all)."""


@dataclass(frozen=True, slots=True)
class BatchWait:
    """How a batched run (summarize.batch) waits: for how long, how often it looks, and
    where it says what it submitted."""

    wait_s: float = 24 * 3600.0  # both providers end a batch within a day
    poll_s: float = 30.0
    say: Callable[[str], None] = lambda _line: None  # "batch … submitted" as it happens
    resume: bool = False  # the first round must collect a recorded batch (--resume)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


class Summarizer(Protocol):
    """Writes the three-part summary of each thread of a report."""

    name: str  # "offline", or the model's name
    notices: list[str]  # said once at the terminal: e.g. why it fell back to offline

    def summarize(
        self,
        threads: Sequence[ThreadMail],
        *,
        lang: str,
        window_start_utc: int,
        progress: Progress | None = None,
    ) -> dict[str, Summary]:
        """One summary per thread id; never raises for a thread it could not summarise
        (an LLM summariser falls back to the offline summary, with a note)."""
        ...

    def remember(
        self, label: str, lang: str, end_utc: int, summaries: Mapping[str, Summary]
    ) -> None:
        """Keep this week's summaries as the starting point of the next week's."""
        ...

    def close(self) -> None:
        """Release what the summariser holds (connections); idempotent."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
