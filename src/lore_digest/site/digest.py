"""What the site keeps of each week between builds: a content hash and a small digest.

The pages that span weeks (index, archive, feed, search, series pages) are rebuilt from
these digests, so one changed week costs one report build, not one per week. Digests are
plain JSON kept in the site's manifest; Message-IDs appear in them only as hashes and in
archive URLs built by `facts.links`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from lore_digest.model import Thread
from lore_digest.report.jsonout import report_dict
from lore_digest.report.model import HighlightItem, PersonView, Report
from lore_digest.vocabulary import VERDICT_TRAILERS, slugify


def short_hash(text: str) -> str:
    """12 hex digits of SHA-1: a file-name- and id-safe stand-in for a Message-ID."""
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def thread_anchor(message_id: str) -> str:
    """HTML id of a thread on its week page (never the raw Message-ID)."""
    return "t-" + short_hash(message_id)


def subsystem_slug(name: str) -> str:
    """File name of a subsystem's page: readable, with a hash against collisions
    ("KVM/arm64" and "KVM arm64" are two names)."""
    readable = slugify(name)[:40] or "x"
    return f"{readable}-{short_hash(name)[:6]}"


def person_slug(email: str) -> str:
    """File name of a person's page: a hash, so no address is spelled in a URL."""
    return short_hash(email.strip().lower())


def series_slug(thread: Thread) -> str | None:
    """Slug of the series page: a hash of the oldest known revision's first message.

    The oldest revision stays the same while v2, v3... follow, so every revision of a
    series and every week it appears in lead to one page.
    """
    if thread.series is None:
        return None
    return short_hash(thread.series.revisions[0].message_id)


def content_hash(report: Report) -> str:
    """Hash of everything a week page shows except when it was generated."""
    data = report_dict(report)
    data.pop("generated_at", None)
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _series_entry(thread: Thread) -> dict[str, Any] | None:
    s = thread.series
    slug = series_slug(thread)
    if s is None or slug is None:
        return None
    reviewers: dict[tuple[str, str], dict[str, Any]] = {}
    for patch in s.patches:
        for tr in patch.trailers:
            if tr.kind not in VERDICT_TRAILERS or tr.message_id == patch.message_id:
                continue  # carried in the patch itself: given for an earlier revision
            key = (tr.email or tr.name, tr.kind)
            entry = reviewers.setdefault(
                key, {"name": tr.name or tr.email, "kind": tr.kind, "patches": []}
            )
            if patch.number not in entry["patches"]:
                entry["patches"].append(patch.number)
    return {
        "slug": slug,
        "anchor": thread_anchor(thread.id),
        "subject": thread.subject,
        "url": thread.url,
        "version": s.version,
        "total": s.total,
        "patches": len(s.patches),
        "rfc": s.is_rfc,
        "author": s.author_name or s.author_email,
        "status": str(s.status.status),
        "evidence": [thread.url_of(mid) for mid in s.status.evidence[:4]],
        "branch": s.status.applied.branch if s.status.applied else None,
        "superseded_by": None
        if s.superseded_by is None
        else [s.superseded_by.version, thread.url_of(s.superseded_by.message_id)],
        "revisions": [
            [r.version, r.date_utc, thread.url_of(r.message_id), r.subject] for r in s.revisions
        ],
        "reviewers": list(reviewers.values()),
        "mails": len(thread.window_messages),
    }


def _person_entry(view: PersonView, anchors: dict[str, str]) -> dict[str, Any]:
    """One --person block of the week, Message-IDs as thread anchors only."""

    def item(i: HighlightItem, **more: Any) -> dict[str, Any]:
        return {"subject": i.subject, "url": i.url, "anchor": anchors.get(i.message_id), **more}

    return {
        "slug": person_slug(view.email),
        "email": view.email,
        "name": view.name,
        "series": [item(i, status=i.detail, mails=i.count) for i in view.series],
        "asked": [item(i, status=i.detail, days=i.count) for i in view.asked],
        "more_asked": view.more_asked,
        "given": [item(i, detail=i.detail) for i in view.given],
    }


def week_digest(report: Report) -> dict[str, Any]:
    """The part of a week the cross-week pages need (language-independent)."""
    threads = []
    series = []
    anchors: dict[str, str] = {}
    for t in report.threads:
        anchors[t.id] = thread_anchor(t.id)
        if t.series is not None:
            anchors.setdefault(t.series.first_message_id, anchors[t.id])
    for t in report.threads:
        names = [t.series.author_name] if t.series and t.series.author_name else []
        names += [m.from_name or m.from_email for m in t.window_messages]
        entry = _series_entry(t)
        threads.append(
            {
                "anchor": thread_anchor(t.id),
                "subject": t.subject,
                "authors": list(dict.fromkeys(n for n in names if n))[:8],
                "slug": entry["slug"] if entry else None,
                "status": entry["status"] if entry else None,
                "mails": len(t.window_messages),
                "subsystems": list(t.subsystems),
            }
        )
        if entry is not None:
            series.append(entry)
    dates = [m.date for t in report.threads for m in t.window_messages]
    return {
        "label": report.label,
        "last_mail": max(dates).isoformat() if dates else None,
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "messages": report.stats.messages,
        "threads": report.stats.threads,
        "participants": report.stats.participants,
        "thread_list": threads,
        "series": series,
        "people": [_person_entry(view, anchors) for view in report.people],
    }
