"""A deterministic access-log generator, for tests, benchmarks and trials.

    python -m log_importer.loggen --lines 1000000 --format combined > access.log
    log-importer-loggen --lines 20000 --format vhost --hostile --seed 3 -o odd.log

The same options give the same bytes. Lines are streamed, so any size (10 lines or 10M) costs
no memory. The log follows visitors: each visit is a few page views on one site, each page
followed by its static files, with referrers from search engines, other sites, campaigns (about
one visit in ten lands on a URL with `utm_*` parameters) and then from the visit's own pages;
some visitors come back after a pause of over 30 minutes; bots crawl without static files;
downloads, site searches, 304, 404, redirects and errors are mixed in. A log of more than about
an hour crosses UTC midnight (the default start is 2026-03-01 00:00 at +0100).

`--hostile` replaces about 8% of the lines with the odd lines real logs hold: escaped quotes,
`\\xHH` escapes, raw UTF-8 and undecodable bytes, IPv6 clients, `-` and `unix:` clients,
impossible dates and time zones, TLS handshakes and other binary junk, NUL bytes, lines of
20-70 KB, truncated lines, CRLF line ends, empty lines, a vhost line with an empty host, and
(W3C) quoted fields and a header that repeats mid-file.

Formats: see `FORMATS` (`--format help` lists them). A format is one function that renders a
`Hit` as one line (bytes), plus an optional header: adding a format means adding such a pair.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from urllib.parse import quote

import orjson

__all__ = ["Hit", "generate", "FORMATS", "main"]

DEFAULT_START = "2026-03-01T00:00:00+01:00"

HOSTS = [("www.example.com", 443, 45), ("example.com", 443, 10), ("blog.example.org", 443, 25),
         ("shop.example.net", 443, 20)]

BROWSERS = [  # (user agent, weight)
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", 30),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/130.0.6723.107 Mobile Safari/537.36", 14),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/18.1 Mobile/15E148 Safari/604.1", 14),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.6 Safari/605.1.15", 10),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 8),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 6),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.70", 6),
    ("Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", 4),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", 2),
    ("Opera/9.80 (Windows NT 6.0) Presto/2.12.388 Version/12.14", 1),
    ("Mozilla/5.0 (Linux; Android 13; SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", 3),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/470.0.0.36.105;FBBV/620445587]", 2),
]
BOTS = [  # crawlers: many pages, no static files
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 30),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 15),
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", 6),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", 8),
    ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", 6),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
     "+https://openai.com/gptbot)", 6),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
     "+claudebot@anthropic.com)", 4),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", 4),
    ("Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", 3),
    ("curl/8.5.0", 3),
    ("python-requests/2.32.3", 3),
    ("Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", 2),
]
SEARCH_REFERRERS = ["https://www.google.com/", "https://www.bing.com/search?q=web+analytics",
                    "https://duckduckgo.com/", "https://www.google.de/", "https://search.yahoo.com/"]
SITE_REFERRERS = ["https://www.facebook.com/", "https://news.ycombinator.com/item?id=4242",
                  "https://t.co/abc123", "https://github.com/matomo-org/matomo",
                  "https://www.reddit.com/r/selfhosted/"]
CAMPAIGNS = ["?utm_source=newsletter&utm_medium=email&utm_campaign=spring-sale",
             "?utm_source=twitter&utm_medium=social&utm_campaign=launch",
             "?mtm_campaign=partners&mtm_source=example.net",
             "?pk_campaign=retargeting&pk_kwd=analytics"]
SECTIONS = ["docs", "blog", "news", "products", "wiki", "support"]
SLUGS = ["install", "import", "guide", "release-notes", "self-hosting", "pricing", "faq",
         "analytics", "privacy", "2024", "getting-started", "api", "caf%C3%A9", "tag-manager"]
ASSETS = ["/static/app.css", "/static/app.js", "/img/hero.jpg", "/img/logo.svg", "/favicon.ico",
          "/fonts/inter.woff2", "/static/vendor.js", "/img/screenshot.png"]
DOWNLOADS = ["/files/report-2024.pdf", "/downloads/app-1.2.3.zip", "/files/data.csv",
             "/media/intro.mp4", "/downloads/setup.exe", "/files/slides.pptx"]
SEARCH_WORDS = ["matomo", "import+logs", "gdpr", "pricing", "api+token", "caf%C3%A9"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass
class Hit:
    """One request, before it is written in some format.

    `time` is a Unix time in seconds; `offset` the server's UTC offset in seconds (the formats
    that write local time use it); `path` includes the query string; `length` is in bytes;
    `time_taken` in milliseconds; `user` is None when anonymous.
    """
    time: int
    offset: int
    ip: str
    host: str
    port: int
    method: str
    path: str
    protocol: str
    status: int
    length: int
    referrer: str
    user_agent: str
    user: str | None
    time_taken: int


class _Visit:
    __slots__ = ("ip", "ua", "host", "port", "pages", "last_url", "is_bot", "campaign", "user")


def _weighted(rng, items):
    values = [v for v, _ in items]
    weights = [w for _, w in items]
    total = sum(weights)
    cum = []
    acc = 0
    for w in weights:
        acc += w
        cum.append(acc / total)

    def pick():
        r = rng.random()
        for v, c in zip(values, cum):
            if r < c:
                return v
        return values[-1]
    return pick


def _hits(rng: random.Random, start: int, offset: int, fresh=None):
    """The endless stream of realistic hits, in time order (`fresh`: a `_FreshAgents`, or None)."""
    pick_host = _weighted(rng, [((h, p), w) for h, p, w in HOSTS])
    pick_browser = _weighted(rng, BROWSERS)
    pick_bot = _weighted(rng, BOTS)
    clock = float(start)
    active: list[_Visit] = []
    returning: list[tuple[float, _Visit]] = []  # (due time, visitor), soonest last
    users = ["alice", "bob", "carol", "dave"]

    def new_visit():
        if returning and returning[-1][0] <= clock:
            v = returning.pop()[1]
            v.pages = rng.randint(1, 6)
            v.last_url = None
            v.campaign = rng.random() < 0.1
            return v
        v = _Visit()
        if rng.random() < 0.05:
            v.ip = "2001:db8:%x:%x::%x" % (rng.randrange(65536), rng.randrange(65536), rng.randrange(1, 65536))
        else:
            v.ip = "%d.%d.%d.%d" % (rng.randint(11, 223), rng.randrange(256), rng.randrange(256),
                                    rng.randint(1, 254))
        v.is_bot = rng.random() < 0.07
        v.ua = pick_bot() if v.is_bot else pick_browser()
        if fresh is not None:
            v.ua = fresh.agent(v.ua)
        v.host, v.port = pick_host()
        v.pages = rng.randint(8, 40) if v.is_bot else 1 + int(rng.expovariate(1 / 3.0))
        v.last_url = None
        v.campaign = not v.is_bot and rng.random() < 0.1
        v.user = rng.choice(users) if not v.is_bot and rng.random() < 0.03 else None
        return v

    while True:
        while len(active) < 8:
            active.append(new_visit())
        k = rng.randrange(len(active))
        v = active[k]
        clock += rng.expovariate(1 / 1.2)
        now = int(clock)
        base = "https://" + v.host
        r = rng.random()
        method, status, length = "GET", 200, rng.randint(2000, 80000)
        if v.is_bot:
            if rng.random() < 0.05:
                path = "/robots.txt"
            else:
                path = "/%s/%s" % (rng.choice(SECTIONS), rng.choice(SLUGS))
        elif r < 0.06:
            path = rng.choice(DOWNLOADS)
            length = rng.randint(100_000, 20_000_000)
        elif r < 0.10:
            path = "/search?q=" + rng.choice(SEARCH_WORDS)
        elif r < 0.12:
            path, status, length = "/%s/old-%s" % (rng.choice(SECTIONS), rng.choice(SLUGS)), 404, 512
        elif r < 0.135:
            path, status, length = "/%s" % rng.choice(SECTIONS), 301, 0
        elif r < 0.14:
            method, path, status, length = "POST", "/login", 302, 0
        elif r < 0.143:
            path, status, length = "/api/report", 500, 128
        else:
            path = "/%s/%s" % (rng.choice(SECTIONS), rng.choice(SLUGS))
            if rng.random() < 0.15:
                path += "?page=%d" % rng.randint(2, 9)
        if v.last_url is None:
            if v.campaign and status == 200 and "?" not in path:
                path += rng.choice(CAMPAIGNS)
            x = rng.random()
            ref = ("-" if v.is_bot or x < 0.35 else rng.choice(SEARCH_REFERRERS) if x < 0.75
                   else rng.choice(SITE_REFERRERS))
        else:
            ref = v.last_url
        taken = rng.randint(20, 900)
        yield Hit(now, offset, v.ip, v.host, v.port, method, path, "HTTP/1.1", status, length, ref,
                  v.ua, v.user, taken)
        page_url = base + path
        if not v.is_bot and status == 200 and not path.startswith(("/files", "/downloads", "/media")):
            for asset in rng.sample(ASSETS, 0 if rng.random() < 0.4 else rng.randint(1, 4)):  # 40%: cached
                cached = rng.random() < 0.3
                yield Hit(now, offset, v.ip, v.host, v.port, "GET", asset,
                          "HTTP/1.1", 304 if cached else 200, 0 if cached else rng.randint(300, 90000),
                          page_url, v.ua, v.user, 1)
        v.last_url = page_url
        v.pages -= 1
        if v.pages <= 0:
            active.pop(k)
            if not v.is_bot and rng.random() < 0.3:
                returning.append((clock + rng.uniform(1900, 5400), v))
                returning.sort(key=lambda e: -e[0])


class _FreshAgents:
    """--distinct-agents: new visitors get user agents never seen before in the log, about
    `per_million` of them per million lines (browser builds and device models vary that much in
    real logs). Drawn from their own random stream, so the rest of the log stays the same."""

    BUILDS = ["UP1A", "TP1A", "SP1A", "RKQ1", "QP1A", "AP2A"]

    def __init__(self, per_million: int, seed: int):
        self.rate = per_million / 1_000_000
        self.line = 0  # the line being generated (set by generate())
        self.made = 0
        self.rng = random.Random(seed * 7927 + 3)

    def agent(self, ua: str) -> str:
        if self.made >= (self.line + 1) * self.rate:
            return ua
        self.made += 1
        token = "Build/%s.%06d.%03d" % (self.rng.choice(self.BUILDS), self.made, self.rng.randrange(1000))
        if ")" in ua:
            return ua.replace(")", "; %s)" % token, 1)
        return "%s (%s)" % (ua, token)


# Rendering ---------------------------------------------------------------------------------------
class _Clock:
    """Memoised time texts (one per distinct second): Apache's and W3C's."""

    def __init__(self):
        self._apache = (None, "")
        self._w3c = (None, "")

    def apache(self, t, offset):
        if self._apache[0] != t:
            g = time.gmtime(t + offset)
            sign = "-" if offset < 0 else "+"
            off = abs(offset) // 60
            self._apache = (t, "%02d/%s/%04d:%02d:%02d:%02d %s%02d%02d" % (
                g.tm_mday, MONTHS[g.tm_mon - 1], g.tm_year, g.tm_hour, g.tm_min, g.tm_sec,
                sign, off // 60, off % 60))
        return self._apache[1]

    def w3c(self, t):
        if self._w3c[0] != t:
            self._w3c = (t, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)))
        return self._w3c[1]

    def iso(self, t, offset):
        """RFC 3339 local time with its offset: 2026-03-01T00:00:00+01:00."""
        off = abs(offset) // 60
        return "%s%s%02d:%02d" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t + offset)),
                                  "-" if offset < 0 else "+", off // 60, off % 60)


def _common(h: Hit, c: _Clock) -> str:
    return '%s - %s [%s] "%s %s %s" %d %s' % (
        h.ip, h.user or "-", c.apache(h.time, h.offset), h.method, h.path, h.protocol, h.status,
        h.length if h.length else "-")


def _combined(h, c):
    return '%s "%s" "%s"' % (_common(h, c), h.referrer, h.user_agent)


def _vhost(h, c):
    return "%s:%d %s" % (h.host, h.port, _combined(h, c))


def _common_vhost(h, c):
    return "%s:%d %s" % (h.host, h.port, _common(h, c))


W3C_HEADER = ("#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
              "#Date: {date}\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port "
              "cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus "
              "sc-win32-status time-taken\n")


def _w3c(h, c):
    stem, _, query = h.path.partition("?")
    return "%s 10.0.0.5 %s %s %s %d %s %s %s %s %d 0 0 %d" % (
        c.w3c(h.time), h.method, stem, query or "-", h.port, h.user or "-", h.ip,
        h.user_agent.replace(" ", "+"), h.referrer, h.status, h.time_taken)


def _w3c_header(first: Hit, c: _Clock) -> str:
    return W3C_HEADER.format(date=c.w3c(first.time))


# The other formats import_logs.py reads, each as its vendor writes it. --------------------------
def _icecast2(h, c):
    return "%s %d" % (_combined(h, c), h.time_taken // 10)  # combined + the listener's seconds


def _ovh(h, c):
    return '%s %s %s [%s] "%s %s %s" %d %s "%s" "%s"' % (
        h.ip, h.host, h.user or "-", c.apache(h.time, h.offset), h.method, h.path, h.protocol, h.status,
        h.length if h.length else "-", h.referrer, h.user_agent)


def _gandi(h, c):
    return '%s %s - %s [%s] (%d s) "%s %s %s" %d %s "%s" "%s"' % (
        h.host, h.ip, h.user or "-", c.apache(h.time, h.offset), h.time_taken // 1000, h.method, h.path,
        h.protocol, h.status, h.length if h.length else "-", h.referrer, h.user_agent)


S3_OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"


def _s3(h, c):
    # S3 logs in UTC; the bucket (website hosting: named after the host) is the host.
    key = h.path.partition("?")[0].lstrip("/") or "-"
    requester = "arn:aws:iam::123456789012:user/%s" % h.user if h.user else "-"
    request_id = "%016X" % ((h.time * 2654435761 + h.length) % (1 << 64))
    sent = h.length if h.length else "-"
    return ('%s %s [%s] %s %s %s WEBSITE.%s.OBJECT %s "%s %s %s" %d %s %s %s %d %d "%s" "%s" - '
            '%s= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader %s.s3-website.eu-west-3.amazonaws.com TLSv1.2 - -') % (
        S3_OWNER, h.host, c.apache(h.time, 0), h.ip, requester, request_id, h.method, key, h.method, h.path,
        h.protocol, h.status, "NoSuchKey" if h.status == 404 else "-", sent, sent, h.time_taken,
        max(1, h.time_taken - 1), h.referrer, h.user_agent, request_id * 3, h.host)


def _elb(h, c):
    # Odd seconds: a classic ELB line; even ones: an ALB line (type first, more fields after).
    when = "%sT%s.%06dZ" % (c.w3c(h.time)[:10], c.w3c(h.time)[11:], (h.time_taken * 7919) % 1000000)
    port = 1024 + (h.time * 31 + h.time_taken) % 60000
    scheme = "https" if h.port == 443 else "http"
    request = '"%s %s://%s:%d%s %s"' % (h.method, scheme, h.host, h.port, h.path, h.protocol)
    taken = "%.3f" % (h.time_taken / 1000)
    if h.time % 2:
        return '%s my-loadbalancer %s:%d 10.0.0.5:80 0.000041 %s 0.000032 %d %d 0 %d %s "%s" %s' % (
            when, h.ip, port, taken, h.status, h.status, h.length, request, h.user_agent,
            "ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2" if scheme == "https" else "- -")
    return ('%s %s app/my-alb/50dc6c495c0c9188 %s:%d 10.0.0.5:80 0.001 %s 0.000 %d %d 310 %d %s "%s" %s '
            'arn:aws:elasticloadbalancing:eu-west-3:123456789012:targetgroup/web/73e2d6bc24d8a067 '
            '"Root=1-%08x-0123456789abcdef01234567" "%s" "-" 0 %s "forward" "-" "-" "10.0.0.5:80" "%d" "-" "-"') % (
        scheme, when, h.ip, port, taken, h.status, h.status, h.length, request, h.user_agent,
        "TLS_AES_128_GCM_SHA256 TLSv1.3" if scheme == "https" else "- -", h.time, h.host, when, h.status)


def _haproxy(h, c):
    # Through syslog; HAProxy writes its accept date in the proxy's local time, no offset.
    g = time.gmtime(h.time + h.offset)
    local = "%02d/%s/%04d:%02d:%02d:%02d.%03d" % (g.tm_mday, MONTHS[g.tm_mon - 1], g.tm_year, g.tm_hour,
                                                  g.tm_min, g.tm_sec, h.time_taken % 1000)
    return ('%s %2d %02d:%02d:%02d lb1 haproxy[2342]: %s:%d [%s] www-https~ web/web%d 0/0/1/%d/%d %d %d - - ---- '
            '12/10/2/1/0 0/0 "%s %s %s"') % (
        MONTHS[g.tm_mon - 1], g.tm_mday, g.tm_hour, g.tm_min, g.tm_sec, h.ip, 1024 + h.time % 60000, local,
        1 + h.time % 3, h.time_taken, h.time_taken + 1, h.status, h.length, h.method, h.path, h.protocol)


# CloudFront URL-encodes these (and codes 0-32 and 127 up) in every field value.
_CLOUDFRONT_CHARS = frozenset('<>"#%{}|\\^~[]`\'')


def _cloudfront_encoded(text: str) -> str:
    out = []
    for ch in text:
        if ord(ch) <= 32 or ord(ch) >= 127 or ch in _CLOUDFRONT_CHARS:
            out.extend("%%%02X" % b for b in ch.encode("utf-8", "surrogateescape"))
        else:
            out.append(ch)
    return "".join(out)


CLOUDFRONT_FIELDS = ("date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
                     "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header "
                     "cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
                     "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
                     "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
                     "sc-range-start sc-range-end")


def _cloudfront(h, c):
    stem, _, query = h.path.partition("?")
    result = "Hit" if h.status in (200, 304) and h.time % 3 else ("Error" if h.status >= 400 else "Miss")
    values = [c.w3c(h.time)[:10], c.w3c(h.time)[11:], "CDG50-C1", str(h.length), h.ip, h.method,
              "d111111abcdef8.cloudfront.net", _cloudfront_encoded(stem), str(h.status),
              _cloudfront_encoded(h.referrer), _cloudfront_encoded(_cloudfront_encoded(h.user_agent)),
              _cloudfront_encoded(query) or "-", "-", result, "%040X==" % (h.time * 2654435761 + h.length),
              h.host, "https" if h.port == 443 else "http", "412", "%.3f" % (h.time_taken / 1000), "-",
              "TLSv1.3", "TLS_AES_128_GCM_SHA256", result, "HTTP/2.0", "-", "-", str(1024 + h.time % 60000),
              "%.3f" % (h.time_taken / 2000), result, "text/html", str(h.length), "-", "-"]
    return "\t".join(values)


def _cloudfront_header(first, c):
    return "#Version: 1.0\n#Fields: %s\n" % CLOUDFRONT_FIELDS


INCAPSULA_FIELDS = ("date time cs-vid cs-clapp cs-browsertype c-ip s-caip cs(User-Agent) s-siteid cs-countrycode "
                    "cs-uri cs-version sc-action cs(Referrer) s-ip s-port cs-method cs-uri-query sc-status s-xff "
                    "cs-bytes cs-start")


def _incapsula(h, c):
    stem, _, query = h.path.partition("?")
    values = [c.w3c(h.time)[:10], c.w3c(h.time)[11:], "4f1b2c3d-0000-4000-8000-%012x" % (h.time % (1 << 48)),
              "Firefox", "Browser", h.ip, "", h.user_agent, "10203040", "FR", h.host + stem, "HTTP/1.1",
              "REQ_PASSED", "" if h.referrer == "-" else h.referrer, "198.51.100.7", str(h.port), h.method, query,
              str(h.status), h.ip, str(h.length), "%d000" % h.time]
    return " ".join('"%s"' % v for v in values)


def _incapsula_header(first, c):
    g = time.gmtime(first.time)
    return "#Software: Incapsula LOGS API\n#Version: 1.1\n#Date: %02d/%s/%04d %s\n#Fields: %s\n" % (
        g.tm_mday, MONTHS[g.tm_mon - 1], g.tm_year, c.w3c(first.time)[11:], INCAPSULA_FIELDS)


def _shoutcast(h, c):
    return "%s %s %s %s %d %s %d %d %d" % (
        h.ip, h.ip, c.w3c(h.time), h.path, h.status, quote(h.user_agent, safe=""), h.length, h.time_taken // 100,
        h.length * 8 // max(1, h.time_taken // 100))


def _shoutcast_header(first, c):
    return ("#Software: SHOUTcast\n#Version: 2.6.1\n#Date: %s\n#Fields: c-ip c-dns date time cs-uri-stem c-status "
            "cs(User-Agent) sc-bytes x-duration avgbandwidth\n") % c.w3c(first.time)


def _netscaler(h, c):
    stem, _, query = h.path.partition("?")
    return "%s %s %s HTTP 10.0.0.5 %d %s %s %s %d 412 %d %d %s %s - %s" % (
        c.w3c(h.time), h.ip, h.user or "-", h.port, h.method, stem, query or "-", h.status, h.length,
        h.time_taken // 1000, h.protocol, h.user_agent.replace(" ", "+"), h.referrer)


def _netscaler_header(first, c):
    return ("#Version: 1.0\n#Software: Netscaler Web Logging(NSWL)\n#Date: %s\n#Fields: date time c-ip cs-username "
            "sc-servicename s-ip s-port cs-method cs-uri-stem cs-uri-query sc-status cs-bytes sc-bytes time-taken "
            "cs-version cs(User-Agent) cs(Cookie) cs(Referer)\n") % c.w3c(first.time)


def _w3c_extended(h, c):
    stem, _, query = h.path.partition("?")
    return "%s %s %s %s %s %s %d %d %.3f %s %s" % (
        c.w3c(h.time), h.ip, h.method, h.host, stem, query or "-", h.status, h.length, h.time_taken / 1000,
        h.user_agent.replace(" ", "+"), h.referrer)


def _w3c_extended_header(first, c):
    return ("#Software: nginx-w3c\n#Version: 1.0\n#Date: %s\n#Fields: date time c-ip cs-method cs-host cs-uri-stem "
            "cs-uri-query sc-status sc-bytes time-taken cs(User-Agent) cs(Referer)\n") % c.w3c(first.time)


def _nginx_escaped(text: str) -> str:
    """A value as nginx's log_format writes it by default (escape=default): ", \\ and bytes below
    32 or above 126 as \\xHH."""
    out = []
    for b in text.encode("utf-8", "surrogateescape"):
        out.append("\\x%02X" % b if b < 32 or b > 126 or b in (34, 92) else chr(b))
    return "".join(out)


def _nginx_json(h, c):
    # Matomo's documented log_format: '{"ip": "$remote_addr", "host": "$host", "path": "$request_uri", ...}'
    return ('{"ip": "%s", "host": "%s", "path": "%s", "status": "%d", "referrer": "%s", "user_agent": "%s", '
            '"length": %d, "generation_time_milli": %.3f, "date": "%s"}') % (
        _nginx_escaped(h.ip), h.host, _nginx_escaped(h.path), h.status,
        "" if h.referrer == "-" else _nginx_escaped(h.referrer), _nginx_escaped(h.user_agent), h.length,
        h.time_taken / 1000, c.iso(h.time, h.offset))


def _go_json(value) -> bytes:
    """JSON as Go's encoding/json writes it (Traefik, Caddy): invalid UTF-8 becomes U+FFFD."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return orjson.dumps(value)


