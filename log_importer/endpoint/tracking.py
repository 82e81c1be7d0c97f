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
from . import referrers as R
from .actions import FatalRequest, InvalidRequest, as_int, as_str, cleanup
from .querystring import parse_query
from .timestamps import RECENT, format_time, hit_time
from .visits import (BY_CID, BY_COOKIE, BY_FINGERPRINT, BY_UID, VISIT_STANDARD_LENGTH,
                     fingerprint, uid_visitor_id)

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
VISIT_WRITE_INTERVAL = 5  # seconds: changed visits are written at least this often
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
             rollback: bool = False, header_lang: str = "") -> Reply:
        """A bulk request (its raw JSON body): Matomo's BulkTracking answer."""
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
        tracked, invalid, fatal = self._run(http, items, body_token, header_ua, peer_ip, rollback,
                                            header_lang=header_lang)
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
               peer_ip: str, rollback: bool = False, header_lang: str = "") -> Reply:
        """One GET or form-POST request: the GIF, a 204, or Matomo's 400/500 answers."""
        headers = {}
        if method == "GET":
            headers["Cache-Control"] = "no-store"
        if not params:
            headers["Content-Type"] = "text/html; charset=utf-8"
            return Reply(200 if method == "GET" else 400, headers, MATOMO_TEXT)
        token = as_str(params.get("token_auth") or "")
        tracked, invalid, fatal = self._run(http, [params], token, header_ua, peer_ip, rollback,
                                            own_token=False, header_lang=header_lang)
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
             rollback: bool, own_token: bool = True, header_lang: str = ""):
        """Process `items` in order as one transaction. Return (tracked, invalid indices, fatal)."""
        ep = self.ep
        store = ep.store
        now = int(time.time())
        cut = (len(items) + 1) // 2 if rollback else len(items)
        with ep.lock:
            visits = ep.visits
            visits.begin()
            batch = _Batch(self, now, header_ua, peer_ip, header_lang)
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
                flush = (len(visits.dirty) > 20_000
                         or now - ep.visits_flushed >= VISIT_WRITE_INTERVAL)
                try:
                    store.write_batch(rows, visits.dirty_rows() if flush else (),
                                      batch.performance_updates)
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


NO_ACTION = (None,) * 4 + A.NO_ACTION  # idvisit, idsite, time, day and the action
NOT_STORED_ROW = (NOT_STORED, None) + NO_ACTION
EXCLUDED_BOT = "excluded: a bot"  # the `error` of a bot's request, counted on the report page
SPECIAL_ACTION_PARAMS = ("download", "link", "e_c", "e_a", "c_n", "search", "ca")


