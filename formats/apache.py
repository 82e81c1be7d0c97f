"""The Apache/NCSA family: common, common_vhost, ncsa_extended (combined), common_complete, and
the formats built on the same pieces: icecast2 (combined + session time), ovh, gandi, s3,
varnishncsa, traefik_clf and caddy (common and combined modes).

The regexes accept the lines Matomo's import_logs.py accepts, with the same fields, but never
backtrack (about 3x faster) and read escaped quotes (\") inside quoted fields, where the
reference cut a user agent at its first escaped quote. The escapes Apache and nginx write
(escaped quotes and backslashes, hex bytes: formats/escapes.py) are decoded back into the
original text. For lines of ASCII without a backslash, a hand-written C scanner (`_scan.c`,
named by `scanner=`) does the regex's work about 6x faster, with the same result, for the four
Apache formats.
"""
from .addresses import CLIENT_ADDRESS, HOST_NAME
from .base import Format

# %v:%p: the virtual host (formats/addresses.py: a name, an IPv4 address or a bracketed IPv6
# literal; "-" or nothing when there is none), its port optional.
HOST_PREFIX = r"(?P<host>" + HOST_NAME + r")(?::\d+)?\s+"
# A quoted field, with backslash escapes ("...\"..."): unrolled, so matching never backtracks.
QUOTED = r'[^"\\]*(?:\\.[^"\\]*)*'
# The request path may hold spaces; it ends before the last token of the request line. Each
# piece of the loop starts with a character the others cannot take (an escape, or a whole run
# of spaces), so a line is matched one way only: no backtracking blow-up on odd lines.
REQUEST_PATH = r'[^"\\\s]*(?:(?:\\.|\s+(?!\s|\S+"\s+\d))[^"\\\s]*)*'
# The same pieces for a line without a backslash (nothing escaped): simpler, ~35% faster.
QUOTED_PLAIN = r'[^"]*'
REQUEST_PATH_PLAIN = r'[^"\s]*(?:\s+(?!\s|\S+"\s+\d)[^"\s]*)*'


# The client address (formats/addresses.py: an IP, or what servers write when there is none, such as
# unix:/run/php.sock: read, then counted as a hit without a client IP rather than as a line in the
# wrong format).
IP = r'(?P<ip>' + CLIENT_ADDRESS + ')'
DATE = r'\[(?P<date>[^\]\s]*)\s+(?P<timezone>[^\]]*)\]'


def _request(path):
    """"%r" %>s: the request line, the status and (for the common formats) %b."""
    return r'"(?P<method>\S+)\s+(?P<path>' + path + r')\s+\S+"\s+(?P<status>\d+)'


def _agents(quoted):
    """ "%{Referer}i" "%{User-Agent}i" """
    return r'\s+"(?P<referrer>' + quoted + r')"\s+"(?P<user_agent>' + quoted + r')"'


def _common(path):
    return IP + r'\s+\S+\s+(?P<userid>\S+)\s+' + DATE + r'\s+' + _request(path) + r'\s+(?P<length>\S+)'


def _ncsa(path, quoted):
    return _common(path) + _agents(quoted)


COMMON, COMMON_PLAIN = _common(REQUEST_PATH), _common(REQUEST_PATH_PLAIN)
NCSA_EXTENDED, NCSA_EXTENDED_PLAIN = _ncsa(REQUEST_PATH, QUOTED), _ncsa(REQUEST_PATH_PLAIN, QUOTED_PLAIN)

_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

# Icecast 2's access log: combined, then how long the listener stayed, a whole number of seconds
# (or -) and nothing glued to it: a combined line followed by other fields such as "0.123" or
# "junk" stays combined (one followed by whole numbers, Apache's %I %O, reads as icecast2: the
# same fields).
ICECAST2, ICECAST2_PLAIN = (NCSA_EXTENDED + r'\s+(?P<session_time>\d+|-)(?!\S)',
                            NCSA_EXTENDED_PLAIN + r'\s+(?P<session_time>\d+|-)(?!\S)')
# OVH web hosting: the client first, then the virtual host, no ident.
OVH, OVH_PLAIN = ((IP + r'\s+' + HOST_PREFIX + r'(?P<userid>\S+)\s+' + DATE + r'\s+' + _request(path)
                   + r'\s+(?P<length>\S+)' + _agents(quoted))
                  for path, quoted in ((REQUEST_PATH, QUOTED), (REQUEST_PATH_PLAIN, QUOTED_PLAIN)))
