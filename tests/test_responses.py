"""Every answer is classified by one function: a table of cases."""
import socket

import httpx
import pytest

from log_importer.responses import FATAL, OK, RETRY, backoff_delay, classify_bulk, classify_exception, \
    classify_single, retry_after_seconds

GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,"
       b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


@pytest.mark.parametrize("status,headers,body,kind,tracked,invalid", [
    (200, {}, b'{"status":"success","tracked":200,"invalid":0}', OK, 200, 0),
    (200, {}, b'{"status":"success","tracked":198,"invalid":2,"invalid_indices":[3,7]}', OK, 198, 2),
    (200, {}, b'{"status":"success","tracked":"150","invalid":"0"}', OK, 150, 0),
    (200, {}, b"<html><body>502 Bad Gateway</body></html>", RETRY, 0, 0),
    (200, {}, GIF, RETRY, 0, 0),
    (200, {}, b"", RETRY, 0, 0),
    (200, {}, b'{"status":"error","tracked":3,"invalid":0}', RETRY, 0, 0),
    (204, {}, b"", RETRY, 0, 0),
    (500, {}, b'{"status":"error","tracked":5,"invalid":0}', RETRY, 0, 0),
    (502, {}, b"<html>bad gateway</html>", RETRY, 0, 0),
    (503, {"retry-after": "7"}, b"", RETRY, 0, 0),
    (408, {}, b"", RETRY, 0, 0),
    (429, {}, b"", RETRY, 0, 0),
    (400, {}, b"This resource is part of Matomo.", FATAL, 0, 0),
    (401, {}, b'{"result":"error","message":"token wrong"}', FATAL, 0, 0),
    (403, {}, b"Forbidden", FATAL, 0, 0),
    (404, {}, b"Not Found", FATAL, 0, 0),
])
def test_bulk_answers(status, headers, body, kind, tracked, invalid):
    outcome = classify_bulk(status, httpx.Headers(headers), body, 200)
    assert (outcome.kind, outcome.tracked, outcome.invalid) == (kind, tracked, invalid)
    if kind != OK:
        assert outcome.message


def test_invalid_indices_are_kept_only_when_sane():
    ok = classify_bulk(200, httpx.Headers(), b'{"tracked":1,"invalid":2,"invalid_indices":[0,2]}', 3)
    assert ok.invalid_indices == [0, 2]
    bad = classify_bulk(200, httpx.Headers(), b'{"tracked":1,"invalid":2,"invalid_indices":[0,9]}', 3)
    assert bad.invalid_indices is None and bad.invalid == 2


SQL_GONE = b"Error:SQLSTATE[HY000]: General error: 2006 MySQL server has gone away"


