"""What the endpoint stored: `/report.json` (summed per site) and the `/report` HTML page.

report.json: visits are counted per site-local day of their actions (a visit never crosses the
site's midnight), actions per day of the action. `visitors` counts distinct visitor ids.
`top_pages` are the ten most viewed pageview URLs; `top_referrers` the ten most frequent visit
referrers, leaving out referrers from the site's own hosts (Matomo counts those as direct
entries).

/report shows, per site, what Matomo's dashboard shows first (plugins/Dashboard's default
layout): the visits overview with unique visitors and actions by type, visits and actions per
day on a time axis, the referrer channels, the top pages (decoded URLs), site search keywords
(and those with no result), events, goals and ecommerce, the site's custom dimensions, and how
many requests were excluded as bots. It is computed with the Reporting API's own methods
(reporting.py) over the whole stored period, or over `?period=...&date=...` when given; `?idSite=N` shows one site.
"""
from __future__ import annotations

import datetime as dt
import html
import time

from .reporting import ReportError, Reports, periods
from .sites import host_of, strip_www

TOP = 10
MAX_CHART_DAYS = 3660  # ten years of days on the report page's chart
TYPE_KEYS = {"pageview": "pageviews", "download": "downloads", "outlink": "outlinks",
             "event": "events", "site_search": "site_searches"}


def _empty() -> dict:
    return {"visits": 0, "visitors": 0, "actions": 0, "pageviews": 0, "downloads": 0,
            "outlinks": 0, "events": 0, "site_searches": 0, "days": {}, "top_pages": [],
            "top_referrers": []}


def build(store, sites: dict) -> dict:
    """The report of every site (call under the endpoint's lock)."""
    out = {str(i): _empty() for i in sorted(sites)}

    def site(idsite):
        return out.setdefault(str(idsite), _empty())

    for idsite, visits, visitors in store.query(
            "SELECT idsite, count(*), count(DISTINCT idvisitor) FROM visit GROUP BY idsite"):
        s = site(idsite)
        s["visits"], s["visitors"] = visits, visitors
    for idsite, kind, n, counted in store.query(
            "SELECT idsite, type, count(*), sum(counted) FROM action GROUP BY idsite, type"):
        s = site(idsite)
        s["actions"] += counted
        if kind in TYPE_KEYS:
            s[TYPE_KEYS[kind]] = n
    days: dict[tuple, dict] = {}
    for idsite, day, n in store.query(
            "SELECT idsite, day, count(*) FROM visit GROUP BY idsite, day"):
        days.setdefault((idsite, day), {"visits": 0, "actions": 0})["visits"] = n
    for idsite, day, n in store.query(
            "SELECT idsite, day, sum(counted) FROM action GROUP BY idsite, day"):
        if n:
            days.setdefault((idsite, day), {"visits": 0, "actions": 0})["actions"] = n
    for (idsite, day), v in sorted(days.items()):
        site(idsite)["days"][day] = v
    for idsite, url, n in store.query(
            "SELECT idsite, url, count(*) AS n FROM action WHERE type = 'pageview' "
            "AND url IS NOT NULL GROUP BY idsite, url ORDER BY idsite, n DESC, url"):
        top = site(idsite)["top_pages"]
        if len(top) < TOP:
            top.append([url, n])
    for idsite, ref, n in store.query(
            "SELECT idsite, referer_url, count(*) AS n FROM visit WHERE referer_url IS NOT NULL "
            "GROUP BY idsite, referer_url ORDER BY idsite, n DESC, referer_url"):
        s = site(idsite)
        top = s["top_referrers"]
        own = sites[idsite].hosts if idsite in sites else frozenset()
        if len(top) < TOP and strip_www(host_of(ref)) not in own:
            top.append([ref, n])
    return {"sites": out}


CHANNELS = ("Direct Entry", "Search Engines", "Websites", "Social Networks", "Campaigns")
STYLE = ("body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1100px}"
         "h1{font-size:1.5em}h2{border-bottom:2px solid #3450a1;padding-bottom:.2em;margin-top:2em}"
         "h3{font-size:1.05em;margin:1.2em 0 .4em}table{border-collapse:collapse;margin:.3em 0}"
         "td,th{border:1px solid #ccc;padding:3px 9px;text-align:left}td.n{text-align:right}"
         ".cards{display:flex;flex-wrap:wrap;gap:.6em}.card{border:1px solid #ccc;"
         "border-radius:6px;padding:.5em .9em;min-width:7.5em}.card b{display:block;"
         "font-size:1.5em}.grid{display:grid;grid-template-columns:1fr 1fr;gap:0 2em}"
         ".note{color:#666;font-size:.9em}")


