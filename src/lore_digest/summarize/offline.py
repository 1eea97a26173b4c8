"""The offline summary: assembled from computed facts and short verbatim excerpts only.

It is the embedded default (no API key needed) and the fallback whenever an LLM summary
fails, so it must never invent anything: every statement cites the mail it comes from.
"""

from __future__ import annotations

from lore_digest.mail.body import first_paragraph, split_body
from lore_digest.mail.mime import message_text
from lore_digest.report.model import ReportMessage, ReportThread, Summary, SummaryItem
from lore_digest.summarize.i18n import people, phrase

EXCERPT_CHARS = 300


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Whitespace-collapsed text cut at a word boundary, with an ellipsis when cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def first_prose(raw: bytes) -> str:
    """First paragraph of what the author wrote (no quotes, diff, trailers or signature)."""
    if not raw:
        return ""
    return first_paragraph(split_body(message_text(raw).text))


def _names(messages: list[ReportMessage]) -> list[str]:
    return list(dict.fromkeys(m.from_name for m in messages))


def summarize_thread(thread: ReportThread, raws: dict[str, bytes], lang: str) -> Summary:
    """Three-part factual summary of a thread; `raws` maps Message-ID → raw mail."""
    root = next(m for m in thread.messages if m.message_id == thread.id)
    original: list[SummaryItem] = []
    text = excerpt(first_prose(raws.get(root.message_id, b"")))
    original.append(
        SummaryItem(
            phrase(lang, "says", who=root.from_name, text=text)
            if text
            else phrase(lang, "no_prose"),
            (root.message_id,),
        )
    )
    if thread.series is not None and thread.series.total:
        original.append(
            SummaryItem(
                phrase(lang, "patches_in_series", total=thread.series.total), (root.message_id,)
            )
        )

    earlier = [m for m in thread.messages if not m.in_window]
    if earlier:
        history = [
            SummaryItem(
                phrase(
                    lang,
                    "history_mails",
                    count=len(earlier),
                    first=earlier[0].date.strftime("%Y-%m-%d"),
                    people=people(lang, _names(earlier)),
                ),
                (earlier[0].message_id, earlier[-1].message_id),
            )
        ]
    else:
        history = [SummaryItem(phrase(lang, "no_history"))]

    week = thread.window_messages
    this_week = [
        SummaryItem(
            phrase(lang, "week_mails", count=len(week), people=people(lang, _names(week))),
            tuple(m.message_id for m in week[:1]),
        )
    ]
    authors = {root.from_email}
    replies = [m for m in week if m.from_email not in authors]
    if replies:
        this_week.append(
            SummaryItem(
                phrase(
                    lang, "week_replies", count=len(replies), people=people(lang, _names(replies))
                ),
                tuple(m.message_id for m in replies[:3]),
            )
        )
    else:
        this_week.append(SummaryItem(phrase(lang, "no_week_replies")))
    return Summary(
        lang=lang, original=tuple(original), history=tuple(history), this_week=tuple(this_week)
    )
