"""Visits, as Matomo builds them with its default configuration (behaviour spec, section 4).

Visitor identity (core/Tracker/Request.php getVisitorId): `uid` (its sha1, 16 hex), else `cid`,
else `_id` (16+ chars), else a fingerprint of site + IP + user agent standing for Matomo's
config id. Lookup (core/Tracker/VisitorRecognizer.php, core/Tracker/Model.php: the visit with
the latest last action among those that match, so a hit sent out of time order finds the visit
it belongs to):
  - `cid`: the visitor's visits whose last action is at most 30 min after the hit;
  - `uid` / `_id`: by visitor id, then by fingerprint (a fingerprinted visit matches a `uid`
    when it has no user id or the same one), last action within 30 min of the hit either way;
  - fingerprint only: last action within 30 min of the hit, on the same site-local day
    (Matomo's config id has a per-site, per-day salt: core/Tracker/FingerprintSalt.php).
A found visit with 10,000 actions counts as not found. A new visit starts
(plugins/CoreHome/Tracker/VisitRequestProcessor.php isVisitNew) when nothing is found, with
`new_visit=1`, when the last action is 30 minutes or more before the hit, when the hit is on
another day than the visit in the site's time zone (create_new_visit_after_midnight), or when
the hit names another campaign (create_new_visit_when_campaign_changes,
plugins/Referrers/Columns/Campaign.php). An existing visit takes the hit's user id and visitor
id (core/Tracker/Visit.php setIdVisitorForExistingVisit, plugins/CoreHome/Columns/UserId.php);
its last action time never moves back (VisitLastActionTime.php) and its total time is
1 + hit time - first action time, never below 0 (VisitTotalTime.php).

The state lives in memory (loaded from the db at start) and is changed per bulk request with an
undo log, so that a rolled-back batch leaves it exactly as it was.
"""
from __future__ import annotations

import hashlib
from operator import attrgetter

VISIT_STANDARD_LENGTH = 1800
MAX_ACTIONS_PER_VISIT = 10_000

# How the visitor was identified.
BY_FINGERPRINT = 0
BY_CID = 1
BY_UID = 2
BY_COOKIE = 3  # _id


class Visit:
    """One visit (Matomo's log_visit row). Dict-valued fields are replaced, never changed in
    place, so that a snapshot restores them."""

    __slots__ = (
        "idvisit", "idsite", "idvisitor", "config_id", "user_id", "first", "last", "day",
        "actions", "total_time", "ip", "ua", "referer", "entry_url", "exit_url",
        "referer_type", "referer_name", "referer_keyword", "entry_name", "exit_name",
        "pageviews", "searches", "events", "interactions", "goals", "buyer",
        "visit_count", "returning", "since_first", "since_last", "since_order",
        "resolution", "language", "local_time", "plugins",
        "country", "region", "city", "latitude", "longitude",
        "custom_variables", "dimensions")

    FIELDS = __slots__
    # What a later request of the visit may change (the undo log keeps these).
    MUTABLE = ("idvisitor", "user_id", "last", "actions", "total_time", "entry_url", "exit_url",
               "entry_name", "exit_name", "pageviews", "searches", "events", "interactions",
               "goals", "buyer", "custom_variables", "dimensions")

    def row(self) -> tuple:
        """The `visit` row, in FIELDS order."""
        return _ROW(self)

    def snapshot(self) -> tuple:
        return _SNAPSHOT(self)

    @classmethod
    def from_row(cls, row) -> "Visit":
        v = cls()
        for name, value in zip(cls.FIELDS, row):
            setattr(v, name, value)
        return v

    def restore(self, snap: tuple) -> None:
        for name, value in zip(self.MUTABLE, snap):
            setattr(self, name, value)


_ROW = attrgetter(*Visit.FIELDS)
_SNAPSHOT = attrgetter(*Visit.MUTABLE)
_fingerprints: dict[tuple, str] = {}


def fingerprint(idsite: int, ip: str, ua: str) -> str:
    """16 hex chars standing for Matomo's config id (site + IP + user agent)."""
    key = (idsite, ip, ua)
    f = _fingerprints.get(key)
    if f is None:
        f = hashlib.sha1(("%d\n%s\n%s" % key).encode("utf-8", "surrogatepass")).hexdigest()[:16]
        if len(_fingerprints) > 200_000:
            _fingerprints.clear()
        _fingerprints[key] = f
    return f