def render_page(ep, params: dict) -> str:
    """The /report page (call under the endpoint's lock, visits written)."""
    e = html.escape
    now = int(time.time())
    reports = Reports(ep)
    wanted = str(params.get("idSite") or "")
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
           "<link rel='icon' href='data:,'><title>Tracking endpoint report</title>"
           "<style>%s</style></head><body><h1>Tracking endpoint report</h1>" % STYLE]
    for idsite, site in sorted(ep.sites.items()):
        if wanted and wanted != str(idsite):
            continue
        out.append("<h2>Site %d: %s <span class='note'>%s, time zone %s</span></h2>"
                   % (idsite, e(site.name), e(site.main_url or "no URL"), e(site.timezone)))
        try:
            period, date, asked = _period(ep, site, params)
        except ReportError as err:
            out.append("<p>%s</p>" % e(str(err)))
            continue
        if period is None:
            out.append("<p>No visits yet.</p>")
            out.append(_bots(ep, idsite))
            continue
        q = {"period": period, "date": date, "filter_limit": "10"}

        def get(method, **extra):
            return reports.run(method, site, {**q, **extra}, now)

        out.append("<p class='note'>period=%s, date=%s</p>" % (e(period), e(date)))
        # One period asked (a day, a week, ...): its summary, the same days as the range, with what
        # the API gives only per period (unique visitors)
        summary = (reports.run("VisitsSummary.get", site, {"period": asked[0], "date": asked[1]}, now) if asked
                   else get("VisitsSummary.get")) or {}
        actions = get("Actions.get") or {}
        if asked and (not summary or "nb_uniq_visitors" in summary):  # day, week, month: the API's
            uniques = ("Unique visitors", summary.get("nb_uniq_visitors", 0))
        else:  # Matomo's API gives none for a range or a year: counted here, and said so
            uniques = ("Unique visitors*", ep.store.query(
                "SELECT count(DISTINCT idvisitor) FROM visit WHERE idsite = ? AND day BETWEEN ? AND ?",
                (idsite,) + _span(date))[0][0])
        cards = [("Visits", summary.get("nb_visits", 0)), uniques,
                 ("Actions", summary.get("nb_actions", 0)),
                 ("Pageviews", actions.get("nb_pageviews", 0)),
                 ("Downloads", actions.get("nb_downloads", 0)),
                 ("Outlinks", actions.get("nb_outlinks", 0)),
                 ("Site searches", actions.get("nb_searches", 0)),
                 ("Events", _events(ep, idsite, date)),
                 ("Bounce rate", summary.get("bounce_rate", "0%")),
                 ("Avg. time on site", "%ss" % summary.get("avg_time_on_site", 0))]
        out.append("<div class='cards'>%s</div>" % "".join(
            "<div class='card'>%s<b>%s</b></div>" % (e(k), e(str(v))) for k, v in cards))
        if uniques[0].endswith("*"):
            out.append("<p class='note'>* over the whole period=%s: Matomo's VisitsSummary.get gives no unique "
                       "visitors for it (enable_processing_unique_visitors_%s = 0 in its global.ini.php), nor does "
                       "this endpoint's API</p>" % (e(period), e(period)))
        out.append("<h3>Visits and actions per day</h3>")
        out.append(chart_svg(ep, site, date))
        out.append("<div class='grid'><div>")
        channels = {r["label"]: r["nb_visits"] for r in get("Referrers.getReferrerType",
                                                             filter_limit="-1")}
        out.append(_table("Channels", ("Channel", "Visits"),
                          [(c, channels.get(c, 0)) for c in CHANNELS]))
        out.append(_table("Campaigns", ("Campaign", "Visits"),
                          [(r["label"], r["nb_visits"]) for r in get("Referrers.getCampaigns")]))
        out.append(_table("Site search keywords", ("Keyword", "Searches", "No result"),
                          _keywords(ep, idsite, date)))
        out.append("</div><div>")
        out.append(_table("Top pages", ("Page", "Pageviews", "Visits"),
                          [(r["label"], r["nb_hits"], r["nb_visits"])
                           for r in get("Actions.getPageUrls", flat="1")]))
        out.append(_table("Events", ("Category", "Events", "Total value"),
                          [(r["label"], r["nb_events"], r["sum_event_value"])
                           for r in get("Events.getCategory")]))
        goals = get("Goals.get") or {}
        orders = get("Goals.get", idGoal="ecommerceOrder") or {}
        carts = get("Goals.get", idGoal="ecommerceAbandonedCart") or {}
        out.append(_table("Goals and ecommerce", ("", "Conversions", "Revenue"), [
            ("All goals and orders", goals.get("nb_conversions", 0), goals.get("revenue", 0)),
            ("Ecommerce orders", orders.get("nb_conversions", 0), orders.get("revenue", 0)),
            ("Abandoned carts", carts.get("nb_conversions", 0), carts.get("revenue", 0))]))
        out.append(_table("Products sold", ("SKU", "Quantity", "Revenue"),
                          [(r["label"], r["quantity"], r["revenue"])
                           for r in get("Goals.getItemsSku")]))
        for ident, scope in sorted(site.dimensions.items()):
            out.append(_table("Custom dimension %d (%s)" % (ident, scope), ("Value", "Visits"),
                              [(r["label"], r["nb_visits"])
                               for r in get("CustomDimensions.getCustomDimension", idDimension=str(ident))]))
        out.append("</div></div>")
        out.append(_bots(ep, idsite))
    out.append("<p class='note'><a href='/report.json'>report.json</a> &middot; Reporting API: "
               "<code>/index.php?module=API&amp;format=json&amp;method=VisitsSummary.get&amp;"
               "idSite=1&amp;period=day&amp;date=today</code></p></body></html>")
    return "".join(out)


