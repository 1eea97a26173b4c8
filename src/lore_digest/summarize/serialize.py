"""The summariser's own serialisation: facts for prompts, summaries for the cache.

Prompts and LLM cache keys are built from this module's dicts, never from the report's
JSON: a new key in the JSON report (a public format for scripts) must not change what a
model is asked, or every cached summary would be paid for again. The shapes here were
frozen when they were split from the report's JSON; change them only together with
`prompt.PROMPT_VERSION`.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from lore_digest.facts.status import AppliedInfo, StatusFacts
from lore_digest.model import Summary, SummaryCheck, SummaryItem, Thread

__all__ = ["series_facts", "status_facts", "summary_from_dict", "summary_to_dict"]


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
    }


def series_facts(thread: Thread) -> dict[str, Any] | None:
    """A series' facts as the prompt states them (ids still Message-IDs)."""
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
            {"version": r.version, "message_id": r.message_id, "date": _iso(r.date_utc)}
            for r in s.revisions
        ],
        "superseded_by": None
        if s.superseded_by is None
        else {"version": s.superseded_by.version, "message_id": s.superseded_by.message_id},
        "changes": s.changes,
        "status": str(st.status),
        "status_evidence": list(st.evidence),
        "applied": _applied(st.applied),
        "changes_requested": list(st.changes_requested),
        "naks": list(st.naks),
        "patches": [
            {
                "number": p.number,
                "subject": p.subject,
                "message_id": p.message_id,
                "trailers": [
                    {
                        "kind": t.kind,
                        "name": t.name,
                        "email": t.email,
                        "value": t.value,
                        "message_id": t.message_id,
                        "via_cover": t.via_cover,
                        "differs_from_sender": t.differs_from_sender,
                    }
                    for t in p.trailers
                ],
            }
            for p in s.patches
        ],
        "patches_without_review": list(s.patches_without_review),
    }


def status_facts(thread: Thread) -> dict[str, Any] | None:
    """The status of a thread that is no series (a pull request), as the prompt states it."""
    st: StatusFacts | None = thread.status
    if st is None or thread.series is not None:
        return None
    pull = st.pull
    return {
        "status": str(st.status),
        "evidence": list(st.evidence),
        "applied": _applied(st.applied),
        "pull": None
        if pull is None
        else {
            "message_id": pull.message_id,
            "base_commit": pull.base_commit,
            "repo": pull.repo,
            "ref": pull.ref,
            "tip_commit": pull.tip_commit,
            "merged_by": pull.merged_by,
        },
    }


def _items(items: tuple[SummaryItem, ...]) -> list[dict[str, Any]]:
    return [{"text": i.text, "cites": list(i.cites)} for i in items]


def summary_to_dict(summary: Summary) -> dict[str, Any]:
    """A summary as the cache and the memory of past reports keep it."""
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
    if summary.checks:
        out["checks"] = [asdict(c) for c in summary.checks]
    return out


def summary_from_dict(data: dict[str, Any]) -> Summary:
    """Inverse of summary_to_dict."""

    def items(key: str) -> tuple[SummaryItem, ...]:
        return tuple(
            SummaryItem(str(i["text"]), tuple(i.get("cites", ()))) for i in data.get(key, ())
        )

    return Summary(
        lang=str(data["lang"]),
        original=items("original"),
        history=items("history"),
        this_week=items("this_week"),
        source=str(data.get("source", "facts")),
        model=data.get("model"),
        note=data.get("note"),
        checks=tuple(
            SummaryCheck(str(c["part"]), str(c["sentence"]), str(c["check"]), str(c["reason"]))
            for c in data.get("checks", ())
        ),
    )
