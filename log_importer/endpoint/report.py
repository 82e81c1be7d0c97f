"""What the endpoint stored, summed per site: `/report.json` and the `/report` HTML page.

Visits are counted per UTC day of their first action (a visit never crosses midnight), actions
per UTC day of the action. `visitors` counts distinct visitor ids. `top_pages` are the ten most
viewed pageview URLs; `top_referrers` the ten most frequent visit referrers, leaving out
referrers from the site's own hosts (Matomo counts those as direct entries).
`custom_dimensions` (only for sites that received some): per dimension ID, its ten most
frequent values with the number of stored hits that carried them (`dimensionID` parameters).
"""
from __future__ import annotations

import html

import orjson

from .sites import host_of, strip_www

TOP = 10
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
    for idsite, params in store.query(
            "SELECT idsite, params FROM request WHERE outcome = 'stored' AND params LIKE '%\"dimension%'"):
        dims = site(idsite).setdefault("custom_dimensions", {})
        for key, value in orjson.loads(params).items():
            if key.startswith("dimension") and key[9:].isdigit() and value not in (None, ""):
                values = dims.setdefault(key[9:], {})
                values[str(value)] = values.get(str(value), 0) + 1
    for s in out.values():  # custom dimension ID -> [[value, hits], ...], most hits first
        if "custom_dimensions" in s:
            s["custom_dimensions"] = {d: [list(kv) for kv in sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]]
                                      for d, v in sorted(s["custom_dimensions"].items(), key=lambda x: int(x[0]))}
    return {"sites": out}


def chart_svg(days: dict, width: int = 640, height: int = 160) -> str:
    """Visits per day as an inline SVG bar chart."""
    items = sorted(days.items())
    if not items:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="40" role="img">' \
               '<text x="4" y="24" font-size="12">no visits</text></svg>' % width
    top = max(v["visits"] for _, v in items) or 1
    bar = max(2.0, (width - 40) / len(items))
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" '
             'aria-label="visits per day">' % (width, height + 30)]
    for i, (day, v) in enumerate(items):
        h = (height - 20) * v["visits"] / top
        x = 30 + i * bar
        parts.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#3450a1">'
                     '<title>%s: %d visits, %d actions</title></rect>'
                     % (x, height - h, max(1.0, bar - 2), h, day, v["visits"], v["actions"]))
    parts.append('<text x="0" y="14" font-size="11">%d</text>' % top)
    parts.append('<text x="30" y="%d" font-size="11">%s</text>' % (height + 16, items[0][0]))
    if len(items) > 1:
        parts.append('<text x="%d" y="%d" font-size="11" text-anchor="end">%s</text>'
                     % (width - 4, height + 16, items[-1][0]))
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: dict, sites: dict) -> str:
    e = html.escape
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>Tracking endpoint report"
           "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
           "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}</style></head><body>",
           "<h1>Tracking endpoint report</h1>"]
    for idsite, s in report["sites"].items():
        site = sites.get(int(idsite))
        title = "%s (%s)" % (site.name, site.main_url) if site else "unknown site"
        out.append("<h2>Site %s: %s</h2>" % (e(idsite), e(title)))
        out.append("<table><tr>%s</tr><tr>%s</tr></table>" % (
            "".join("<th>%s</th>" % k for k in ("visits", "visitors", "actions", "pageviews",
                                               "downloads", "outlinks", "events", "site_searches")),
            "".join("<td>%d</td>" % s[k] for k in ("visits", "visitors", "actions", "pageviews",
                                                  "downloads", "outlinks", "events",
                                                  "site_searches"))))
        out.append("<h3>Visits per day</h3>" + chart_svg(s["days"]))
        for key, label in (("top_pages", "Top pages"), ("top_referrers", "Top referrers")):
            if s[key]:
                out.append("<h3>%s</h3><table>%s</table>" % (label, "".join(
                    "<tr><td>%s</td><td>%d</td></tr>" % (e(u), n) for u, n in s[key])))
        for ident, values in s.get("custom_dimensions", {}).items():
            out.append("<h3>Custom dimension %s</h3><table>%s</table>" % (e(ident), "".join(
                "<tr><td>%s</td><td>%d</td></tr>" % (e(v), n) for v, n in values)))
    out.append("<p><a href='/report.json'>report.json</a></p></body></html>")
    return "".join(out)
