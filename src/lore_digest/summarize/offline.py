"""The offline summary: assembled from computed facts and short verbatim excerpts only.

It is the embedded default (no API key needed) and the fallback whenever an LLM summary
fails, so it must never invent anything: every statement cites the mail it comes from,
and quoted text is copied verbatim from what the sender wrote (never from quotes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Self

from lore_digest.facts.attribution import GivenTrailer
from lore_digest.facts.model import MailFacts
from lore_digest.facts.series_facts import SeriesFacts
from lore_digest.facts.status import Status
from lore_digest.mail.body import first_paragraph
from lore_digest.model import Summary, SummaryItem, Thread
from lore_digest.summarize.base import Progress, ThreadMail
from lore_digest.summarize.i18n import PHRASES, claim_reason, claim_text, people, phrase
from lore_digest.vocabulary import VERDICT_TRAILERS

EXCERPT_CHARS = 300
QUESTION_CHARS = 200
MAX_QUESTIONS = 3
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Whitespace-collapsed text cut at a word boundary, with an ellipsis when cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def _date(utc: int) -> str:
    return datetime.fromtimestamp(utc, UTC).strftime("%Y-%m-%d")


def first_question(mail: MailFacts) -> str | None:
    """The first sentence the sender wrote that asks something (verbatim, short)."""
    for segment in mail.segments:
        if segment.kind != "prose":
            continue
        for paragraph in segment.text.split("\n\n"):
            for sentence in _SENTENCE_END.split(" ".join(paragraph.split())):
                if sentence.endswith("?") and 12 <= len(sentence) <= QUESTION_CHARS:
                    return sentence
    return None


def _original(thread: Thread, by_id: dict[str, MailFacts], lang: str) -> list[SummaryItem]:
    series = thread.series
    anchor_id = series.first_message_id if series else thread.id
    anchor = by_id.get(anchor_id) or by_id[thread.id]
    text = excerpt(first_paragraph(list(anchor.segments)))
    items = [
        SummaryItem(
            phrase(lang, "says", who=anchor.from_name, text=text)
            if text
            else phrase(lang, "no_prose"),
            (anchor.message_id,),
        )
    ]
    if series is not None:
        line = (
            phrase(lang, "series_line", version=series.version, total=series.total)
            if series.total and series.total > 1
            else phrase(lang, "single_patch")
        )
        items.append(SummaryItem(line, (series.first_message_id,)))
    return items


def _trailer_lines(
    trailers: Sequence[tuple[GivenTrailer, int]], series: SeriesFacts, lang: str
) -> list[SummaryItem]:
    """ "X gave Reviewed-by (patch 1, 3)" — one line per (person, kind, mail)."""
    grouped: dict[tuple[str, str, str], list[int]] = {}
    names: dict[tuple[str, str, str], str] = {}
    senders: dict[tuple[str, str, str], str] = {}
    for trailer, number in trailers:
        key = (trailer.email or trailer.value, trailer.kind, trailer.message_id)
        grouped.setdefault(key, []).append(number)
        names[key] = trailer.name or trailer.email
        if not trailer.credited:
            senders[key] = trailer.sent_by_name or trailer.sent_by_email
    out = []
    total = len(series.patches)
    for key, numbers in grouped.items():
        unique = sorted(set(numbers))
        if len(unique) == total and total > 1:
            target = phrase(lang, "all_patches")
        else:
            target = PHRASES[lang]["sep"].join(phrase(lang, "patch_n", n=n) for n in unique)
        text = (
            phrase(
                lang,
                "given_by_other",
                who=names[key],
                kind=key[1],
                target=target,
                sender=senders[key],
            )
            if key in senders
            else phrase(lang, "given", who=names[key], kind=key[1], target=target)
        )
        out.append(SummaryItem(text, (key[2],)))
    return out


def _given_trailers(
    series: SeriesFacts, in_window: bool, window_ids: set[str]
) -> list[tuple[GivenTrailer, int]]:
    """Review trailers from replies (not carried in the patch), split by window."""
    out = []
    for patch in series.patches:
        for t in patch.trailers:
            if t.message_id == patch.message_id or t.kind not in VERDICT_TRAILERS:
                continue
            if (t.message_id in window_ids) == in_window:
                out.append((t, patch.number))
    return out


def _history(thread: Thread, lang: str) -> list[SummaryItem]:
    earlier = [m for m in thread.messages if not m.in_window]
    items: list[SummaryItem] = []
    series = thread.series
    if series is not None and series.earlier_revisions:
        revs = PHRASES[lang]["sep"].join(
            phrase(lang, "rev_item", version=r.version, date=_date(r.date_utc))
            for r in series.earlier_revisions
        )
        items.append(
            SummaryItem(
                phrase(lang, "earlier_rev", revs=revs),
                tuple(r.message_id for r in series.earlier_revisions),
            )
        )
    if earlier:
        names = list(dict.fromkeys(m.from_name for m in earlier))
        items.append(
            SummaryItem(
                phrase(
                    lang,
                    "history_mails",
                    count=len(earlier),
                    first=earlier[0].date.strftime("%Y-%m-%d"),
                    people=people(lang, names),
                ),
                (earlier[0].message_id, earlier[-1].message_id),
            )
        )
    window_ids = {m.message_id for m in thread.window_messages}
    if series is not None:
        items.extend(_trailer_lines(_given_trailers(series, False, window_ids), series, lang))
        before = [e for e in series.status.changes_requested if e not in window_ids]
        if before:
            items.append(SummaryItem(phrase(lang, "earlier_requests"), tuple(before[:4])))
    if not items:
        items.append(SummaryItem(phrase(lang, "no_history")))
    return items


def _status_line(
    thread: Thread, by_id: dict[str, MailFacts], window_ids: set[str], lang: str
) -> list[SummaryItem]:
    facts = thread.status
    status = facts.status if facts else None
    evidence = facts.evidence if facts else ()
    fresh = [e for e in evidence if e in window_ids]
    claims = [
        SummaryItem(
            phrase(lang, "claim", claim=claim_text(c, lang), why=claim_reason(c, lang)),
            (c.message_id,),
        )
        for c in (facts.claims if facts else ())
        if c.message_id in window_ids
    ]
    return _decision_line(thread, status, fresh, by_id, window_ids, lang) + claims


def _decision_line(
    thread: Thread,
    status: Status | None,
    fresh: list[str],
    by_id: dict[str, MailFacts],
    window_ids: set[str],
    lang: str,
) -> list[SummaryItem]:
    """The week's decision about the series, if one was made this week."""
    series, facts = thread.series, thread.status
    applied = facts.applied if facts else None
    if status == Status.DROPPED and fresh:
        who = by_id[fresh[-1]].from_name if fresh[-1] in by_id else ""
        return [SummaryItem(phrase(lang, "dropped", who=who), tuple(fresh))]
    if status == Status.WITHDRAWN and fresh:
        return [SummaryItem(phrase(lang, "withdrawn"), tuple(fresh))]
    if status == Status.ACCEPTED and fresh:
        who = by_id[fresh[-1]].from_name if fresh[-1] in by_id else ""
        return [SummaryItem(phrase(lang, "accepted", who=who), tuple(fresh))]
    if status in (Status.APPLIED, Status.PARTLY_APPLIED) and fresh:
        if facts is not None and facts.pull is not None and applied is None:
            return [SummaryItem(phrase(lang, "pulled"), tuple(fresh))]
        who = by_id[fresh[0]].from_name if fresh[0] in by_id else ""
        branch = (
            phrase(lang, "applied_branch", branch=applied.branch)
            if applied and applied.branch
            else ""
        )
        commits = (
            phrase(lang, "applied_commits", count=len(applied.commits))
            if applied and applied.commits
            else ""
        )
        if applied is not None and applied.partial:
            text = phrase(
                lang, "applied_part", who=who, part=applied.partial, branch=branch, commits=commits
            )
        else:
            text = phrase(lang, "applied", who=who, branch=branch, commits=commits)
        return [SummaryItem(text, tuple(fresh))]
    if status == Status.NAKED and fresh:
        return [SummaryItem(phrase(lang, "naked", who=by_id[fresh[0]].from_name), tuple(fresh))]
    if status == Status.SUPERSEDED and series is not None and series.superseded_by is not None:
        return [
            SummaryItem(
                phrase(lang, "superseded", version=series.superseded_by.version),
                (series.superseded_by.message_id,),
            )
        ]
    if status == Status.CHANGES_REQUESTED and series is not None:
        now = [e for e in series.status.changes_requested if e in window_ids]
        if now:
            return [SummaryItem(phrase(lang, "changes_requested"), tuple(now[:4]))]
    return []


