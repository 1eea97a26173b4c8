"""JSON rendering of a report, for scripts (schema documented in the README)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from lore_digest.facts.status import AppliedInfo, PullInfo, StatusFacts
from lore_digest.model import Summary, SummaryItem, Thread
from lore_digest.report.model import HighlightItem, Highlights, Report, TldrLine


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
    if summary.source == "llm":
        out["checks"] = [asdict(c) for c in summary.checks]
    return out


def _iso(utc: int) -> str:
    return datetime.fromtimestamp(utc, UTC).isoformat()


def _applied(info: AppliedInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {
        "message_id": info.message_id,
        "by": {"name": info.by_name, "email": info.by_email},
        "branch": info.branch,
        "commits": [{"subject": subject, "commit": sha} for subject, sha in info.commits],
        "partial": info.partial,
        "release": info.release,
    }


def series_dict(thread: Thread) -> dict[str, Any] | None:
    """Series facts: revisions, changelog, status with evidence, per-patch trailers."""
    s = thread.series
    if s is None:
        return None
    st = s.status
    return {
        "version": s.version,
        "total": s.total,
        "rfc": s.is_rfc,
        "prefixes": list(s.prefixes),
        "author": {"name": s.author_name, "email": s.author_email},
        "cover_message_id": s.cover_message_id,
        "revisions": [
            {
                "version": r.version,
                "message_id": r.message_id,
                "date": _iso(r.date_utc),
                "url": thread.url_of(r.message_id),
            }
            for r in s.revisions
        ],
        "superseded_by": None
        if s.superseded_by is None
        else {
            "version": s.superseded_by.version,
            "message_id": s.superseded_by.message_id,
            "url": thread.url_of(s.superseded_by.message_id),
        },
        "changes": s.changes,
        "status": str(st.status),
        "status_evidence": list(st.evidence),
        "applied": _applied(st.applied),
        "applied_replies": [_applied(a) for a in st.applied_replies],
        "claims": _claims(st),
        "pull": _pull(st.pull),
        "changes_requested": list(st.changes_requested),
        "naks": list(st.naks),
        "merge_state": s.merge_state,
        "not_in_tree": s.not_in_tree,
        "files": list(s.files),
        "bot_findings": [
            {
                "bot": f.bot,
                "message_id": f.message_id,
                "patch": f.patch,
                "what": f.what,
                "config": f.config,
                "text": f.describe(),
            }
            for f in s.bot_findings
        ],
        "appliers_rule": s.appliers_rule,
        "patches": [
            {
                "number": p.number,
                "subject": p.subject,
                "message_id": p.message_id,
                "merged": [
                    {"tree": m.tree, "branch": m.branch, "commit": m.commit, "how": m.how}
                    for m in s.merged
                    if m.message_id == p.message_id
                ],
                "trailers": [
                    {
                        "kind": t.kind,
                        "name": t.name,
                        "email": t.email,
                        "value": t.value,
                        "message_id": t.message_id,
                        "via_cover": t.via_cover,
                        "differs_from_sender": t.differs_from_sender,
                        "credited": t.credited,
                        "sent_by": {"name": t.sent_by_name, "email": t.sent_by_email},
                    }
                    for t in p.trailers
                ],
            }
            for p in s.patches
        ],
        "patches_without_review": list(s.patches_without_review),
    }


def _status(thread: Thread) -> dict[str, Any] | None:
    st = thread.status
    if st is None or thread.series is not None:
        return None  # a series' status is in its series facts
    return {
        "status": str(st.status),
        "evidence": list(st.evidence),
        "applied": _applied(st.applied),
        "claims": _claims(st),
        "pull": _pull(st.pull),
    }


def _pull(pull: PullInfo | None) -> dict[str, Any] | None:
    if pull is None:
        return None
    return {
        "message_id": pull.message_id,
        "base_commit": pull.base_commit,
        "repo": pull.repo,
        "ref": pull.ref,
        "tip_commit": pull.tip_commit,
        "merged_by": pull.merged_by,
    }


def _claims(st: StatusFacts) -> list[dict[str, Any]]:
    """Decisions announced by people without standing: shown, never a status."""
    return [
        {
            "kind": c.kind,
            "message_id": c.message_id,
            "by": {"name": c.by_name, "email": c.by_email},
            "detail": c.detail,
            "reason": c.reason,
            "why": c.why,
        }
        for c in st.claims
    ]


def thread_dict(thread: Thread, folded_into: str | None = None) -> dict[str, Any]:
    """One thread; its messages sorted by date, history flagged by in_window false;
    `folded_into` the newer revision of the week it is shown under (Report.folded)."""
    return {
        "id": thread.id,
        "chain": thread.chain,
        "folded_into": folded_into,
        "subject": thread.subject,
        "url": thread.url,
        "category": str(thread.category),
        "subsystems": list(thread.subsystems),
        "series": series_dict(thread),
        "status": _status(thread),
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
                "gist": m.gist,
            }
            for m in thread.messages
        ],
    }


def _item(item: HighlightItem) -> dict[str, Any]:
    return {
        "subject": item.subject,
        "message_id": item.message_id,
        "url": item.url,
        "detail": item.detail,
        "count": item.count,
        "chain": item.chain,
    }


def highlights_dict(h: Highlights | None) -> dict[str, Any] | None:
    """The week's highlights as lists of items."""
    if h is None:
        return None
    return {
        "applied": [_item(i) for i in h.applied],
        "new_series": [_item(i) for i in h.new_series],
        "new_revisions": [_item(i) for i in h.new_revisions],
        "waiting_for_review": [_item(i) for i in h.waiting_for_review],
        "most_active": [_item(i) for i in h.most_active],
        "top_reviewers": [
            {"name": r.name, "email": r.email, "trailers": r.trailers, "replies": r.replies}
            for r in h.top_reviewers
        ],
    }


def tldr_list(lines: Sequence[TldrLine]) -> list[dict[str, Any]]:
    """The TL;DR: per line its kind ("applied", "new_series", "new_revisions", "decision",
    "waiting", "stuck"), its detail (a branch, a status), the entries and how many more."""
    return [
        {
            "kind": line.kind,
            "detail": line.detail,
            "items": [_item(i) for i in line.entries],
            "more": line.more,
        }
        for line in lines
    ]


def report_dict(report: Report) -> dict[str, Any]:
    """The whole report as plain JSON-able data."""
    stats = report.stats
    lead = {t.id: newest for newest, earlier in report.folded().items() for t in earlier}
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
        "subsystems": list(report.subsystems),  # only threads touching these; [] all
        "people": [
            {
                "email": pv.email,
                "name": pv.name,
                "series": [_item(i) for i in pv.series],
                "asked": [_item(i) for i in pv.asked],
                "more_asked": pv.more_asked,
                "given": [_item(i) for i in pv.given],
            }
            for pv in report.people
        ],
        "tldr": tldr_list(report.tldr),
        "highlights": highlights_dict(report.highlights),
        "threads": [thread_dict(t, lead.get(t.id)) for t in report.threads],
    }


def render_json(report: Report, *, as_of: datetime | None = None) -> str:
    """The report as pretty-printed UTF-8 JSON text.

    With `as_of` (the clock the report was made with) a week that has not ended yet says
    so: `"in_progress": true` and `"as_of"`, so a script never takes it for the final one.
    """
    data = report_dict(report)
    if as_of is not None and report.end > as_of:
        data = {**data, "in_progress": True, "as_of": as_of.isoformat()}
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
