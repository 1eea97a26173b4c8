"""Message-IDs named by the Link: trailers of a commit: how maintainers record which
posting a commit was applied from (b4 and most kernel maintainers add one).

Recognised forms, the Message-ID URL-decoded and without < >:

    Link: https://lore.kernel.org/r/<id>
    Link: https://lore.kernel.org/all/<id>/            (also any list name: /kvmarm/<id>/T/#u)
    Link: https://lkml.kernel.org/r/<id>              (before lore existed)
    Link: https://patch.msgid.link/<id>               (b4 since 0.14; also msgid.link)

Anything after the URL (`# v2`, `[1]`) is ignored; other hosts (bug trackers, docs) name
no posting and are skipped.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

_LINK_LINE = re.compile(
    r"^[ \t]*Link[ \t]*:[ \t]*<?(https?://[^\s>]+)", re.IGNORECASE | re.MULTILINE
)
_ARCHIVES = frozenset({"lore.kernel.org", "lkml.kernel.org"})
_MSGID_HOSTS = frozenset({"patch.msgid.link", "msgid.link"})


def link_message_ids(message: str) -> tuple[str, ...]:
    """The Message-IDs the Link: lines of a commit message point to, in order, once each."""
    found: list[str] = []
    for match in _LINK_LINE.finditer(message):
        mid = message_id_of_url(match.group(1))
        if mid and mid not in found:
            found.append(mid)
    return tuple(found)


def message_id_of_url(url: str) -> str | None:
    """The Message-ID a lore or msgid.link URL names, or None for any other URL."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    # Split before decoding: public-inbox writes a "/" inside a Message-ID as %2F.
    segments = [s for s in parts.path.split("/") if s]
    if host in _ARCHIVES and len(segments) >= 2:
        raw = segments[1]  # /r/<id>, /all/<id>, /<list>/<id>
    elif host in _MSGID_HOSTS and segments:
        raw = segments[0]
    else:
        return None
    mid = unquote(raw).strip().strip("<>").strip()
    return mid or None
