"""Date header parsing that distrusts its input (bogus offsets, years 0 or 9999, junk)."""

from __future__ import annotations

import calendar
import re
from email.utils import parsedate_tz

# Real mail has offsets within ±14:00; "+1600" and the like are typos of broken clients.
MAX_OFFSET_MIN = 14 * 60
# Before the first public mailing list archives or far in the future: a broken clock.
MIN_UNIX = 0  # 1970
MAX_UNIX = 4102444800  # 2100-01-01
# A year of 3+ digits is meant as written: parsedate_tz would read "0000" as 2000.
_LONG_YEAR_RE = re.compile(r"(?<![\d+-])\d{3,}(?!\d)")


def parse_date_header(value: str) -> tuple[int, int] | None:
    """(UTC unix time, offset in minutes) of an RFC 5322 date, or None when unusable.

    An impossible offset is treated as +0000 (the clock time is usually right, the zone
    is junk) rather than shifting the mail by a day.
    """
    year = _LONG_YEAR_RE.search(value)
    if year is not None and len(year.group().lstrip("0")) <= 2:
        return None  # year 0..99 written in full: no mail was sent then
    try:
        parts = parsedate_tz(value)
    except (ValueError, IndexError, TypeError, OverflowError):
        return None
    if parts is None:
        return None
    offset_s = parts[9] or 0
    if abs(offset_s) > MAX_OFFSET_MIN * 60:
        offset_s = 0
    try:
        local = calendar.timegm(
            (parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], 0, 1, 0)
        )
    except (ValueError, OverflowError, TypeError):
        return None
    utc = local - offset_s
    if not MIN_UNIX <= utc < MAX_UNIX:
        return None
    return utc, offset_s // 60