def _this_week(thread: Thread, mails: Sequence[MailFacts], lang: str) -> list[SummaryItem]:
    by_id = {m.message_id: m for m in mails}
    week = thread.window_messages
    window_ids = {m.message_id for m in week}
    series = thread.series
    items: list[SummaryItem] = []
    if series is not None and series.first_message_id in window_ids:
        key = "new_revision" if series.version > 1 or series.earlier_revisions else "new_series"
        items.append(
            SummaryItem(phrase(lang, key, version=series.version), (series.first_message_id,))
        )
        if series.changes:
            items.append(
                SummaryItem(
                    phrase(lang, "changes", text=excerpt(series.changes, 240)),
                    (series.first_message_id,),
                )
            )
    items.append(
        SummaryItem(
            phrase(
                lang,
                "week_mails",
                count=len(week),
                people=people(lang, list(dict.fromkeys(m.from_name for m in week))),
            ),
            (week[0].message_id,),
        )
    )
    if series is not None:
        items.extend(_trailer_lines(_given_trailers(series, True, window_ids), series, lang))
    author = (
        series.author_email if series else by_id[thread.id].from_email if thread.id in by_id else ""
    )
    asked = 0
    for mail in mails:
        if asked >= MAX_QUESTIONS or not mail.in_window or mail.from_email == author:
            continue
        question = first_question(mail)
        if question:
            items.append(
                SummaryItem(
                    phrase(lang, "asked", who=mail.from_name, text=question), (mail.message_id,)
                )
            )
            asked += 1
    items.extend(_status_line(thread, by_id, window_ids, lang))
    if (
        series is not None
        and series.status.reviewed
        and series.patches_without_review
        and len(series.patches) > 1
    ):
        numbers = ", ".join(str(n) for n in series.patches_without_review)
        items.append(
            SummaryItem(phrase(lang, "no_review_yet", patches=numbers), (series.first_message_id,))
        )
    replies = [m for m in week if m.from_email != author]
    if not replies:
        items.append(SummaryItem(phrase(lang, "no_week_replies")))
    return items


