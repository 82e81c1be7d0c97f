"""Batches: per-visitor partitions in log order, size limits, and committed offsets."""
import threading

import pytest

from conftest import line, process_lines
from log_importer.acks import Acknowledger
from log_importer.batching import Batcher
from log_importer.responses import FATAL, OK, Outcome
from log_importer.stats import Stats


def _result(n, partitions=2, ips=5):
    lines = [line(ip="192.0.2.%d" % (i % ips), request="GET /p%d HTTP/1.1" % i) for i in range(n)]
    result, _ = process_lines(lines, partitions=partitions)
    return result


def test_batches_hold_at_most_the_payload_size_and_every_hit_once():
    batches = []
    b = Batcher(2, 7, batches.append)
    b.add(_result(50), 0)
    assert all(x.count == 7 for x in batches)
    b.flush_all()
    assert sum(x.count for x in batches) == 50 and b.buffered() == 0
    lines = sorted(x.locate(i)[1] for x in batches for i in range(x.count))
    assert lines == list(range(1, 51))


def test_batches_span_chunks_and_keep_each_visitor_in_order():
    import orjson
    batches = []
    b = Batcher(3, 10, batches.append)
    base = 0
    for _ in range(4):  # four chunks of the same visitors
        r = _result(13, partitions=3, ips=4)
        b.add(r, base)
        base += r.lines
    b.flush_all()
    by_partition = {}
    for x in batches:
        reqs = orjson.loads(b"[" + x.requests_json() + b"]")
        lines = [x.locate(i)[1] for i in range(x.count)]
        assert len(reqs) == x.count
        by_partition.setdefault(x.partition, []).extend(zip(lines, [r["cip"] for r in reqs]))
    for p, seq in by_partition.items():
        assert [ln for ln, _ in seq] == sorted(ln for ln, _ in seq)  # log order within a partition
    owners = {}
    for p, seq in by_partition.items():
        for _, ip in seq:
            owners.setdefault(ip, set()).add(p)
    assert all(len(v) == 1 for v in owners.values())  # one visitor, one sender


def test_partial_batches_close_with_age():
    now = [0.0]
    batches = []
    b = Batcher(1, 100, batches.append, clock=lambda: now[0])
    b.add(_result(5, partitions=1), 0)
    b.flush_older_than(2.0)
    assert batches == []
    now[0] = 2.5
    b.flush_older_than(2.0)
    assert [x.count for x in batches] == [5]


def test_committed_offset_stops_at_the_first_unconfirmed_hit():
    stats = Stats()
    acks = Acknowledger(stats, ["a.log"])
    batches = []
    b = Batcher(1, 3, lambda x: (batches.append(x), acks.batch_created(x, b.head_offsets())))
    r = _result(8, partitions=1)
    b.add(r, 0, lambda: acks.chunk_consumed(0, r.end, r.lines, b.head_offsets()))
    offsets = r.parts[0][2]
    assert acks.committed(0) == (offsets[0], 0)
    acks.batch_done(batches[0], Outcome(OK, tracked=3))
    assert acks.committed(0) == (offsets[3], 3)
    acks.batch_done(batches[1], Outcome(OK, tracked=3))
    assert acks.committed(0) == (offsets[6], 6)  # two hits still buffered
    b.flush_all()
    acks.batch_done(batches[2], Outcome(OK, tracked=1, invalid=1, invalid_indices=[1]))
    assert acks.committed(0) == (r.end, 8)
    assert stats.tracked == 7 and stats.rejected == 1 and stats.rejected_lines == [("a.log", 8)]


def test_a_fatal_outcome_stops_the_run_and_keeps_the_batch_pending():
    stats = Stats()
    stop = threading.Event()
    acks = Acknowledger(stats, ["a.log"], stop)
    batches = []
    b = Batcher(1, 4, batches.append)
    r = _result(4, partitions=1)
    b.add(r, 10)
    acks.batch_created(batches[0])
    acks.chunk_consumed(0, r.end, r.lines, b.head_offsets())
    acks.batch_done(batches[0], Outcome(FATAL, message="gave up"))
    assert stop.is_set() and "gave up" in acks.fatal and "a.log line 11" in acks.fatal
    assert acks.committed(0) == (r.parts[0][2][0], 10)


def _one_pending_batch_of_four():
    stats = Stats()
    acks = Acknowledger(stats, ["a.log"])
    batches = []
    Batcher(1, 4, batches.append).add(_result(4, partitions=1), 0)
    acks.batch_created(batches[0])
    return stats, acks, batches[0]


def test_a_first_batch_entirely_refused_means_no_write_access():
    stats, acks, batch = _one_pending_batch_of_four()
    acks.batch_done(batch, Outcome(OK, tracked=0, invalid=4))
    assert "write access" in acks.fatal