def _traefik_json(h, c):
    port = str(1024 + h.time % 60000)
    fields = {
        "ClientAddr": h.ip + ":" + port, "ClientHost": h.ip, "ClientPort": port,
        "ClientUsername": h.user or "-", "DownstreamContentSize": h.length, "DownstreamStatus": h.status,
        "Duration": h.time_taken * 1000000 + 4321, "OriginContentSize": h.length,
        "OriginDuration": h.time_taken * 1000000, "OriginStatus": h.status, "Overhead": 4321,
        "RequestAddr": h.host, "RequestContentSize": 0, "RequestCount": h.time % 100000, "RequestHost": h.host,
        "RequestMethod": h.method, "RequestPath": h.path, "RequestPort": "-", "RequestProtocol": h.protocol,
        "RequestScheme": "https" if h.port == 443 else "http", "RetryAttempts": 0, "RouterName": "web@docker",
        "ServiceAddr": "10.0.0.5:80", "ServiceName": "web@docker", "entryPointName": "websecure",
        "level": "info", "msg": "", "request_User-Agent": h.user_agent, "time": c.iso(h.time, h.offset),
        "StartUTC": c.w3c(h.time).replace(" ", "T") + ".012345678Z",
    }
    if h.referrer != "-":
        fields["request_Referer"] = h.referrer
    return _go_json_object(dict(sorted(fields.items())))  # Traefik writes its keys sorted


