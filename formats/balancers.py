"""Load balancers and proxies: AWS Elastic Load Balancing (classic ELB and ALB), HAProxy's HTTP log
and Squid's native access.log.

Both are read by regexes written from the vendors' layouts, which accept the lines Matomo's
import_logs.py accepts with the same fields (README: "Formats" says where they read more).
"""
from .addresses import CLIENT_ADDRESS, HOST_NAME
from .apache import QUOTED
from .base import EPOCH, ISO_T_DATE, Format

# Classic ELB: time elb client:port backend:port request_processing_time backend_processing_time
# response_processing_time elb_status_code backend_status_code received_bytes sent_bytes
# "request" "user_agent" ssl_cipher ssl_protocol. ALB puts the connection type first and adds
# fields at the end; its target is "-" when the load balancer answered itself (a redirect, a
# fixed response). The time is UTC; the generation time is the backend's processing time, in
# seconds (-1 when there was none). A TCP listener logs "- - - " as the request: not a page view.
# A quote inside the user agent is written escaped (\"), as Apache does, and read back.
ELB = (r'(?:\S+\s+)?(?P<date>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.\d+Z?\s+\S+\s+(?P<ip>' + CLIENT_ADDRESS + r'):\d+\s+'
       r'(?:\S+:\d+|-)\s+\S+\s+(?P<generation_time_secs>\S+)\s+\S+\s+(?P<status>\d+)\s+\S+\s+\S+\s+(?P<length>\S+)\s+'
       r'"(?P<method>\S+)\s+\w+://(?P<host>' + HOST_NAME + r')(?::\d+)?(?P<path>/\S*)\s+[^"]+"\s+'
       r'"(?P<user_agent>' + QUOTED + r')"\s+\S+\s+\S+')

# HAProxy's `option httplog`, after an optional syslog prefix ("Mar  1 10:00:00 lb haproxy[42]: ", a
# few tokens ending with a colon; RFC 5424 prefixes are formats/syslog.py's):
# client:port [accept_date] frontend backend/server Tq/Tw/Tc/Tr/Tt status bytes_read
# request_cookie response_cookie termination_state actconn/feconn/beconn/srv_conn/retries
# srv_queue/backend_queue {captured request headers} {captured response headers} "request".
# accept_date is the proxy's local time, with milliseconds (dropped: Matomo keeps seconds), no offset.
HAPROXY = (r'(?:(?:\S+\s+){0,5}\S*:\s+)?'
           r'(?P<ip>' + CLIENT_ADDRESS + r'):\d+\s+\[(?P<date>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d)(?:\.\d+)?\]\s+'
           r'\S+\s+\S+\s+[-+\d]+(?:/[-+\d]+){4}\s+(?P<status>\d{3})\s+\+?(?P<length>\d+)\s+\S+\s+\S+\s+\S+\s+'
           r'[-+\d]+(?:/[-+\d]+){4}\s+[-+\d]+/[-+\d]+\s+(?:\{[^}]*\}\s+)*"(?P<method>\S+)\s+(?P<path>\S+)')

# Squid's native access.log (squid-cache.org, "Squid native access.log format"; logformat squid:
# %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt): time in seconds since 1970 with
# milliseconds, elapsed milliseconds, client, cache result/status, bytes, method, URL, user,
# hierarchy/peer, content type. No referrer, no user agent. A CONNECT line's URL is host:port (a
# tunnel, not a page): it does not match.
SQUID = (r'(?P<date>\d+(?:\.\d+)?)\s+(?P<generation_time_milli>-?\d+)\s+(?P<ip>' + CLIENT_ADDRESS + r')\s+'
         r'(?P<cache_result>[\w-]+)/(?P<status>\d{3})\s+(?P<length>\d+)\s+(?P<method>[\w-]+)\s+'
         r'(?P<path>(?:[a-zA-Z][\w+.-]*://|/)\S*)\s+(?P<userid>\S+)\s+(?P<hierarchy>[\w-]+)/\S+')

_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

