"""Sending: one thread per partition posts its batches, in order, over a shared keep-alive client.

Every attempt passes the Pacer (pacing.py: how many requests may be at Matomo at once, oldest
batch first, a site's new day alone), which is told how each attempt went. Every outcome goes to
the Acknowledger. Retries follow `responses.backoff_delay` (the batch gives its place up while it
waits); when they run out, or the answer is final, the run stops and the batch stays unconfirmed.
A partition sends one batch at a time, so each visitor's hits keep their order whatever the limit.
"""
from __future__ import annotations

import http.client
import logging
import queue
import threading
from urllib.parse import urlencode

import httpx
import orjson

from .acks import Acknowledger
from .api import USER_AGENT, hide, with_suffix
from .batching import Batch
from .config import Config
from .responses import FATAL, OK, RETRY, Outcome, backoff_delay, classify_bulk, classify_exception, classify_single
from .tracker_http import TrackerHttp

log = logging.getLogger("log_importer")
TRANSPORT_ERRORS = (httpx.HTTPError, OSError, http.client.HTTPException)


class TrackerTransport:
    """Posts batches to the tracker: bulk JSON, or one form POST per hit (--disable-bulk-tracking).

    `pacer`: a pacing.Pacer every attempt waits for (None: no gate)."""

    def __init__(self, config: Config, client: httpx.Client, token: str | None, stop_event=None, pacer=None):
        self.config = config
        self.token = token
        query = "queuedtracking=0" + ("&debug=1" if config.debug_tracker else "")
        self.url = with_suffix(config.tracker_url, config.request_suffix, query)
        self.http = TrackerHttp(config, self.url, client, USER_AGENT)
        self.stop_event = stop_event or threading.Event()
        self._token_json = orjson.dumps(token or "")
        self.on_retry = None  # callback(outcome) for counting retries
        self.pacer = pacer

    def deliver(self, batch: Batch) -> Outcome:
        """Send one batch until Matomo confirms it, refuses it for good, or retries run out."""
        outcome = Outcome(FATAL, message="not sent")
        try:
            outcome = self._deliver(batch)
        finally:
            if self.pacer is not None:
                self.pacer.settle(batch, outcome.kind == OK)
        return outcome

    def _deliver(self, batch: Batch) -> Outcome:
        if not self.config.bulk_tracking:
            return self._deliver_single(batch)
        if not self.config.bulk_without_transactions:
            return self._with_retries(batch, lambda: batch.count,
                                      lambda: self._post_bulk(batch.requests_json(), batch.count))
        # Matomo without bulk transactions keeps the first `tracked` hits of a failed batch:
        # resend only the rest.
        state = {"body": batch.requests_json(), "count": batch.count, "done": 0}

        def once():
            outcome = self._post_bulk(state["body"], state["count"])
            kept = outcome.details.get("tracked", 0)
            if outcome.kind == RETRY and outcome.status == 500 and 0 < kept <= state["count"]:
                rest = orjson.loads(b"[" + state["body"] + b"]")[kept:]
                state["body"] = b",".join(orjson.dumps(r) for r in rest)
                state["count"] -= kept
                state["done"] += kept
            return outcome
        outcome = self._with_retries(batch, lambda: state["count"], once)
        if outcome.kind == OK and state["done"]:
            outcome.tracked += state["done"]
            if outcome.invalid_indices:
                outcome.invalid_indices = [i + state["done"] for i in outcome.invalid_indices]
        return outcome

    def _with_retries(self, batch: Batch, hits_of, attempt_once) -> Outcome:
        """Attempts of one request of `batch`, each admitted by the pacer, with backoff between
        them; `hits_of()` is the hit count of the next attempt (a resend may carry fewer)."""
        attempts = max(1, self.config.retry_max_attempts)
        for attempt in range(1, attempts + 1):
            outcome = self._attempt(batch, hits_of(), attempt_once)
            if outcome.kind != RETRY:
                return outcome
            if attempt == attempts:
                break
            delay = backoff_delay(attempt, self.config.retry_delay, outcome.retry_after)
            log.warning("%s; retrying in %.1f s (attempt %d of %d)",
                        hide(outcome.message, self.token), delay, attempt + 1, attempts)
            if self.on_retry is not None:
                self.on_retry(outcome)
            if self.stop_event.wait(delay):
                return Outcome(FATAL, message="stopped while waiting to retry: " + outcome.message)
        return Outcome(FATAL, status=outcome.status, message="gave up after %d attempts: %s"
                       % (attempts, hide(outcome.message, self.token)))

    def _attempt(self, batch: Batch, hits: int, attempt_once) -> Outcome:
        ticket = None
        if self.pacer is not None:
            ticket = self.pacer.admit(batch, self.stop_event)
            if ticket is None:
                return Outcome(FATAL, message="stopped before sending")
        outcome = Outcome(FATAL, message="unexpected error while sending")
        try:
            outcome = attempt_once()
        except TRANSPORT_ERRORS as e:
            outcome = classify_exception(e)
        finally:
            if ticket is not None:  # cut by a second signal: no news of Matomo's pace
                self.pacer.done(ticket, None if self.stop_event.is_set() else outcome, hits)
        return outcome

    def _post_bulk(self, requests_json: bytes, count: int) -> Outcome:
        body = (b'{"requests":[' + requests_json + b'],"token_auth":' + self._token_json + b"}")
        response = self.http.post(body, "application/json")
        if self.config.debug_tracker:
            log.info("tracker answer (HTTP %d): %s", response.status_code, response.text[:2000])
        return classify_bulk(response.status_code, response.headers, response.content, count)

    def _post_one(self, params: dict) -> Outcome:
        form = {k: (v if isinstance(v, str) else orjson.dumps(v).decode() if isinstance(v, (dict, list)) else str(v))
                for k, v in params.items()}
        if self.token:
            form["token_auth"] = self.token
        response = self.http.post(urlencode(form).encode(), "application/x-www-form-urlencoded")
        if self.config.debug_tracker:
            log.info("tracker answer (HTTP %d): %s", response.status_code, response.text[:2000])
        return classify_single(response.status_code, response.headers, response.content)

    def cut(self):
        self.http.cut()

    def close(self):
        self.http.close()

    def _deliver_single(self, batch: Batch) -> Outcome:
        requests = orjson.loads(b"[" + batch.requests_json() + b"]")
        tracked, invalid = 0, []
        for i, params in enumerate(requests):
            outcome = self._with_retries(batch, lambda: 1, lambda p=params: self._post_one(p))
            if outcome.kind != OK:
                return outcome
            tracked += outcome.tracked
            if outcome.invalid:
                invalid.append(i)
        return Outcome(OK, tracked=tracked, invalid=len(invalid), invalid_indices=invalid)