def _caddy_json(h, c):
    headers = {"User-Agent": [h.user_agent], "Accept": ["text/html,*/*;q=0.8"]}
    if h.referrer != "-":
        headers["Referer"] = [h.referrer]
    request = {"remote_ip": h.ip, "remote_port": str(1024 + h.time % 60000), "client_ip": h.ip,
               "proto": "HTTP/2.0", "method": h.method, "host": h.host, "uri": h.path, "headers": headers}
    entry = {"level": "info", "ts": h.time + (h.time_taken % 1000) / 1000, "logger": "http.log.access.log0",
             "msg": "handled request", "request": request, "bytes_read": 0, "user_id": h.user or "",
             "duration": h.time_taken / 1000, "size": h.length, "status": h.status,
             "resp_headers": {"Server": ["Caddy"]}}
    return _go_json_object(entry)


def _go_json_object(obj) -> str:
    if isinstance(obj, dict):
        return "{%s}" % ",".join(_go_json(k).decode() + ":" + _go_json_object(v) for k, v in obj.items())
    if isinstance(obj, list):
        return "[%s]" % ",".join(_go_json_object(v) for v in obj)
    return _go_json(obj).decode()


def _varnishncsa(h, c):
    # varnishncsa's default format: %r holds the full URL (http://, Varnish speaks plain HTTP).
    return '%s - %s [%s] "%s http://%s%s %s" %d %s "%s" "%s"' % (
        h.ip, h.user or "-", c.apache(h.time, h.offset), h.method, h.host, h.path, h.protocol, h.status,
        h.length if h.length else "-", h.referrer, h.user_agent)