def summarize_thread(thread: Thread, mails: Sequence[MailFacts], lang: str) -> Summary:
    """Three-part factual summary of a thread from its facts and parsed mail."""
    by_id = {m.message_id: m for m in mails}
    return Summary(
        lang=lang,
        original=tuple(_original(thread, by_id, lang)),
        history=tuple(_history(thread, lang)),
        this_week=tuple(_this_week(thread, mails, lang)),
    )


class OfflineSummarizer:
    """The embedded summariser: prose assembled from the facts, no key, no network.

    `notices` says why it stands in for an LLM that could not work (the fallback chosen).
    """

    name = "offline"

    def __init__(self, notices: Sequence[str] = ()) -> None:
        self.notices: list[str] = list(notices)

    def summarize(
        self,
        threads: Sequence[ThreadMail],
        *,
        lang: str,
        window_start_utc: int,
        progress: Progress | None = None,
    ) -> dict[str, Summary]:
        """The facts-only summary of every thread."""
        del window_start_utc  # the facts already say what is new
        out = {thread.id: summarize_thread(thread, mails, lang) for thread, mails in threads}
        if progress is not None:
            progress(len(out), len(out))
        return out

    def remember(
        self, label: str, lang: str, end_utc: int, summaries: Mapping[str, Summary]
    ) -> None:
        """Nothing to remember: next week's offline summary is computed from the mail."""

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