# Gandi Simple Hosting: the virtual host first, and a "(0 s)" before the request; what it counts
# is not documented and import_logs.py never got a number out of it: it is kept as `duration`.
GANDI, GANDI_PLAIN = ((r'(?P<host>' + HOST_NAME + r')\s+' + IP + r'\s+\S+\s+(?P<userid>\S+)\s+' + DATE
                       + r'\s+\((?P<duration>[^)]*)\)\s+' + _request(path) + r'\s+(?P<length>\S+)' + _agents(quoted))
                      for path, quoted in ((REQUEST_PATH, QUOTED), (REQUEST_PATH_PLAIN, QUOTED_PLAIN)))
# Amazon S3 server access logs: bucket owner, bucket (the host), [time], remote IP, requester
# (the user id), request id, operation, key, "request", status, error code, bytes sent, object
# size, total time, turn-around time, "referer", "user agent", then more fields.
S3, S3_PLAIN = ((r'\S+\s+(?P<host>\S+)\s+' + DATE + r'\s+' + IP + r'\s+(?P<userid>\S+)\s+\S+\s+\S+\s+\S+\s+'
                 + _request(path) + r'\s+\S+\s+(?P<length>\S+)\s+\S+\s+\S+\s+\S+' + _agents(quoted))
                for path, quoted in ((REQUEST_PATH, QUOTED), (REQUEST_PATH_PLAIN, QUOTED_PLAIN)))
_S3_OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
# Traefik's default access log (doc.traefik.io, "Access Logs", Common Log Format): combined, then
# the number of requests since Traefik started, "router name" "server URL" and the duration with
# its unit: <request_duration_in_ms>ms.
TRAEFIK_CLF, TRAEFIK_CLF_PLAIN = ((regex + r'\s+(?P<request_count>\d+)\s+"(?P<router_name>[^"]*)"\s+'
                                   r'"(?P<server_url>[^"]*)"\s+(?P<generation_time_milli>\d+)ms')
                                  for regex in (NCSA_EXTENDED, NCSA_EXTENDED_PLAIN))
# Caddy's common and combined modes (Caddy 1's {common} and {combined}, the transform encoder's
# {common_log}): the Common Log Format, the referrer and agent when the combined mode writes them.
CADDY, CADDY_PLAIN = (common + r'(?:' + _agents(quoted) + ')?'
                      for common, quoted in ((COMMON, QUOTED), (COMMON_PLAIN, QUOTED_PLAIN)))

