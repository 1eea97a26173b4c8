"""One conversation of a week: its mail, what the facts say about it, its summary.

Counts, links and local times are settled when a thread is built, so every renderer
(Markdown, JSON, HTML, mail) and the summarisers read the same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lore_digest.facts.classify import Category
from lore_digest.facts.links import message_url
from lore_digest.facts.series_facts import SeriesFacts
from lore_digest.facts.status import StatusFacts
from lore_digest.model.summary import Summary
from lore_digest.vocabulary import is_bot


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    """One mail of a thread; `in_window` False marks history (earlier mail)."""

    message_id: str
    date: datetime  # in the report's time zone
    from_name: str
    from_email: str
    subject: str
    in_window: bool
    url: str
    parent_id: str | None


@dataclass(slots=True)
class Thread:
    """A conversation (or a series with unthreaded patches) with mail in the window.

    `status` is the thread's status: for a series the very object in `series.status`
    (computed once, never copied), for a pull request or a lone patch its own, else None.
    """

    id: str  # root Message-ID
    subject: str
    url: str
    url_base: str  # the list's archive, for links to mail outside this thread
    category: Category
    series: SeriesFacts | None
    messages: list[ThreadMessage]
    status: StatusFacts | None = None
    summary: Summary | None = None

    def url_of(self, message_id: str) -> str:
        """Archive link of a mail of this thread (or of any mail, by the same rule)."""
        for m in self.messages:
            if m.message_id == message_id:
                return m.url
        return message_url(self.url_base, message_id)

    @property
    def window_messages(self) -> list[ThreadMessage]:
        """Mail of this thread dated inside the report window."""
        return [m for m in self.messages if m.in_window]

    @property
    def participants(self) -> list[str]:
        """Distinct senders (by address) inside the window, in order of first mail.

        Robots are not participants: their findings are listed per series instead.
        """
        return list(
            dict.fromkeys(m.from_email for m in self.window_messages if not is_bot(m.from_email))
        )

    @property
    def started(self) -> datetime:
        """Date of the thread's first known mail."""
        return self.messages[0].date
