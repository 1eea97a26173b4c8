"""Report windows: ISO weeks or explicit dates, in the report's time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lore_digest.errors import UsageError

_WEEK_RE = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
MAX_RANGE_WEEKS = 2000  # ~38 years: more than any list has; a longer range is a typo


@dataclass(frozen=True, slots=True)
class Window:
    """[start, end) in a time zone; `label` names it in file names ("2022-W19")."""

    start: datetime
    end: datetime
    label: str

    @property
    def start_utc(self) -> int:
        """Start as a Unix time."""
        return int(self.start.timestamp())

    @property
    def end_utc(self) -> int:
        """End (exclusive) as a Unix time."""
        return int(self.end.timestamp())

    @property
    def tz_name(self) -> str:
        """IANA name of the window's zone."""
        return str(self.start.tzinfo)


def get_zone(name: str) -> ZoneInfo:
    """An IANA time zone; a typo becomes a clear error, not a traceback."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(
            f"unknown time zone {name!r} (use an IANA name like Asia/Shanghai)"
        ) from exc


def iso_week_window(week: str, tz: str = "UTC") -> Window:
    """Monday 00:00 to the next Monday 00:00 of ISO week `YYYY-Www` in zone `tz`."""
    match = _WEEK_RE.match(week.strip())
    if not match:
        raise UsageError(f"bad week {week!r}: expected an ISO week like 2022-W19")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError as exc:
        raise UsageError(f"bad week {week!r}: {year} has no week {number}") from exc
    zone = get_zone(tz)
    try:
        start = datetime.combine(monday, datetime.min.time(), tzinfo=zone)
        end = datetime.combine(monday + timedelta(days=7), datetime.min.time(), tzinfo=zone)
        int(end.timestamp())
    except (OverflowError, ValueError, OSError):
        raise UsageError(f"week {week!r} is out of range (the calendar ends in 9999)") from None
    return Window(start, end, f"{year:04d}-W{number:02d}")


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise UsageError(f"bad date {value!r}: {exc} (expected YYYY-MM-DD)") from None


def date_window(since: str, until: str, tz: str = "UTC") -> Window:
    """From `since` 00:00 to the end of `until` (both YYYY-MM-DD, inclusive) in zone `tz`."""
    first, last = _date(since), _date(until)
    if last < first:
        raise UsageError(f"--until {until} is before --since {since}")
    zone = get_zone(tz)
    try:
        start = datetime.combine(first, datetime.min.time(), tzinfo=zone)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        int(start.timestamp()) + int(end.timestamp())
    except (OverflowError, ValueError, OSError):
        raise UsageError(
            f"dates {since}..{until} are out of range (the calendar ends on 9999-12-30)"
        ) from None
    return Window(start, end, f"{first.isoformat()}_{last.isoformat()}")


def last_complete_week(now: datetime, tz: str = "UTC") -> Window:
    """The most recent ISO week that has fully ended at `now` in zone `tz`."""
    local = now.astimezone(get_zone(tz))
    previous = local.date() - timedelta(days=7)
    year, number, _ = previous.isocalendar()
    return iso_week_window(f"{year}-W{number:02d}", tz)


def week_window_of(moment: datetime, tz: str = "UTC") -> Window:
    """The ISO week (in zone `tz`) that contains `moment`."""
    return iso_week_window(week_of(moment, tz), tz)


def week_labels(spec: str) -> list[str]:
    """ "2022-W18,2022-W19" or a range "2022-W10..2022-W19" → normalised labels, in order.

    Raises UsageError for a bad label, a range that runs backwards, or no week at all.
    """
    labels: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if ".." in part:
            first, _, last = part.partition("..")
            if not first.strip() or not last.strip():
                raise UsageError(
                    f"bad week range {part!r}: expected FIRST..LAST, e.g. 2022-W10..2022-W19"
                )
            start, end = iso_week_window(first), iso_week_window(last)
            if end.start < start.start:
                raise UsageError(f"week range {part!r} runs backwards")
            if (end.start - start.start).days // 7 >= MAX_RANGE_WEEKS:
                raise UsageError(
                    f"week range {part!r} covers more than {MAX_RANGE_WEEKS} weeks: a typo?"
                )
            day = start.start
            while day <= end.start:
                labels.append(week_of(day))
                day += timedelta(days=7)
        else:
            labels.append(iso_week_window(part).label)
    if not labels:
        raise UsageError(f"no week in {spec!r}: expected e.g. 2022-W19 or 2022-W18,2022-W19")
    return list(dict.fromkeys(labels))


def week_of(moment: datetime, tz: str = "UTC") -> str:
    """ISO week label (YYYY-Www) containing `moment` in zone `tz`."""
    year, number, _ = moment.astimezone(get_zone(tz)).date().isocalendar()
    return f"{year}-W{number:02d}"


def weeks_between(since: str, until: str) -> list[str]:
    """ISO week labels covering the calendar dates since..until, inclusive (a calendar
    day is in the same ISO week in every zone; the Digest places the weeks in its zone)."""
    window = date_window(since, until)
    labels: list[str] = []
    day = window.start
    while day < window.end:
        label = week_of(day)
        if label not in labels:
            labels.append(label)
        day += timedelta(days=1)
    return labels
