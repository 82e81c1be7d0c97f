"""--recorders auto against the embedded endpoint loaded like a Matomo (a few requests at once, time
per hit): it ends near the capacity, loses nothing, keeps each visitor's order while the
concurrency changes, and sends the first requests of a day alone."""
import json
import re

import orjson

from conftest import TOKEN
from test_import_http import importer


def stored(ep):
    return sorted(json.dumps(r["params"], sort_keys=True) for r in ep.received() if r["outcome"] == "stored")


def pace(text):
    m = re.search(r"Concurrent requests \(--recorders auto\): (\d+) at the end, (\d+) to (\d+)", text)
    assert m, text
    return tuple(int(x) for x in m.groups())


def test_auto_ends_near_the_capacity_and_loses_nothing(endpoint, loggen):
    log = loggen(12000, seed=21)
    ep = endpoint(capacity=2, cost_ms_per_hit=1)
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--recorders", "auto",
                           "--recorder-max-payload-size", 25, "--retry-delay", 0, log])
    assert code == 0, text
    imported = int(re.search(r"([\d,]+) requests imported successfully", text).group(1).replace(",", ""))
    assert imported > 3000
    stats = ep.load.stats()
    assert stats["refused"] == 0 and stats["hits"] == imported
    assert len(ep.received()) == imported and "not confirmed" not in text
    end, low, high = pace(text)
    assert low == 1 and 2 <= end <= 4 and high <= 5
    rows = ep.load.timeline()
    last = max(r.ended for r in rows)
    busy = ep.load.concurrency(step=last / 10, end=last)
    # After the start, Matomo's two slots are busy, with about one request waiting for them.
    assert all(service >= 1.6 for _, service, _ in busy[3:-1]), busy
    assert sum(waiting for _, _, waiting in busy[3:-1]) / len(busy[3:-1]) <= 2.0, busy
    clean = endpoint()
    code, text = importer(["--url", clean.url, "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0 and stored(clean) == stored(ep)


def test_each_visitor_keeps_its_order_while_the_concurrency_changes(endpoint, loggen):
    log = loggen(8000, seed=22)
    reference = endpoint()
    code, text = importer(["--url", reference.url, "--token-auth", TOKEN, "--idsite", 1, "--recorders", 1, log])
    assert code == 0, text
    # Every 7th request fails (500, not processed): auto cuts its limit, then climbs again.
    ep = endpoint(capacity=4, cost_ms_per_hit=1, fail_every=7)
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--recorders", "auto",
                           "--recorder-max-payload-size", 15, "--retry-delay", 0, "--retry-max-attempts", 5,
                           "--workers", 2, "--debug", log])
    assert code == 0, text
    changes = [(int(a), int(b)) for a, b in re.findall(r"concurrent requests: (\d+) -> (\d+)", text)]
    assert any(b > a for a, b in changes) and any(b < a for a, b in changes), changes  # up and down
    assert max(r.status == 500 for r in ep.load.timeline()) is False  # the failures are the faults'

    def per_visitor(endpoint_):
        out = {}
        for r in endpoint_.received():
            p = r["params"]
            out.setdefault(p["cip"], []).append((p["cdt"], p["url"], p.get("action_name")))
        return out
    expected, got = per_visitor(reference), per_visitor(ep)
    assert len(expected) > 100
    assert got == expected  # same hits, and each visitor's in the same order


def test_the_first_requests_of_a_day_go_alone(endpoint, loggen):
    """Matomo creates a site's fingerprint salt for a day in the first request's transaction:
    no other request with hits of that day may be at Matomo until that one is answered."""
    log = loggen(9000, seed=23)  # starts 2026-02-28 23:00 UTC: crosses midnight after ~6,000 lines
    for recorders in ("4", "auto"):
        ep = endpoint(capacity=4, cost_ms_per_hit=2)
        code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--recorders", recorders,
                               "--recorder-max-payload-size", 20, "--retry-delay", 0, log])
        assert code == 0, text
        days_of = {}
        for i, h in enumerate(ep.http_log):
            if h["path"].startswith("/piwik.php") and h["body"]:
                requests = orjson.loads(h["body"])["requests"]
                days_of[i] = {r["cdt"][:10] for r in requests}
        rows = [r for r in ep.load.timeline() if r.started is not None and days_of.get(r.tag)]
        days = sorted(set().union(*days_of.values()))
        assert days == ["2026-02-28", "2026-03-01"]
        overlapping = 0
        for day in days:
            with_day = sorted((r for r in rows if day in days_of[r.tag]), key=lambda r: r.started)
            first = with_day[0]
            assert not [r for r in with_day[1:] if r.started < first.ended], (recorders, day)
            overlapping += sum(1 for a in with_day for b in with_day if a is not b and a.started < b.ended
                               and b.started < a.ended)
        assert overlapping > 0  # after the first one, requests of a day do go together


def test_signals_while_the_last_batches_are_sent_cut_them_and_the_summary_is_printed(endpoint, loggen):
    """A short log is read at once; the senders then send what is queued (8 partitions with
    auto, 100 ms a batch). Signals then still work: the first lets them finish, the second cuts
    them; exit 143 with the summary (the signals were given back to the default too early)."""
    import signal
    import subprocess
    import sys
    import time
    from conftest import ROOT
    log = loggen(1200, seed=24)  # about 400 hits: 20 batches, all queued while reading
    ep = endpoint(capacity=1, cost_ms_per_hit=5)
    proc = subprocess.Popen([sys.executable, "-m", "log_importer", "--url", ep.url, "--token-auth", TOKEN,
                             "--idsite", "1", "--recorders", "auto", "--recorder-max-payload-size", "20",
                             str(log)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while ep.load.stats()["hits"] < 20:
        assert time.monotonic() < deadline, "the import did not start"
        time.sleep(0.02)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, out
    assert "in-flight batches were abandoned" in out and "requests imported successfully" in out
    assert "Traceback" not in out
    assert ep.load.stats()["hits"] < 380  # cut before the end