def uid_visitor_id(uid: str) -> str:
    return hashlib.sha1(uid.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _latest(visits: list | None, lo: int | None, hi: int, day: str | None = None,
            uid: str | None = None) -> Visit | None:
    """The visit of `visits` with the latest last action in [lo, hi] (no lower bound when `lo`
    is None), on `day` when given, and without another user id than `uid` when given."""
    best = None
    if visits:
        for v in visits:
            last = v.last
            if last > hi or (lo is not None and last < lo):
                continue
            if day is not None and v.day != day:
                continue
            if uid is not None and v.user_id is not None and v.user_id != uid:
                continue
            if best is None or last > best.last:
                best = v
    return best


class Visits:
    def __init__(self, next_id: int = 1):
        self.by_visitor: dict[tuple, list] = {}  # (idsite, idvisitor) -> visits
        self.by_config: dict[tuple, list] = {}   # (idsite, ip, ua) -> visits
        self.next_id = next_id
        self._touched: dict[int, tuple] = {}     # idvisit -> (visit, snapshot | None if new)
        self._saved: dict[tuple, tuple] = {}     # (index id, key) -> (index, key, old list)
        self._saved_next_id = next_id
        self.dirty: dict[int, Visit] = {}        # committed, not yet written to the db

    def load(self, visits) -> None:
        """Index visits read from the db."""
        for v in visits:
            self.by_visitor.setdefault((v.idsite, v.idvisitor), []).append(v)
            self.by_config.setdefault((v.idsite, v.ip, v.ua), []).append(v)
            self.next_id = max(self.next_id, v.idvisit + 1)

    # Batch bracket ---------------------------------------------------------------------------
    def begin(self) -> None:
        self._touched = {}
        self._saved = {}
        self._saved_next_id = self.next_id

    def rollback(self) -> None:
        for index, key, old in self._saved.values():
            if old is None:
                index.pop(key, None)
            else:
                index[key] = old
        for visit, snap in self._touched.values():
            if snap is not None:
                visit.restore(snap)
        self.next_id = self._saved_next_id
        self._touched = {}
        self._saved = {}

    def commit(self) -> None:
        """Keep the changes since `begin()`; the visits changed are now `dirty`."""
        dirty = self.dirty
        for v, _ in self._touched.values():
            dirty[v.idvisit] = v
        self._touched = {}
        self._saved = {}

    def dirty_rows(self) -> list[tuple]:
        """The rows of the committed visits not yet written (call `written()` once they are)."""
        return [_ROW(v) for v in self.dirty.values()]

    def written(self) -> None:
        self.dirty = {}

    # Lookup and update -----------------------------------------------------------------------
    def find(self, idsite: int, t: int, day: str, idvisitor: str | None, how: int,
             ip: str, ua: str, uid: str | None) -> Visit | None:
        """The visit Matomo's VisitorRecognizer finds for a hit at `t`, or None."""
        lo, hi = t - VISIT_STANDARD_LENGTH, t + VISIT_STANDARD_LENGTH
        if how == BY_CID:
            found = _latest(self.by_visitor.get((idsite, idvisitor)), None, hi)
        else:
            found = None
            if how != BY_FINGERPRINT:
                found = _latest(self.by_visitor.get((idsite, idvisitor)), lo, hi)
            if found is None:
                found = _latest(self.by_config.get((idsite, ip, ua)), lo, hi, day, uid or None)
        if found is not None and found.actions >= MAX_ACTIONS_PER_VISIT:
            return None
        return found

    def _add(self, index: dict, key, visit: Visit) -> None:
        visits = index.get(key)
        if visits and (visits[-1] is visit or visit in visits):  # [] once _remove took its last
            return
        skey = (id(index), key)
        if skey not in self._saved:
            self._saved[skey] = (index, key, list(visits) if visits is not None else None)
        if visits is None:
            index[key] = [visit]
        else:
            visits.append(visit)

    def _remove(self, index: dict, key, visit: Visit) -> None:
        visits = index.get(key)
        if visits is None or visit not in visits:
            return
        skey = (id(index), key)
        if skey not in self._saved:
            self._saved[skey] = (index, key, list(visits))
        visits.remove(visit)

    def touch(self, v: Visit) -> None:
        """Remember `v` as it is now, before the batch changes it."""
        if v.idvisit not in self._touched:
            self._touched[v.idvisit] = (v, v.snapshot())

    def create(self, idsite: int, t: int, day: str, idvisitor: str, ip: str, ua: str,
               uid: str | None) -> Visit:
        """A new visit (the caller fills in what the first request says)."""
        v = Visit()
        for name in Visit.__slots__:
            setattr(v, name, None)
        v.idvisit = self.next_id
        self.next_id += 1
        v.idsite = idsite
        v.idvisitor = idvisitor
        v.config_id = fingerprint(idsite, ip, ua)
        v.user_id = uid
        v.first = v.last = t
        v.day = day
        v.actions = v.total_time = v.pageviews = v.searches = v.events = v.interactions = 0
        v.goals = ""  # the ids of the goals converted, comma separated
        v.buyer = 0
        v.ip = ip
        v.ua = ua
        self._touched[v.idvisit] = (v, None)
        self._add(self.by_visitor, (idsite, idvisitor), v)
        self._add(self.by_config, (idsite, ip, ua), v)
        return v

    def join(self, v: Visit, t: int, ip: str, ua: str, idvisitor: str | None,
             uid: str | None, ping: bool) -> None:
        """Record a hit at `t` on the existing visit `v` (its actions are counted by the
        caller): user id and visitor id from the hit, last action and total time."""
        self.touch(v)
        if uid:
            v.user_id = uid
        if idvisitor is not None and idvisitor != v.idvisitor:
            self._remove(self.by_visitor, (v.idsite, v.idvisitor), v)
            v.idvisitor = idvisitor
            self._add(self.by_visitor, (v.idsite, idvisitor), v)
        v.total_time = max(0, 1 + t - v.first)
        if not ping and t > v.last:
            v.last = t
        self._add(self.by_config, (v.idsite, ip, ua), v)