def _traefik_clf(h, c):
    return '%s %d "web@docker" "http://10.0.0.5:80" %dms' % (_combined(h, c), h.time % 100000, h.time_taken)


def _squid(h, c):
    scheme = "https" if h.port == 443 else "http"
    return "%d.%03d %6d %s %s/%03d %d %s %s://%s%s %s HIER_DIRECT/10.0.0.5 text/html" % (
        h.time, h.time_taken % 1000, h.time_taken, h.ip, "TCP_MISS" if h.time % 3 else "TCP_HIT", h.status,
        h.length, h.method, scheme, h.host, h.path, h.user or "-")


def _bunny(h, c):
    return "%s|%d|%d%03d|%d|123456|%s|%s|https://%s%s|FR|%s|%032x|FR" % (
        "HIT" if h.time % 3 else "MISS", h.status, h.time, h.time_taken % 1000, h.length, h.ip, h.referrer,
        h.host, h.path, h.user_agent, (h.time * 2654435761 + h.length) % (1 << 128))


def _csv(values):
    return ",".join('"%s"' % str(v).replace('"', '""') for v in values)


def _gcs(h, c):
    key = h.path.partition("?")[0].lstrip("/") or "-"
    return _csv(["%d%06d" % (h.time, (h.time_taken * 7919) % 1000000), h.ip, 2 if ":" in h.ip else 1, "", h.method,
                 h.path, h.status, 0, h.length, h.time_taken * 1000, h.host, "" if h.referrer == "-" else h.referrer,
                 h.user_agent, "ADPyc%016X" % (h.time * 2654435761 % (1 << 64)), "GET_Object", h.host, key])


