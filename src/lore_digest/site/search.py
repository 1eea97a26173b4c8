"""The client-side search index: thread titles, authors and series, with their weeks.

Written twice: `search-index.json` for tools and served sites, and `search-index.js`
(the same data assigned to a global) because browsers block fetch() from file:// pages
while still loading a <script src> next to the page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

GLOBAL = "LORE_DIGEST_SEARCH"


def search_index(list_name: str, digests: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One entry per thread (by anchor), listing every week it has mail in, newest last."""
    weeks = sorted(digests)
    position = {label: i for i, label in enumerate(weeks)}
    entries: dict[str, dict[str, Any]] = {}
    for label in weeks:
        for thread in digests[label]["thread_list"]:
            entry = entries.setdefault(
                thread["anchor"],
                {"k": thread["anchor"], "t": thread["subject"], "a": [], "s": "", "w": []},
            )
            entry["t"] = thread["subject"]
            entry["a"] = list(dict.fromkeys([*entry["a"], *thread["authors"]]))[:8]
            entry["s"] = thread["slug"] or entry["s"]
            entry["w"].append(position[label])
    return {"list": list_name, "weeks": weeks, "entries": list(entries.values())}


def index_json(index: Mapping[str, Any]) -> str:
    """The index as JSON (UTF-8, compact)."""
    return json.dumps(index, ensure_ascii=False, separators=(",", ":")) + "\n"


def index_script(index: Mapping[str, Any]) -> str:
    """The index as a script assigning a global; ASCII-only so no character can end it."""
    data = json.dumps(index, ensure_ascii=True, separators=(",", ":"))
    # ensure_ascii leaves "<" alone; escape it so "</script>" in a subject stays inert
    # even if someone inlines this file into a page.
    data = data.replace("<", "\\u003c")
    return f"window.{GLOBAL} = {data};\n"
