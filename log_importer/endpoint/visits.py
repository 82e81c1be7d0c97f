"""Visits as Matomo builds them with its default configuration (behaviour spec, section 4).

Visitor identity: `uid` (its sha1, 16 hex), else `cid`, else `_id` (16+ chars), else a
fingerprint of site + IP + user agent. Lookup:
  - `cid`: the visitor's latest visit whose last action is at most 30 min after the hit;
  - `uid` / `_id`: by visitor id, then by fingerprint, last action within ±30 min of the hit;
  - fingerprint only: last action within ±30 min and on the same UTC day (Matomo's daily salt).
A new visit starts when nothing is found, with `new_visit=1`, after 30 minutes without an action
(last action <= t - 1800), on another UTC day, or when the found visit has 10,000 actions.

The state lives in memory (loaded from the db at start) and is changed per bulk request with an
undo log, so that a rolled-back batch leaves it exactly as it was.
"""
from __future__ import annotations

import hashlib

VISIT_STANDARD_LENGTH = 1800
MAX_ACTIONS_PER_VISIT = 10_000

# How the visitor was identified.
BY_FINGERPRINT = 0
BY_CID = 1
BY_UID = 2
BY_COOKIE = 3  # _id


class Visit:
    __slots__ = ("idvisit", "idsite", "idvisitor", "config_id", "user_id", "first", "last", "day",
                 "actions", "total_time", "ip", "ua", "referer", "entry_url", "exit_url")

    FIELDS = __slots__

    def row(self) -> tuple:
        return (self.idvisit, self.idsite, self.idvisitor, self.config_id, self.user_id,
                self.first, self.last, self.day, self.actions, self.total_time, self.ip, self.ua,
                self.referer, self.entry_url, self.exit_url)

    @classmethod
    def from_row(cls, row) -> "Visit":
        v = cls()
        for name, value in zip(cls.FIELDS, row):
            setattr(v, name, value)
        return v

    def snapshot(self) -> tuple:
        return (self.last, self.actions, self.total_time, self.exit_url, self.entry_url)

    def restore(self, snap: tuple) -> None:
        self.last, self.actions, self.total_time, self.exit_url, self.entry_url = snap


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


class Visits:
    def __init__(self, next_id: int = 1):
        self.by_visitor: dict[tuple, Visit] = {}  # (idsite, idvisitor) -> latest visit
        self.by_config: dict[tuple, Visit] = {}   # (idsite, ip, ua) -> latest visit
        self.next_id = next_id
        self._touched: dict[int, tuple] = {}      # idvisit -> (visit, snapshot | None if new)
        self._undo: list[tuple] = []
        self._saved_next_id = next_id
        self.dirty: dict[int, Visit] = {}         # committed, not yet written to the db

    def load(self, visits) -> None:
        """Index visits read from the db (oldest first, so the latest one wins)."""
        for v in visits:
            self.by_visitor[(v.idsite, v.idvisitor)] = v
            self.by_config[(v.idsite, v.ip, v.ua)] = v
            self.next_id = max(self.next_id, v.idvisit + 1)

    # Batch bracket ---------------------------------------------------------------------------
    def begin(self) -> None:
        self._touched = {}
        self._undo = []
        self._saved_next_id = self.next_id

    def rollback(self) -> None:
        for index, key, old in reversed(self._undo):
            if old is None:
                index.pop(key, None)
            else:
                index[key] = old
        for visit, snap in self._touched.values():
            if snap is not None:
                visit.restore(snap)
        self.next_id = self._saved_next_id
        self._touched = {}
        self._undo = []

    def commit(self) -> None:
        """Keep the changes since `begin()`; the visits changed are now `dirty`."""
        dirty = self.dirty
        for v, _ in self._touched.values():
            dirty[v.idvisit] = v
        self._touched = {}
        self._undo = []

    def dirty_rows(self) -> list[tuple]:
        """The rows of the committed visits not yet written (call `written()` once they are)."""
        return [v.row() for v in self.dirty.values()]

    def written(self) -> None:
        self.dirty = {}

    # Lookup and update -----------------------------------------------------------------------
    def find(self, idsite: int, t: int, day: str, idvisitor: str | None, how: int,
             ip: str, ua: str, uid: str | None) -> Visit | None:
        lo, hi = t - VISIT_STANDARD_LENGTH, t + VISIT_STANDARD_LENGTH
        found = None
        if how == BY_CID:
            v = self.by_visitor.get((idsite, idvisitor))
            if v is not None and v.last <= hi:
                found = v
        else:
            if how != BY_FINGERPRINT:
                v = self.by_visitor.get((idsite, idvisitor))
                if v is not None and lo <= v.last <= hi:
                    found = v
            if found is None:
                v = self.by_config.get((idsite, ip, ua))
                if (v is not None and lo <= v.last <= hi and v.day == day
                        and (uid is None or v.user_id is None or v.user_id == uid)):
                    found = v
        if found is not None and found.actions >= MAX_ACTIONS_PER_VISIT:
            return None
        return found

    def _index(self, index: dict, key, visit: Visit) -> None:
        old = index.get(key)
        if old is not visit:
            self._undo.append((index, key, old))
            index[key] = visit

    def _touch(self, v: Visit) -> None:
        if v.idvisit not in self._touched:
            self._touched[v.idvisit] = (v, v.snapshot())

    def track(self, idsite: int, t: int, day: str, idvisitor: str | None, how: int, ip: str,
              ua: str, uid: str | None, new_visit: bool, ping: bool, counted: int,
              url: str | None, referer: str | None) -> Visit | None:
        """Record one hit on its visit (a new one when Matomo would start one) and return the
        visit; None for a ping that would have started a visit (Matomo drops it)."""
        found = self.find(idsite, t, day, idvisitor, how, ip, ua, uid)
        if (found is None or new_visit or found.last <= t - VISIT_STANDARD_LENGTH
                or found.day != day):
            if ping:
                return None
            v = Visit()
            v.idvisit = self.next_id
            self.next_id += 1
            if idvisitor is None:
                idvisitor = found.idvisitor if found is not None else fingerprint(idsite, ip, ua)
            v.idsite = idsite
            v.idvisitor = idvisitor
            v.config_id = fingerprint(idsite, ip, ua)
            v.user_id = uid
            v.first = v.last = t
            v.day = day
            v.actions = counted
            v.total_time = 0
            v.ip = ip
            v.ua = ua
            v.referer = referer
            v.entry_url = url
            v.exit_url = url
            self._touched[v.idvisit] = (v, None)
        else:
            v = found
            self._touch(v)
            v.total_time = max(0, 1 + t - v.first)
            if not ping:
                if t > v.last:
                    v.last = t
                v.actions += counted
                if url:
                    v.exit_url = url
                    if v.entry_url is None:
                        v.entry_url = url
        self._index(self.by_visitor, (idsite, v.idvisitor), v)
        self._index(self.by_config, (idsite, ip, ua), v)
        return v
