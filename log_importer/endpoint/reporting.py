"""The Reporting API methods a user or a dashboard calls, computed from the stored visits and
actions, with Matomo's JSON shapes (column names, processed metrics, empty answers).

Periods (core/Period/Factory.php, core/Period/Range.php): `period=day` with `date=YYYY-MM-DD`,
`today`, `yesterday` (in the site's time zone), or several days (`date=A,B`, `lastN`,
`previousN`), answered as an object keyed by day; `period=range` with `date=A,B`, `lastN` or
`previousN`, answered as one result; `week`, `month` and `year` with one date. A visit belongs to
the site-local day of its actions (visits never cross the site's midnight). Unique visitors and
users are counted for day, week and month only (`enable_processing_unique_visitors_*`: year and
range are off by default in config/global.ini.php). A period without visits answers `[]`
(an empty DataTable).
"""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import quote, unquote

import orjson

from . import referrers as R

DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
LAST = re.compile(r"(last|previous)(\d+)\Z")
UNIQUE_PERIODS = ("day", "week", "month")
NOT_DEFINED = "Value not defined"  # General_NotDefined


class ReportError(Exception):
    """A bad parameter: Matomo's message, answered with HTTP 200 like other API errors."""


# Periods ---------------------------------------------------------------------------------------
def _day(text: str, today: dt.date) -> dt.date:
    text = text.strip()
    if text == "today" or text == "now":
        return today
    if text == "yesterday":
        return today - dt.timedelta(days=1)
    if DATE.match(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise ReportError("Date format must be: YYYY-MM-DD, or 'today' or 'yesterday' or any keyword "
                      "supported by the strtotime function (see http://php.net/strtotime for "
                      "more information): %s" % text)


def periods(period: str, date: str, site, now: int) -> tuple[bool, list[tuple[str, str, str]]]:
    """(several, [(key, first day, last day)]) for Matomo's `period` and `date` parameters."""
    if not period:
        raise ReportError("Please specify a value for 'period'.")
    if not date:
        raise ReportError("Please specify a value for 'date'.")
    if period not in ("day", "week", "month", "year", "range"):
        raise ReportError("The period '%s' is not supported. Try any of the following instead: "
                          "day, week, month, year, range" % period)
    today = dt.date.fromisoformat(site.days(now))
    last = LAST.match(date)
    days = None
    if last:
        n = max(1, int(last.group(2)))
        end = today if last.group(1) == "last" else today - dt.timedelta(days=1)
        days = (end - dt.timedelta(days=n - 1), end)
    elif "," in date:
        a, _, b = date.partition(",")
        days = (_day(a, today), _day(b, today))
        if days[1] < days[0]:
            raise ReportError("The date range '%s' is not valid: the end is before the start."
                              % date)
    if period == "range":
        if days is None:
            raise ReportError("The date '%s' is not a correct date range" % date)
        return False, [(date, days[0].isoformat(), days[1].isoformat())]
    if period == "day":
        if days is None:
            d = _day(date, today).isoformat()
            return False, [(d, d, d)]
        out, d = [], days[0]
        while d <= days[1]:
            out.append((d.isoformat(), d.isoformat(), d.isoformat()))
            d += dt.timedelta(days=1)
        return True, out
    if days is not None:
        raise ReportError("This endpoint answers period=%s for one date; use period=range for "
                          "several" % period)
    d = _day(date, today)
    if period == "week":
        start = d - dt.timedelta(days=d.weekday())
        end = start + dt.timedelta(days=6)
    elif period == "month":
        start = d.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    else:
        start, end = d.replace(month=1, day=1), d.replace(month=12, day=31)
    return False, [(date, start.isoformat(), end.isoformat())]


# Metrics ---------------------------------------------------------------------------------------
def rate(part: float, whole: float) -> str:
    """Matomo's percentage metrics: "N%", rounded to a whole number, "0%" when `whole` is 0."""
    return "%d%%" % round(100.0 * part / whole) if whole else "0%"


def _round(x: float, places: int = 0):
    r = round(x, places)
    return int(r) if r == int(r) else r


VISIT_METRICS_SQL = ("count(*), count(DISTINCT idvisitor), sum(total_actions), "
                     "max(total_actions), sum(total_time), "
                     "sum(CASE WHEN total_actions <= 1 THEN 1 ELSE 0 END), "
                     "sum(CASE WHEN goals_converted != '' OR goal_buyer IN (1, 3) "
                     "THEN 1 ELSE 0 END)")


def visit_metrics(row, unique: bool) -> dict:
    """Matomo's visit metrics (VisitsSummary, Referrers, custom variables...) from a row of
    VISIT_METRICS_SQL, with the processed ones."""
    visits, uniq, actions, max_actions, length, bounces, converted = row
    actions, length, bounces, converted = (actions or 0, length or 0, bounces or 0,
                                           converted or 0)
    out = {"nb_visits": visits}
    if unique:
        out["nb_uniq_visitors"] = uniq
    out.update({"nb_actions": actions, "max_actions": max_actions or 0,
                "sum_visit_length": length, "bounce_count": bounces,
                "nb_visits_converted": converted,
                "bounce_rate": rate(bounces, visits),
                "nb_actions_per_visit": _round(actions / visits, 1) if visits else 0,
                "avg_time_on_site": _round(length / visits) if visits else 0})
    return out


class Reports:
    """The report methods; each takes (site, first day, last day, params, unique) and returns the
    result for one period."""

    def __init__(self, endpoint):
        self.ep = endpoint
        self.methods = {
            "VisitsSummary.get": self.visits_summary,
            "Actions.get": self.actions_get,
            "Actions.getPageUrls": self.page_urls,
            "Referrers.getReferrerType": self.referrer_type,
            "Referrers.getCampaigns": self.campaigns,
            "Events.getCategory": self.event_categories,
            "Goals.get": self.goals_get,
            "Goals.getItemsSku": self.items_sku,
            "CustomVariables.getCustomVariables": self.custom_variables,
            "CustomDimensions.getCustomDimension": self.custom_dimension,
        }

    def q(self, sql: str, args=()) -> list[tuple]:
        return self.ep.store.query(sql, args)

    def run(self, method: str, site, params: dict, now: int):
        """The answer of `method` for `params` (period, date, ...)."""
        func = self.methods[method]
        period = str(params.get("period") or "")
        several, spans = periods(period, str(params.get("date") or ""), site, now)
        unique = period in UNIQUE_PERIODS
        out = {}
        for key, first, last in spans:
            out[key] = func(site, first, last, params, unique)
        if several:
            return out
        return next(iter(out.values()))

    # VisitsSummary / Actions ---------------------------------------------------------------
    def visits_summary(self, site, first, last, params, unique):
        row = self.q("SELECT %s, count(DISTINCT user_id) FROM visit WHERE idsite = ? AND day "
                     "BETWEEN ? AND ?" % VISIT_METRICS_SQL, (site.idsite, first, last))[0]
        if not row[0]:
            return []
        m = visit_metrics(row[:7], unique)
        out = {}
        if unique:
            out["nb_uniq_visitors"] = m.pop("nb_uniq_visitors")
            out["nb_users"] = row[7]
        out.update(m)
        return out

    def actions_get(self, site, first, last, params, unique):
        counts = {kind: (n, uniq) for kind, n, uniq in self.q(
            "SELECT type, count(*), count(DISTINCT idvisit || ' ' || coalesce(url, name, '')) "
            "FROM action WHERE idsite = ? AND day BETWEEN ? AND ? GROUP BY type",
            (site.idsite, first, last))}
        if not any(counts.get(k) for k in ("pageview", "download", "outlink", "site_search",
                                           "event")):
            return []
        keywords = self.q("SELECT count(DISTINCT name) FROM action WHERE idsite = ? AND day "
                          "BETWEEN ? AND ? AND type = 'site_search'",
                          (site.idsite, first, last))[0][0]
        gen = self.q("SELECT count(gt_ms), avg(gt_ms) FROM action WHERE idsite = ? AND day "
                     "BETWEEN ? AND ? AND type = 'pageview'", (site.idsite, first, last))[0]
        out = {}
        for kind, name in (("pageview", "pageviews"), ("download", "downloads"),
                           ("outlink", "outlinks")):
            n, uniq = counts.get(kind, (0, 0))
            out["nb_" + name] = n
            out["nb_uniq_" + name] = uniq
        out["nb_searches"] = counts.get("site_search", (0, 0))[0]
        out["nb_keywords"] = keywords
        if gen[0]:
            out["avg_time_generation"] = round(gen[1] / 1000.0, 3)
        return out

    def page_urls(self, site, first, last, params, unique):
        rows = self.q(
            "WITH a AS (SELECT idvisit, url, time, type, performance, "
            " lead(time) OVER (PARTITION BY idvisit ORDER BY time, idrequest) AS next "
            " FROM action WHERE idsite = ? AND day BETWEEN ? AND ? AND counted = 1) "
            "SELECT a.url, count(DISTINCT a.idvisit), count(DISTINCT v.idvisitor), count(*), "
            " sum(coalesce(a.next - a.time, 0)), "
            " sum(CASE WHEN json_extract(a.performance, '$.pf_srv') IS NULL THEN 0 ELSE 1 END), "
            " sum(coalesce(json_extract(a.performance, '$.pf_srv'), 0)) "
            "FROM a JOIN visit v ON v.idvisit = a.idvisit "
            "WHERE a.type = 'pageview' AND a.url IS NOT NULL GROUP BY a.url",
            (site.idsite, first, last))
        entries = {url: (n, actions, length, bounces) for url, n, actions, length, bounces in self.q(
            "SELECT entry_url, count(*), sum(total_actions), sum(total_time), "
            "sum(CASE WHEN total_actions <= 1 THEN 1 ELSE 0 END) FROM visit WHERE idsite = ? "
            "AND day BETWEEN ? AND ? GROUP BY entry_url", (site.idsite, first, last))}
        exits = dict(self.q("SELECT exit_url, count(*) FROM visit WHERE idsite = ? AND day "
                            "BETWEEN ? AND ? GROUP BY exit_url", (site.idsite, first, last)))
        out = []
        for url, visits, uniq, hits, spent, timed, server in rows:
            e_visits, e_actions, e_length, e_bounces = entries.get(url, (0, 0, 0, 0))
            x_visits = exits.get(url, 0)
            row = {"label": page_label(url), "nb_visits": visits}
            if unique:
                row["nb_uniq_visitors"] = uniq
            row.update({"nb_hits": hits, "sum_time_spent": spent,
                        "nb_hits_with_time_server": timed,
                        "entry_nb_visits": e_visits, "entry_nb_actions": e_actions or 0,
                        "entry_sum_visit_length": e_length or 0,
                        "entry_bounce_count": e_bounces or 0, "exit_nb_visits": x_visits,
                        "avg_time_server": round(server / timed / 1000.0, 3) if timed else 0,
                        "avg_time_on_page": _round(spent / hits) if hits else 0,
                        "bounce_rate": rate(e_bounces or 0, e_visits),
                        "exit_rate": rate(x_visits, visits), "url": url,
                        "segment": "pageUrl==" + quote(quote(url, safe=""), safe="")})
            out.append(row)
        out.sort(key=lambda r: (-r["nb_visits"], -r["nb_hits"], r["label"]))
        return _limit(out, params)

    # Referrers -----------------------------------------------------------------------------
    def referrer_type(self, site, first, last, params, unique):
        out = []
        for row in self.q("SELECT referer_type, %s FROM visit WHERE idsite = ? AND day BETWEEN ? "
                          "AND ? GROUP BY referer_type" % VISIT_METRICS_SQL,
                          (site.idsite, first, last)):
            kind = row[0] or R.DIRECT
            r = {"label": R.TYPE_LABELS.get(kind, "Unknown")}
            r.update(visit_metrics(row[1:], unique))
            r["referer_type"] = kind
            r["segment"] = "referrerType==" + R.TYPE_NAMES.get(kind, "direct")
            out.append(r)
        out.sort(key=lambda r: (-r["nb_visits"], r["label"]))
        return _limit(out, params)

    def campaigns(self, site, first, last, params, unique):
        flat = str(params.get("flat") or "") == "1"
        group = "referer_name, referer_keyword" if flat else "referer_name"
        out = []
        for row in self.q("SELECT %s, %s FROM visit WHERE idsite = ? AND day BETWEEN ? AND ? AND "
                          "referer_type = %d GROUP BY %s" % (group, VISIT_METRICS_SQL, R.CAMPAIGN,
                                                            group),
                          (site.idsite, first, last)):
            if flat:
                label = "%s - %s" % (row[0], row[1] or NOT_DEFINED)
                metrics = row[2:]
            else:
                label, metrics = row[0], row[1:]
            r = {"label": label}
            r.update(visit_metrics(metrics, unique))
            r["segment"] = "referrerName==" + quote(row[0], safe="")
            out.append(r)
        out.sort(key=lambda r: (-r["nb_visits"], r["label"]))
        return _limit(out, params)

    # Events ----------------------------------------------------------------------------------
    def event_categories(self, site, first, last, params, unique):
        out = []
        for cat, visits, uniq, events, with_value, total, low, high in self.q(
                "SELECT event_category, count(DISTINCT a.idvisit), count(DISTINCT v.idvisitor), "
                "count(*), count(event_value), sum(event_value), min(event_value), "
                "max(event_value) FROM action a JOIN visit v ON v.idvisit = a.idvisit "
                "WHERE a.idsite = ? AND a.day BETWEEN ? AND ? AND a.type = 'event' "
                "GROUP BY event_category", (site.idsite, first, last)):
            r = {"label": cat, "nb_visits": visits}
            if unique:
                r["nb_uniq_visitors"] = uniq
            r.update({"nb_events": events, "nb_events_with_value": with_value,
                      "sum_event_value": _round(total or 0, 2),
                      "min_event_value": _round(low or 0, 2),
                      "max_event_value": _round(high or 0, 2),
                      "avg_event_value": _round((total or 0) / with_value, 2) if with_value
                      else 0,
                      "segment": "eventCategory==" + quote(cat, safe="")})
            out.append(r)
        out.sort(key=lambda r: (-r["nb_events"], r["label"]))
        return _limit(out, params)

    # Goals and ecommerce ---------------------------------------------------------------------
    def _visits(self, site, first, last) -> int:
        return self.q("SELECT count(*) FROM visit WHERE idsite = ? AND day BETWEEN ? AND ?",
                      (site.idsite, first, last))[0][0]

    def goals_get(self, site, first, last, params, unique):
        """Goals.get: conversions of every goal and of ecommerce orders (no idGoal), of one goal,
        or (idGoal=ecommerceOrder / ecommerceAbandonedCart) of orders or abandoned carts."""
        idgoal = str(params.get("idGoal") or "")
        visits = self._visits(site, first, last)
        if idgoal == "ecommerceAbandonedCart":
            rows = self._abandoned_carts(site, first, last)
            revenue = sum(r[1] or 0 for r in rows)
            items = sum(sum(i[4] for i in (orjson.loads(r[2]) if r[2] else [])) for r in rows)
            n = len(rows)
            if not n:
                return []
            return {"nb_conversions": n, "nb_visits_converted": n, "conversion_rate":
                    rate(n, visits), "revenue": _round(revenue, 2), "items": items}
        where = "type IN ('goal', 'ecommerce')"
        args: tuple = (site.idsite, first, last)
        if idgoal == "ecommerceOrder":
            where = "type = 'ecommerce'"
        elif idgoal:
            try:
                args += (int(idgoal),)
            except ValueError:
                raise ReportError("The parameter 'idGoal' must be an integer, got '%s'." % idgoal)
            where = "type = 'goal' AND idgoal = ?"
        n, converted, revenue, subtotal, tax, shipping, discount = self.q(
            "SELECT count(*), count(DISTINCT idvisit), sum(revenue), sum(subtotal), sum(tax), "
            "sum(shipping), sum(discount) FROM action WHERE idsite = ? AND day BETWEEN ? AND ? "
            "AND " + where, args)[0]
        if not n:
            return []
        out = {"nb_conversions": n, "nb_visits_converted": converted,
               "revenue": _round(revenue or 0, 2), "conversion_rate": rate(converted, visits)}
        if idgoal == "ecommerceOrder":
            items = 0
            for (raw,) in self.q("SELECT items FROM action WHERE idsite = ? AND day BETWEEN ? AND "
                                 "? AND type = 'ecommerce'", args):
                items += sum(i[4] for i in (orjson.loads(raw) if raw else []))
            out.update({"items": items, "revenue_subtotal": _round(subtotal or 0, 2),
                        "revenue_tax": _round(tax or 0, 2),
                        "revenue_shipping": _round(shipping or 0, 2),
                        "revenue_discount": _round(discount or 0, 2),
                        "avg_order_revenue": _round((revenue or 0) / n, 2)})
        return out

    def _abandoned_carts(self, site, first, last) -> list[tuple]:
        """(idvisit, revenue, items JSON) of the last cart update of each visit that ordered
        nothing after it (Matomo keeps one abandoned cart per visit and deletes it when the
        visit orders: core/Tracker/GoalManager.php)."""
        return self.q(
            "SELECT c.idvisit, c.revenue, c.items FROM action c WHERE c.idsite = ? AND c.day "
            "BETWEEN ? AND ? AND c.type = 'cart' AND c.idrequest = (SELECT max(idrequest) FROM "
            "action WHERE idvisit = c.idvisit AND type = 'cart') AND NOT EXISTS (SELECT 1 FROM "
            "action o WHERE o.idvisit = c.idvisit AND o.type = 'ecommerce' AND o.idrequest > "
            "c.idrequest)", (site.idsite, first, last))

    def items_sku(self, site, first, last, params, unique):
        carts = str(params.get("abandonedCarts") or "0") == "1"
        if carts:
            sources = [(r[0], r[2]) for r in self._abandoned_carts(site, first, last)]
        else:
            sources = self.q("SELECT idvisit, items FROM action WHERE idsite = ? AND day BETWEEN "
                             "? AND ? AND type = 'ecommerce'", (site.idsite, first, last))
        visits = self._visits(site, first, last)
        by_sku: dict[str, dict] = {}
        for idvisit, raw in sources:
            for sku, _name, _cat, price, qty in (orjson.loads(raw) if raw else []):
                s = by_sku.setdefault(sku, {"revenue": 0.0, "quantity": 0, "orders": 0,
                                            "visits": set()})
                s["revenue"] += price * qty
                s["quantity"] += qty
                s["orders"] += 1
                s["visits"].add(idvisit)
        out = []
        for sku, s in by_sku.items():
            n = len(s["visits"])
            row = {"label": sku, "revenue": _round(s["revenue"], 2), "quantity": s["quantity"],
                   "orders": s["orders"], "nb_visits": n,
                   "avg_price": _round(s["revenue"] / s["quantity"], 2) if s["quantity"] else 0,
                   "avg_quantity": _round(s["quantity"] / s["orders"], 2),
                   "conversion_rate": rate(n, visits)}
            if carts:
                row["abandoned_carts"] = row.pop("orders")
            out.append(row)
        out.sort(key=lambda r: (-r["revenue"], r["label"]))
        return _limit(out, params)

    # Custom variables and dimensions ---------------------------------------------------------
    def custom_variables(self, site, first, last, params, unique):
        """Visit and page scope together, by name (CustomVariables/Archiver.php); flat=1 gives
        "name - value" rows."""
        flat = str(params.get("flat") or "") == "1"
        found: dict[str, dict] = {}

        def add(label, idvisit, idvisitor, actions):
            r = found.setdefault(label, {"visits": set(), "visitors": set(), "actions": 0})
            r["visits"].add(idvisit)
            r["visitors"].add(idvisitor)
            r["actions"] += actions

        for idvisit, idvisitor, actions, raw in self.q(
                "SELECT idvisit, idvisitor, total_actions, custom_variables FROM visit WHERE "
                "idsite = ? AND day BETWEEN ? AND ? AND custom_variables IS NOT NULL",
                (site.idsite, first, last)):
            for name, value in orjson.loads(raw).values():
                add("%s - %s" % (name, value) if flat else name, idvisit, idvisitor, actions)
        for idvisit, idvisitor, raw in self.q(
                "SELECT a.idvisit, v.idvisitor, a.custom_variables FROM action a JOIN visit v ON "
                "v.idvisit = a.idvisit WHERE a.idsite = ? AND a.day BETWEEN ? AND ? AND "
                "a.custom_variables IS NOT NULL", (site.idsite, first, last)):
            for name, value in orjson.loads(raw).values():
                add("%s - %s" % (name, value) if flat else name, idvisit, idvisitor, 1)
        out = []
        for label, r in found.items():
            row = {"label": label, "nb_visits": len(r["visits"])}
            if unique:
                row["nb_uniq_visitors"] = len(r["visitors"])
            row["nb_actions"] = r["actions"]
            out.append(row)
        out.sort(key=lambda r: (-r["nb_visits"], r["label"]))
        return _limit(out, params)

    def custom_dimension(self, site, first, last, params, unique):
        raw = params.get("idDimension")
        if raw in (None, ""):
            raise ReportError("Please specify a value for 'idDimension'.")
        try:
            ident = int(str(raw))
        except ValueError:
            raise ReportError("The parameter 'idDimension' must be an integer, got '%s'." % raw)
        scope = site.dimensions.get(ident)
        if scope is None:
            raise ReportError("Dimension %d for website %d does not exist" % (ident,
                                                                              site.idsite))
        path = "$.\"%d\"" % ident
        out = []
        if scope == "visit":
            for row in self.q("SELECT json_extract(dimensions, ?) AS value, %s FROM visit WHERE "
                              "idsite = ? AND day BETWEEN ? AND ? GROUP BY value"
                              % VISIT_METRICS_SQL, (path, site.idsite, first, last)):
                r = {"label": row[0] if row[0] is not None else NOT_DEFINED}
                r.update(visit_metrics(row[1:], unique))
                out.append(r)
        else:
            for value, hits, visits, uniq in self.q(
                    "SELECT json_extract(a.dimensions, ?) AS value, count(*), "
                    "count(DISTINCT a.idvisit), count(DISTINCT v.idvisitor) FROM action a JOIN "
                    "visit v ON v.idvisit = a.idvisit WHERE a.idsite = ? AND a.day BETWEEN ? AND "
                    "? AND a.type = 'pageview' GROUP BY value", (path, site.idsite, first, last)):
                r = {"label": value if value is not None else NOT_DEFINED, "nb_hits": hits,
                     "nb_visits": visits}
                if unique:
                    r["nb_uniq_visitors"] = uniq
                out.append(r)
        out.sort(key=lambda r: (-r["nb_visits"], r["label"]))
        return _limit(out, params)


def page_label(url: str) -> str:
    """The label of a page URL in Actions.getPageUrls with flat=1: the path and query, decoded,
    "/index" for the site root, a single segment as "/name", deeper ones as "dir/name"
    (Actions/ArchivingHelper.php getActionExplodedNames; the flattener joins levels)."""
    rest = url.partition("://")[2] if "://" in url else url
    path = "/" + rest.partition("/")[2] if "/" in rest else "/"
    try:
        path = unquote(path, errors="strict")
    except UnicodeDecodeError:
        pass
    parts = path.lstrip("/").split("/")
    if parts[-1] == "" or parts[-1].startswith("?"):
        parts[-1] = "index" + parts[-1]
    if len(parts) == 1:
        return "/" + parts[0]
    return "/".join(parts)


def _limit(rows: list, params: dict) -> list:
    """filter_limit (default 100, -1 for all) and filter_offset, as the API applies them."""
    try:
        limit = int(str(params.get("filter_limit") or 100))
        offset = int(str(params.get("filter_offset") or 0))
    except ValueError:
        return rows
    rows = rows[max(0, offset):]
    return rows if limit < 0 else rows[:limit]


# Live ------------------------------------------------------------------------------------------
VISIT_SELECT = ("idvisit, idvisitor, config_id, user_id, first_action_time, last_action_time, "
                "day, total_actions, total_time, ip, user_agent, referer_url, referer_type, "
                "referer_name, referer_keyword, pageviews, searches, events, interactions, "
                "goals_converted, goal_buyer, visit_count, visitor_returning, seconds_since_first, "
                "seconds_since_last, seconds_since_order, resolution, language, local_time, "
                "plugins, country, region, city, latitude, longitude, custom_variables, dimensions")
BUYER = {0: "none", 1: "ordered", 2: "abandonedCart", 3: "orderedThenAbandonedCart"}
RETURNING = {0: "new", 1: "returning", 2: "returningCustomer"}


def last_visits(ep, site, params: dict, now: int) -> list[dict]:
    """Live.getLastVisitsDetails: the latest visits first, each with its actions
    (plugins/Live/API.php, Live/VisitorDetails.php field names)."""
    args: list = [site.idsite]
    where = "idsite = ?"
    if params.get("period") or params.get("date"):
        _, spans = periods(str(params.get("period") or ""), str(params.get("date") or ""), site,
                           now)
        where += " AND day BETWEEN ? AND ?"
        args += [spans[0][1], spans[-1][2]]
    try:
        limit = int(str(params.get("filter_limit") or 100))
        offset = int(str(params.get("filter_offset") or 0))
    except ValueError:
        raise ReportError("filter_limit and filter_offset must be integers")
    rows = ep.store.query("SELECT %s FROM visit WHERE %s ORDER BY last_action_time DESC, "
                          "idvisit DESC LIMIT ? OFFSET ?" % (VISIT_SELECT, where),
                          args + [limit if limit >= 0 else -1, max(0, offset)])
    names = [c.strip() for c in VISIT_SELECT.split(",")]
    out = []
    for row in rows:
        v = dict(zip(names, row))
        out.append(_visit_details(ep, site, v))
    return out


def _visit_details(ep, site, v: dict) -> dict:
    days = site.days
    first, last = v["first_action_time"], v["last_action_time"]
    kind = v["referer_type"] or R.DIRECT
    d = {
        "idSite": site.idsite, "idVisit": v["idvisit"], "visitIp": v["ip"],
        "visitorId": v["idvisitor"], "fingerprint": v["config_id"],
        "actionDetails": _actions(ep, site, v["idvisit"]),
        "goalConversions": len([g for g in (v["goals_converted"] or "").split(",") if g]),
        "siteCurrency": site.currency, "siteName": site.name,
        "serverDate": days(first), "visitServerHour": days.local_time(last)[11:13],
        "lastActionTimestamp": last, "lastActionDateTime": days.local_time(last),
        "firstActionTimestamp": first, "serverTimestamp": last,
        "userId": v["user_id"], "visitorType": RETURNING.get(v["visitor_returning"] or 0, "new"),
        "visitConverted": 1 if v["goals_converted"] or v["goal_buyer"] in (1, 3) else 0,
        "visitCount": v["visit_count"], "visitEcommerceStatus": BUYER.get(v["goal_buyer"] or 0),
        "daysSinceFirstVisit": (v["seconds_since_first"] or 0) // 86400,
        "secondsSinceFirstVisit": v["seconds_since_first"],
        "daysSinceLastVisit": (v["seconds_since_last"] // 86400
                               if v["seconds_since_last"] is not None else None),
        "secondsSinceLastVisit": v["seconds_since_last"],
        "secondsSinceLastEcommerceOrder": v["seconds_since_order"],
        "visitDuration": v["total_time"], "actions": v["total_actions"],
        "interactions": v["pageviews"], "searches": v["searches"], "events": v["events"],
        "referrerType": R.TYPE_NAMES.get(kind, "direct"),
        "referrerTypeName": R.TYPE_LABELS.get(kind, "Direct Entry"),
        "referrerName": v["referer_name"] or "", "referrerKeyword": v["referer_keyword"] or "",
        "referrerUrl": v["referer_url"], "languageCode": v["language"],
        "resolution": v["resolution"] or "Unknown", "plugins": v["plugins"] or "",
        "visitLocalTime": v["local_time"],
        "visitLocalHour": (v["local_time"] or "00")[:2].lstrip("0") or "0",
        "countryCode": v["country"], "region": v["region"], "city": v["city"],
        "latitude": v["latitude"], "longitude": v["longitude"], "userAgent": v["user_agent"],
    }
    cvars = orjson.loads(v["custom_variables"]) if v["custom_variables"] else {}
    d["customVariables"] = {
        slot: {"customVariableName" + slot: name, "customVariableValue" + slot: value}
        for slot, (name, value) in sorted(cvars.items())}
    dims = orjson.loads(v["dimensions"]) if v["dimensions"] else {}
    for ident, value in sorted(dims.items()):
        d["dimension" + ident] = value
    return d


ACTION_TYPE_NAMES = {"pageview": "action", "download": "download", "outlink": "outlink",
                     "site_search": "search", "event": "event", "content": "content",
                     "goal": "goal", "ecommerce": "ecommerceOrder",
                     "cart": "ecommerceAbandonedCart"}


def _actions(ep, site, idvisit: int) -> list[dict]:
    out = []
    for row in ep.store.query(
            "SELECT type, url, name, time, pv_id, search_cat, search_count, event_category, "
            "event_action, event_name, event_value, content_name, content_piece, content_target, "
            "content_interaction, idgoal, revenue, ec_id, items, subtotal, tax, shipping, "
            "discount, custom_variables, dimensions, performance, gt_ms FROM action "
            "WHERE idvisit = ? ORDER BY time, idrequest", (idvisit,)):
        (kind, url, name, t, pv_id, search_cat, search_count, e_c, e_a, e_n, e_v, c_n, c_p, c_t,
         c_i, idgoal, revenue, ec_id, items, subtotal, tax, shipping, discount, cvars, dims,
         perf, gt_ms) = row
        a = {"type": ACTION_TYPE_NAMES.get(kind, kind), "url": url, "timestamp": t,
             "serverTimePretty": site.days.local_time(t)}
        if kind == "pageview":
            a.update({"pageTitle": name, "idpageview": pv_id})
            if gt_ms is not None:
                a["generationTimeMilliseconds"] = gt_ms
            if perf:
                a["performance"] = orjson.loads(perf)
        elif kind == "site_search":
            a.update({"siteSearchKeyword": name, "siteSearchCategory": search_cat,
                      "siteSearchCount": search_count})
        elif kind == "event":
            a.update({"eventCategory": e_c, "eventAction": e_a, "eventName": e_n,
                      "eventValue": e_v})
        elif kind == "content":
            a.update({"contentName": c_n, "contentPiece": c_p, "contentTarget": c_t,
                      "contentInteraction": c_i})
        elif kind == "goal":
            a.update({"goalId": idgoal, "revenue": revenue})
        elif kind in ("ecommerce", "cart"):
            a.update({"orderId": ec_id, "revenue": revenue, "revenueSubTotal": subtotal,
                      "revenueTax": tax, "revenueShipping": shipping,
                      "revenueDiscount": discount,
                      "itemDetails": [{"itemSKU": i[0], "itemName": i[1], "itemCategory": i[2],
                                       "price": i[3], "quantity": i[4]}
                                      for i in (orjson.loads(items) if items else [])]})
        if cvars:
            a["customVariables"] = {
                slot: {"customVariablePageName" + slot: n, "customVariablePageValue" + slot: val}
                for slot, (n, val) in sorted(orjson.loads(cvars).items())}
        if dims:
            for ident, value in orjson.loads(dims).items():
                a["dimension" + ident] = value
        out.append(a)
    return out
