"""Questions in a thread's mail: who asked what, when (for "asked of them" views).

A reviewer is asked for a word not only by the MAINTAINERS file: "Marc, any thoughts?",
"OK, Will, can you review those?" name them in a question. This keeps the questions each
sender wrote in their own text (no quotes, diffs or signatures), newest last, so a
per-person view can tell which ones name that person and wait for their answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from lore_digest.facts.model import MailFacts
from lore_digest.vocabulary import is_bot

__all__ = ["MAX_QUESTIONS", "Question", "names_person", "questions_in"]

MAX_QUESTIONS: Final = 20  # per thread, the newest kept
MAX_CHARS: Final = 300  # a longer "sentence" is a paragraph without full stops
MAX_PROSE: Final = 20_000  # characters of a mail read: a pasted log is no question
_BOUNDARY: Final = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class Question:
    """One question a sender wrote: when, who, and the sentence."""

    date_utc: int
    from_email: str
    text: str


def questions_in(mails: Sequence[MailFacts]) -> tuple[Question, ...]:
    """The questions of a thread's mails (robots left out), oldest first."""
    found: list[Question] = []
    for mail in mails:
        if is_bot(mail.from_email):
            continue
        prose = " ".join(s.text for s in mail.segments if s.kind == "prose")[:MAX_PROSE]
        # Split first, then look at each sentence's end: linear in the text, whatever
        # it holds (a pattern searched from every position is not, on a long log).
        for sentence in _BOUNDARY.split(" ".join(prose.split())):
            if sentence.endswith("?") and 3 < len(sentence) <= MAX_CHARS:
                found.append(Question(mail.date_utc, mail.from_email.lower(), sentence))
    found.sort(key=lambda q: q.date_utc)
    return tuple(found[-MAX_QUESTIONS:])


def names_person(question: str, name: str) -> bool:
    """Whether a question addresses someone by name: "Marc, …?", "…, Marc?", "@Marc",
    or the full name anywhere. A first name alone must be said to the person ("Will,"),
    not used as a word ("Will this break?")."""
    words = name.split()
    if not words:
        return False
    if len(words) >= 2 and re.search(rf"\b{re.escape(name)}\b", question):
        return True
    first = words[0]
    if len(first) < 3 or not first[0].isupper():
        return False
    first = re.escape(first)
    return bool(
        re.search(rf"(?:^|[\s(]){first}\s*[,:]", question)
        or re.search(rf"@{first}\b", question)
        or re.search(rf",\s*{first}\s*\?$", question)
    )
