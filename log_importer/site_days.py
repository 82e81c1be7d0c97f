"""Site days: which site-local days a batch's hits fall on, for Matomo's per-day fingerprint salt.

Matomo keys the salt by site and by the day of the hit's time in the site's time zone
(`core/Tracker/FingerprintSalt.php` getDateString: `$date->setTimezone($timezone)->toString()`).
The chunk stage marks, per sender partition, the first hit of each site and UTC ten-minute bucket
("YYYY-MM-DD HH:M", the first 15 characters of `cdt`): a site's midnight falls on a bucket's
edge for every time zone whose offset is a whole or half hour. A bucket that holds a site's
midnight (offsets of :15 and :45, such as Asia/Kathmandu) counts for both days.

Time zones are Matomo's names: IANA ("Europe/Paris", through zoneinfo) or "UTC", "UTC+5.5",
"UTC-3" (`core/Site.php`, SitesManager's manual UTC offsets). An unknown name counts as UTC.
"""
from __future__ import annotations

import datetime as dt
import logging
import re

log = logging.getLogger("log_importer")

BUCKET = dt.timedelta(minutes=10)
_MANUAL_OFFSET = re.compile(r"^UTC([+-]\d+(?:\.\d+)?)?$")


def zone(name: str | None) -> dt.tzinfo:
    """The tzinfo of a Matomo time zone name; UTC for None or an unknown name."""
    if not name:
        return dt.timezone.utc
    m = _MANUAL_OFFSET.match(name.strip())
    if m:
        hours = float(m.group(1) or 0)
        return dt.timezone(dt.timedelta(minutes=round(hours * 60)))
    try:
        from zoneinfo import ZoneInfo
        return ZoneInfo(name.strip())
    except (ImportError, ValueError, OSError, KeyError) as e:
        log.debug("unknown time zone %r (%s): days are counted in UTC for it", name, e)
        return dt.timezone.utc


class SiteDays:
    """(idsite, UTC bucket) -> the (idsite, "YYYY-MM-DD") site-local days it covers.

    `timezone_of(idsite)` gives the site's Matomo time zone name (or None); it is asked once per
    site. Results are memoised (a few entries per site and hour of log).
    """

    def __init__(self, timezone_of):
        self.timezone_of = timezone_of
        self._zones: dict = {}
        self._memo: dict = {}

    def keys(self, firsts) -> frozenset:
        """The (idsite, day) keys of a batch's `firsts`: (idsite, bucket) pairs."""
        out = set()
        for key in firsts:
            days = self._memo.get(key)
            if days is None:
                days = self._memo[key] = self._days(*key)
            out.update(days)
        return frozenset(out)

    def _days(self, idsite, bucket: str) -> tuple:
        tz = self._zones.get(idsite)
        if tz is None:
            tz = self._zones[idsite] = zone(self.timezone_of(idsite))
        try:
            start = dt.datetime.strptime(bucket + "0", "%Y-%m-%d %H:%M").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            return ((idsite, bucket[:10]),)
        first = start.astimezone(tz).date().isoformat()
        last = (start + BUCKET - dt.timedelta(seconds=1)).astimezone(tz).date().isoformat()
        return ((idsite, first),) if first == last else ((idsite, first), (idsite, last))