FORMATS = [
    Format(
        "elb", ELB, ISO_T_DATE, unescape="backslash", trailing_fields=True,
        description="AWS Elastic Load Balancing access logs: classic ELB and ALB (time in UTC)",
        samples=[
            ('2026-03-01T09:00:00.123456Z my-loadbalancer 192.0.2.1:52310 10.0.0.5:80 0.000041 0.025 0.000032 '
             '200 200 0 5120 "GET https://www.example.com:443/docs/install?page=2 HTTP/1.1" "%s" '
             'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2' % _UA,
             {"date": "2026-03-01T09:00:00", "ip": "192.0.2.1", "generation_time_secs": "0.025", "status": "200",
              "length": "5120", "method": "GET", "host": "www.example.com", "path": "/docs/install?page=2",
              "user_agent": _UA}),
            ('h2 2026-03-01T09:00:01.654321Z app/my-alb/50dc6c495c0c9188 2001:db8::7:52311 10.0.0.5:80 0.001 0.087 '
             '0.000 200 200 310 2048 "GET https://www.example.com:443/blog/2024 HTTP/2.0" "%s" '
             'TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:eu-west-3:123456789012:targetgroup/web/'
             '73e2d6bc24d8a067 "Root=1-67891233-abcdef012345678912345678" "www.example.com" '
             '"arn:aws:acm:eu-west-3:123456789012:certificate/12345678-1234-1234-1234-123456789012" 0 '
             '2026-03-01T09:00:01.566000Z "forward" "-" "-" "10.0.0.5:80" "200" "-" "-"' % _UA,
             {"date": "2026-03-01T09:00:01", "ip": "2001:db8::7", "generation_time_secs": "0.087",
              "path": "/blog/2024", "host": "www.example.com"}),
            ('https 2026-03-01T09:00:02.000001Z app/my-alb/50dc6c495c0c9188 192.0.2.9:52312 - -1 -1 -1 301 - 120 '
             '310 "GET http://www.example.com:80/pricing HTTP/1.1" "%s" - - - "Root=1-67891234-0123456789abcdef" '
             '"-" "-" 0 2026-03-01T09:00:02.000000Z "redirect" "https://www.example.com:443/pricing" "-" "-" "-" '
             '"-" "-"' % _UA,
             {"ip": "192.0.2.9", "status": "301", "generation_time_secs": "-1", "path": "/pricing"}),
        ]),
    Format(
        "haproxy", HAPROXY, trailing_fields=True,
        description="HAProxy's HTTP log (option httplog), with or without a syslog prefix; local time, no host",
        samples=[
            ('Mar  1 10:00:00 lb1 haproxy[2342]: 192.0.2.1:52310 [01/Mar/2026:10:00:00.374] www-https~ '
             'web/web1 0/0/1/24/25 200 5120 - - ---- 12/10/2/1/0 0/0 "GET /docs/install?page=2 HTTP/1.1"',
             {"ip": "192.0.2.1", "date": "01/Mar/2026:10:00:00", "status": "200", "length": "5120",
              "method": "GET", "path": "/docs/install?page=2"}),
            ('2026-03-01T10:00:01+01:00 lb1 haproxy[2342]: 2001:db8::7:52311 [01/Mar/2026:10:00:01.008] www-https~ '
             'web/web2 10/0/0/57/+67 302 +310 SESSID=ab12 - --VN 3/3/1/1/+1 0/0 {www.example.com|Mozilla/5.0} '
             '{} "POST /login HTTP/1.1"',
             {"ip": "2001:db8::7", "status": "302", "length": "310", "method": "POST", "path": "/login"}),
        ]),
    Format(
        "squid", SQUID, EPOCH, trailing_fields=True,
        description="Squid's native access.log (epoch time with milliseconds, elapsed ms, the full URL; no agent)",
        samples=[
            ("1772355600.123    25 192.0.2.1 TCP_MISS/200 5120 GET http://www.example.com/docs/install?page=2 - "
             "HIER_DIRECT/198.51.100.7 text/html",
             {"date": "1772355600.123", "generation_time_milli": "25", "ip": "192.0.2.1", "status": "200",
              "length": "5120", "method": "GET", "path": "http://www.example.com/docs/install?page=2",
              "userid": "-"}),
            ("1772355601.008      0 2001:db8::7 TCP_MEM_HIT/304 312 GET https://shop.example.net/ alice "
             "HIER_NONE/- -",
             {"ip": "2001:db8::7", "status": "304", "path": "https://shop.example.net/", "userid": "alice"}),
        ]),
]
