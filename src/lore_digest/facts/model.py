"""Plain inputs and outputs of the fact-finding stage (series, trailers, status).

Facts are pure functions of these records, so they can be tested on real threads and
recomputed after a fix without touching the network or the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from lore_digest.mail.body import Segment
from lore_digest.mail.subject import LoreSubject


@dataclass(frozen=True, slots=True)
class MailFacts:
    """One mail of a thread, parsed: headers, reply parent and body segments."""

    message_id: str
    parent_id: str | None  # nearest present ancestor (In-Reply-To climbing), None for a root
    date_utc: int
    from_name: str
    from_email: str
    subject: LoreSubject
    segments: tuple[Segment, ...]
    in_window: bool

    def unquoted_text(self) -> str:
        """What the sender wrote themselves: prose and trailer lines, no quotes/diffs/signature."""
        return "\n".join(s.text for s in self.segments if s.kind in ("prose", "trailer"))
