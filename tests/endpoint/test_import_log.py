"""An imported generated log: the endpoint's visits per site and day match an independent count.

The log comes from the project's generator (log_importer.loggen); each line becomes a tracking request the way an
importer builds it (ip, date -> UTC cdt, path, status, user agent; non-200 and static files
skipped), sent in bulk with the super user's token. The independent count: visitor = site + IP +
user agent, a new visit after 30 minutes without a hit or at UTC midnight; bots (by Matomo's
rule, Device Detector's bots.yml, which the endpoint must use) are not counted.
"""
from __future__ import annotations

import collections
import datetime as dt
import re

import httpx
import orjson
import pytest

from log_importer.bots import matomo_is_bot
from log_importer.endpoint import Endpoint
from log_importer.loggen import generate

from .calls import TOKEN

LINE = re.compile(r'^(?:(?P<host>[^: ]+):\d+ )?(?P<ip>\S+) \S+ \S+ \[(?P<date>[^\]]+)\] '
                  r'"(?P<method>\S+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) \S+ '
                  r'"(?P<ref>[^"]*)" "(?P<ua>[^"]*)"$')
STATIC = {"css", "js", "png", "jpg", "jpeg", "gif", "svg", "ico", "woff", "woff2", "ttf"}
DOWNLOAD = {"pdf", "zip", "exe", "csv", "mp4", "gz", "pptx"}
SITES = {1: ["https://www.example.com", "https://example.com"], 2: "https://blog.example.org",
         3: "https://shop.example.net"}
SITE_OF_HOST = {"www.example.com": 1, "example.com": 1, "blog.example.org": 2,
                "shop.example.net": 3}


def generated_hits(lines: int, fmt: str) -> list[dict]:
    hits = []
    for line in (text.decode() for text in generate(lines, fmt, seed=7)):
        m = LINE.match(line)
        assert m, line
        path = m["path"]
        stem = path.partition("?")[0]
        ext = stem.rpartition(".")[2].lower() if "." in stem.rpartition("/")[2] else ""
        if m["status"] != "200" or ext in STATIC or stem.endswith("/robots.txt"):
            continue
        when = dt.datetime.strptime(m["date"], "%d/%b/%Y:%H:%M:%S %z").astimezone(dt.timezone.utc)
        host = m["host"] or "www.example.com"
        url = "https://" + host + path
        request = {"rec": 1, "apiv": 1, "idsite": SITE_OF_HOST[host], "url": url,
                   "cip": m["ip"], "cdt": when.strftime("%Y-%m-%d %H:%M:%S"), "ua": m["ua"],
                   "dp": 1, "queuedtracking": 0, "cvar": '{"1": ["HTTP-code", "200"]}'}
        if m["ref"] != "-":
            request["urlref"] = m["ref"]
        if ext in DOWNLOAD:
            request["download"] = url
        hits.append(request)
    return hits


def independent_visits(hits: list[dict]) -> tuple[dict, dict]:
    """Visits per (site, day), and which rule started each visit that continued a visitor."""
    last: dict[tuple, dt.datetime] = {}
    visits: collections.Counter = collections.Counter()
    reasons: collections.Counter = collections.Counter()
    for h in hits:
        if matomo_is_bot(h["ua"]):
            continue
        t = dt.datetime.strptime(h["cdt"], "%Y-%m-%d %H:%M:%S")
        key = (h["idsite"], h["cip"], h["ua"])
        before = last.get(key)
        if before is None:
            new = True
        elif before.date() != t.date():
            new, reasons["midnight"] = True, reasons["midnight"] + 1
        elif (t - before).total_seconds() >= 1800:
            new, reasons["30 minutes"] = True, reasons["30 minutes"] + 1
        else:
            new = False
        if new:
            visits[(str(h["idsite"]), t.date().isoformat())] += 1
        last[key] = t
    return dict(visits), dict(reasons)


@pytest.mark.parametrize("lines, fmt", [(3000, "combined"), (20000, "vhost")])
def test_visits_per_site_and_day_match_an_independent_count(lines, fmt):
    hits = generated_hits(lines, fmt)
    expected, reasons = independent_visits(hits)
    if fmt == "vhost":
        # The long multi-site log crosses UTC midnight and has visitors who come back after a
        # pause, so both rules are exercised.
        assert reasons.get("midnight", 0) > 0 and reasons.get("30 minutes", 0) > 0
        assert len({site for site, _ in expected}) == 3
    with Endpoint(token=TOKEN, sites=SITES) as ep, httpx.Client(base_url=ep.url) as client:
        tracked = 0
        for i in range(0, len(hits), 200):
            body = orjson.dumps({"requests": hits[i:i + 200], "token_auth": TOKEN})
            r = client.post("/piwik.php?queuedtracking=0", content=body)
            assert r.status_code == 200
            answer = r.json()
            assert answer["invalid"] == 0 and answer["invalid_indices"] == []
            tracked += answer["tracked"]
        assert tracked == len(hits)
        report = ep.report()["sites"]
    got = {(site, day): v["visits"] for site, s in report.items() for day, v in s["days"].items()
           if v["visits"]}
    assert got == expected
    humans = [h for h in hits if not matomo_is_bot(h["ua"])]
    assert len(humans) < len(hits)  # the log has bots, and they were left out
    assert sum(s["actions"] for s in report.values()) == len(humans)
    visitors = {(h["idsite"], h["cip"], h["ua"]) for h in humans}
    assert sum(s["visitors"] for s in report.values()) == len(visitors)
    assert sum(s["downloads"] for s in report.values()) == sum("download" in h for h in humans)
