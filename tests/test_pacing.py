"""Pacing: the controller as a pure function (tables of answers -> the next limit), the gate that
admits requests (limit, oldest first, a site's new day alone), and site-local days."""
import threading
import time

import pytest

from log_importer.pacing import (FAILED, FINE, LOCKED, PaceState, Pacer, Sample, decide, signal_of)
from log_importer.responses import OK, RETRY, Outcome, classify_bulk, classify_exception
from log_importer.site_days import SiteDays, zone

MS = 0.001


def run(samples, state=None, **kw):
    """Feed samples to decide(); return the allowed limit after each, and the last state.
    A sample is (seconds per hit, signal) or a Sample; hits 200, sent under the current
    epoch with the limit fully used, unless given."""
    state = state or PaceState(**kw)
    allowed = []
    for s in samples:
        if not isinstance(s, Sample):
            per_hit, signal = s
            s = Sample(per_hit * 200, 200, signal, state.epoch, state.allowed)
        state = decide(state, s)
        allowed.append(state.allowed)
    return allowed, state


def window(per_hit, state_allowed, signal=FINE):
    """As many answers as a window needs at `state_allowed` (at least 2)."""
    return [(per_hit, signal)] * max(2, state_allowed)


@pytest.mark.parametrize("name, samples, expected", [
    # Slow start: latency stays at its floor and the limit is used: 1 -> 2 -> 4 -> 8 (max).
    ("slow start", window(5 * MS, 1) + window(5 * MS, 2) + window(5 * MS, 4) + window(5 * MS, 8),
     [1, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8]),
    # Latency doubles at 4 (Matomo serves 2 at once): limit 4 / 2 + 1 = 3.
    ("latency climbs", window(5 * MS, 1) + window(5 * MS, 2) + window(10 * MS, 4),
     [1, 2, 2, 4, 4, 4, 4, 3]),
    # Within the tolerance (+20%) counts as "near its minimum": keeps rising.
    ("noise within tolerance", window(5 * MS, 1) + window(5.9 * MS, 2), [1, 2, 2, 4]),
])
def test_decide_table(name, samples, expected):
    allowed, _ = run(samples)
    assert allowed == expected, name


def test_after_slow_start_the_limit_rises_by_one_per_window():
    allowed, state = run(window(5 * MS, 1) + window(10 * MS, 2))  # 2 at twice the floor: 2/2+1 = 2
    assert allowed[-1] == 2 and not state.slow_start
    allowed, state = run(window(5 * MS, 2), state)
    assert allowed[-1] == 3
    allowed, state = run(window(5 * MS, 3), state)
    assert allowed[-1] == 4


def test_a_limit_that_was_not_used_is_not_raised():
    state = PaceState()
    for _ in range(2):
        state = decide(state, Sample(1.0, 200, FINE, state.epoch, 1))
    assert state.allowed == 2
    for _ in range(2):  # only one request at a time was in flight: the importer, not Matomo, is the limit
        state = decide(state, Sample(1.0, 200, FINE, state.epoch, 1))
    assert state.allowed == 2


@pytest.mark.parametrize("signal, factor_limit", [(LOCKED, 4), (FAILED, 6)])
def test_errors_cut_at_once_and_once_per_round(signal, factor_limit):
    state = PaceState(limit=8.0, max_limit=8, slow_start=False, epoch=5)
    state = decide(state, Sample(1.0, 200, signal, 5, 8))
    assert state.allowed == factor_limit  # halved for lock waits, x0.75 for 5xx and timeouts
    # More answers of requests sent before the cut are the same trouble: no further cut.
    state2 = decide(state, Sample(1.0, 200, signal, 5, 8))
    assert state2.allowed == factor_limit
    # A request sent after the cut that meets the same trouble cuts again.
    state3 = decide(state2, Sample(1.0, 200, signal, state2.epoch, 4))
    assert state3.allowed < factor_limit


def test_bounds():
    state = PaceState(limit=1.0, max_limit=3, slow_start=False, epoch=0)
    state = decide(state, Sample(1.0, 200, LOCKED, 0, 1))
    assert state.allowed == 1 and state.limit == 1.0
    allowed, state = run(window(5 * MS, 1) * 10, max_limit=3)
    assert max(allowed) == 3