FORMATS = [
    Format(
        "common", unescape="backslash", regex=COMMON, plain_regex=COMMON_PLAIN, scanner=("apache", False, False),
        description="Apache/NCSA Common Log Format: %h %l %u %t \"%r\" %>s %b",
        samples=[
            ('192.0.2.1 - - [01/Mar/2026:10:00:00 +0100] "GET /blog/intro?page=2 HTTP/1.1" 200 5120',
             {"ip": "192.0.2.1", "userid": "-", "date": "01/Mar/2026:10:00:00", "timezone": "+0100",
              "method": "GET", "path": "/blog/intro?page=2", "status": "200", "length": "5120"}),
            ('2001:db8::7 - alice [01/Mar/2026:10:00:01 -0500] "POST /login HTTP/1.0" 302 -',
             {"ip": "2001:db8::7", "userid": "alice", "status": "302", "length": "-"}),
        ]),
    Format(
        "common_vhost", unescape="backslash", regex=HOST_PREFIX + COMMON, plain_regex=HOST_PREFIX + COMMON_PLAIN,
        scanner=("apache", True, False),
        description="Common Log Format with the virtual host first: %v:%p %h %l %u %t \"%r\" %>s %b",
        samples=[
            ('www.example.com:443 192.0.2.1 - - [01/Mar/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 312',
             {"host": "www.example.com", "ip": "192.0.2.1", "path": "/", "status": "200"}),
        ]),
    Format(
        "ncsa_extended", unescape="backslash", regex=NCSA_EXTENDED, plain_regex=NCSA_EXTENDED_PLAIN,
        scanner=("apache", False, True),
        description="Combined Log Format: common + \"%{Referer}i\" \"%{User-Agent}i\"",
        samples=[
            ('192.0.2.1 - - [01/Mar/2026:10:00:00 +0100] "GET /docs/install HTTP/1.1" 200 5120 '
             '"https://www.google.com/" "%s"' % _UA,
             {"ip": "192.0.2.1", "path": "/docs/install", "referrer": "https://www.google.com/",
              "user_agent": _UA, "status": "200"}),
            ('192.0.2.9 - - [01/Mar/2026:10:00:00 +0100] "GET /a\\"q\\"/p HTTP/1.1" 200 512 "-" '
             '"Mozilla/5.0 \\"weird\\" agent"',
             {"path": '/a"q"/p', "referrer": "-", "user_agent": 'Mozilla/5.0 "weird" agent'}),
        ]),
    Format(
        "common_complete", unescape="backslash", regex=HOST_PREFIX + NCSA_EXTENDED,
        plain_regex=HOST_PREFIX + NCSA_EXTENDED_PLAIN,
        scanner=("apache", True, True),
        description="Combined Log Format with the virtual host first",
        samples=[
            ('blog.example.org:443 192.0.2.1 - - [01/Mar/2026:10:00:00 +0100] "GET /news HTTP/1.1" '
             '200 99 "-" "%s"' % _UA,
             {"host": "blog.example.org", "ip": "192.0.2.1", "path": "/news", "user_agent": _UA}),
        ]),
    Format(
        "icecast2", unescape="backslash", regex=ICECAST2, plain_regex=ICECAST2_PLAIN,
        description="Icecast 2 access log: combined + the listener's session time in seconds",
        samples=[
            ('192.0.2.1 - - [01/Mar/2026:10:00:00 +0100] "GET /live.ogg HTTP/1.1" 200 1048576 "-" '
             '"VLC/3.0.20 LibVLC/3.0.20" 3600',
             {"ip": "192.0.2.1", "date": "01/Mar/2026:10:00:00", "timezone": "+0100", "method": "GET",
              "path": "/live.ogg", "status": "200", "length": "1048576", "referrer": "-",
              "user_agent": "VLC/3.0.20 LibVLC/3.0.20"}),
        ]),
    Format(
        "ovh", unescape="backslash", regex=OVH, plain_regex=OVH_PLAIN, detectable=False,
        description="OVH web hosting: %h %v %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" "
                    "(by name only: its lines are also combined lines with an ident)",
        samples=[
            ('192.0.2.1 www.example.com alice [01/Mar/2026:10:00:00 +0100] "GET /docs/install HTTP/1.1" 200 5120 '
             '"https://www.google.com/" "%s"' % _UA,
             {"ip": "192.0.2.1", "host": "www.example.com", "userid": "alice", "date": "01/Mar/2026:10:00:00",
              "timezone": "+0100", "method": "GET", "path": "/docs/install", "status": "200", "length": "5120",
              "referrer": "https://www.google.com/", "user_agent": _UA}),
        ]),
    Format(
        "gandi", unescape="backslash", regex=GANDI, plain_regex=GANDI_PLAIN,
        description="Gandi Simple Hosting: the virtual host, then %a %l %u %t (N s) \"%r\" %>s %b "
                    "\"%{Referer}i\" \"%{User-Agent}i\"",
        samples=[
            ('www.example.com 192.0.2.1 - alice [01/Mar/2026:10:00:00 +0100] (0 s) "GET /docs/install HTTP/1.1" '
             '200 5120 "https://www.google.com/" "%s"' % _UA,
             {"host": "www.example.com", "ip": "192.0.2.1", "userid": "alice", "date": "01/Mar/2026:10:00:00",
              "timezone": "+0100", "method": "GET", "path": "/docs/install", "status": "200", "length": "5120",
              "referrer": "https://www.google.com/", "user_agent": _UA}),
            ('www.example.com 2001:db8::7 - - [01/Mar/2026:10:00:01 +0100] (2 s) "GET / HTTP/1.1" 301 0 "-" "%s"'
             % _UA, {"ip": "2001:db8::7", "userid": "-", "path": "/", "status": "301"}),
        ]),
    Format(
        "s3", S3, plain_regex=S3_PLAIN, unescape="backslash", trailing_fields=True,
        description="Amazon S3 server access logs (the bucket is the host, the requester the user id)",
        samples=[
            ('%s www.example.com [01/Mar/2026:09:00:00 +0000] 192.0.2.1 - 3E57427F3EXAMPLE WEBSITE.GET.OBJECT '
             'docs/install "GET /docs/install?page=2 HTTP/1.1" 200 - 5120 5120 12 11 "https://www.google.com/" '
             '"%s" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 '
             'ECDHE-RSA-AES128-GCM-SHA256 AuthHeader www.example.com.s3-website.eu-west-3.amazonaws.com TLSv1.2 - -'
             % (_S3_OWNER, _UA),
             {"host": "www.example.com", "date": "01/Mar/2026:09:00:00", "timezone": "+0000", "ip": "192.0.2.1",
              "userid": "-", "method": "GET", "path": "/docs/install?page=2", "status": "200", "length": "5120",
              "referrer": "https://www.google.com/", "user_agent": _UA}),
            ('%s www.example.com [01/Mar/2026:09:00:01 +0000] 2001:db8::7 '
             'arn:aws:iam::123456789012:user/alice 891CE47D2EXAMPLE REST.GET.OBJECT files/report.pdf '
             '"GET /files/report.pdf HTTP/1.1" 200 - 2048 2048 30 29 "-" "aws-cli/2.15.0"' % _S3_OWNER,
             {"ip": "2001:db8::7", "userid": "arn:aws:iam::123456789012:user/alice", "path": "/files/report.pdf",
              "length": "2048", "referrer": "-", "user_agent": "aws-cli/2.15.0"}),
        ]),
    Format(
        "varnishncsa", unescape="backslash", regex=NCSA_EXTENDED, plain_regex=NCSA_EXTENDED_PLAIN,
        scanner=("apache", False, True), detectable=False,
        description="Varnish's varnishncsa, default format %h %l %u %t \"%r\" %s %b \"%{Referer}i\" \"%{User-agent}i\" "
                    "(the request line holds the full URL, whose host is the hit's; by name only: its lines are "
                    "combined lines; a -F format: give it with --log-format-apache)",
        samples=[
            ('192.0.2.1 - - [01/Mar/2026:10:00:00 +0100] "GET http://www.example.com/docs/install?page=2 HTTP/1.1" '
             '200 5120 "https://www.google.com/" "%s"' % _UA,
             {"ip": "192.0.2.1", "date": "01/Mar/2026:10:00:00", "timezone": "+0100", "method": "GET",
              "path": "http://www.example.com/docs/install?page=2", "status": "200", "length": "5120",
              "referrer": "https://www.google.com/", "user_agent": _UA}),
            ('2001:db8::7 - - [01/Mar/2026:10:00:01 +0100] "GET http://shop.example.net/ HTTP/1.1" 304 - "-" '
             '"curl/8.5.0"', {"ip": "2001:db8::7", "path": "http://shop.example.net/", "status": "304", "length": "-"}),
        ]),
    Format(
        "traefik_clf", TRAEFIK_CLF, plain_regex=TRAEFIK_CLF_PLAIN, unescape="backslash",
        description="Traefik's default access log (Common Log Format): combined + requests count, "
                    "\"router\" \"server URL\" and the duration in ms",
        samples=[
            ('192.0.2.1 - - [01/Mar/2026:10:00:00 +0100] "GET /docs/install?page=2 HTTP/2.0" 200 5120 '
             '"https://www.google.com/" "%s" 42 "web@docker" "http://10.0.0.5:80" 25ms' % _UA,
             {"ip": "192.0.2.1", "date": "01/Mar/2026:10:00:00", "timezone": "+0100", "method": "GET",
              "path": "/docs/install?page=2", "status": "200", "length": "5120", "referrer": "https://www.google.com/",
              "user_agent": _UA, "userid": "-", "generation_time_milli": "25"}),
            ('2001:db8::7 - alice [01/Mar/2026:10:00:01 +0100] "POST /login HTTP/1.1" 302 0 "-" "%s" 43 "-" "-" 0ms'
             % _UA, {"ip": "2001:db8::7", "userid": "alice", "status": "302", "generation_time_milli": "0"}),
        ]),
    Format(
        "caddy", unescape="backslash", regex=CADDY, plain_regex=CADDY_PLAIN, detectable=False,
        description="Caddy's common and combined log modes ({common}, {combined}, {common_log}); by name only: "
                    "its lines are common or combined lines",
        samples=[
            ('192.0.2.1 - - [01/Mar/2026:10:00:00 +0100] "GET /docs/install?page=2 HTTP/2.0" 200 5120',
             {"ip": "192.0.2.1", "path": "/docs/install?page=2", "status": "200", "length": "5120",
              "referrer": None, "user_agent": None}),
            ('2001:db8::7 - alice [01/Mar/2026:10:00:01 +0100] "GET / HTTP/2.0" 200 312 "https://www.google.com/" '
             '"%s"' % _UA, {"ip": "2001:db8::7", "userid": "alice", "referrer": "https://www.google.com/",
                            "user_agent": _UA}),
        ]),
]
