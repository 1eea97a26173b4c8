"""Links to the archive: lore.kernel.org style `BASE/<message-id>/`."""

from __future__ import annotations

from urllib.parse import quote

# public-inbox escapes "/" (and anything outside these) in Message-IDs within URLs.
_SAFE = "@!$&'()*+,;=:~-._"


def message_url(url_base: str, message_id: str) -> str:
    """The archive page of one mail."""
    return f"{url_base.rstrip('/')}/{quote(message_id, safe=_SAFE)}/"


def thread_mbox_url(url_base: str, message_id: str) -> str:
    """The whole thread as a gzipped mbox."""
    return message_url(url_base, message_id) + "t.mbox.gz"
