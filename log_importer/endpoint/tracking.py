"""The Tracking HTTP API: single GET/POST hits and bulk JSON requests (behaviour spec §1, §2).

`Tracker.bulk()` and `Tracker.single()` return a `Reply` (status, headers, body); the HTTP layer
only sends it. Each request is checked in Matomo's order:
  1. idsite: an int > 0 of an existing site, else invalid (even without `rec`);
  2. `country/region/city/lat/long`, a `cdt` older than 24 h, and `cip` need a token with write
     access to the site (or the super user's), else invalid;
  3. no `rec`, or a bot user agent (Matomo's rule: Device Detector's bots.yml) without
     `bots=1`: counted as tracked, not stored;
  4. `cid` of another length than 16, whitespace-only `e_c`/`e_a`/`c_n`, an unknown `idgoal`,
     a duplicate `ec_id`, a negative `pf_*`: invalid;
  5. `ca=1` that matches no action: a fatal error, the whole bulk request is rolled back (500).
A valid request is recorded on its visit (see visits.py); `ping=1` only updates an open visit.
"""
from __future__ import annotations

import base64
import json
import time

import orjson

from log_importer.bots import matomo_is_bot

from . import actions as A
from .actions import FatalRequest, InvalidRequest, as_int, as_str, cleanup
from .querystring import parse_query
from .timestamps import RECENT, day_of, format_time, hit_time
from .visits import BY_CID, BY_COOKIE, BY_FINGERPRINT, BY_UID, uid_visitor_id

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAAAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
MATOMO_TEXT = (
    "This resource is part of Matomo. Keep full control of your data with the leading free and "
    "open source <a href='https://matomo.org' target='_blank' rel='noopener noreferrer nofollow'>"
    "web analytics & conversion optimisation platform</a>.<br>\n"
    "This file is the endpoint for the Matomo tracking API. If you want to access the Matomo UI "
    "or use the Reporting API, please use <a href='index.php'>index.php</a> instead.\n"
).encode()

STORED = "stored"
NOT_STORED = "not_stored"
INVALID = "invalid"
ROLLED_BACK = "rolled_back"

GEO_PARAMS = frozenset(("country", "region", "city", "lat", "long"))
SIMULATED_FAILURE = "simulated failure (--rollback-every): the whole batch was rolled back"


class Reply:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict | None = None, body: bytes = b""):
        self.status = status
        self.headers = headers or {}
        self.body = body


def json_reply(status: int, data) -> Reply:
    return Reply(status, {"Content-Type": "application/json"}, orjson.dumps(data))


def _dumps(p) -> str:
    try:
        return orjson.dumps(p).decode()
    except TypeError:  # e.g. a lone surrogate
        return json.dumps(p, default=str)


def bulk_items(requests) -> list[dict]:
    """The requests of a bulk body as Matomo keeps them: strings need a '?query', objects are
    taken as they are, a JSON array counts as a PHP array; anything else is dropped."""
    if isinstance(requests, dict):
        requests = list(requests.values())
    if not isinstance(requests, list):
        return []
    items = []
    for r in requests:
        t = type(r)
        if t is dict:
            items.append(r)
        elif t is str:
            query = r.partition("#")[0].partition("?")[2]
            if query:
                items.append(parse_query(query))
        elif t is list:
            items.append({str(i): v for i, v in enumerate(r)})
    return items


def is_bulk(body: bytes) -> bool:
    """Matomo's test: the raw body contains the literal "requests" (not at offset 0)."""
    return body.find(b'"requests"') > 0 or body.find(b"'requests'") > 0