def test_answers_under_an_earlier_limit_and_partial_batches_do_not_count():
    _, state = run(window(5 * MS, 1))  # floor 5 ms per hit, limit 2
    epoch = state.epoch
    stale = decide(state, Sample(100.0, 200, FINE, epoch - 1, 2))  # sent before the last decision
    assert stale == state
    small = decide(state, Sample(5.0, 20, FINE, epoch, 2))  # 20 hits waiting behind full batches
    assert small.n == 0 and small.allowed == state.allowed


def test_a_wait_that_fewer_requests_do_not_shorten_is_not_our_queue():
    """Matomo got slower (or another importer shares it): after a cut, the latency stays; the
    floor follows, and the limit climbs back instead of shrinking to 1."""
    allowed, state = run(window(5 * MS, 1) + window(5 * MS, 2) + window(5 * MS, 4) + window(5 * MS, 8))
    assert allowed[-1] == 8
    allowed, state = run(window(10 * MS, 8), state)  # twice slower everywhere: cut to 8/2+1 = 5
    assert allowed[-1] == 5
    for _ in range(3):
        allowed, state = run(window(10 * MS, state.allowed), state)
    assert state.floor == pytest.approx(10 * MS)
    assert allowed[-1] >= 6


def simulate(capacity, max_limit=8, rounds=60, cost=5 * MS):
    """decide() against a model Matomo: `capacity` requests served at once, a FIFO queue, so a
    window's latency per hit is cost x max(1, limit / capacity). Returns the limits seen."""
    state = PaceState(max_limit=max_limit)
    seen = []
    for _ in range(rounds):
        per_hit = cost * max(1.0, state.allowed / capacity)
        _, state = run(window(per_hit, state.allowed), state)
        seen.append(state.allowed)
    return seen


@pytest.mark.parametrize("capacity, low, high", [(1, 1, 2), (2, 2, 3), (4, 4, 6), (16, 8, 8)])
def test_the_controller_settles_at_the_capacity_plus_one_waiting(capacity, low, high):
    seen = simulate(capacity)
    assert all(low <= x <= high for x in seen[-20:]), seen


@pytest.mark.parametrize("outcome, hits, expected", [
    (Outcome(OK, tracked=200), 200, FINE),
    (Outcome(OK, tracked=190, invalid=10), 200, FINE),
    # Matomo skips a hit whose insert timed out on a lock (core/Tracker/Handler.php): fewer confirmed.
    (Outcome(OK, tracked=197, invalid=1), 200, LOCKED),
    (classify_bulk(500, {}, b'{"status":"error","tracked":0,"invalid":0,"message":"SQLSTATE[HY000]: '
                   b'General error: 1205 Lock wait timeout exceeded; try restarting transaction"}', 200), 200, LOCKED),
    (classify_bulk(200, {}, b"Error:SQLSTATE[40001]: Serialization failure: 1213 Deadlock found when "
                   b"trying to get lock", 200), 200, LOCKED),
    (classify_bulk(500, {}, b'{"status":"error","tracked":0,"invalid":0}', 200), 200, FAILED),
    (classify_bulk(503, {}, b"Service Unavailable", 200), 200, FAILED),
    (classify_exception(TimeoutError()), 200, FAILED),
    (Outcome(RETRY, message="cannot reach the tracker: Connection reset by peer"), 200, FAILED),
])
def test_signal_of(outcome, hits, expected):
    assert signal_of(outcome, hits) == expected


# The gate ------------------------------------------------------------------------------------
class FakeBatch:
    def __init__(self, id, firsts=()):
        self.id = id
        self.firsts = list(firsts)


