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
import time
from urllib.parse import urlencode

import httpx
import orjson

from .acks import Acknowledger
from .api import USER_AGENT, with_suffix
from .batching import Batch
from .config import Config
from .redaction import redact
from .responses import FATAL, OK, RETRY, Outcome, backoff_delay, classify_bulk, classify_exception, classify_single
from .tracker_http import TrackerHttp
from .tracking import php_form_pairs

log = logging.getLogger("log_importer")
TRANSPORT_ERRORS = (httpx.HTTPError, OSError, http.client.HTTPException)


class TrackerTransport:
    """Posts batches to the tracker: bulk JSON, or one form POST per hit (--disable-bulk-tracking)."""

    def __init__(self, config: Config, client: httpx.Client, token: str | None, stop_event=None,
                 tracker_url: str | None = None, ssl_context=None, pacer=None):
        """`tracker_url`: where the pre-flight found the tracker (after redirects), else --url's;
        `pacer`: a pacing.Pacer every attempt waits for (None: no gate)."""
        self.config = config
        self.token = token
        query = "queuedtracking=0" + ("&debug=1" if config.debug_tracker else "")
        self.url = with_suffix(tracker_url or config.tracker_url, config.request_suffix, query)
        self.http = TrackerHttp(config, self.url, client, USER_AGENT, ssl_context)
        self.stop_event = stop_event or threading.Event()
        self._token_json = orjson.dumps(token or "")
        self.on_retry = None  # callback(outcome of the failed attempt), when a retry is made
        self.on_attempt = None  # callback(seconds the attempt waited for its answer)
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
        """Attempt until an answer is final or the attempts run out, each attempt admitted by the
        pacer; `hits_of()` is the hit count of the next attempt (a resend may carry fewer). A retry is counted
        (`on_retry`) only when it is made, after a failure the server caused: never for a
        request the run cut itself (a second signal), nor for one a stop made pointless.
        `details["unanswered"]` on a failed outcome: some attempt got no answer, so the server
        may have stored its hits."""
        attempts = max(1, self.config.retry_max_attempts)
        unanswered = False
        outcome = None
        for attempt in range(1, attempts + 1):
            if attempt > 1 and self.on_retry is not None:
                self.on_retry(outcome)
            outcome = self._attempt(batch, hits_of(), attempt_once)
            if outcome.details.get("cut"):
                return outcome
            unanswered = unanswered or outcome.details.get("unanswered", False)
            if outcome.kind != RETRY:
                if outcome.kind == FATAL and unanswered:
                    outcome.details["unanswered"] = True
                return outcome
            if attempt == attempts:
                break
            delay = backoff_delay(attempt, self.config.retry_delay, outcome.retry_after)
            log.warning("%s; retrying in %.1f s (attempt %d of %d)",
                        redact(outcome.message, self.token), delay, attempt + 1, attempts)
            if self.stop_event.wait(delay):
                return Outcome(FATAL, message="stopped while waiting to retry: " + outcome.message,
                               details={"unanswered": unanswered})
        return Outcome(FATAL, status=outcome.status, message="gave up after %d attempts: %s"
                       % (attempts, redact(outcome.message, self.token)), details={"unanswered": unanswered})

    def _attempt(self, batch: Batch, hits: int, attempt_once) -> Outcome:
        """One attempt, once the pacer admits it; the pacer learns how it went (not when the run
        cut it: that says nothing of Matomo's pace)."""
        ticket = None
        if self.pacer is not None:
            ticket = self.pacer.admit(batch, self.stop_event)
            if ticket is None:
                return Outcome(FATAL, message="stopped before sending")
        outcome = Outcome(FATAL, message="unexpected error while sending")
        started = time.monotonic()
        try:
            outcome = attempt_once()
        except TRANSPORT_ERRORS as e:
            if self.stop_event.is_set():  # cut by the run itself (signals.py): not the server's doing
                outcome = Outcome(FATAL, message="cut off by the stop", details={"unanswered": True, "cut": True})
            else:
                outcome = classify_exception(e)
        finally:
            if ticket is not None:
                self.pacer.done(ticket, None if self.stop_event.is_set() else outcome, hits)
        if self.on_attempt is not None and not outcome.details.get("cut"):
            self.on_attempt(time.monotonic() - started)
        return outcome

    def _post_bulk(self, requests_json: bytes, count: int) -> Outcome:
        body = (b'{"requests":[' + requests_json + b'],"token_auth":' + self._token_json + b"}")
        response = self.http.post(body, "application/json")
        if self.config.debug_tracker:
            log.info("tracker answer (HTTP %d): %s", response.status_code, response.text[:2000])
        return classify_bulk(response.status_code, response.headers, response.content, count)

    def _post_one(self, params: dict) -> Outcome:
        form = php_form_pairs(params)  # replayed nested parameters as a[b][0]=...
        if self.token:
            form.append(("token_auth", self.token))
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
        pause = self.config.force_one_hit_interval  # --debug-force-one-hit-every-Ns
        for i, params in enumerate(requests):
            if pause and self.stop_event.wait(pause):
                return Outcome(FATAL, message="stopped while waiting to send the next hit")
            outcome = self._with_retries(batch, lambda: 1, lambda p=params: self._post_one(p))
            if outcome.kind != OK:
                if i > 0:  # the hits before it are stored; the batch stays pending: they will go again
                    outcome.details["unanswered"] = True
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
                # cut by the abort: its hits stay pending, and Matomo may have stored them
                self.acks.batch_abandoned(batch, sent=True)
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