class Sender(threading.Thread):
    """Sends one partition's batches, one at a time, in order."""

    def __init__(self, index: int, transport: TrackerTransport, acks: Acknowledger, depth: int = 2):
        super().__init__(name="sender-%d" % index, daemon=True)
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.transport = transport
        self.acks = acks

    def run(self):
        while True:
            try:
                batch = self.queue.get(timeout=0.1)
            except queue.Empty:
                if self.acks.stop_event.is_set():
                    return  # aborting: no sentinel will come
                continue
            if batch is None:
                return
            if self.acks.stop_event.is_set():
                self.acks.batch_abandoned(batch)
                continue
            try:
                outcome = self.transport.deliver(batch)
            except Exception as e:  # never let a sender die silently
                log.debug("sender error", exc_info=True)
                outcome = Outcome(FATAL, message="unexpected error while sending: %s" % e)
            if outcome.kind != OK and self.acks.stop_event.is_set():
                self.acks.batch_abandoned(batch)  # cut by the abort: its hits stay pending
            else:
                self.acks.batch_done(batch, outcome)

    def put(self, batch, stop_event: threading.Event) -> bool:
        """Queue a batch (None: the end), waiting while the queue is full; False if the run is aborting."""
        while True:
            if stop_event.is_set():
                return False
            try:
                self.queue.put(batch, timeout=0.2)
                return True
            except queue.Full:
                continue
