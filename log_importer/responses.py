"""What an answer from the tracker means, and whether to try again: pure functions, tested by table.

- 200 with JSON `tracked`/`invalid`: success; invalid hits are final (never resent).
- 200 that is not JSON (an HTML page, QueuedTracking's GIF): not a success; retry, then stop.
- 5xx (a Matomo 500 means the whole bulk batch was rolled back), 408, 429, timeouts and
  connection errors: retry the whole batch with exponential backoff and jitter, honouring
  Retry-After.
- Other 4xx: stop at once with the server's message.
"""
from __future__ import annotations

import email.utils
import http.client
import random
import time
from dataclasses import dataclass, field

import httpx
import orjson

OK = "ok"
RETRY = "retry"
FATAL = "fatal"

NOT_JSON_HINT = ("the tracker did not answer JSON: is the BulkTracking plugin disabled, is QueuedTracking "
                 "answering (it needs queuedtracking=0), or is a proxy returning an error page?")
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


def classify_status(status: int, headers, body: bytes) -> Outcome | None:
    """The outcome for a non-200 status, or None when the body decides (status 200 / 204)."""
    if status in (200, 204):
        return None
    retry_after = retry_after_seconds(headers.get("retry-after")) if headers is not None else None
    if status >= 500 or status in (408, 429):
        details = {}
        try:
            data = orjson.loads(body)
            if isinstance(data, dict) and int(data.get("tracked") or 0) > 0:
                details["tracked"] = int(data["tracked"])  # kept only without transactions
        except (orjson.JSONDecodeError, TypeError, ValueError):
            pass
        return Outcome(RETRY, status=status, retry_after=retry_after, details=details,
                       message="HTTP %d from the tracker: %s" % (status, _snippet(body) or "(empty body)"))
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
        what = "a GIF image" if body.startswith(GIF_PREFIX) else (
            "an empty body" if not body else "'%s'" % _snippet(body, 80))
        return Outcome(RETRY, status=status, message="%s (got %s)" % (NOT_JSON_HINT, what))
    try:
        tracked = int(data.get("tracked") or 0)
        invalid = int(data.get("invalid") or 0)
    except (TypeError, ValueError):
        return Outcome(RETRY, status=status, message="%s (got %s)" % (NOT_JSON_HINT, _snippet(body, 80)))
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
    early = classify_status(status, headers, body)
    if early is not None:
        return early
    if status == 204 or body.startswith(GIF_PREFIX):
        return Outcome(OK, tracked=1, status=status)
    return Outcome(RETRY, status=status, message="the tracker did not answer with its image: a proxy error page? "
                   "(got '%s')" % _snippet(body, 80))


def classify_exception(exc: Exception, what: str = "the tracker") -> Outcome:
    """Exceptions of httpx (api.py) and of http.client and sockets (tracker_http.py)."""
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return Outcome(RETRY, message="%s did not answer in time (%s)" % (what, type(exc).__name__))
    if isinstance(exc, (httpx.TransportError, OSError, http.client.HTTPException)):
        return Outcome(RETRY, message="cannot reach %s: %s" % (what, str(exc) or type(exc).__name__))
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
