"""A loaded Matomo: at most `capacity` tracking requests served at once, each costing time per hit.

`log-importer-endpoint --capacity N --cost-ms-per-hit MS [--max-waiting W]`, or
`Endpoint(capacity=N, cost_ms_per_hit=MS, max_waiting=W)`. Defaults come from a Matomo 5.1 on
2 cores (shared/spec, section 7 item 7: about 4 ms of PHP and 1.2 ms of database CPU per hit; 2
concurrent bulk requests saturate it): capacity 2, 5 ms per hit.

- A tracking request takes a slot (first come, first served) and holds it for `cost × hits`
  from the moment it got it (its real processing included), so the server's throughput is at
  most `capacity / cost` hits per second and its latency grows with its queue, as a CPU-bound
  Matomo's does. The cost is time the slot is held (a sleep), not CPU burnt: the machines this
  runs on have few cores, shared with the importer.
- Up to `max_waiting` requests (default 4 × capacity) wait for a slot; one more is answered at
  once with HTTP 500 and MySQL's lock-wait text, the way an overloaded Matomo's database fails
  concurrent transactions (`{"status":"error",...,"message":...}`, as Matomo answers with tracker
  debug on; nothing of that request is stored).
- `hits` is what Matomo's answer counts (tracked + invalid; 0 for an empty bulk request), 1 for a
  single request.

`timeline()` is every tracking request as a `Served` row (seconds since the start);
`concurrency()` turns it into the mean number of requests in service and waiting per time step;
`stats()` sums it up.
"""
from __future__ import annotations

import threading
import time
from typing import NamedTuple

import orjson

from .tracking import GIF, MATOMO_TEXT, Reply

DEFAULT_CAPACITY = 2
DEFAULT_COST_MS_PER_HIT = 5.0
WAITING_PER_SLOT = 4
LOCK_WAIT_MESSAGE = ("Mysqli statement execute error : Lock wait timeout exceeded; try restarting "
                     "transaction (SQLSTATE[HY000]: General error: 1205)")


class Served(NamedTuple):
    """One tracking request: times in seconds since the endpoint started (`started` is None for a
    request refused with the lock-wait 500), hits it accounted for, HTTP status, and the caller's
    `tag` (the server passes the request's index in `Endpoint.http_log`)."""
    arrived: float
    started: float | None
    ended: float
    hits: int
    status: int | None
    tag: object = None


class Load:
    """The slots, the queue and the record of a loaded endpoint (thread-safe)."""

    def __init__(self, capacity: int | None = None, cost_ms_per_hit: float | None = None,
                 max_waiting: int | None = None, clock=time.monotonic, sleep=time.sleep):
        capacity = DEFAULT_CAPACITY if capacity is None else capacity
        cost = DEFAULT_COST_MS_PER_HIT if cost_ms_per_hit is None else cost_ms_per_hit
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError("capacity must be a whole number >= 1, not %r" % (capacity,))
        if not isinstance(cost, (int, float)) or cost < 0:
            raise ValueError("cost_ms_per_hit must be >= 0, not %r" % (cost,))
        if max_waiting is None:
            max_waiting = WAITING_PER_SLOT * capacity
        if not isinstance(max_waiting, int) or max_waiting < 0:
            raise ValueError("max_waiting must be a whole number >= 0, not %r" % (max_waiting,))
        self.capacity = capacity
        self.cost = cost / 1000.0
        self.max_waiting = max_waiting
        self.clock = clock
        self.sleep = sleep
        self._cond = threading.Condition()
        self._busy = 0
        self._queue: list = []  # tickets waiting, first come first served
        self._tickets = 0
        self.origin = clock()
        self._timeline: list = []

    def serve(self, process, bulk: bool, tag=None):
        """Run `process()` (which returns the tracking Reply) in a slot; the lock-wait 500 Reply
        when the queue is full. `bulk`: the 500's body is bulk JSON, else Matomo's image and text."""
        arrived = self.clock()
        with self._cond:
            if self._busy >= self.capacity or self._queue:
                if len(self._queue) >= self.max_waiting:
                    at = arrived - self.origin
                    self._timeline.append(Served(at, None, at, 0, 500, tag))
                    if bulk:
                        return Reply(500, {"Content-Type": "application/json"}, orjson.dumps(
                            {"status": "error", "tracked": 0, "invalid": 0, "message": LOCK_WAIT_MESSAGE}))
                    return Reply(500, {"Content-Type": "text/html; charset=utf-8"},
                                 GIF + MATOMO_TEXT + b"\nAn exception occurred: " + LOCK_WAIT_MESSAGE.encode())
                self._tickets += 1
                ticket = self._tickets
                self._queue.append(ticket)
                while self._busy >= self.capacity or self._queue[0] != ticket:
                    self._cond.wait()
                self._queue.pop(0)
            self._busy += 1
        started = self.clock()
        reply, hits = None, 1
        try:
            reply = process()
            hits = _hits(reply)
            rest = started + self.cost * hits - self.clock()
            if rest > 0:
                self.sleep(rest)
        finally:
            ended = self.clock()
            with self._cond:
                self._busy -= 1
                self._timeline.append(Served(arrived - self.origin, started - self.origin, ended - self.origin,
                                             hits, reply.status if reply is not None else None, tag))
                self._cond.notify_all()
        return reply

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is in a slot or waiting for one; False after `timeout` seconds."""
        deadline = self.clock() + timeout
        with self._cond:
            while self._busy or self._queue:
                left = deadline - self.clock()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def timeline(self) -> list:
        """[Served], in the order the requests ended."""
        with self._cond:
            return list(self._timeline)

    def stats(self) -> dict:
        """served / refused requests, hits in 200 answers, the most requests in service and waiting."""
        rows = self.timeline()
        served = [r for r in rows if r.started is not None]
        return {"served": len(served), "refused": len(rows) - len(served),
                "hits": sum(r.hits for r in served if r.status == 200),
                "most_at_once": _most(rows)}

    def concurrency(self, step: float = 1.0, start: float = 0.0, end: float | None = None) -> list:
        """[(t, in service, waiting)] per `step` seconds from `start`: the mean number of requests
        in a slot and waiting for one during [t, t + step)."""
        rows = self.timeline()
        if end is None:
            end = max((r.ended for r in rows), default=start)
        out = []
        t = start
        while t < end - 1e-9:
            t1 = t + step
            service = waiting = 0.0
            for arrived, started, ended, *_ in rows:
                if started is None:
                    continue
                service += max(0.0, min(ended, t1) - max(started, t))
                waiting += max(0.0, min(started, t1) - max(arrived, t))
            out.append((round(t, 3), service / step, waiting / step))
            t = t1
        return out


def _hits(reply) -> int:
    """Hits a tracking answer accounts for: tracked + invalid of a bulk JSON answer, else 1."""
    if reply is None or not reply.body.startswith(b"{"):
        return 1
    try:
        data = orjson.loads(reply.body)
        return int(data.get("tracked") or 0) + int(data.get("invalid") or 0)
    except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
        return 1


def _most(rows) -> int:
    """The most requests in a slot or waiting at any moment."""
    events = []
    for arrived, started, ended, *_ in rows:
        if started is not None:
            events += [(arrived, 1), (ended, -1)]
    most = now = 0
    for _, d in sorted(events, key=lambda e: (e[0], e[1])):
        now += d
        most = max(most, now)
    return most
