"""What an answer from the tracker means, and whether to try again: pure functions, tested by table.

- 200 with JSON `tracked`/`invalid`: success; invalid hits are final (never resent).
- 200 that is not JSON (an HTML page, QueuedTracking's GIF, a database error's text): not a
  success; retry, then stop.
- 5xx (a Matomo 500 means the whole bulk batch was rolled back), 408, 429, timeouts and
  connection errors: retry the whole batch with exponential backoff and jitter, honouring
  Retry-After.
- Other 4xx: stop at once with the server's message.

Every message names the likely cause from the answer itself (`likely_cause`): Matomo's database
errors (the SQLSTATE text Matomo prints when its database goes away, measured on Matomo 5.1.2:
HTTP 200 and `Error:SQLSTATE[HY000]: General error: 2006 MySQL server has gone away`), PHP's
fatal errors, QueuedTracking's GIF, the HTML page of a web server or proxy (named by its title),
the Reporting API's JSON, an empty body. Connection failures are told apart the same way
(`connection_problem`: refused, host not found, no answer within the connect timeout, reset).
"""
from __future__ import annotations

import email.utils
import html
import http.client
import random
import re
import socket
import ssl
import time
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import orjson

OK = "ok"
RETRY = "retry"
FATAL = "fatal"

GIF_PREFIX = b"GIF8"


@dataclass
class Outcome:
    kind: str
    tracked: int = 0
    invalid: int = 0
    invalid_indices: list | None = None
    message: str = ""
    retry_after: float | None = None
    status: int | None = None
    details: dict = field(default_factory=dict)

    @property
    def ok(self):
        return self.kind == OK


def _snippet(body: bytes, limit=160) -> str:
    text = body[:limit * 2].decode("utf-8", "replace")
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def _server_message(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _snippet(body)
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return _snippet(body)


# MySQL/MariaDB error numbers in Matomo's answers, and what they usually mean for an import
# (https://dev.mysql.com/doc/mysql-errors/8.0/en/ for the numbers).
_DB_ERRORS = [
    (re.compile(rb"\b2006\b|server has gone away|\b2013\b|Lost connection to MySQL", re.I),
     "the database server closed Matomo's connection (it restarted, or its wait_timeout or "
     "max_allowed_packet is too small for a batch: a smaller --recorder-max-payload-size helps with the latter)"),
    (re.compile(rb"\b1040\b|Too many connections", re.I),
     "the database server refuses more connections: fewer --recorders, or a higher max_connections"),
    (re.compile(rb"\b1213\b|\b1205\b|Deadlock found|Lock wait timeout", re.I),
     "concurrent writes waited for each other in the database: fewer --recorders (auto lowers them on its own)"),
    (re.compile(rb"\b1045\b|Access denied for user", re.I),
     "Matomo's database login was refused: check [database] in Matomo's config.ini.php"),
    (re.compile(rb"\b2002\b|Can't connect to (?:local )?(?:MySQL|MariaDB)|Connection refused", re.I),
     "Matomo cannot reach its database server: is it running?"),
    (re.compile(rb"\b1114\b|\b1021\b|table is full|Disk full", re.I),
     "the database server is out of disk space"),
]
_DB_TEXT = re.compile(rb"SQLSTATE\[|MySQL server|MariaDB|mysqli|PDOException|Zend_Db|Error while sending QUERY", re.I)
_PHP_ERRORS = [
    (re.compile(rb"Allowed memory size of \d+ bytes exhausted", re.I),
     "PHP ran out of memory in Matomo: raise its memory_limit, or send smaller batches "
     "(--recorder-max-payload-size)"),
    (re.compile(rb"Maximum execution time of [\d.]+ seconds? exceeded", re.I),
     "PHP's max_execution_time stopped Matomo: raise it, or send smaller batches (--recorder-max-payload-size)"),
    (re.compile(rb"(?:PHP )?(?:Fatal|Parse) error\b|Uncaught (?:\w+\\)*\w*(?:Exception|Error)\b", re.I),
     "PHP stopped Matomo with an error: Matomo's PHP error log says more"),
]
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)
_HEADING = re.compile(rb"<h1[^>]*>(.*?)</h1>", re.I | re.S)
_TAGS = re.compile(r"<[^>]+>")


