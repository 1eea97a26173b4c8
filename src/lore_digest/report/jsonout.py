"""JSON rendering of a report, for scripts (schema documented in the README)."""

from __future__ import annotations

import json
from typing import Any

from lore_digest.report.model import Report, ReportThread, Summary, SummaryItem


def _items(items: tuple[SummaryItem, ...]) -> list[dict[str, Any]]:
    return [{"text": i.text, "cites": list(i.cites)} for i in items]


def summary_dict(summary: Summary) -> dict[str, Any]:
    """A summary with the message ids each part cites."""
    out: dict[str, Any] = {
        "lang": summary.lang,
        "original": _items(summary.original),
        "history": _items(summary.history),
        "this_week": _items(summary.this_week),
        "source": summary.source,
    }
    if summary.model:
        out["model"] = summary.model
    if summary.note:
        out["note"] = summary.note
    return out


def thread_dict(thread: ReportThread) -> dict[str, Any]:
    """One thread; its messages sorted by date, history flagged by in_window false."""
    series = None
    if thread.series is not None:
        s = thread.series
        series = {
            "version": s.version,
            "total": s.total,
            "rfc": s.is_rfc,
            "prefixes": list(s.prefixes),
            "cover_message_id": s.cover_message_id,
            "patches_seen": s.patches_seen,
        }
    return {
        "id": thread.id,
        "subject": thread.subject,
        "url": thread.url,
        "category": str(thread.category),
        "series": series,
        "summary": summary_dict(thread.summary) if thread.summary else None,
        "messages": [
            {
                "message_id": m.message_id,
                "date": m.date.isoformat(),
                "from_name": m.from_name,
                "from_email": m.from_email,
                "subject": m.subject,
                "in_window": m.in_window,
                "url": m.url,
                "parent_id": m.parent_id,
            }
            for m in thread.messages
        ],
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The whole report as plain JSON-able data."""
    stats = report.stats
    return {
        "list": report.list_name,
        "week": report.label,
        "lang": report.lang,
        "generated_at": report.generated_at.isoformat(),
        "window": {
            "start": report.start.isoformat(),
            "end": report.end.isoformat(),
            "tz": report.tz,
        },
        "stats": {
            "messages": stats.messages,
            "threads": stats.threads,
            "participants": stats.participants,
            "large_threads": stats.large_threads,
            "categories": {
                str(cat): {"threads": c.threads, "messages": c.messages}
                for cat, c in stats.categories.items()
            },
        },
        "threads": [thread_dict(t) for t in report.threads],
    }


def render_json(report: Report) -> str:
    """The report as pretty-printed UTF-8 JSON text."""
    return json.dumps(report_dict(report), ensure_ascii=False, indent=2) + "\n"