class _Batch:
    """The state of one bulk (or single) request while it is processed."""

    def __init__(self, tracker: Tracker, now: int, header_ua: str, peer_ip: str,
                 header_lang: str = ""):
        ep = tracker.ep
        self.sites = ep.sites
        self.tokens = ep.tokens
        self.visits = ep.visits
        self.orders = ep.orders
        self.store = ep.store
        self.now = now
        self.header_ua = header_ua or ""
        self.peer_ip = peer_ip
        self.header_lang = header_lang or ""
        self.performance_updates: list[tuple] = []  # (pf_* JSON, idvisit, pv_id)
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
                return (NOT_STORED, EXCLUDED_BOT, None, idsite, t, None) + A.NO_ACTION
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
        if ping:
            a = None
        elif idgoal >= 0:
            a = list(A.NO_ACTION)
            a[A.F_URL] = A.page_url(site, get("url"))[0]
            if idgoal > 0:
                if idgoal not in site.goals:
                    raise InvalidRequest("idGoal %d does not exist" % idgoal)
                a[A.F_TYPE] = A.GOAL
                a[A.F_IDGOAL] = idgoal
                a[A.F_REVENUE] = A.as_float(get("revenue"), None)
            else:
                ec_id = as_str(get("ec_id")) or None
                if ec_id is not None and (idsite, ec_id) in self.orders:
                    raise InvalidRequest(
                        "Invalid non-unique idsite/idorder combination (%d, %s), Matomo does not "
                        "allow to record the same order twice" % (idsite, ec_id))
                items = A.ecommerce_items(get("ec_items"))
                if items is not False:  # a JSON scalar: Matomo records no conversion
                    a[A.F_TYPE] = A.ECOMMERCE if ec_id else A.CART
                    a[A.F_IDGOAL] = 0 if ec_id else -1
                    a[A.F_EC_ID] = ec_id
                    a[A.F_REVENUE] = A.as_float(get("revenue"), 0.0)
                    a[A.F_DETAILS] = {"items": items or None}
                    for field, name in (("subtotal", "ec_st"), ("tax", "ec_tx"),
                                        ("shipping", "ec_sh"), ("discount", "ec_dt")):
                        a[A.F_DETAILS][field] = A.as_float(get(name), 0.0)
        else:
            for special in SPECIAL_ACTION_PARAMS:
                if special in p:
                    a = A.record(p, site)
                    break
            else:
                a = list(A.NO_ACTION)
                url, keyword = A.page_url(site, get("url"))[:2]
                if keyword:
                    a = A.record(p, site)  # a site search found in the URL
                else:
                    a[A.F_TYPE], a[A.F_URL] = A.PAGEVIEW, url
                    name = get("action_name")
                    if name is not None:
                        a[A.F_NAME] = A.action_name(name)
                    if not PERFORMANCE.isdisjoint(p):
                        a[A.F_PERFORMANCE] = A.performance(p)
                    if "gt_ms" in p:
                        A.detail(a, "gt_ms", A.generation_time(get("gt_ms")))
        kind = a[A.F_TYPE] if a is not None else None
        urlref = get("urlref")
        if urlref:
            urlref = cleanup(as_str(urlref), A.REFERRER_MAXIMUM_LENGTH) or None
        else:
            urlref = None
        day = site.days(t)
        counted = 1 if kind in A.COUNTED else 0
        # The visit.
        visits = self.visits
        found = visits.find(idsite, t, day, idvisitor, how, ip, ua, uid)
        new_visit = get("new_visit")
        new = (found is None or (new_visit is not None and as_int(new_visit, 0) == 1)
               or found.last <= t - VISIT_STANDARD_LENGTH or found.day != day)
        referrer = None
        if not new:
            rcn = get("_rcn")
            raw_url = get("url")
            if rcn or (type(raw_url) is str and R.may_name_a_campaign(raw_url)):
                referrer = R.referrer_of(site, as_str(raw_url), urlref, rcn, get("_rck"), found)
                new = R.campaign_changed(found, referrer)
        if new:
            if ping:
                return NOT_STORED_ROW  # a ping that would have started a visit
            if idvisitor is None:
                idvisitor = found.idvisitor if found is not None else fingerprint(idsite, ip, ua)
            v = visits.create(idsite, t, day, idvisitor, ip, ua, uid)
            if referrer is None:
                referrer = R.referrer_of(site, as_str(get("url")), urlref, get("_rcn"),
                                         get("_rck"))
            v.referer_type, v.referer_name, v.referer_keyword, ref_url = referrer
            v.referer = ref_url or None
            self._new_visit(v, p, site, t, found)
        else:
            v = found
            visits.join(v, t, ip, ua, None if how == BY_FINGERPRINT else idvisitor, uid, ping)
            cvars = get("_cvar")
            if cvars is not None:
                cvars = A.custom_variables(cvars)
                if cvars:
                    v.custom_variables = {**(v.custom_variables or {}), **cvars}
            if site.dimensions:
                dims = A.dimensions(p, site, "visit")
                if dims:
                    v.dimensions = {**(v.dimensions or {}), **dims}
        e = self.earliest.get(idsite)
        if e is None or t < e:
            self.earliest[idsite] = t
        if a is None:  # a ping on an open visit
            return (STORED, None, v.idvisit, idsite, t, day) + A.NO_ACTION
        if kind is not None:
            self._on_visit(v, a, kind, counted, idgoal)
        a[A.F_COUNTED] = counted
        a[A.F_URLREF] = urlref
        pv_id = get("pv_id")
        if pv_id is not None and pv_id != "":
            pv_id = as_str(pv_id)[:6]
            A.detail(a, "pv_id", pv_id)
            if kind != A.PAGEVIEW and not PERFORMANCE.isdisjoint(p):
                perf = A.performance(p)
                if perf:
                    self.performance_updates.append(
                        (orjson.dumps(perf).decode(), v.idvisit, pv_id))
        cvar = get("cvar")
        if cvar is not None and kind is not None:
            a[A.F_CUSTOM_VARIABLES] = A.custom_variables_json(cvar)
        if site.dimensions and kind is not None:
            dims = A.dimensions(p, site, "action")
            if dims:
                A.detail(a, "dimensions", dims)
        return (STORED, None, v.idvisit, idsite, t, day) + A.pack(a)

    def _on_visit(self, v, a: list, kind: str, counted: int, idgoal: int) -> None:
        """What an action changes on its visit: counts, entry and exit pages, goals, buyer."""
        if counted:
            v.actions += counted
            if kind == A.PAGEVIEW or kind == A.SITE_SEARCH:
                url = a[A.F_URL]
                if url:
                    v.exit_url = url
                    if v.entry_url is None:
                        v.entry_url = url
                if kind == A.PAGEVIEW:
                    v.pageviews += 1
                    v.exit_name = a[A.F_NAME]
                    if v.pageviews == 1:
                        v.entry_name = a[A.F_NAME]
                else:
                    v.searches += 1
            elif kind == A.EVENT:
                v.events += 1
        if kind == A.CONTENT and a[A.F_DETAILS].get("content_interaction"):
            v.interactions += 1
        elif kind == A.GOAL:
            converted = v.goals.split(",") if v.goals else []
            if str(idgoal) in converted:  # once per visit (GoalManager, allow_multiple=0)
                a[A.F_TYPE] = None
                a[A.F_IDGOAL] = None
                return
            v.goals = ",".join(converted + [str(idgoal)])
        elif kind == A.ECOMMERCE:
            ec_id = a[A.F_EC_ID]
            self.orders.add((v.idsite, ec_id))
            self.new_orders.append((v.idsite, ec_id))
            v.buyer = 1
        elif kind == A.CART:
            v.buyer = 2 if v.buyer in (0, 2) else 3

    def _new_visit(self, v, p: dict, site, t: int, found) -> None:
        """What the first request of a visit says about it (Matomo's onNewVisit dimensions):
        visitor counters (plugins/CoreHome/Columns/VisitsCount.php, VisitorSecondsSinceFirst.php,
        VisitorSecondsSinceOrder.php, VisitorReturning.php: from the visitor's previous visit
        when it was found, else from `_idvc`, `_viewts`, `_idts`, `_ects`), resolution (`res`,
        9 chars), browser language (`lang`, else Accept-Language), local time (`h`, `m`, `s`,
        plugins/CoreHome/Columns/VisitorLocalTime... core/Tracker/Request.php getLocalTime),
        plugin flags (plugins/DevicePlugins), the geo overrides (plugins/UserCountry), visit
        custom variables and custom dimensions."""
        get = p.get
        prev = found
        if prev is not None and prev.visit_count:
            v.visit_count = prev.visit_count + 1
            v.since_last = max(0, t - prev.last)
            v.since_first = (prev.since_first or 0) + max(0, t - prev.first)
            v.since_order = (None if prev.since_order is None and prev.buyer not in (1, 3)
                             else (0 if prev.buyer in (1, 3) else prev.since_order)
                             + max(0, t - prev.first))
        else:
            v.visit_count = max(1, as_int(get("_idvc"), 1))
            v.since_last = _since(get("_viewts"), t)
            v.since_first = _since(get("_idts"), t) or 0
            v.since_order = _since(get("_ects"), t)
        v.returning = 2 if v.since_order is not None else (
            1 if prev is not None or v.visit_count > 1 else 0)
        res = get("res")
        v.resolution = as_str(res)[:9] if res not in (None, "") else None
        lang = get("lang")
        lang = as_str(lang) if lang not in (None, "") else self.header_lang
        v.language = "".join(lang.split()).lower()[:20] if lang else None
        gm = time.gmtime(t)
        v.local_time = "%02d:%02d:%02d" % (_clock(get("h"), gm.tm_hour, 23),
                                           _clock(get("m"), gm.tm_min, 59),
                                           _clock(get("s"), gm.tm_sec, 59))
        plugins = [name for param, name in PLUGINS if param in p and as_int(p[param], 0) == 1]
        v.plugins = ", ".join(plugins) if plugins else None
        if not GEO_PARAMS.isdisjoint(p):
            country = get("country")
            if country not in (None, ""):
                v.country = as_str(country).strip().lower()[:3]
            for name in ("region", "city"):
                value = get(name)
                if value not in (None, ""):
                    setattr(v, name, as_str(value).strip()[:255])
            v.latitude = A.as_float(get("lat"), None)
            v.longitude = A.as_float(get("long"), None)
        cvars = get("_cvar")
        if cvars is not None:
            v.custom_variables = A.custom_variables(cvars)
        if site.dimensions:
            v.dimensions = A.dimensions(p, site, "visit")


# DevicePlugins' columns (Matomo 4+ has no Director or Gears column: `dir` and `gears` are
# accepted and ignored).
PLUGINS = (("fla", "flash"), ("java", "java"), ("qt", "quicktime"), ("realp", "realplayer"),
           ("pdf", "pdf"), ("wma", "windowsmedia"), ("ag", "silverlight"), ("cookie", "cookie"))
PERFORMANCE = frozenset(A.PERFORMANCE_PARAMS)


def _since(value, t: int) -> int | None:
    """Seconds from a Unix time parameter to `t`, when it is a valid time not after `t`."""
    if value is None or value == "":
        return None
    ts = as_int(value, 0)
    return t - ts if 0 < ts <= t else None


def _clock(value, default: int, top: int) -> int:
    """One part of the visitor's local time (Request::getLocalTime: an int, else the server's
    hour/minute/second; cut to its range)."""
    if value is None or value == "":
        return default
    n = as_int(value, default)
    return 0 if n < 0 else top if n > top else n