def _page_title(body: bytes) -> str:
    """The title (or first heading) of an HTML page, as text; "" when it has none."""
    for pattern in (_TITLE, _HEADING):
        m = pattern.search(body[:20000])
        if m:
            text = html.unescape(_TAGS.sub(" ", m.group(1).decode("utf-8", "replace")))
            text = " ".join(text.split())
            if text:
                return text[:80]
    return ""


def _named_cause(text: bytes, known: list) -> str | None:
    """The cause of the first of `known` [(pattern, cause)] found in the start of `text`, or None."""
    head = text[:4000]
    return next((cause for pattern, cause in known if pattern.search(head)), None)


def likely_cause(status: int, body: bytes, bulk: bool = True) -> tuple[str, str]:
    """What answered and why, from an answer that is not the tracker's expected one.

    Returns (what, cause): `what` names the answer ("the text 'Error:SQLSTATE[HY000]: …'",
    "an HTML page 'Bad Gateway'", "a GIF image", "an empty body"), `cause` the likely reason
    and what to do. Sources: the database error Matomo 5.1.2 answered with HTTP 200 (behaviour
    spec 7.3), core/Tracker/Response.php (the GIF, "This resource is part of Matomo"),
    QueuedTracking's Tracker/Handler.php (a GIF to bulk requests without queuedtracking=0).
    """
    stripped = body.strip()
    if not stripped:
        return ("an empty body", "PHP stopped without output (Matomo's PHP error log says why), or a proxy "
                                 "cut the answer")
    if _DB_TEXT.search(body[:4000]):
        cause = _named_cause(body, _DB_ERRORS) or "the database server or Matomo's connection to it"
        return ("the text '%s'" % _snippet(body, 120), "Matomo's database failed: " + cause)
    cause = _named_cause(body, _PHP_ERRORS)
    if cause is not None:
        return ("the text '%s'" % _snippet(body, 120), cause)
    if body.startswith(GIF_PREFIX):
        if bulk:
            return ("a GIF image", "QueuedTracking answered it (it must honour queuedtracking=0), or the "
                                   "BulkTracking plugin is disabled")
        return ("a GIF image", "Matomo answered it")
    head = stripped[:2000].lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<body" in head or b"<title" in head:
        title = _page_title(stripped)
        what = "an HTML page" + (" '%s'" % title if title else "")
        if "matomo" in title.lower() or "piwik" in title.lower():
            return (what, "Matomo's own error page: the page says why (often a wrong --tracker-endpoint-path, "
                          "or Matomo being updated)")
        if status >= 500:
            return (what, "the web server or a proxy in front of Matomo answered instead of it: Matomo "
                          "(PHP-FPM) is down, overloaded or too slow for the proxy's timeout")
        return (what, "a web server or proxy page, not Matomo's tracker (a maintenance or error page, a login "
                      "page, or a wrong --url / --tracker-endpoint-path)")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and data.get("result") == "error":
        return ("the Reporting API's error '%s'" % _snippet(str(data.get("message", "")).encode(), 100),
                "the request reached Matomo's API, not its tracker: check --tracker-endpoint-path")
    if data is not None:
        return ("the JSON '%s'" % _snippet(body, 80), "not Matomo's bulk tracking answer: check "
                                                      "--tracker-endpoint-path, and whether a proxy rewrites answers")
    return ("the text '%s'" % _snippet(body, 120), "not Matomo's tracker answer: a proxy, or a wrong --url / "
                                                  "--tracker-endpoint-path")


def _tracker_error(message) -> str:
    """The tail of the message for the tracker's JSON error `{"status":"error","message":...}`:
    the message once, and its likely cause when it names one (a database error, PHP's limits),
    else where to read more."""
    if not message:
        return " (without a message): Matomo's error log says why"
    raw = str(message).encode("utf-8", "replace")
    cause = _named_cause(raw, _DB_ERRORS + _PHP_ERRORS)
    if cause is not None:
        return ": '%s': %s" % (_snippet(raw, 200), cause)
    return ": '%s' (Matomo's error log says more)" % _snippet(raw, 200)


def _because(status: int, body: bytes, bulk: bool) -> str:
    what, cause = likely_cause(status, body, bulk)
    return "%s: %s" % (what, cause)