class Tracker:
    def __init__(self, endpoint):
        self.ep = endpoint  # sites, tokens, visits, store, lock, orders

    # Entry points ----------------------------------------------------------------------------
    def bulk(self, http: int, body: bytes, query: dict, header_ua: str, peer_ip: str,
             rollback: bool = False) -> Reply:
        try:
            data = orjson.loads(body.strip())
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            data = {}
        items = bulk_items(data.get("requests"))
        body_token = data.get("token_auth")
        body_token = as_str(body_token) if body_token not in (None, "") else ""
        batch_token = as_str(query.get("token_auth") or "") or body_token
        access = self.ep.tokens.access(batch_token)
        superuser = bool(batch_token) and access is not None and access.superuser
        send_image = data.get("send_image", True)
        tracked, invalid, fatal = self._run(http, items, body_token, header_ua, peer_ip, rollback)
        result = {"status": "error" if fatal else "success", "tracked": tracked,
                  "invalid": len(invalid)}
        if superuser:
            result["invalid_indices"] = invalid
        if fatal:
            return json_reply(500, result)
        if send_image in (0, "0", "", False, None, 0.0):
            return Reply(204)
        return json_reply(200, result)

    def single(self, http: int, params: dict, method: str, send_image: bool, header_ua: str,
               peer_ip: str, rollback: bool = False) -> Reply:
        headers = {}
        if method == "GET":
            headers["Cache-Control"] = "no-store"
        if not params:
            headers["Content-Type"] = "text/html; charset=utf-8"
            return Reply(200 if method == "GET" else 400, headers, MATOMO_TEXT)
        token = as_str(params.get("token_auth") or "")
        tracked, invalid, fatal = self._run(http, [params], token, header_ua, peer_ip, rollback,
                                            own_token=False)
        if fatal or invalid:
            headers["Content-Type"] = "text/html; charset=utf-8"
            return Reply(500 if fatal else 400, headers,
                         MATOMO_TEXT if not send_image else GIF + MATOMO_TEXT)
        if not send_image:
            return Reply(204, headers)
        headers["Content-Type"] = "image/gif"
        return Reply(200, headers, GIF)

    # Processing ------------------------------------------------------------------------------
    def _run(self, http: int, items: list[dict], token: str, header_ua: str, peer_ip: str,
             rollback: bool, own_token: bool = True):
        """Process `items` in order as one transaction. Return (tracked, invalid indices, fatal)."""
        ep = self.ep
        store = ep.store
        now = int(time.time())
        cut = (len(items) + 1) // 2 if rollback else len(items)
        with ep.lock:
            visits = ep.visits
            visits.begin()
            batch = _Batch(self, now, header_ua, peer_ip)
            track = batch.track
            results: list = []
            append = results.append
            tracked = 0
            invalid: list[int] = []
            fatal = None
            for pos in range(cut):
                p = items[pos]
                tok = token
                if not tok and own_token:
                    tok = p.get("token_auth") or ""
                    if type(tok) is not str:
                        tok = as_str(tok)
                try:
                    append(track(p, tok))
                except InvalidRequest as e:
                    invalid.append(pos)
                    append((INVALID, str(e)) + NO_ACTION)
                    continue
                except FatalRequest as e:
                    fatal = str(e)
                    break
                tracked += 1
            if rollback and fatal is None:
                fatal = SIMULATED_FAILURE
            rid = store.next_request
            idrun = store.idrun
            # Without transactions, what was processed before the failure stays stored.
            keep = fatal == SIMULATED_FAILURE and not ep.transactions
            if fatal and not keep:
                visits.rollback()
                batch.undo_orders()
                rows = [(rid + pos, idrun, http, pos, _dumps(p), ROLLED_BACK, fatal) + NO_ACTION
                        for pos, p in enumerate(items)]
                store.write_batch(rows)
            else:
                rows = [(rid + pos, idrun, http, pos, _dumps(items[pos])) + r
                        for pos, r in enumerate(results)]
                rows += [(rid + pos, idrun, http, pos, _dumps(items[pos]), ROLLED_BACK, fatal) + NO_ACTION
                         for pos in range(len(results), len(items))]
                flush = len(visits.dirty) > 20_000 or now - ep.visits_flushed >= 1
                try:
                    store.write_batch(rows, visits.dirty_rows() if flush else ())
                except BaseException:
                    visits.rollback()  # keep memory and db in step
                    batch.undo_orders()
                    raise
                if flush:
                    visits.written()
                    ep.visits_flushed = now
                visits.commit()
                batch.move_site_creation()
            store.next_request = rid + len(rows)
        return tracked, invalid, fatal