def _gcs_header(first, c):
    return ",".join('"%s"' % n for n in (
        "time_micros", "c_ip", "c_ip_type", "c_ip_region", "cs_method", "cs_uri", "sc_status", "cs_bytes", "sc_bytes",
        "time_taken_micros", "cs_host", "cs_referer", "cs_user_agent", "s_request_id", "cs_operation", "cs_bucket",
        "cs_object")) + "\n"


def _cloudflare_json(h, c):
    fields = {"ClientIP": h.ip, "ClientRequestHost": h.host, "ClientRequestMethod": h.method,
              "ClientRequestURI": h.path, "ClientRequestProtocol": h.protocol,
              "ClientRequestUserAgent": h.user_agent, "EdgeResponseBytes": h.length, "EdgeResponseStatus": h.status,
              "EdgeStartTimestamp": h.time * 1000000000 + (h.time_taken % 1000) * 1000000,
              "EdgeEndTimestamp": (h.time + 1) * 1000000000, "OriginResponseDurationMs": h.time_taken,
              "RayID": "%016x" % (h.time * 2654435761 % (1 << 64))}
    if h.referrer != "-":
        fields["ClientRequestReferer"] = h.referrer
    return _go_json_object(fields)


def _akamai_json(h, c):
    from urllib.parse import quote_plus
    path, _, query = h.path.partition("?")
    fields = {"version": 1, "streamId": "12345", "cp": "123456", "reqId": "%08x" % (h.time % (1 << 32)),
              "reqTimeSec": "%d.%03d" % (h.time, h.time_taken % 1000), "bytes": str(h.length), "cliIP": h.ip,
              "statusCode": str(h.status), "proto": "HTTPS" if h.port == 443 else "HTTP", "reqHost": h.host,
              "reqMethod": h.method, "reqPath": path, "reqPort": str(h.port),
              "UA": quote_plus(h.user_agent, safe=""), "turnAroundTimeMSec": str(h.time_taken)}
    if query:
        fields["queryStr"] = query
    if h.referrer != "-":  # DataStream leaves out fields that would be "-"
        fields["referer"] = quote_plus(h.referrer, safe="")
    return _go_json_object(fields)


