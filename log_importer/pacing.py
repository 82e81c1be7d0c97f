"""Pacing: how many bulk requests may be at Matomo at once, and which batch goes next.

Matomo, not the importer, sets the end-to-end speed: about 5 ms of PHP and database CPU per hit
against the importer's 0.02 ms (measured on a Matomo 5.1 on 2 cores, where 2 concurrent bulk
requests saturate the server and more only queue). Too few concurrent requests leave Matomo
idle; too many queue at its PHP workers and its database, where concurrent transactions on the
same tables end in lock-wait timeouts and deadlocks.

`--recorders auto` finds the pace the way TCP Vegas and the gradient concurrency limiters do,
from Matomo's latency alone:

- `decide(state, sample)` is the controller, a pure function tested by table. Latency is measured
  per hit (seconds / hits of a request); a request of less than half the largest one seen (a
  partial batch: the end of an input, a slow live stream) says little about the queue (its wait
  is spread over few hits) and is left out of the latency windows, as is a request sent while
  requests of an earlier limit were still in flight (it waited behind their queue). Per window
  (about one round trip: as many answers as the limit allows, at least 2), with
  `floor` the lowest window latency seen (Matomo without a queue of ours) and `r` = window
  latency / floor:
    * r <= 1 + TOLERANCE (latency near its minimum) and the limit was used: raise it, doubling
      at the start (slow start), then by one per window;
    * else the limit becomes limit / r + HEADROOM: limit / r is how many requests Matomo serves
      at once without queueing them (Little's law), and HEADROOM more keep it busy while the next
      request travels (so about one request waits at Matomo);
    * a window whose latency is 95% or more of the highest among the recent windows at a limit
      at least 25% higher was not queueing behind our own requests (Matomo grew slower, or
      another importer shares it): the floor becomes that latency.
  At once, once per round trip: a lock-wait or deadlock text in an answer, or an answer that
  confirms fewer hits than it was sent (Matomo skips a hit that hit a lock-wait timeout,
  `core/Tracker/Handler.php`), halves the limit; a 5xx, a timeout or a dropped connection
  multiplies it by 0.75. Bounds: 1 and --max-recorders.
- `Pacer` is the gate every request passes (fixed --recorders N too): at most `limit` requests
  in flight, the oldest batch first (so files' committed positions advance evenly); and the first
  batch that carries a site's new day goes with no other batch of that site and day in flight,
  until Matomo has confirmed it: Matomo creates the per-site, per-day fingerprint salt
  (`core/Tracker/FingerprintSalt.php`, option `fingerprint_salt_<idsite>_<date>`) inside the bulk
  request's transaction, so concurrent first requests of a day would each create one and split
  visits (measured: 1.2% more visits with 4 concurrent requests than with 1).

Each visitor's hits stay in order whatever the limit: a visitor belongs to one sender partition,
and a partition sends its batches one at a time (sending.py).
"""
from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from dataclasses import dataclass

from .responses import OK, Outcome

log = logging.getLogger("log_importer")

TOLERANCE = 0.2      # window latency within 20% of the floor counts as "near its minimum"
HEADROOM = 1.0       # requests allowed to wait at Matomo beyond what it serves at once
MIN_WINDOW = 2       # answers per decision, at least
LOCK_FACTOR = 0.5    # lock-wait / deadlock
FAILURE_FACTOR = 0.75  # 5xx, timeouts, dropped connections
REBASE = 0.95        # latency >= 95% of that at a limit >= REBASE_LIMITS x higher: not our queue
REBASE_LIMITS = 1.25
HISTORY = 8          # windows remembered for that comparison

FINE = "fine"
FAILED = "failed"
LOCKED = "locked"

# MySQL's texts (error 1205 ER_LOCK_WAIT_TIMEOUT, 1213 ER_LOCK_DEADLOCK); Matomo shows them in the
# tracker's debug output, and in its plain-text "Error:SQLSTATE[...]" answers.
LOCK_TEXT = re.compile(r"lock wait timeout|deadlock found|try restarting transaction|\b1205\b|\b1213\b", re.I)


@dataclass(frozen=True)
class Sample:
    """One answered request: `seconds` from sending to the answer, `hits` sent, `signal` (FINE,
    FAILED or LOCKED), `epoch` of the decision it was sent under, `inflight` requests at Matomo
    when it was sent (itself included), `clean`: no request of an earlier epoch was in flight."""
    seconds: float
    hits: int
    signal: str = FINE
    epoch: int = 0
    inflight: int = 1
    clean: bool = True