@pytest.mark.parametrize("status,body,named,not_named", [
    # Matomo 5.1.2 when its database went away (behaviour spec 7.3): a database problem.
    (200, SQL_GONE, ["database", "2006 MySQL server has gone away", "closed Matomo's connection"],
     ["BulkTracking", "QueuedTracking", "proxy"]),
    (500, b"SQLSTATE[HY000] [1040] Too many connections", ["database", "fewer --recorders"], ["proxy"]),
    (500, b"SQLSTATE[40001]: Serialization failure: 1213 Deadlock found", ["database", "fewer --recorders"], []),
    (500, b"PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted", ["memory_limit"], ["database"]),
    (200, b"<html>Oops</html>", ["an HTML page", "proxy"], ["BulkTracking", "database"]),
    (200, b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body>x</body></html>",
     ["'Maintenance'", "maintenance or error page"], ["database"]),
    (502, b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
     ["'502 Bad Gateway'", "in front of Matomo", "PHP-FPM"], ["BulkTracking"]),
    (200, GIF, ["GIF", "QueuedTracking", "BulkTracking"], ["proxy"]),
    (200, b"", ["empty body", "PHP error log"], ["BulkTracking"]),
    (200, b'{"result":"error","message":"Method not found"}', ["Method not found", "--tracker-endpoint-path"], []),
    (500, b'{"status":"error","tracked":0,"invalid":0}', ["rolled it back", "error log"], ["proxy"]),
    # The trial: the lock-wait text was shown twice, the first time cut mid-word.
    (500, b'{"status":"error","tracked":0,"invalid":0,"message":"Mysqli statement execute error : Lock wait timeout '
          b'exceeded; try restarting transaction (SQLSTATE[HY000]: General error: 1205)"}',
     ["rolled it back: 'Mysqli statement execute error : Lock wait timeout exceeded; try restarting transaction "
      "(SQLSTATE[HY000]: General error: 1205)': concurrent writes waited for each other in the database: fewer "
      "--recorders"], ["\u2026", "error log"]),
    (500, b'{"status":"error","message":"Something odd"}', ["rolled it back: 'Something odd' (Matomo's error log"],
     ["proxy"]),
    (400, b"x", ["BulkTracking plugin disabled"], []),
    (401, b'{"result":"error","message":"token wrong"}', ["token wrong", "--token-auth"], []),
])
def test_messages_name_the_likely_cause_from_the_answer(status, body, named, not_named):
    message = classify_bulk(status, httpx.Headers(), body, 1).message
    assert all(n in message for n in named), message
    assert not any(n in message for n in not_named), message


def test_retry_after_is_kept():
    assert classify_bulk(503, httpx.Headers({"retry-after": "7"}), b"", 1).retry_after == 7


@pytest.mark.parametrize("status,body,kind,tracked,invalid", [
    (200, GIF, OK, 1, 0),
    (204, b"", OK, 1, 0),
    (400, GIF + b"This resource is part of Matomo", OK, 0, 1),
    (200, b"<html>proxy</html>", RETRY, 0, 0),
    (500, GIF, RETRY, 0, 0),
    (403, b"no", FATAL, 0, 0),
])
def test_single_answers(status, body, kind, tracked, invalid):
    outcome = classify_single(status, httpx.Headers(), body)
    assert (outcome.kind, outcome.tracked, outcome.invalid) == (kind, tracked, invalid)


@pytest.mark.parametrize("exc,kind,text", [
    (httpx.ConnectError("refused"), RETRY, "cannot reach the tracker"),
    (ConnectionRefusedError(111, "Connection refused"), RETRY, "refused: nothing listens there"),
    (socket.gaierror(-2, "Name or service not known"), RETRY, "host name was not found"),
    (httpx.ReadTimeout("slow"), RETRY, "did not answer in time"),
    (httpx.RemoteProtocolError("dropped"), RETRY, "closed before the answer"),
    (ValueError("bug"), FATAL, "unexpected error"),
])
def test_exceptions(exc, kind, text):
    outcome = classify_exception(exc)
    assert outcome.kind == kind and text in outcome.message
    assert outcome.details.get("unanswered", False) == (kind == RETRY)  # the server may have stored it


def test_backoff_grows_with_jitter_and_honours_retry_after():
    assert backoff_delay(1, 10, rng=lambda: 0.5) == 10
    assert backoff_delay(2, 10, rng=lambda: 0.5) == 20
    assert 8 <= backoff_delay(1, 10, rng=lambda: 0.0) < backoff_delay(1, 10, rng=lambda: 0.99) <= 12
    assert backoff_delay(3, 10, retry_after=2.5) == 2.5
    assert backoff_delay(20, 10, rng=lambda: 0.5) == 300
    assert backoff_delay(1, 0) == 0


def test_retry_after_forms():
    assert retry_after_seconds("12") == 12
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480) == 10
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_secrets_are_hidden_in_messages_without_mangling_them():
    from log_importer.redaction import redact
    assert redact("token abcdef123 refused", "abcdef123") == "token <hidden> refused"
    assert redact("http://h/index.php", "x") == "http://h/index.php"