def _syslog(h, c):
    # A combined line sent through syslog (RFC 3164, the server's local time, no year).
    g = time.gmtime(h.time + h.offset)
    return "%s %2d %02d:%02d:%02d web1 nginx: %s" % (MONTHS[g.tm_mon - 1], g.tm_mday, g.tm_hour, g.tm_min, g.tm_sec,
                                                    _combined(h, c))


# name -> (render hit -> str, header(first hit, clock) -> str or None, description)
FORMATS = {
    "combined": (_combined, None, "Apache/nginx combined (ncsa_extended)"),
    "common": (_common, None, "Common Log Format (common)"),
    "vhost": (_vhost, None, "combined with %v:%p first (common_complete)"),
    "common_vhost": (_common_vhost, None, "common with %v:%p first (common_vhost)"),
    "w3c": (_w3c, _w3c_header, "IIS W3C extended, with its #Fields: header (iis)"),
    "icecast2": (_icecast2, None, "Icecast 2: combined + session seconds"),
    "ovh": (_ovh, None, "OVH web hosting"),
    "gandi": (_gandi, None, "Gandi Simple Hosting"),
    "s3": (_s3, None, "Amazon S3 server access log"),
    "elb": (_elb, None, "AWS classic ELB and ALB lines, alternately"),
    "haproxy": (_haproxy, None, "HAProxy httplog through syslog (local time)"),
    "amazon_cloudfront": (_cloudfront, _cloudfront_header, "Amazon CloudFront standard log, with its header"),
    "incapsula_w3c": (_incapsula, _incapsula_header, "Incapsula W3C log, with its header"),
    "shoutcast": (_shoutcast, _shoutcast_header, "SHOUTcast DNAS W3C log, with its header"),
    "netscaler": (_netscaler, _netscaler_header, "NetScaler web logging (NSWL), with its header"),
    "w3c_extended": (_w3c_extended, _w3c_extended_header, "generic W3C extended log, with its header"),
    "nginx_json": (_nginx_json, None, "nginx JSON log_format (Matomo's keys, escape=default)"),
    "traefik_json": (_traefik_json, None, "Traefik JSON access log"),
    "caddy_json": (_caddy_json, None, "Caddy JSON access log"),
    "varnishncsa": (_varnishncsa, None, "varnishncsa's default format (full URLs in the request line)"),
    "traefik_clf": (_traefik_clf, None, "Traefik's default (CLF) access log"),
    "caddy": (_combined, None, "Caddy's combined mode (the same lines as combined)"),
    "squid": (_squid, None, "Squid native access.log"),
    "bunny": (_bunny, None, "Bunny CDN raw log"),
    "gcs": (_gcs, _gcs_header, "Google Cloud Storage usage log (CSV), with its header"),
    "cloudflare_json": (_cloudflare_json, None, "Cloudflare Logpush HTTP requests (JSON, unixnano)"),
    "akamai_json": (_akamai_json, None, "Akamai DataStream 2 (JSON)"),
    "syslog": (_syslog, None, "combined lines behind a syslog prefix (host web1)"),
}
ALIASES = {"ncsa_extended": "combined", "common_complete": "vhost", "iis": "w3c"}