NO_ACTION = (None,) * 12  # idvisit .. revenue of a request that stored nothing
NOT_STORED_ROW = (NOT_STORED, None) + NO_ACTION
SPECIAL_ACTION_PARAMS = ("download", "link", "e_c", "e_a", "c_n", "search", "ca")


class _Batch:
    """The state of one bulk (or single) request while it is processed."""

    def __init__(self, tracker: Tracker, now: int, header_ua: str, peer_ip: str):
        ep = tracker.ep
        self.sites = ep.sites
        self.tokens = ep.tokens
        self.visits = ep.visits
        self.orders = ep.orders
        self.store = ep.store
        self.now = now
        self.header_ua = header_ua or ""
        self.peer_ip = peer_ip
        self.new_orders: list[tuple] = []
        self.earliest: dict[int, int] = {}
        self._auth: dict[tuple, bool] = {}

    def authenticated(self, token: str, idsite: int) -> bool:
        key = (token, idsite)
        ok = self._auth.get(key)
        if ok is None:
            access = self.tokens.access(token) if token else None
            ok = access is not None and access.can_write(idsite)
            self._auth[key] = ok
        return ok

    def undo_orders(self) -> None:
        for o in self.new_orders:
            self.orders.discard(o)

    def move_site_creation(self) -> None:
        """Tracking the past moves the site's ts_created back (SitesManagerRequestProcessor)."""
        changes = {}
        for idsite, t in self.earliest.items():
            site = self.sites.get(idsite)
            if site is not None:
                created = format_time(t)
                if created < site.ts_created:
                    site.ts_created = created
                    changes[idsite] = created
        if changes:
            self.store.update_ts_created(changes)

    def track(self, p: dict, token: str) -> tuple:
        """Record one request; return the tail of its request row (outcome, error, idvisit,
        idsite, time, day, type, counted, url, name, urlref, idgoal, ec_id, revenue).
        Raise InvalidRequest or FatalRequest."""
        if not p:
            return NOT_STORED_ROW  # an empty request: counted, nothing to do
        get = p.get
        idsite = get("idsite")
        if type(idsite) is not int:
            idsite = as_int(idsite, 0)
        if idsite <= 0:
            raise InvalidRequest("Invalid idSite: '%s'" % as_str(get("idsite")))
        site = self.sites.get(idsite)
        if site is None:
            raise InvalidRequest("An unexpected website was found in the request: website id "
                                 "was set to '%d' ." % idsite)
        if not GEO_PARAMS.isdisjoint(p):
            for name in ("country", "region", "city", "lat", "long"):
                if get(name) not in (None, "") and not self.authenticated(token, idsite):
                    raise InvalidRequest("Tracker API '%s' was used, requires valid token_auth"
                                         % name)
        now = self.now
        cdt = get("cdt")
        cdo = get("cdo")
        if cdt is None and cdo is None:
            t = now
        else:
            t, custom = hit_time(cdt, cdo, now)
            if custom and now - t >= RECENT and not self.authenticated(token, idsite):
                raise InvalidRequest("Custom timestamp is %d seconds old, requires &token_auth..."
                                     % (now - t))
        ip = get("cip")
        if ip is not None and ip != "":
            if not self.authenticated(token, idsite):
                raise InvalidRequest("Tracker API 'cip' was used, requires valid token_auth")
            if type(ip) is not str:
                ip = as_str(ip)
        else:
            ip = self.peer_ip
        rec = get("rec")
        if rec != 1 and not as_int(rec, 0):
            return NOT_STORED_ROW
        ua = get("ua")
        if type(ua) is not str:
            ua = as_str(ua)
        if not ua:
            ua = self.header_ua
        if matomo_is_bot(ua):
            bots = get("bots")
            if bots is None or as_int(bots, 0) != 1:
                return NOT_STORED_ROW
        # Visitor identity.
        uid = get("uid")
        cid = get("cid")
        cookie = get("_id")
        if uid is not None and uid != "":
            uid = as_str(uid)[:200]
        else:
            uid = None
        if cid is not None and cid != "":
            cid = as_str(cid)
            if len(cid) != 16:
                raise InvalidRequest("Visitor ID (cid) %s must be 16 characters long" % cid)
        else:
            cid = None
        if uid:
            idvisitor, how = uid_visitor_id(uid), BY_UID
        elif cid:
            idvisitor, how = cid.lower(), BY_CID
        elif cookie is not None and len(as_str(cookie)) >= 16:
            idvisitor, how = as_str(cookie)[:16].lower(), BY_COOKIE
        else:
            idvisitor, how = None, BY_FINGERPRINT
        # What is recorded.
        ping = get("ping")
        ping = ping is not None and as_int(ping, 0) == 1
        idgoal = get("idgoal")
        idgoal = -1 if idgoal is None else as_int(idgoal, -1)
        ec_id = revenue = url = name = None
        if ping:
            kind = None
        elif idgoal >= 0:
            url = A.page_url(site, get("url"))[0]
            if idgoal > 0:
                if idgoal not in site.goals:
                    raise InvalidRequest("idGoal %d does not exist" % idgoal)
                kind = A.GOAL
            else:
                kind = A.ECOMMERCE
                ec_id = as_str(get("ec_id")) or None
                if ec_id is not None and (idsite, ec_id) in self.orders:
                    raise InvalidRequest(
                        "Invalid non-unique idsite/idorder combination (%d, %s), Matomo does not "
                        "allow to record the same order twice" % (idsite, ec_id))
            rev = get("revenue")
            if rev is not None and rev != "":
                try:
                    revenue = float(rev)
                except (TypeError, ValueError):
                    revenue = 0.0
        else:
            for special in SPECIAL_ACTION_PARAMS:
                if special in p:
                    kind, url, name = A.describe(p, site)
                    break
            else:
                url, keyword, _, search_url = A.page_url(site, get("url"))
                if keyword:
                    kind, name, url = A.SITE_SEARCH, keyword, search_url
                else:
                    kind = A.PAGEVIEW
                    name = get("action_name")
                    if name is not None:
                        name = as_str(name).strip() or None
            A.check_performance(p)
        urlref = get("urlref")
        if urlref:
            urlref = cleanup(as_str(urlref), A.REFERRER_MAXIMUM_LENGTH) or None
        else:
            urlref = None
        day = day_of(t)
        counted = 1 if kind in A.COUNTED else 0
        new_visit = get("new_visit")
        v = self.visits.track(idsite, t, day, idvisitor, how, ip, ua, uid,
                              new_visit is not None and as_int(new_visit, 0) == 1, ping, counted,
                              url if counted and (kind == A.PAGEVIEW or kind == A.SITE_SEARCH)
                              else None, urlref)
        if v is None:
            return NOT_STORED_ROW  # a ping that would have started a visit
        e = self.earliest.get(idsite)
        if e is None or t < e:
            self.earliest[idsite] = t
        if kind is None:  # a ping on an open visit
            return (STORED, None, v.idvisit, idsite, t, day) + (None,) * 8
        if ec_id is not None:
            self.orders.add((idsite, ec_id))
            self.new_orders.append((idsite, ec_id))
        return (STORED, None, v.idvisit, idsite, t, day, kind, counted, url, name, urlref,
                idgoal if idgoal >= 0 else None, ec_id, revenue)
