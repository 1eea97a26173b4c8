"""The commit titles a `git request-pull` mail lists in its shortlog.

A maintainer who sends a pull request without its patches still names every commit it
carries, under "Marc Zyngier (3):" lines; those titles are what a posted patch is
matched against when nobody answered it with "applied".
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["shortlog_titles"]

_DASHES: Final = re.compile(r"^-{30,}\s*$")
_SHORTLOG_AUTHOR: Final = re.compile(r"^\S.*\(\d+\):\s*$")
_DIFFSTAT_END: Final = re.compile(r"^\s*\d+ files? changed")
_SHORTLOG_ENTRY: Final = re.compile(r"^ {4,}(\S.*?)\s*$")


def shortlog_titles(text: str) -> list[str]:
    """Commit titles of git request-pull's shortlog ("Marc Zyngier (3):" then titles).

    The shortlog follows the last dashed line (a signed tag's message sits between the
    first two) and ends at the diffstat.
    """
    lines = text.split("\n")
    dashes = [i for i, line in enumerate(lines) if _DASHES.match(line)]
    if not dashes:
        return []
    titles: list[str] = []
    author = False
    for line in lines[dashes[-1] + 1 :]:
        if " | " in line or _DIFFSTAT_END.match(line):
            break
        if _SHORTLOG_AUTHOR.match(line):
            author = True
            continue
        entry = _SHORTLOG_ENTRY.match(line)
        if author and entry:
            titles.append(entry.group(1))
    return titles