# Hostile lines -----------------------------------------------------------------------------------
def _hostile(rng: random.Random, h: Hit, fmt: str, line: str) -> bytes:
    """One odd line in place of `line` (the rendering of `h`)."""
    w3c = FORMATS[fmt][1] is not None and fmt != "gcs"  # the formats with a W3C header
    kind = rng.randrange(22)
    if kind == 0:  # escaped quotes (Apache writes \" inside quoted fields)
        h.user_agent = 'Mozilla/5.0 (X11) \\"quoted\\" agent'
    elif kind == 1:  # \xHH escapes in the request line
        h.path = "/menu/caf\\xc3\\xa9-cr\\xe8me"
    elif kind == 2:  # raw UTF-8
        h.path = "/news/café-crème?q=über"
        h.user_agent += " Ünïcødé"
    elif kind == 3:  # undecodable (Latin-1) bytes
        h2 = FORMATS[fmt][0](_with(h, path="/menu/caf\udce9-cr\udce8me"), _CLOCK)
        return h2.encode("utf-8", "surrogateescape")
    elif kind == 4:  # IPv6 client
        h.ip = "2001:db8:85a3::8a2e:370:%x" % rng.randrange(1, 65536)
    elif kind == 5:  # no client address
        h.ip = rng.choice(["-", "unix:", "unix:/run/php/php-fpm.sock"])
    elif kind == 6:  # impossible dates
        if w3c:
            return (line.replace(_CLOCK.w3c(h.time)[:10], rng.choice(["2026-02-30", "2026-13-01"]), 1)).encode()
        return line.replace(_CLOCK.apache(h.time, h.offset)[:11],
                            rng.choice(["31/Feb/2026", "01/Foo/2026", "00/Mar/2026"]), 1).encode()
    elif kind == 7:  # impossible time zones
        if w3c:
            return line.replace(_CLOCK.w3c(h.time)[11:], "25:61:00", 1).encode()
        off = _CLOCK.apache(h.time, h.offset)[21:]
        return line.replace(" " + off + "]", " " + rng.choice(["+01x0", "CET", "+", "+01:00:00"]) + "]", 1).encode()
    elif kind == 8:  # a TLS handshake or other binary junk sent to the plain-text port
        return rng.choice([b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xd1\x8f",
                           b"\x80\x00\x00\x00\xff\xfe binary \x00\x01",
                           b"SSH-2.0-OpenSSH_9.6\r"])
    elif kind == 9:  # NUL bytes inside a line
        return line.encode().replace(b" ", b"\x00", 1)
    elif kind == 10:  # an over-long line (20-70 KB of path)
        h.path = "/search?q=" + "a%20b" * rng.randint(4000, 14000)
    elif kind == 11:  # truncated (a crash while writing)
        return line[:rng.randrange(1, max(2, len(line) - 1))].encode()
    elif kind == 12:  # CRLF line end
        return line.encode() + b"\r"
    elif kind == 13:  # empty or blank line
        return rng.choice([b"", b"   ", b"\t"])
    elif kind == 14:  # a request line Apache could not read
        if not w3c:
            return line.replace('"%s %s %s"' % (h.method, h.path, h.protocol),
                                rng.choice(['"-"', '"\\x16\\x03\\x01"', '"GET"']), 1).encode()
        h.method = "-"
    elif kind == 15:  # spaces in the path, odd methods and protocols
        h.path = "/a path/with spaces"
        h.method = rng.choice(["PROPFIND", "get", "OPTIONS"])
    elif kind == 16:  # an empty virtual host (the line starts with a space) or an odd one
        if fmt in ("vhost", "common_vhost"):
            return (" " + line.split(" ", 1)[1]).encode()
        h.referrer = "-"
    elif kind == 17:  # W3C: quoted values; others: a "-" length and a large status
        if w3c:
            return line.replace(h.user_agent.replace(" ", "+"), '"%s"' % h.user_agent, 1).encode()
        h.length, h.status = 0, 999
    elif kind == 18:  # W3C: the header repeats mid-file (a restarted server); others: a long agent
        if w3c:
            return (FORMATS[fmt][1](h, _CLOCK) + line).encode()
        h.user_agent = "Mozilla/5.0 " + "x" * rng.randint(2000, 9000)
    elif kind == 19:  # trailing garbage after a complete line
        return (line + rng.choice([" extra", " 0.123 -", "\t"])).encode()
    elif kind == 20:  # an absolute URL in the request line (proxy logs)
        h.path = "http://%s%s" % (h.host, h.path)
    else:  # a referrer with odd characters
        h.referrer = "https://www.google.com/search?q=caf%C3%A9+%22quoted%22&x=<script>"
    return FORMATS[fmt][0](h, _CLOCK).encode("utf-8", "surrogateescape")


