"""Every answer is classified by one function: a table of cases."""
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


def test_messages_name_the_likely_causes():
    html = classify_bulk(200, httpx.Headers(), b"<html>Oops</html>", 1).message
    assert "BulkTracking" in html and "QueuedTracking" in html and "proxy" in html
    assert "GIF" in classify_bulk(200, httpx.Headers(), GIF, 1).message
    assert "BulkTracking plugin disabled" in classify_bulk(400, httpx.Headers(), b"x", 1).message
    answer = b'{"result":"error","message":"token wrong"}'
    assert "token wrong" in classify_bulk(401, httpx.Headers(), answer, 1).message
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


@pytest.mark.parametrize("exc,kind", [
    (httpx.ConnectError("refused"), RETRY),
    (httpx.ReadTimeout("slow"), RETRY),
    (httpx.RemoteProtocolError("dropped"), RETRY),
    (ValueError("bug"), FATAL),
])
def test_exceptions(exc, kind):
    assert classify_exception(exc).kind == kind


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
