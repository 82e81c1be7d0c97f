"""Hit times: Matomo's reading of `cdt` / `cdo` (behaviour spec, section 2.4), and days.

Times are whole Unix seconds. A day is a calendar day ("YYYY-MM-DD") in the site's time zone, as
Matomo counts it (plugins/CoreHome/Tracker/VisitRequestProcessor.php wasLastActionNotToday,
core/Date.php): an IANA name ("Europe/Paris", read with zoneinfo) or a fixed offset in Matomo's
"UTC+5.5" form.
"""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo

TWENTY_YEARS = 20 * 365 * 86400
RECENT = 86400  # a cdt older than this needs a valid token

_NUMERIC = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*\Z")
_EPOCH_DAY: dict[str, int] = {}
_PARSED: dict[str, int | None] = {}
_DAYS: dict[int, str] = {}


def _epoch_of_date(ymd: str) -> int:
    e = _EPOCH_DAY.get(ymd)
    if e is None:
        d = dt.date(int(ymd[0:4]), int(ymd[5:7]), int(ymd[8:10]))
        e = (d - dt.date(1970, 1, 1)).days * 86400
        _EPOCH_DAY[ymd] = e
    return e


def parse_cdt(value) -> int | None:
    """The Unix time a `cdt` value names, or None when PHP's strtotime would fail."""
    t = type(value)
    if t is int:
        return value
    if t is float:
        return int(value)
    if t is bool or value is None:
        return None
    s = value if t is str else str(value)
    # Fast path: "YYYY-MM-DD HH:MM:SS", what importers send.
    if len(s) == 19 and s[4] == "-" and s[7] == "-" and s[10] == " " and s[13] == ":" and s[16] == ":":
        try:
            h, m, sec = int(s[11:13]), int(s[14:16]), int(s[17:19])
            if h < 24 and m < 60 and sec < 60:
                return _epoch_of_date(s) + h * 3600 + m * 60 + sec
        except ValueError:
            pass
    found = _PARSED.get(s, 0)
    if found != 0:
        return found
    if _NUMERIC.match(s):
        try:
            result = int(float(s))
        except (ValueError, OverflowError):
            result = None
    else:
        result = _strtotime(s.strip())
    if len(_PARSED) > 50_000:
        _PARSED.clear()
    _PARSED[s] = result
    return result


def _strtotime(s: str) -> int | None:
    """The subset of strtotime the endpoint understands: ISO 8601 dates and times (UTC when no
    offset is given)."""
    if not s:
        return None
    try:
        d = dt.datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return int(d.timestamp())


def hit_time(cdt, cdo, now: int) -> tuple[int, bool]:
    """Return (time, custom): the time of a hit and whether it came from a valid `cdt`/`cdo`.

    Like Matomo: `cdo` alone counts back from now; an unparsable, future or more than 20 years
    old time is ignored and the hit is recorded at `now`.
    """
    base = None
    if cdt not in (None, "", 0, "0"):
        base = parse_cdt(cdt)
        if base is None:
            return now, False
    offset = 0
    if cdo not in (None, "", 0, "0"):
        try:
            offset = abs(int(float(cdo)))
        except (TypeError, ValueError):
            offset = 0
        if base is None and offset:
            base = now
    if base is None:
        return now, False
    t = base - offset
    if t > now or t <= now - TWENTY_YEARS:
        return now, False
    return t, True


def day_of(t: int) -> str:
    """The UTC day of Unix time `t`, "YYYY-MM-DD" (memoised per day)."""
    k = t // 86400
    d = _DAYS.get(k)
    if d is None:
        d = (dt.date(1970, 1, 1) + dt.timedelta(days=k)).isoformat()
        _DAYS[k] = d
    return d


def format_time(t: int) -> str:
    """Unix time as Matomo writes datetimes: "YYYY-MM-DD HH:MM:SS" (UTC)."""
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


_UTC_OFFSET = re.compile(r"UTC([+-])(\d{1,2})(?:\.(5|75|25))?\Z")
_ZONES: dict[str, dt.tzinfo | None] = {}
QUARTER = 900  # every UTC offset in use is a multiple of 15 minutes


def zone(name: str) -> dt.tzinfo | None:
    """The tzinfo of a Matomo time zone name ("UTC", "Europe/Paris", "UTC+5.5", "UTC-3"), or None
    when the name is not one (core/Date.php adjustForTimezone, SitesManager's timezone check)."""
    found = _ZONES.get(name, False)
    if found is not False:
        return found
    tz = None
    if name in ("UTC", ""):
        tz = dt.timezone.utc
    else:
        m = _UTC_OFFSET.match(name)
        if m:
            minutes = int(m.group(2)) * 60 + {None: 0, "25": 15, "5": 30, "75": 45}[m.group(3)]
            if minutes <= 14 * 60:
                tz = dt.timezone(dt.timedelta(minutes=minutes if m.group(1) == "+" else -minutes))
        else:
            try:
                tz = zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                tz = None
    _ZONES[name] = tz
    return tz


class LocalDays:
    """Days of Unix times in one time zone, memoised per quarter hour (local midnights fall on
    quarter hours)."""

    __slots__ = ("tz", "_memo")

    def __init__(self, tz: dt.tzinfo):
        self.tz = tz
        self._memo: dict[int, str] = {}

    def __call__(self, t: int) -> str:
        q = t // QUARTER
        d = self._memo.get(q)
        if d is None:
            d = dt.datetime.fromtimestamp(q * QUARTER, self.tz).date().isoformat()
            if len(self._memo) > 100_000:
                self._memo.clear()
            self._memo[q] = d
        return d

    def bounds(self, day: str) -> tuple[int, int]:
        """[start, end) of `day` in Unix seconds."""
        d = dt.date.fromisoformat(day)
        start = dt.datetime(d.year, d.month, d.day, tzinfo=self.tz)
        end = start + dt.timedelta(days=1)
        if isinstance(self.tz, zoneinfo.ZoneInfo):  # wall-clock arithmetic across DST
            end = dt.datetime(end.year, end.month, end.day, tzinfo=self.tz)
        return int(start.timestamp()), int(end.timestamp())

    def local_time(self, t: int) -> str:
        """"YYYY-MM-DD HH:MM:SS" of `t` in this zone."""
        return dt.datetime.fromtimestamp(t, self.tz).strftime("%Y-%m-%d %H:%M:%S")
