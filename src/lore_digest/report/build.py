"""Build the model of one week's report from the store (facts only, no LLM)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from lore_digest.errors import UsageError
from lore_digest.facts.classify import Category, classify
from lore_digest.facts.links import message_url
from lore_digest.facts.week import Window
from lore_digest.mail.subject import parse_subject
from lore_digest.report.model import (
    CategoryStats,
    Report,
    ReportMessage,
    ReportStats,
    ReportThread,
    SeriesInfo,
)
from lore_digest.store.db import ListInfo, Store, StoredMessage
from lore_digest.summarize.offline import summarize_thread
from lore_digest.threading.jwz import parent_map
from lore_digest.threading.series import SERIES_SPREAD_S, merge_unthreaded_patches

LARGE_THREAD = 20


def _parents(messages: list[StoredMessage]) -> dict[str, str | None]:
    return parent_map((m.message_id, m.in_reply_to, m.references) for m in messages)


def collect_threads(
    store: Store, info: ListInfo, window: Window
) -> tuple[list[StoredMessage], dict[int, list[StoredMessage]]]:
    """In-window mail and, per conversation, all its mail up to the window's end."""
    in_window = store.messages_between(info.id, window.start_utc, window.end_utc)
    thread_keys = {m.thread_id if m.thread_id is not None else -m.pk for m in in_window}
    known = [t for t in thread_keys if t >= 0]
    groups: dict[int, list[StoredMessage]] = {}
    for msg in store.messages_of_threads(info.id, known, window.end_utc):
        groups.setdefault(msg.thread_id or 0, []).append(msg)
    for msg in in_window:  # never threaded (store written by an interrupted sync)
        if msg.thread_id is None:
            groups[-msg.pk] = [msg]

    def neighbours(msg: StoredMessage) -> list[StoredMessage]:
        return store.messages_by_author_near(
            info.id, msg.from_email, msg.date_utc - SERIES_SPREAD_S, msg.date_utc + SERIES_SPREAD_S
        )

    def load_thread(tid: int) -> list[StoredMessage]:
        return store.messages_of_threads(info.id, [tid], window.end_utc)

    return in_window, merge_unthreaded_patches(groups, _parents, neighbours, load_thread)


def _pick_root(messages: list[StoredMessage], parents: dict[str, str | None]) -> StoredMessage:
    """The thread's title mail: the cover letter, else the first root that is not a reply."""
    roots = [m for m in messages if parents.get(m.message_id) is None]
    subjects = {m.message_id: parse_subject(m.subject) for m in roots}
    for predicate in (
        lambda m: subjects[m.message_id].is_cover and not subjects[m.message_id].is_reply,
        lambda m: not subjects[m.message_id].is_reply,
    ):
        chosen = [m for m in roots if predicate(m)]
        if chosen:
            return chosen[0]
    return roots[0] if roots else messages[0]


def _series_info(root: StoredMessage, messages: list[StoredMessage]) -> SeriesInfo | None:
    subject = parse_subject(root.subject)
    if not subject.is_patch or subject.is_reply:
        return None
    patches = {
        s.counter
        for m in messages
        if (s := parse_subject(m.subject)).is_patch
        and not s.is_reply
        and s.version == subject.version
        and s.counter
    }
    return SeriesInfo(
        version=subject.version,
        total=subject.total,
        is_rfc=subject.is_rfc,
        prefixes=subject.extra_prefixes,
        cover_message_id=root.message_id if subject.is_cover else None,
        patches_seen=len(patches),
    )


def build_thread(
    messages: list[StoredMessage], window: Window, url_base: str, zone: ZoneInfo
) -> ReportThread:
    """One report thread from its stored messages (sorted by date)."""
    parents = _parents(messages)
    root = _pick_root(messages, parents)
    report_messages = [
        ReportMessage(
            message_id=m.message_id,
            date=datetime.fromtimestamp(m.date_utc, zone),
            from_name=m.from_name,
            from_email=m.from_email,
            subject=m.subject,
            in_window=window.start_utc <= m.date_utc < window.end_utc,
            url=message_url(url_base, m.message_id),
            parent_id=parents.get(m.message_id),
        )
        for m in messages
    ]
    root_subject = parse_subject(root.subject)
    return ReportThread(
        id=root.message_id,
        subject=root_subject.subject,
        url=message_url(url_base, root.message_id),
        category=classify(root_subject, root.from_email, has_replies=len(messages) > 1),
        series=_series_info(root, messages),
        messages=report_messages,
    )


def _stats(threads: list[ReportThread]) -> ReportStats:
    per_category: dict[Category, CategoryStats] = {}
    for category in Category:
        chosen = [t for t in threads if t.category == category]
        if chosen:
            per_category[category] = CategoryStats(
                threads=len(chosen), messages=sum(len(t.window_messages) for t in chosen)
            )
    window_mail = [m for t in threads for m in t.window_messages]
    return ReportStats(
        messages=len(window_mail),
        threads=len(threads),
        participants=len({m.from_email for m in window_mail}),
        large_threads=sum(1 for t in threads if len(t.window_messages) > LARGE_THREAD),
        categories=per_category,
    )


def build_report(
    store: Store,
    list_name: str,
    window: Window,
    *,
    lang: str = "zh",
    now: datetime | None = None,
) -> Report:
    """The complete offline report of one list for one window."""
    info = store.get_list(list_name)
    if info is None:
        names = ", ".join(i.name for i in store.lists()) or "none yet: run `lore-digest sync`"
        raise UsageError(f"unknown list {list_name!r} in {store.path} (known: {names})")
    zone = window.start.tzinfo
    assert isinstance(zone, ZoneInfo)
    in_window, groups = collect_threads(store, info, window)
    threads = [build_thread(msgs, window, info.url_base, zone) for msgs in groups.values()]
    threads = [t for t in threads if t.window_messages]
    needed = _needed_ids(threads)
    raw_cache = store.raw_many(
        m.pk for msgs in groups.values() for m in msgs if m.message_id in needed
    )
    by_id = {m.message_id: m for msgs in groups.values() for m in msgs}
    for thread in threads:
        thread.summary = summarize_thread(
            thread, {mid: raw_cache.get(by_id[mid].pk, b"") for mid in _thread_ids(thread)}, lang
        )
    counts = Counter(m.message_id for t in threads for m in t.window_messages)
    assert len(counts) == len(in_window) and all(c == 1 for c in counts.values()), (
        "every in-window message must be in exactly one thread"
    )
    threads.sort(key=lambda t: (-len(t.window_messages), t.started, t.id))
    return Report(
        list_name=info.name,
        label=window.label,
        start=window.start,
        end=window.end,
        tz=window.tz_name,
        lang=lang,
        generated_at=(now or datetime.now(UTC)).astimezone(zone),
        stats=_stats(threads),
        threads=threads,
    )


def _thread_ids(thread: ReportThread) -> list[str]:
    return [m.message_id for m in thread.messages]


def _needed_ids(threads: list[ReportThread]) -> set[str]:
    """Mail the offline summary reads: every in-window mail and each thread's root."""
    needed = {t.id for t in threads}
    needed.update(m.message_id for t in threads for m in t.window_messages)
    return needed
