"""A loaded Matomo (load.py): a few requests served at once, time per hit, a queue, lock-wait 500s."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading

import httpx
import pytest

from log_importer.endpoint import Endpoint, EndpointError
from log_importer.endpoint.load import Load

from .calls import SITES, TOKEN, bulk, hit

COMMAND = [sys.executable, "-m", "log_importer.endpoint.cli"]


def post_all(ep, sizes):
    """POST one bulk request per size, all at once, each from its own thread and connection."""
    answers = [None] * len(sizes)

    def one(i, n):
        with httpx.Client(base_url=ep.url, timeout=30) as c:
            answers[i] = bulk(c, [hit(cip="192.0.2.%d" % k) for k in range(n)])
    threads = [threading.Thread(target=one, args=(i, n)) for i, n in enumerate(sizes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def overlaps(rows, at):
    return sum(1 for r in rows if r.started is not None and r.started <= at < r.ended)


def test_at_most_capacity_requests_are_served_at_once_each_holding_its_slot_for_its_hits(make_endpoint):
    ep = make_endpoint(capacity=2, cost_ms_per_hit=20)
    answers = post_all(ep, [5, 5, 5, 5, 2])
    assert [a.json()["tracked"] for a in answers] == [5, 5, 5, 5, 2]
    rows = ep.load.timeline()
    served = [r for r in rows if r.started is not None]
    assert len(served) == 5 and all(r.status == 200 for r in served)
    assert max(overlaps(rows, r.started) for r in served) == 2
    for r in served:  # 20 ms per hit, from the moment the request got its slot
        assert r.ended - r.started >= 0.020 * r.hits - 0.002
    assert sum(1 for r in served if r.started - r.arrived > 0.05) >= 2  # the others waited
    stats = ep.load.stats()
    assert stats == {"served": 5, "refused": 0, "hits": 22, "most_at_once": stats["most_at_once"]}
    assert 3 <= stats["most_at_once"] <= 5
    assert len([r for r in ep.received() if r["outcome"] == "stored"]) == 22
    busy = ep.load.concurrency(step=0.05)
    assert max(s for _, s, _ in busy) <= 2.0 + 1e-9 and max(w for _, _, w in busy) > 0


def test_a_long_queue_gets_the_lock_wait_500_and_nothing_is_stored(make_endpoint):
    ep = make_endpoint(capacity=1, cost_ms_per_hit=150, max_waiting=1)
    answers = post_all(ep, [1, 1, 1, 1])
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 200, 500, 500]
    for a in answers:
        if a.status_code == 500:
            body = a.json()
            assert body["status"] == "error" and body["tracked"] == 0
            assert "Lock wait timeout exceeded" in body["message"]
    assert len(ep.received()) == 2
    assert ep.load.stats()["refused"] == 2


def test_single_requests_count_one_hit_and_get_matomos_500_text(make_endpoint):
    ep = make_endpoint(capacity=1, cost_ms_per_hit=100, max_waiting=0)
    results = []

    def one():
        results.append(httpx.get(ep.url + "/matomo.php", params=hit(), timeout=10))
    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [200, 500]
    failed = next(r for r in results if r.status_code == 500)
    assert b"Lock wait timeout exceeded" in failed.content
    assert [r.hits for r in ep.load.timeline() if r.started is not None] == [1]


def test_defaults_come_from_matomo_on_two_cores():
    load = Load()
    assert (load.capacity, load.cost, load.max_waiting) == (2, 0.005, 8)
    assert Load(capacity=3).max_waiting == 12


def test_without_its_options_the_endpoint_is_not_loaded(make_endpoint):
    assert make_endpoint().load is None


@pytest.mark.parametrize("kw", [{"capacity": 0}, {"cost_ms_per_hit": -1}, {"max_waiting": -1}])
def test_bad_values_are_endpoint_errors(kw):
    with pytest.raises(EndpointError):
        Endpoint(token=TOKEN, sites=SITES, **kw)


@pytest.mark.parametrize("args, message", [
    (["--capacity", "0"], "--capacity must be > 0"),
    (["--capacity", "x"], "whole number"),
    (["--cost-ms-per-hit", "-2"], "milliseconds >= 0"),
    (["--max-waiting", "-1"], ">= 0"),
])
def test_bad_options_exit_2(args, message):
    r = subprocess.run(COMMAND + args, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_the_command_says_it_is_loaded(tmp_path):
    proc = subprocess.Popen(COMMAND + ["--port", "0", "--db", str(tmp_path / "t.db"), "--token", TOKEN,
                                       "--capacity", "3", "--cost-ms-per-hit", "1.5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline().strip()
        second = proc.stdout.readline().strip()
        assert first == "loaded: 3 request(s) at once, 1.5 ms per hit, up to 12 waiting"
        assert re.fullmatch(r"listening on http://127\.0\.0\.1:\d+", second)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()
        proc.stderr.close()