def _with(h: Hit, **changes) -> Hit:
    d = dict(h.__dict__)
    d.update(changes)
    return Hit(**d)


_CLOCK = _Clock()


def _parse_start(text: str) -> tuple[int, int]:
    import datetime as dt
    d = dt.datetime.fromisoformat(text)
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return int(d.timestamp()), int(d.utcoffset().total_seconds())


def generate(lines: int, fmt: str = "combined", seed: int = 1, hostile: bool = False,
             start: str = DEFAULT_START, distinct_agents: int = 0):
    """Yield the log's lines as bytes, without line ends (a header is one item of several lines).

    `lines` counts log records; a W3C header is extra. `distinct_agents`: about that many new
    user agents per million lines (0: the fixed set). Raises KeyError for an unknown format.
    """
    fmt = ALIASES.get(fmt, fmt)
    render, header, _ = FORMATS[fmt]
    rng = random.Random(seed)
    odd = random.Random(seed * 7919 + 1)
    t0, offset = _parse_start(start)
    fresh = _FreshAgents(distinct_agents, seed) if distinct_agents > 0 else None
    stream = _hits(rng, t0, offset, fresh)
    clock = _CLOCK
    for n in range(lines):
        if fresh is not None:
            fresh.line = n
        h = next(stream)
        if n == 0 and header is not None:
            yield header(h, clock)[:-1].encode()
        line = render(h, clock)
        if hostile and odd.random() < 0.08:
            yield _hostile(odd, h, fmt, line)
        else:
            yield line.encode()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="log-importer-loggen",
        description="Write a realistic, deterministic access log (the same options give the same bytes).")
    parser.add_argument("--lines", type=int, default=1000, help="log records to write (default 1000)")
    parser.add_argument("--format", default="combined",
                        help="one of: %s (default combined)" % ", ".join(sorted(FORMATS) + sorted(ALIASES)))
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--hostile", action="store_true",
                        help="about 8%% odd lines: escapes, bad dates, binary junk, IPv6, CRLF, ...")
    parser.add_argument("--start", default=DEFAULT_START,
                        help="ISO date of the first line, with its UTC offset (default %s)" % DEFAULT_START)
    parser.add_argument("--distinct-agents", type=int, default=0, metavar="N",
                        help="about N user agents never seen before per million lines (default 0: a "
                             "fixed set of about 25), for the cost of deciding which agents are bots")
    parser.add_argument("-o", "--output", help="write here instead of standard output")
    args = parser.parse_args(argv)
    fmt = ALIASES.get(args.format, args.format)
    if fmt not in FORMATS:
        parser.error("unknown --format %r (known: %s)" % (args.format, ", ".join(sorted(FORMATS))))
    if args.lines < 0:
        parser.error("--lines must be 0 or more")
    try:
        _parse_start(args.start)
    except ValueError:
        parser.error("invalid --start %r: expected an ISO date such as %s" % (args.start, DEFAULT_START))
    out = open(args.output, "wb") if args.output else sys.stdout.buffer
    try:
        buf = []
        for line in generate(args.lines, fmt, args.seed, args.hostile, args.start, args.distinct_agents):
            buf.append(line)
            if len(buf) >= 4096:
                out.write(b"\n".join(buf) + b"\n")
                buf.clear()
        if buf:
            out.write(b"\n".join(buf) + b"\n")
        out.flush()
    except BrokenPipeError:  # `loggen ... | head`
        sys.stderr.close()
        return 0
    finally:
        if args.output:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
