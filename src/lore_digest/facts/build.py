"""Stored messages → MailFacts: bodies decoded and segmented once per report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lore_digest.facts.model import MailFacts
from lore_digest.mail.body import split_body
from lore_digest.mail.mime import message_text
from lore_digest.mail.subject import parse_subject
from lore_digest.store.db import StoredMessage


def mail_facts(
    messages: Sequence[StoredMessage],
    raws: Mapping[int, bytes],
    parents: Mapping[str, str | None],
    window: tuple[int, int],
) -> list[MailFacts]:
    """One MailFacts per message (same order); `raws` maps pk → raw bytes."""
    start, end = window
    out = []
    for msg in messages:
        raw = raws.get(msg.pk, b"")
        segments = tuple(split_body(message_text(raw).text)) if raw else ()
        out.append(
            MailFacts(
                message_id=msg.message_id,
                parent_id=parents.get(msg.message_id),
                date_utc=msg.date_utc,
                from_name=msg.from_name,
                from_email=msg.from_email,
                subject=parse_subject(msg.subject),
                segments=segments,
                in_window=start <= msg.date_utc < end,
            )
        )
    return out