def _span(date: str) -> tuple[str, str]:
    a, _, b = date.partition(",")
    return a, b or a


def _period(ep, site, params: dict):
    """(period, date, asked) the page shows: always a range "A,B" (None, None, None without
    visits); `asked` is the (period, date) given when it is one period (a day, a week, ...), for
    the figures the API gives only per period (unique visitors), else None."""
    period = str(params.get("period") or "")
    date = str(params.get("date") or "")
    if period or date:
        several, spans = periods(period, date, site, int(time.time()))
        return "range", "%s,%s" % (spans[0][1], spans[-1][2]), None if several else (period, date)
    first, last = ep.store.query("SELECT min(day), max(day) FROM visit WHERE idsite = ?",
                                 (site.idsite,))[0]
    if first is None:
        return None, None, None
    return "range", "%s,%s" % (first, last), None


def _events(ep, idsite: int, date: str) -> int:
    return ep.store.query("SELECT count(*) FROM action WHERE idsite = ? AND type = 'event' AND "
                          "day BETWEEN ? AND ?", (idsite,) + _span(date))[0][0]


def _keywords(ep, idsite: int, date: str) -> list[tuple]:
    """Keywords with their searches and "no result" marks (Actions.getSiteSearchKeywords and
    getSiteSearchNoResultKeywords: a search_count of 0)."""
    rows = ep.store.query(
        "SELECT name, count(*), sum(CASE WHEN search_count = 0 THEN 1 ELSE 0 END) AS none "
        "FROM action WHERE idsite = ? AND type = 'site_search' AND day BETWEEN ? AND ? "
        "GROUP BY name ORDER BY count(*) DESC, name LIMIT 10", (idsite,) + _span(date))
    return [(k, n, "yes" if none else "") for k, n, none in rows]


def _bots(ep, idsite: int) -> str:
    from .tracking import EXCLUDED_BOT
    n = ep.store.query("SELECT count(*) FROM request WHERE idsite = ? AND outcome = 'not_stored' "
                       "AND error = ?", (idsite, EXCLUDED_BOT))[0][0]
    return ("<p class='note'>Bots excluded (answered as tracked, not stored, as Matomo does): "
            "<b id='bots-%d'>%d</b> requests</p>" % (idsite, n))


