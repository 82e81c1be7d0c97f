"""JSON access logs: nginx (a log_format of JSON), Traefik, Caddy, Cloudflare (Logpush HTTP
requests) and Akamai (DataStream 2). Each is a map from the field vocabulary to the keys of its
JSON object (formats/jsonmap.py), with converters.
"""
import datetime as _dt
from functools import lru_cache
from urllib.parse import unquote_plus

from .base import EPOCH, FIELDS, ISO8601, Format
from .jsonmap import BY_MILLION, BY_THOUSANDTH, FLOOR, Key, as_text, empty_is_none, first, in_scanner, without_port


@in_scanner(BY_THOUSANDTH)
def seconds_to_milli(seconds):
    """nginx's $request_time (seconds, as logged under "generation_time_milli") in milliseconds."""
    return float(seconds) * 1000


@in_scanner(BY_MILLION)
def nano_to_milli(nanoseconds):
    """Traefik's Duration (nanoseconds) in milliseconds."""
    return nanoseconds / 1000000


@in_scanner(FLOOR)
def whole_seconds(timestamp):
    """Caddy's `ts` (seconds since 1970, with a fraction), cut to the second it falls in: one memo
    entry per second for the date conversion."""
    return int(float(timestamp) // 1)


def any_timestamp_seconds(value):
    """Cloudflare Logpush's timestamps in whichever `timestamp_format` the job has: unixnano (the
    default), unix, or rfc3339 text: whole seconds since 1970 (EPOCH). A number is told by its
    size: above 1e17 nanoseconds, above 1e14 microseconds, above 1e11 milliseconds."""
    if value.__class__ is str:
        if not value.isdigit():
            return int(_dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        value = int(value)
    for limit, unit in ((1e17, 1000000000), (1e14, 1000000), (1e11, 1000)):
        if value > limit:
            return int(value // unit)
    return int(value // 1)


@lru_cache(maxsize=4096)
def _unquote_plus(value):
    return unquote_plus(value)


def url_decoded(value):
    """Akamai DataStream 2 URL-encodes the user agent and referrer (spaces as +); memoised, as
    the same agents and referrers come back on most lines."""
    return _unquote_plus(value) if value.__class__ is str else value


_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0"

# The layout Matomo documents for nginx: keys named after the vocabulary, for example
#   log_format matomo escape=json '{"ip": "$remote_addr", "host": "$host", "path": "$request_uri",
#     "status": "$status", "referrer": "$http_referer", "user_agent": "$http_user_agent",
#     "length": $bytes_sent, "generation_time_milli": $request_time, "date": "$time_iso8601"}';
# "generation_time_milli" holds $request_time, which is in seconds (import_logs.py multiplies it
# by 1000); "date" is ISO 8601 with its offset. Any other vocabulary key is read as it is named.
NGINX_MAP = {n: n for n in FIELDS if n not in ("time", "timezone")}
NGINX_MAP["generation_time_milli"] = Key("generation_time_milli", convert=seconds_to_milli)

TRAEFIK_MAP = {
    "date": "time",
    "generation_time_milli": Key("Duration", convert=nano_to_milli),
    "host": "RequestHost",
    "ip": "ClientHost",
    "length": "DownstreamContentSize",
    "method": "RequestMethod",
    "path": "RequestPath",
    "referrer": "request_Referer",
    "status": Key("DownstreamStatus", convert=as_text),  # a number
    "userid": "ClientUsername",
    "user_agent": "request_User-Agent",
}

CADDY_MAP = {
    "date": Key("ts", convert=whole_seconds),
    "ip": Key("request.client_ip", "request.remote_ip"),
    "host": Key("request.host", convert=without_port),
    "method": "request.method",
    "path": "request.uri",
    "status": Key("status", convert=as_text),  # a number
    "length": "size",
    "generation_time_secs": "duration",
    "userid": Key("user_id", convert=empty_is_none),
    "referrer": Key("request.headers.Referer", convert=first),
    "user_agent": Key("request.headers.User-Agent", convert=first),
}

# Cloudflare Logpush, HTTP requests dataset (developers.cloudflare.com/logs/reference/log-fields/
# zone/http_requests): one JSON object per line with the fields the job selected.
CLOUDFLARE_MAP = {
    "date": Key("EdgeStartTimestamp", convert=any_timestamp_seconds),
    "ip": "ClientIP",
    "host": "ClientRequestHost",
    "method": "ClientRequestMethod",
    "path": "ClientRequestURI",
    "status": Key("EdgeResponseStatus", convert=as_text),
    "length": "EdgeResponseBytes",
    "referrer": "ClientRequestReferer",
    "user_agent": "ClientRequestUserAgent",
    "userid": "ClientRequestUser",
    "generation_time_milli": "OriginResponseDurationMs",
}

# Akamai DataStream 2 in JSON (techdocs.akamai.com/datastream2, "Log format"): values are text,
# the agent and referrer URL-encoded, reqTimeSec in seconds (with a fraction when logged so).
AKAMAI_MAP = {
    "date": Key("reqTimeSec", convert=whole_seconds),
    "ip": "cliIP",
    "host": "reqHost",
    "method": "reqMethod",
    "path": "reqPath",
    "query_string": "queryStr",
    "status": Key("statusCode", convert=as_text),
    "length": Key("bytes", "totalBytes"),
    "referrer": Key("referer", convert=url_decoded),
    "user_agent": Key("UA", convert=url_decoded),
    "generation_time_milli": "turnAroundTimeMSec",
    "forwarded_for": "xForwardedFor",
}

FORMATS = [
    Format(
        "nginx_json", None, ISO8601, json_map=NGINX_MAP, signature=("date", "path"),
        description="nginx log_format of JSON with the keys Matomo documents (ip, host, path, status, referrer, "
                    "user_agent, length, generation_time_milli in seconds, date in ISO 8601)",
        samples=[
            ('{"ip": "192.0.2.1", "host": "www.example.com", "path": "/docs/install?page=2", "status": "200", '
             '"referrer": "https://www.google.com/", "user_agent": "%s", "length": 5120, '
             '"generation_time_milli": 0.025, "date": "2026-03-01T10:00:00+01:00"}' % _UA,
             {"ip": "192.0.2.1", "host": "www.example.com", "path": "/docs/install?page=2", "status": "200",
              "referrer": "https://www.google.com/", "user_agent": _UA, "length": 5120,
              "generation_time_milli": 25.0, "date": "2026-03-01T10:00:00+01:00"}),
            # escape=default: nginx writes \xHH for quotes and bytes outside ASCII, and numbers
            # may come as strings; key order and spacing do not matter.
            ('{"date":"2026-03-01T10:00:01+01:00","status":404,"path":"/caf\\xC3\\xA9?q=\\x22x\\x22",'
             '"ip":"2001:db8::7","user_agent":"curl/8.5.0","length":"512","referrer":"-","extra":{"a":[1]}}',
             {"ip": "2001:db8::7", "path": '/café?q="x"', "status": "404", "length": "512", "referrer": "-",
              "user_agent": "curl/8.5.0", "host": None}),
        ]),
    Format(
        "traefik_json", None, ISO8601, json_map=TRAEFIK_MAP, signature=("RequestMethod", "RequestPath"),
        description="Traefik access logs in JSON (accessLog.format=json); headers only where the access log "
                    "keeps them (request_User-Agent, request_Referer)",
        samples=[
            ('{"ClientAddr":"192.0.2.1:52310","ClientHost":"192.0.2.1","ClientPort":"52310","ClientUsername":"-",'
             '"DownstreamContentSize":5120,"DownstreamStatus":200,"Duration":25431234,"OriginContentSize":5120,'
             '"OriginDuration":25101234,"OriginStatus":200,"Overhead":330000,"RequestAddr":"www.example.com",'
             '"RequestContentSize":0,"RequestCount":42,"RequestHost":"www.example.com","RequestMethod":"GET",'
             '"RequestPath":"/docs/install?page=2","RequestPort":"-","RequestProtocol":"HTTP/2.0",'
             '"RequestScheme":"https","RetryAttempts":0,"RouterName":"web@docker","ServiceAddr":"10.0.0.5:80",'
             '"ServiceName":"web@docker","StartLocal":"2026-03-01T10:00:00.012345678+01:00",'
             '"StartUTC":"2026-03-01T09:00:00.012345678Z","entryPointName":"websecure","level":"info","msg":"",'
             '"request_Referer":"https://www.google.com/","request_User-Agent":"%s",'
             '"time":"2026-03-01T10:00:00+01:00"}' % _UA,
             {"ip": "192.0.2.1", "host": "www.example.com", "method": "GET", "path": "/docs/install?page=2",
              "status": "200", "length": 5120, "generation_time_milli": 25.431234, "userid": "-",
              "referrer": "https://www.google.com/", "user_agent": _UA, "date": "2026-03-01T10:00:00+01:00"}),
        ]),
    Format(
        "caddy_json", None, EPOCH, json_map=CADDY_MAP, signature=("ts", "request", "status"),
        description="Caddy access logs (the JSON encoder's default: ts in seconds since 1970, duration in "
                    "seconds, headers as arrays)",
        samples=[
            ('{"level":"info","ts":1772355600.8155608,"logger":"http.log.access.log0","msg":"handled request",'
             '"request":{"remote_ip":"192.0.2.1","remote_port":"52310","client_ip":"192.0.2.1","proto":"HTTP/2.0",'
             '"method":"GET","host":"www.example.com","uri":"/docs/install?page=2","headers":{"User-Agent":["%s"],'
             '"Referer":["https://www.google.com/"],"Accept":["text/html"]},"tls":{"resumed":false,'
             '"version":772,"cipher_suite":4865,"proto":"h2","server_name":"www.example.com"}},"bytes_read":0,'
             '"user_id":"","duration":0.025335486,"size":5120,"status":200,"resp_headers":{"Server":["Caddy"],'
             '"Content-Type":["text/html; charset=utf-8"]}}' % _UA,
             {"date": 1772355600, "ip": "192.0.2.1", "host": "www.example.com", "method": "GET",
              "path": "/docs/install?page=2", "status": "200", "length": 5120,
              "generation_time_secs": 0.025335486, "userid": None, "referrer": "https://www.google.com/",
              "user_agent": _UA}),
            ('{"ts":1772355601.5,"request":{"remote_ip":"2001:db8::7","method":"GET","host":"shop.example.net:8443",'
             '"uri":"/","headers":{}},"user_id":"alice","duration":0.002,"size":0,"status":304}',
             {"ip": "2001:db8::7", "host": "shop.example.net", "status": "304", "userid": "alice",
              "referrer": None, "user_agent": None}),
        ]),
    Format(
        "cloudflare_json", None, EPOCH, json_map=CLOUDFLARE_MAP, signature=("EdgeStartTimestamp", "ClientRequestURI"),
        description="Cloudflare Logpush HTTP requests in JSON (EdgeStartTimestamp as unixnano, unix or rfc3339)",
        samples=[
            ('{"ClientIP":"192.0.2.1","ClientRequestHost":"www.example.com","ClientRequestMethod":"GET",'
             '"ClientRequestURI":"/docs/install?page=2","EdgeEndTimestamp":1772355600051000000,'
             '"EdgeResponseBytes":5120,"EdgeResponseStatus":200,"EdgeStartTimestamp":1772355600025000000,'
             '"RayID":"5e1b95b9ea390cc5","ClientRequestProtocol":"HTTP/2",'
             '"ClientRequestReferer":"https://www.google.com/",'
             '"ClientRequestUserAgent":"%s","OriginResponseDurationMs":25,"CacheCacheStatus":"miss"}' % _UA,
             {"date": 1772355600, "ip": "192.0.2.1", "host": "www.example.com", "method": "GET",
              "path": "/docs/install?page=2", "status": "200", "length": 5120, "referrer": "https://www.google.com/",
              "user_agent": _UA, "generation_time_milli": 25}),
            ('{"ClientIP":"2001:db8::7","ClientRequestHost":"shop.example.net","ClientRequestMethod":"GET",'
             '"ClientRequestURI":"/","EdgeResponseBytes":0,"EdgeResponseStatus":304,'
             '"EdgeStartTimestamp":"2026-03-01T09:00:01Z","ClientRequestUserAgent":"%s"}' % _UA,
             {"date": 1772355601, "ip": "2001:db8::7", "status": "304", "referrer": None}),
        ]),
    Format(
        "akamai_json", None, EPOCH, json_map=AKAMAI_MAP, signature=("reqTimeSec", "reqPath"),
        description="Akamai DataStream 2 in JSON (reqTimeSec in seconds, URL-encoded agent and referrer)",
        samples=[
            ('{"version":1,"streamId":"12345","cp":"123456","reqId":"1239f220","reqTimeSec":"1772355600",'
             '"bytes":"5120","cliIP":"192.0.2.1","statusCode":"200","proto":"HTTPS","reqHost":"www.example.com",'
             '"reqMethod":"GET","reqPath":"/docs/install","reqPort":"443","rspContentLen":"5120",'
             '"rspContentType":"text/html","UA":"Mozilla%2F5.0+%28Macintosh%3B+Intel+Mac+OS+X+10.15%3B+rv%3A133.0'
             '%29+Gecko%2F20100101+Firefox%2F133.0","tlsVersion":"TLSv1.3","queryStr":"page=2",'
             '"referer":"https%3A%2F%2Fwww.google.com%2F","turnAroundTimeMSec":"25","transferTimeMSec":"125",'
             '"cacheStatus":"1","country":"FR"}',
             {"date": 1772355600, "ip": "192.0.2.1", "host": "www.example.com", "method": "GET",
              "path": "/docs/install", "query_string": "page=2", "status": "200", "length": "5120",
              "referrer": "https://www.google.com/", "user_agent": _UA, "generation_time_milli": "25"}),
            ('{"version":1,"reqTimeSec":"1772355601.008","cliIP":"2001:db8::7","statusCode":"304","reqHost":'
             '"shop.example.net","reqMethod":"GET","reqPath":"/","totalBytes":"312","xForwardedFor":"198.51.100.7"}',
             {"date": 1772355601, "ip": "2001:db8::7", "status": "304", "length": "312", "query_string": None,
              "user_agent": None}),
        ]),
]