@dataclass(frozen=True)
class PaceState:
    """The controller's state. `limit` is a float (the gate uses round(limit), at least 1);
    `floor` is seconds per hit; `epoch` counts decisions; `cut_epoch` is the epoch the last
    error cut started (answers to requests sent before it are echoes of the same trouble)."""
    limit: float = 1.0
    max_limit: int = 8
    floor: float | None = None
    slow_start: bool = True
    epoch: int = 0
    cut_epoch: int = 0
    history: tuple = ()                # (allowed, seconds per hit) of the last HISTORY windows
    full: int = 0                      # hits of the largest request seen
    n: int = 0                         # the current window: answers, seconds, hits, busiest
    seconds: float = 0.0
    hits: int = 0
    busiest: int = 0

    @property
    def allowed(self) -> int:
        """Requests that may be in flight: round(limit), within 1 .. max_limit."""
        return max(1, min(self.max_limit, int(self.limit + 0.5)))


def signal_of(outcome: Outcome, hits: int) -> str:
    """FINE, FAILED or LOCKED for an attempt's outcome (responses.py) that carried `hits` hits."""
    if outcome.kind == OK:
        return LOCKED if outcome.tracked + outcome.invalid < hits else FINE
    if LOCK_TEXT.search(outcome.message or ""):
        return LOCKED
    return FAILED


def _bounded(state: PaceState, limit: float) -> float:
    return max(1.0, min(float(state.max_limit), limit))


def decide(state: PaceState, sample: Sample) -> PaceState:
    """The state after one answer (a pure function; see the module's docstring for the rules)."""
    if sample.signal in (LOCKED, FAILED):
        if sample.epoch < state.cut_epoch:
            return state  # sent before the last cut: the same trouble, already answered
        factor = LOCK_FACTOR if sample.signal == LOCKED else FAILURE_FACTOR
        epoch = state.epoch + 1
        return dataclasses.replace(
            state, limit=_bounded(state, state.limit * factor), slow_start=False, epoch=epoch,
            cut_epoch=epoch, n=0, seconds=0.0, hits=0, busiest=0)
    if sample.hits > state.full:
        state = dataclasses.replace(state, full=sample.hits)
    if sample.epoch != state.epoch or not sample.clean or sample.hits * 2 < state.full:
        return state  # sent under an earlier limit or behind its queue, or a partial batch
    state = dataclasses.replace(state, n=state.n + 1, seconds=state.seconds + sample.seconds,
                                hits=state.hits + sample.hits, busiest=max(state.busiest, sample.inflight))
    if state.n < max(MIN_WINDOW, state.allowed):
        return state
    latency = state.seconds / state.hits
    floor = latency if state.floor is None else min(state.floor, latency)
    higher = [seen for allowed, seen in state.history if allowed >= REBASE_LIMITS * state.allowed]
    if higher and latency >= REBASE * max(higher):
        floor = latency  # fewer requests did not wait less: the wait is not our queue
    ratio = latency / floor
    limit, slow_start = state.limit, state.slow_start
    if ratio <= 1 + TOLERANCE:
        if state.busiest >= state.allowed:  # raise only a limit that was used
            limit = limit * 2 if slow_start else limit + 1
    else:
        slow_start = False
        limit = min(limit, limit / ratio + HEADROOM)
    return dataclasses.replace(
        state, limit=_bounded(state, limit), floor=floor, slow_start=slow_start, epoch=state.epoch + 1,
        history=(state.history + ((state.allowed, latency),))[-HISTORY:],
        n=0, seconds=0.0, hits=0, busiest=0)


@dataclass
class Ticket:
    """One request admitted by the Pacer: give it back with `Pacer.done`."""
    batch: object
    started: float
    epoch: int
    inflight: int
    clean: bool


