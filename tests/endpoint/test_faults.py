"""Faults on demand: 500, dropped connections, rollbacks, garbage pages, delays."""
from __future__ import annotations

import time

import httpx
import pytest

from log_importer.endpoint import Endpoint, EndpointError

from .calls import bulk, hit

UA = "Mozilla/5.0 (X11; Linux x86_64)"


def batch(n, start=0, minute=10):
    return [hit(cip="1.1.1.%d" % (start + i), ua=UA, cdt="2026-03-01 %02d:00:%02d" % (minute, i))
            for i in range(n)]


def test_fail_every_answers_500_and_stores_nothing(make_endpoint):
    ep = make_endpoint(fail_every=2)
    with httpx.Client(base_url=ep.url) as c:
        assert bulk(c, batch(3)).status_code == 200
        r = bulk(c, batch(3, start=10))
        assert r.status_code == 500
        assert r.json() == {"status": "error", "tracked": 0, "invalid": 0}
        assert c.get("/matomo.php", params={"idsite": "1", "rec": "1"}).status_code == 200
        single = c.get("/matomo.php", params={"idsite": "1", "rec": "1"})
        assert single.status_code == 500
    assert ep.report()["sites"]["1"]["visits"] == 4
    assert len(ep.received()) == 4
    assert [e["status"] for e in ep.http_log] == [200, 500, 200, 500]


def test_drop_every_closes_the_connection(make_endpoint):
    ep = make_endpoint(drop_every=2)
    with httpx.Client(base_url=ep.url) as c:
        assert bulk(c, batch(2)).status_code == 200
        with pytest.raises(httpx.TransportError):
            bulk(c, batch(2, start=10))
        assert bulk(c, batch(2, start=20)).status_code == 200  # a new connection works
    assert ep.report()["sites"]["1"]["visits"] == 4
    assert [e["status"] for e in ep.http_log] == [200, None, 200]
    assert {x["http"] for x in ep.received()} == {0, 2}


def test_rollback_every_answers_500_with_tracked_and_keeps_nothing(make_endpoint):
    ep = make_endpoint(rollback_every=2)
    with httpx.Client(base_url=ep.url) as c:
        first = [hit(cip="7.7.7.7", ua=UA, cdt="2026-03-01 10:00:00")]
        assert bulk(c, first).status_code == 200
        # The same visitor 10 minutes later, plus 3 new ones: all rolled back.
        second = ([hit(cip="7.7.7.7", ua=UA, cdt="2026-03-01 10:10:00", url="https://x.example/")]
                  + batch(3, start=50))
        r = bulk(c, second)
        assert r.status_code == 500
        assert r.json() == {"status": "error", "tracked": 2, "invalid": 0, "invalid_indices": []}
        got = ep.received()
        assert [x["outcome"] for x in got] == ["stored"] + ["rolled_back"] * 4
        assert [x["params"] for x in got[1:]] == second
        assert ep.report()["sites"]["1"]["visits"] == 1
        assert ep.report()["sites"]["1"]["actions"] == 1
        # Resending the batch gives exactly what one clean send would have given.
        assert bulk(c, second).json()["tracked"] == 4
    s = ep.report()["sites"]["1"]
    assert s["visits"] == 4 and s["actions"] == 5
    assert ep.query("SELECT total_actions FROM visit WHERE ip = '7.7.7.7'") == [(2,)]


def test_rollback_of_a_single_request(make_endpoint):
    ep = make_endpoint(rollback_every=1)
    with httpx.Client(base_url=ep.url) as c:
        r = c.get("/matomo.php", params={"idsite": "1", "rec": "1"})
        assert r.status_code == 500
    assert [x["outcome"] for x in ep.received()] == ["rolled_back"]
    assert ep.report()["sites"]["1"]["visits"] == 0


def test_garbage_every_answers_an_html_page_with_200(make_endpoint):
    ep = make_endpoint(garbage_every=1)
    with httpx.Client(base_url=ep.url) as c:
        r = bulk(c, batch(2))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.text.startswith("<!DOCTYPE html>")
    assert ep.received() == [] and ep.report()["sites"]["1"]["visits"] == 0


def test_db_gone_every_answers_matomos_database_error_with_200(make_endpoint):
    ep = make_endpoint(db_gone_every=2)
    with httpx.Client(base_url=ep.url) as c:
        first, second = bulk(c, batch(2)), bulk(c, batch(2))
    assert first.status_code == 200 and first.json()["tracked"] == 2
    assert second.status_code == 200
    assert second.text == "Error:SQLSTATE[HY000]: General error: 2006 MySQL server has gone away"
    assert len(ep.received()) == 2  # the second batch was not stored


def test_delay_ms_delays_tracking_calls(make_endpoint):
    ep = make_endpoint(delay_ms=150)
    with httpx.Client(base_url=ep.url) as c:
        t = time.monotonic()
        assert bulk(c, batch(1)).status_code == 200
        assert time.monotonic() - t >= 0.15


def test_fault_options_must_be_whole_numbers():
    with pytest.raises(EndpointError):
        Endpoint(fail_every=-1)