def classify_status(status: int, headers, body: bytes, bulk: bool = True) -> Outcome | None:
    """The outcome for a non-200 status, or None when the body decides (status 200 / 204)."""
    if status in (200, 204):
        return None
    retry_after = retry_after_seconds(headers.get("retry-after")) if headers is not None else None
    if status >= 500 or status in (408, 429):
        details = {}
        data = None
        try:
            data = orjson.loads(body)
            if isinstance(data, dict) and int(data.get("tracked") or 0) > 0:
                details["tracked"] = int(data["tracked"])  # kept only without transactions
        except (orjson.JSONDecodeError, TypeError, ValueError):
            pass
        if isinstance(data, dict) and data.get("status") == "error":
            why = "Matomo failed while tracking the batch and rolled it back" + _tracker_error(data.get("message"))
        elif status == 429:
            why = "Matomo or a proxy limits the request rate (fewer --recorders help)"
        elif status in (503, 408) and (not body.strip() or retry_after is not None):
            why = "Matomo or a proxy is busy or in maintenance"
        elif status == 500 and body.startswith(GIF_PREFIX):
            why = "Matomo failed on the request (its error log says why)"
        else:
            why = _because(status, body, bulk)
        return Outcome(RETRY, status=status, retry_after=retry_after, details=details,
                       message="HTTP %d from the tracker: %s" % (status, why))
    if status == 401 or status == 403:
        return Outcome(FATAL, status=status, message="the tracker refused the request (HTTP %d): %s; "
                       "check --token-auth and --auth-user/--auth-password" % (status, _server_message(body)))
    return Outcome(FATAL, status=status, message="the tracker answered HTTP %d: %s"
                   % (status, _server_message(body) or "(empty body)"))


def classify_bulk(status: int, headers, body: bytes, batch_size: int) -> Outcome:
    """The outcome of a bulk tracking POST of `batch_size` hits."""
    early = classify_status(status, headers, body)
    if early is not None:
        if status == 400 and early.kind == FATAL:
            early.message += " (is the BulkTracking plugin disabled? try --disable-bulk-tracking)"
        return early
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or "tracked" not in data:
        return Outcome(RETRY, status=status, message="the tracker did not answer JSON (HTTP %d, %s)"
                       % (status, _because(status, body, True)))
    try:
        tracked = int(data.get("tracked") or 0)
        invalid = int(data.get("invalid") or 0)
    except (TypeError, ValueError):
        return Outcome(RETRY, status=status, message="the tracker answered JSON without counts (HTTP %d, %s)"
                       % (status, _because(status, body, True)))
    indices = data.get("invalid_indices")
    if not isinstance(indices, list) or not all(isinstance(i, int) and 0 <= i < batch_size for i in indices):
        indices = None
    if data.get("status") == "error":
        # Matomo rolls the whole batch back on an error answer: resend all of it.
        return Outcome(RETRY, status=status, message="the tracker answered an error (tracked=%s): %s"
                       % (tracked, _server_message(body)))
    return Outcome(OK, tracked=tracked, invalid=invalid, invalid_indices=indices, status=status)


def classify_single(status: int, headers, body: bytes) -> Outcome:
    """The outcome of one tracking request sent without bulk tracking."""
    if status == 400:
        return Outcome(OK, invalid=1, invalid_indices=[0], status=status,
                       message=_snippet(body.split(b";", 1)[-1] if body.startswith(GIF_PREFIX) else body))
    early = classify_status(status, headers, body, bulk=False)
    if early is not None:
        return early
    if status == 204 or body.startswith(GIF_PREFIX):
        return Outcome(OK, tracked=1, status=status)
    return Outcome(RETRY, status=status, message="the tracker did not answer with its image (HTTP %d, %s)"
                   % (status, _because(status, body, False)))


def _root_error(exc: BaseException) -> BaseException:
    """The OSError (or TimeoutError) under an exception of httpx or httpcore, else `exc`."""
    seen = 0
    current = exc
    while current is not None and seen < 8:
        if isinstance(current, (OSError, TimeoutError)) and not isinstance(current, httpx.HTTPError):
            return current
        nested = [current.__cause__, current.__context__] + [a for a in current.args if isinstance(a, BaseException)]
        current = next((n for n in nested if n is not None), None)
        seen += 1
    return exc