class Pacer:
    """The gate of every request to the tracker (thread-safe).

    `senders`: the most requests ever in flight (the sender threads); `adaptive`: the limit
    follows `decide` (--recorders auto), else it is `senders`. `site_days`: a SiteDays that maps
    a batch's `firsts` to (idsite, site-local day) keys, or None (no day rule). Senders call
    `admit(batch)` before each attempt (it blocks; None when `stop_event` is set), `done(ticket,
    outcome, hits)` after it (outcome None: the run is stopping, the answer tells nothing about
    Matomo), and `settle(batch, ok)` once the batch is confirmed or given up.
    """

    def __init__(self, senders: int, adaptive: bool = False, site_days=None, clock=time.monotonic):
        senders = max(1, senders)
        self.adaptive = adaptive
        self.state = PaceState(limit=1.0 if adaptive else float(senders), max_limit=senders)
        self.site_days = site_days
        self.clock = clock
        self.lowest = self.highest = self.state.allowed  # of the limit, during the run
        self._lock = threading.Lock()
        self._inflight = 0
        self._by_epoch: dict = {}  # epoch -> requests of it in flight
        self._waiting: dict = {}   # batch id -> (batch, Event)
        self._granted: dict = {}   # batch id -> Ticket
        self._keys: dict = {}      # batch id -> its (idsite, day) keys
        self._opening: dict = {}   # (idsite, day) -> id of the batch creating its salt
        self._known: set = set()   # (idsite, day) confirmed by Matomo in this run

    @property
    def limit(self) -> int:
        return self.state.allowed

    def admit(self, batch, stop_event: threading.Event | None = None) -> Ticket | None:
        """Wait until `batch` may be sent; its Ticket, or None when `stop_event` was set first."""
        event = threading.Event()
        with self._lock:
            if batch.id not in self._keys:
                self._keys[batch.id] = (self.site_days.keys(batch.firsts)
                                        if self.site_days is not None and batch.firsts else frozenset())
            self._waiting[batch.id] = (batch, event)
            self._grant()
        while not event.wait(0.2):
            if stop_event is not None and stop_event.is_set():
                with self._lock:
                    if self._waiting.pop(batch.id, None) is not None:
                        return None
                break  # granted meanwhile
        with self._lock:
            return self._granted.pop(batch.id)

    def done(self, ticket: Ticket, outcome: Outcome | None, hits: int):
        """An attempt ended (answered, failed or cut): free its place, feed the controller."""
        seconds = self.clock() - ticket.started
        with self._lock:
            self._inflight -= 1
            left = self._by_epoch[ticket.epoch] - 1
            if left:
                self._by_epoch[ticket.epoch] = left
            else:
                del self._by_epoch[ticket.epoch]
            if self.adaptive and outcome is not None:
                before = self.state
                sample = Sample(seconds, hits, signal_of(outcome, hits), ticket.epoch, ticket.inflight,
                                ticket.clean)
                self.state = decide(before, sample)
                now = self.state.allowed
                if now != before.allowed:
                    self.lowest, self.highest = min(self.lowest, now), max(self.highest, now)
                    log.debug("concurrent requests: %d -> %d (%s; %.2f ms per hit, lowest %.2f)",
                              before.allowed, now, sample.signal,
                              1000 * (self.state.history[-1][1] if sample.signal == FINE
                                      else seconds / max(1, hits)),
                              1000 * (self.state.floor or 0))
            self._grant()

    def settle(self, batch, ok: bool):
        """The batch is confirmed (`ok`) or given up: the days it opened are known, or free again."""
        with self._lock:
            for key in self._keys.pop(batch.id, ()):
                if self._opening.get(key) == batch.id:
                    del self._opening[key]
                    if ok:
                        self._known.add(key)
            self._grant()

    def _grant(self):
        """Admit waiting batches, oldest first, while the limit allows (call under the lock)."""
        free = self.state.allowed - self._inflight
        if free <= 0 or not self._waiting:
            return
        for bid in sorted(self._waiting):
            opens = [k for k in self._keys[bid] if k not in self._known]
            if any(self._opening.get(k, bid) != bid for k in opens):
                continue  # another batch is creating that day's salt: wait for its answer
            for k in opens:
                self._opening[k] = bid
            batch, event = self._waiting.pop(bid)
            epoch = self.state.epoch
            clean = self._by_epoch.get(epoch, 0) == self._inflight  # none of an earlier epoch
            self._inflight += 1
            self._by_epoch[epoch] = self._by_epoch.get(epoch, 0) + 1
            self._granted[bid] = Ticket(batch, self.clock(), epoch, self._inflight, clean)
            event.set()
            free -= 1
            if free <= 0:
                return
