"""The site's Atom feed (feedgen): one entry per weekly report.

Links are relative (resolved against the feed's own URL, as Atom allows), so the feed
works wherever the site is published. Ids are URNs of list and week, stable across
rebuilds; an entry's `updated` is the date of the week's last mail, so feed readers show
a week again when new mail of that week arrived, not when the site was rebuilt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from feedgen.feed import FeedGenerator
from markupsafe import escape

from lore_digest.report.labels import LABELS
from lore_digest.site.render import SITE_LABELS
from lore_digest.vocabulary import format_counted, lang_suffix, report_stem

ENTRY_THREADS = 10
# XML 1.0 forbids these; lxml refuses to serialise them, and mail subjects can hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: object) -> str:
    """Text with the characters XML cannot carry removed."""
    return _NOT_XML.sub("", str(text))


def render_feed(
    list_name: str,
    lang: str,
    digests: Mapping[str, Mapping[str, Any]],
    updated: Mapping[str, datetime],
    other_langs: Sequence[str] = (),
) -> str:
    """Atom XML of every week in `digests` (newest first); `updated[label]` per entry."""
    labels, site = LABELS[lang], SITE_LABELS[lang]
    fg = FeedGenerator()
    fg.id(f"urn:lore-digest:{xml_text(list_name)}")
    fg.title(xml_text(f"{list_name} · lore-digest"))
    fg.subtitle(xml_text(site["archive_title"].format(list=list_name.upper())))
    fg.link(href=f"index{lang_suffix(lang)}.html", rel="alternate", type="text/html")
    fg.link(href="feed.atom", rel="self", type="application/atom+xml")
    fg.language(lang)
    fg.generator("lore-digest")
    if updated:
        fg.updated(max(updated.values()))
    for label in sorted(digests):
        digest = digests[label]
        entry = fg.add_entry(order="prepend")
        page = f"{report_stem(list_name, label, lang)}.html"
        entry.id(f"urn:lore-digest:{xml_text(list_name)}:{label}")
        entry.title(xml_text(labels["title"].format(list=list_name.upper(), label=label)))
        entry.link(href=page, rel="alternate", type="text/html")
        for other in other_langs:
            entry.link(
                href=f"{report_stem(list_name, label, other)}.html",
                rel="alternate",
                type="text/html",
                hreflang=other,
            )
        entry.updated(updated[label])
        entry.published(datetime.fromisoformat(str(digest["end"])))
        threads = sorted(digest["thread_list"], key=lambda t: -int(t["mails"]))[:ENTRY_THREADS]
        items = "".join(
            f"<li>{escape(xml_text(t['subject']))} ({int(t['mails'])})</li>" for t in threads
        )
        figures = format_counted(
            site["week_figures"], messages=int(digest["messages"]), threads=int(digest["threads"])
        )
        entry.content(f"<p>{escape(figures)}</p><ul>{items}</ul>", type="html")
    return fg.atom_str(pretty=True).decode("utf-8")