def test_gate_admits_at_most_the_limit_and_the_oldest_first():
    pacer = Pacer(2)
    first = [pacer.admit(FakeBatch(i)) for i in (1, 2)]
    order, tickets = [], {}

    def later(i):
        tickets[i] = pacer.admit(FakeBatch(i))
        order.append(i)
    threads = [threading.Thread(target=later, args=(i,), daemon=True) for i in (5, 3, 4)]
    for t in threads:
        t.start()
        time.sleep(0.05)  # 5 asks first, then 3, then 4
    assert order == []  # two in flight: the others wait
    pacer.done(first[0], Outcome(OK, tracked=1), 1)
    time.sleep(0.1)
    assert order == [3]  # the oldest batch, not the first to ask
    pacer.done(first[1], Outcome(OK, tracked=1), 1)
    time.sleep(0.1)
    assert order == [3, 4] and pacer._inflight == 2
    stop = threading.Event()
    stop.set()
    assert pacer.admit(FakeBatch(9), stop) is None  # the run stops: nothing admitted
    pacer.done(tickets[3], Outcome(OK, tracked=1), 1)
    for t in threads:
        t.join(timeout=2)
    assert order == [3, 4, 5]


def test_gate_sends_the_first_batch_of_a_site_day_alone_until_matomo_confirmed_it():
    pacer = Pacer(4, site_days=SiteDays(lambda idsite: "UTC"))
    day1 = [(1, "2026-03-01 10:0")]
    day2 = [(1, "2026-03-02 00:0")]
    a = pacer.admit(FakeBatch(1, day1))
    b = pacer.admit(FakeBatch(2, []))  # no new day: goes alongside
    assert a and b
    waiting = []
    t = threading.Thread(target=lambda: waiting.append(pacer.admit(FakeBatch(3, day1))), daemon=True)
    t.start()
    c = pacer.admit(FakeBatch(4, day2))  # another day opens alongside
    assert c
    time.sleep(0.3)
    assert waiting == []  # day 1 is being created by batch 1
    pacer.done(a, Outcome(OK, tracked=1), 1)
    time.sleep(0.3)
    assert waiting == []  # answered, but not yet settled (retries would still belong to batch 1)
    pacer.settle(FakeBatch(1, day1), True)
    t.join(timeout=2)
    assert waiting and waiting[0] is not None
    # A batch that fails leaves its day unknown: the next one opens it, alone.
    pacer.done(c, Outcome(RETRY, message="HTTP 500"), 1)
    pacer.settle(FakeBatch(4, day2), False)
    assert (1, "2026-03-02") not in pacer._known and (1, "2026-03-01") in pacer._known


def test_gate_follows_the_controller_in_auto():
    pacer = Pacer(8, adaptive=True)
    assert pacer.limit == 1
    for i in range(2):
        t = pacer.admit(FakeBatch(i))
        pacer.done(t, Outcome(OK, tracked=200), 200)
    assert pacer.limit == 2
    t = pacer.admit(FakeBatch(10))
    pacer.done(t, Outcome(RETRY, message='HTTP 500 from the tracker: {"message":"Deadlock found when trying '
                          'to get lock; try restarting transaction"}'), 200)
    assert pacer.limit == 1 and pacer.lowest == 1 and pacer.highest == 2


# Site days -----------------------------------------------------------------------------------
@pytest.mark.parametrize("tz, bucket, days", [
    ("UTC", "2026-03-01 23:5", ["2026-03-01"]),
    (None, "2026-03-02 00:0", ["2026-03-02"]),
    ("Europe/Paris", "2026-06-30 21:5", ["2026-06-30"]),   # 23:50 local (CEST)
    ("Europe/Paris", "2026-06-30 22:0", ["2026-07-01"]),   # 00:00 local
    ("UTC+5.5", "2026-03-01 18:2", ["2026-03-01"]),        # 23:50
    ("UTC+5.5", "2026-03-01 18:3", ["2026-03-02"]),        # 00:00
    ("UTC-3", "2026-03-02 02:5", ["2026-03-01"]),
    ("Asia/Kathmandu", "2026-03-01 18:1", ["2026-03-01", "2026-03-02"]),  # +5:45: midnight at 18:15 UTC
    ("Not/AZone", "2026-03-01 23:5", ["2026-03-01"]),      # unknown: UTC
])
def test_site_days(tz, bucket, days):
    site_days = SiteDays({7: tz}.get)
    assert site_days.keys([(7, bucket)]) == {(7, d) for d in days}


def test_manual_utc_offsets():
    assert zone("UTC+5.75").utcoffset(None).total_seconds() == 5.75 * 3600
    assert zone("UTC").utcoffset(None).total_seconds() == 0