def _table(title: str, head: tuple, rows: list) -> str:
    e = html.escape
    if not rows:
        return "<h3>%s</h3><p class='note'>none</p>" % e(title)
    body = "".join("<tr>%s</tr>" % "".join(
        "<td class='n'>%s</td>" % e(str(c)) if isinstance(c, (int, float)) else
        "<td>%s</td>" % e(str(c)) for c in row) for row in rows)
    return "<h3>%s</h3><table><tr>%s</tr>%s</table>" % (
        e(title), "".join("<th>%s</th>" % e(h) for h in head), body)


def chart_svg(ep, site, date: str, width: int = 720, height: int = 180) -> str:
    """Visits (bars) and actions (line) per day as an inline SVG, on a time axis: one slot per
    calendar day from the first to the last, days without visits included."""
    first, last = _span(date)
    if (dt.date.fromisoformat(last) - dt.date.fromisoformat(first)).days >= MAX_CHART_DAYS:
        # A period of centuries (date=last5000, 1900-01-01,2100-12-31): the axis runs over the
        # days that hold data, at most MAX_CHART_DAYS of them (the latest).
        held = ep.store.query("SELECT min(day), max(day) FROM visit WHERE idsite = ? AND day BETWEEN ? AND ?",
                              (site.idsite, first, last))[0]
        if held[0] is not None:
            first, last = held
        first = max(first, (dt.date.fromisoformat(last) - dt.timedelta(days=MAX_CHART_DAYS - 1)).isoformat())
    counts = {d: [0, 0] for d in _days(first, last)}
    for day, n in ep.store.query("SELECT day, count(*) FROM visit WHERE idsite = ? AND day "
                                 "BETWEEN ? AND ? GROUP BY day", (site.idsite, first, last)):
        if day in counts:
            counts[day][0] = n
    for day, n in ep.store.query("SELECT day, sum(counted) FROM action WHERE idsite = ? AND day "
                                 "BETWEEN ? AND ? GROUP BY day", (site.idsite, first, last)):
        if day in counts:
            counts[day][1] = n or 0
    days = sorted(counts)
    top = max([max(v) for v in counts.values()] + [1])
    top += top % 2  # even: the middle line of the axis is a whole number too (0, 1, 2; not 0, 0, 1)
    left, bottom = 44, height - 30
    slot = (width - left - 10) / max(1, len(days))
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" '
             'aria-label="visits and actions per day">' % (width, height)]
    for frac in (0, 0.5, 1):
        y = bottom - (bottom - 10) * frac
        parts.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" '
                     'y="%.1f" font-size="10" text-anchor="end">%d</text>'
                     % (left, width - 10, y, y, left - 4, y + 3, round(top * frac)))
    points = []
    for i, day in enumerate(days):
        visits, actions = counts[day]
        x = left + i * slot
        h = (bottom - 10) * visits / top
        parts.append('<rect class="day" x="%.1f" y="%.1f" width="%.1f" height="%.1f" '
                     'fill="#3450a1"><title>%s: %d visits, %d actions</title></rect>'
                     % (x + 1, bottom - h, max(1.0, slot - 2), h, day, visits, actions))
        points.append("%.1f,%.1f" % (x + slot / 2, bottom - (bottom - 10) * actions / top))
    if len(points) > 1:
        parts.append('<polyline points="%s" fill="none" stroke="#e0832f" stroke-width="2"/>'
                     % " ".join(points))
    step = max(1, len(days) // 6)
    for i in range(0, len(days), step):
        parts.append('<text x="%.1f" y="%d" font-size="10">%s</text>'
                     % (left + i * slot, height - 12, days[i]))
    parts.append('<text x="%d" y="%d" font-size="10" fill="#3450a1">&#9632; visits</text>'
                 '<text x="%d" y="%d" font-size="10" fill="#e0832f">&#9644; actions</text>'
                 % (left, height - 1, left + 60, height - 1))
    parts.append("</svg>")
    return "".join(parts)


def _days(first: str, last: str) -> list[str]:
    d, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    out = []
    while d <= end and len(out) < MAX_CHART_DAYS:
        out.append(d.isoformat())
        d += dt.timedelta(days=1)
    return out