def connection_problem(exc: BaseException) -> tuple[str, str] | None:
    """What kind of connection failure `exc` is, as (kind, text), or None for other errors.

    kind: "refused", "dns" (the host name was not found), "connect-timeout", "tls", "reset"
    (the server or a proxy closed the connection), "timeout" (no answer in time); text says it
    in words. Knows the exceptions of httpx and of http.client and sockets.
    """
    root = _root_error(exc)
    if isinstance(exc, httpx.ConnectTimeout) or (
            isinstance(exc, httpx.ConnectError) and isinstance(root, TimeoutError)):
        return "connect-timeout", "no answer to the connection"
    if isinstance(root, socket.gaierror):
        return "dns", "the host name was not found (DNS: %s)" % (root.strerror or root)
    if isinstance(root, ConnectionRefusedError):
        return "refused", "the connection was refused: nothing listens there"
    if isinstance(root, ssl.SSLError) or isinstance(exc, ssl.SSLError):
        reason = getattr(root, "reason", None) or getattr(root, "strerror", None) or str(root)
        return "tls", "the TLS handshake failed (%s)" % reason
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)) or isinstance(root, TimeoutError):
        return "timeout", "no answer in time"
    if isinstance(root, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)) or isinstance(
            exc, (httpx.RemoteProtocolError, http.client.RemoteDisconnected)):
        return "reset", "the connection was closed before the answer (by the server or a proxy)"
    if isinstance(root, OSError) and root.errno is not None:
        return "os", "%s" % (root.strerror or root)
    return None


def classify_exception(exc: Exception, what: str = "the tracker") -> Outcome:
    """Exceptions of httpx (api.py) and of http.client and sockets (tracker_http.py).

    Transport failures are retried; their hits' fate is unknown (`details["unanswered"]`): the
    server may have stored them without its answer arriving."""
    if isinstance(exc, (httpx.TransportError, OSError, http.client.HTTPException)):
        problem = connection_problem(exc)
        if problem is not None and problem[0] == "timeout":
            text = "%s did not answer in time (%s)" % (what, type(exc).__name__)
        else:
            text = "cannot reach %s: %s" % (what, problem[1] if problem else (str(exc) or type(exc).__name__))
        return Outcome(RETRY, message=text, details={"unanswered": True})
    return Outcome(FATAL, message="unexpected error while sending: %s" % exc)


def backoff_delay(attempt: int, base: float, retry_after: float | None = None, rng=random.random,
                  cap: float = 300.0) -> float:
    """Seconds to wait before retry number `attempt` (1 = the first retry)."""
    if retry_after is not None:
        return min(cap, retry_after)
    if base <= 0:
        return 0.0
    delay = base * (2 ** (attempt - 1))
    return min(cap, delay * (0.8 + 0.4 * rng()))


FAIL_FAST = ("refused", "dns", "connect-timeout", "tls")  # before Matomo has answered: not retried


def _addresses(host: str, port: int) -> str:
    """" (192.0.2.5, 2001:db8::5)": the addresses a host name resolves to ("" for an IP, or
    when it does not resolve)."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return ""
    except OSError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return ""
    found = []
    for info in infos:
        if info[4][0] not in found:
            found.append(info[4][0])
    return " (%s)" % ", ".join(found[:4]) if found else ""


def unreachable(url: str, exc: BaseException, connect_timeout: float) -> str | None:
    """What was tried and what happened, for a connection to `url` that failed with `exc`
    before any answer: "the connection to 127.0.0.1 port 9 was refused (nothing listens
    there…)". None when `exc` is not such a failure (FAIL_FAST)."""
    problem = connection_problem(exc)
    if problem is None or problem[0] not in FAIL_FAST:
        return None
    kind, text = problem
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 443 if parts.scheme == "https" else 80
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy and not urllib.request.proxy_bypass_environment(host, proxies):
        via = " through the proxy %s (from the environment: %s_PROXY)" % (proxy, parts.scheme.upper())
    else:
        via = ""
    if kind == "dns":
        return "the host name %s was not found%s (DNS: %s)" % (host, via, text.partition("DNS: ")[2].rstrip(")"))
    where = "%s%s port %d%s" % (host, _addresses(host, port), port, via)
    if kind == "refused":
        return ("the connection to %s was refused: nothing listens there (is the web server running, is the "
                "port right?)" % where)
    if kind == "connect-timeout":
        return ("the connection to %s got no answer within %g s (--connect-timeout): a firewall that drops it, "
                "or a wrong address" % (where, connect_timeout))
    return ("the connection to %s failed: %s; for a private certificate authority use --ca-bundle (or "
            "--accept-invalid-ssl-certificate)" % (where, text))