def test_the_no_write_access_stop_counts_the_first_answers_not_one_small_batch():
    stats = Stats()
    acks = Acknowledger(stats, ["a.log"], probe_hits=5)
    batches = []
    Batcher(1, 2, batches.append).add(_result(8, partitions=1), 0)
    for x in batches:
        acks.batch_created(x)
    acks.batch_done(batches[0], Outcome(OK, tracked=0, invalid=2))  # a small part, rightly refused
    acks.batch_done(batches[1], Outcome(OK, tracked=0, invalid=2))
    assert acks.fatal is None
    acks.batch_done(batches[2], Outcome(OK, tracked=0, invalid=2))  # 6 of the first 6 refused
    assert "first 6 hits" in acks.fatal and "write access" in acks.fatal
    acks = Acknowledger(Stats(), ["a.log"], probe_hits=5)
    for x in batches:
        acks.batch_created(x)
    acks.batch_done(batches[0], Outcome(OK, tracked=0, invalid=2))
    acks.batch_done(batches[1], Outcome(OK, tracked=1, invalid=1))  # Matomo takes this token's hits
    acks.batch_done(batches[2], Outcome(OK, tracked=0, invalid=2))
    acks.batch_done(batches[3], Outcome(OK, tracked=0, invalid=2))
    assert acks.fatal is None


def test_refusals_without_indices_are_counted_and_said(caplog):
    stats, acks, batch = _one_pending_batch_of_four()
    with caplog.at_level("WARNING", logger="log_importer"):
        acks.batch_done(batch, Outcome(OK, tracked=2, invalid=1))
    assert stats.tracked == 2 and stats.rejected == 1 and stats.unconfirmed == 1
    assert "refused 1 hit(s) of a batch of 4" in caplog.text
    assert "confirmed only 3 of 4" in caplog.text


def test_an_abort_for_another_reason_stops_the_run_once():
    stop = threading.Event()
    acks = Acknowledger(Stats(), ["a.log"], stop)
    acks.abort("cannot reach the Matomo API")
    acks.abort("second reason")
    assert stop.is_set() and acks.fatal == "cannot reach the Matomo API"


@pytest.mark.parametrize("extra", [
    "",                                   # all ASCII: decoded at once
    "caf\u00e9 \u65e5\u672c \U0001f600",  # valid UTF-8: decoded at once, offsets still in bytes
    "\udcff broken",                      # invalid UTF-8 (a lone 0xff byte): line by line, kept
])
def test_hit_offsets_are_byte_offsets_whatever_the_text(extra):
    lines = [line(ip="192.0.2.%d" % i, ua="agent %d %s" % (i, extra if i % 3 else ""))
             for i in range(30)]
    lines.insert(5, "junk " + extra)
    data = "".join(text + "\n" for text in lines).encode("utf-8", "surrogateescape")
    result, requests = process_lines(lines, partitions=3)
    assert len(requests) == 30
    starts = {}
    for part in result.parts:
        if part is not None:
            _, _, offsets, idxs = part
            starts.update(zip(idxs, offsets))
    assert starts
    for idx, offset in starts.items():
        expected = lines[idx].encode("utf-8", "surrogateescape") + b"\n"
        assert data[offset:offset + len(expected)] == expected
    assert result.end == len(data)


def test_batches_carry_the_first_hit_of_each_site_and_ten_minutes_of_their_partition():
    """The first batches of a day (pacing.py sends them alone) are known from these marks."""
    dates = ["01/Mar/2026:23:48:00 +0000", "01/Mar/2026:23:52:00 +0000", "02/Mar/2026:00:01:00 +0000"]
    lines = [line(ip="192.0.2.%d" % (i % 8), date=dates[i // 8], request="GET /p%d HTTP/1.1" % i)
             for i in range(24)]
    result, _ = process_lines(lines, partitions=2)
    assert result.dates == {"2026-03-01", "2026-03-02"} and result.sites_used == {1}
    assert all(part is not None for part in result.parts)
    for p, part in enumerate(result.parts):
        firsts = result.firsts[p]
        assert [b for _, _, b in firsts] == ["2026-03-01 23:4", "2026-03-01 23:5", "2026-03-02 00:0"]
        idxs = part[3]
        assert all(lines[idxs[i]].count(dates[k]) for k, (i, _, _) in enumerate(firsts))
        assert all(dates[k] not in lines[j] for k, (i, _, _) in enumerate(firsts) for j in idxs[:i])
    batches = []
    b = Batcher(2, 2, batches.append)
    b.add(result, 0)
    b.flush_all()
    marked = [(x.partition, f) for x in batches for f in x.firsts]
    assert sorted(marked) == sorted((p, (1, bucket)) for p in (0, 1)
                                    for bucket in ("2026-03-01 23:4", "2026-03-01 23:5", "2026-03-02 00:0"))
    for x in batches:  # a batch names a bucket only if it holds that bucket's first hit
        for idsite, bucket in x.firsts:
            k = ["2026-03-01 23:4", "2026-03-01 23:5", "2026-03-02 00:0"].index(bucket)
            assert any(dates[k] in lines[x.locate(i)[1] - 1] for i in range(x.count))
