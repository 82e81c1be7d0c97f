"""The time options: --log-timezone and the dates of --exclude-older-than/--exclude-newer-than.

Read once, before the import (never on the hot path): zones through `zoneinfo` (the system's zone
database, or the `tzdata` package where there is none), dates through `python-dateutil`.
"""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from dateutil import parser as date_parser

_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
          "d": 86400, "day": 86400, "w": 604800, "week": 604800}
_RELATIVE = re.compile(r"\s*(\d+)\s*([a-z]+?)s?(?:\s+ago)?\s*", re.I)


def zone(name: str | None):
    """The tzinfo of an IANA zone name ("Europe/Paris"), or None for None. ValueError with a
    message for a name that is not a zone."""
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown time zone %r: give an IANA name such as Europe/Paris, "
                         "America/New_York or UTC" % name) from None


def utc_bound(text: str, zone_name: str | None = None, now: dt.datetime | None = None) -> str:
    """A date option as UTC "YYYY-MM-DD HH:MM:SS" (what the chunk stage compares `cdt` with).

    Accepted: a date with an offset ('2026-03-01 10:00:00 +0100', ISO 8601 with Z or an offset);
    a date without one, read in `zone_name` (--log-timezone; UTC without it), a day alone being
    its midnight; `today`, `yesterday` (midnight in that zone), `now`; and an age before `now`:
    `90s`, `15min`, `2h`, `2d`, `1w`, `3 days ago`. ValueError with a message otherwise.
    """
    tz = zone(zone_name) or dt.timezone.utc
    now = now or dt.datetime.now(dt.timezone.utc)
    word = text.strip().lower()
    m = _RELATIVE.fullmatch(word)
    if m and m.group(2).lower() in _UNITS:
        moment = now - dt.timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2).lower()])
    elif word in ("now", "today", "yesterday"):
        local = now.astimezone(tz)
        moment = local
        if word != "now":
            day = local.date() - dt.timedelta(days=1 if word == "yesterday" else 0)
            moment = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
    else:
        try:
            moment = date_parser.parse(text, default=dt.datetime(now.year, 1, 1))
        except (ValueError, OverflowError):
            raise ValueError("invalid date %r: expected 'YYYY-MM-DD hh:mm:ss' (with an offset such as +0100, "
                             "or in --log-timezone), today, yesterday, or an age such as 2d or 12h" % text) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
