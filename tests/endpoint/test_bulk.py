"""Bulk tracking: detection, per-request invalid vs. whole-batch failure, token cases (§1)."""
from __future__ import annotations

import time

import orjson

from .calls import TOKEN, WRITE_TOKEN, bulk, hit

NOW = lambda: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())  # noqa: E731
OLD = "2026-03-01 10:00:00"  # more than 24 h before the test machine's date


def outcomes(ep):
    return [x["outcome"] for x in ep.received()]


def test_success_shape_and_invalid_indices_for_the_super_user(ep, client):
    r = bulk(client, [hit(), hit(idsite=5), hit(cid="abc"), hit(), hit(idsite=7)])
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.content == b'{"status":"success","tracked":2,"invalid":3,"invalid_indices":[1,2,4]}'
    assert outcomes(ep) == ["stored", "invalid", "invalid", "stored", "invalid"]
    assert ep.report()["sites"]["1"]["pageviews"] == 2


def test_importer_style_batch_with_cip_and_old_cdt(ep, client):
    reqs = [hit(cip="10.0.0.%d" % i, cdt=OLD, ua="Mozilla/5.0 (X11)", apiv=1, dp=1,
                queuedtracking=0, cvar='{"1": ["HTTP-code", "200"]}', bw_bytes=1234, pf_srv=87)
            for i in range(1, 4)]
    r = bulk(client, reqs, path="/piwik.php?queuedtracking=0")
    assert r.json() == {"status": "success", "tracked": 3, "invalid": 0, "invalid_indices": []}
    rep = ep.report()["sites"]["1"]
    assert rep["visits"] == 3 and rep["days"] == {"2026-03-01": {"visits": 3, "actions": 3}}
    # Params are kept exactly as received, JSON types included.
    assert ep.received()[0]["params"] == reqs[0]
    assert ep.received()[0]["params"]["bw_bytes"] == 1234


def test_write_token_gets_no_invalid_indices_but_may_use_cip(ep, client):
    r = bulk(client, [hit(cip="1.2.3.4", cdt=OLD), hit(idsite=99)], token=WRITE_TOKEN)
    assert r.json() == {"status": "success", "tracked": 1, "invalid": 1}


def test_no_or_wrong_token_makes_cip_requests_invalid_not_a_batch_error(ep, client):
    for token in (None, "f" * 32):
        r = bulk(client, [hit(cip="1.2.3.4"), hit(cdt=OLD), hit()], token=token)
        assert r.status_code == 200
        assert r.json() == {"status": "success", "tracked": 1, "invalid": 2}
    assert ep.report()["sites"]["1"]["pageviews"] == 2


def test_token_in_the_url_wins_for_invalid_indices(ep, client):
    r = bulk(client, [hit(idsite=99)], token="f" * 32, path="/matomo.php?token_auth=" + TOKEN)
    assert r.json()["invalid_indices"] == [0]
    r = bulk(client, [hit(idsite=99)], token=TOKEN, path="/matomo.php?token_auth=" + WRITE_TOKEN)
    assert "invalid_indices" not in r.json()


def test_request_token_is_used_when_the_body_has_none(ep, client):
    r = bulk(client, [hit(cip="1.2.3.4", token_auth=TOKEN), hit(cip="1.2.3.4")], token=None)
    assert r.json() == {"status": "success", "tracked": 1, "invalid": 1}


def test_string_requests_need_a_query_and_dropped_ones_shift_indices(ep, client):
    reqs = ["?idsite=1&rec=1&url=https%3A%2F%2Fwww.example.com%2Fs",
            "idsite=1&rec=1",            # no '?': dropped without an index
            "",                          # dropped
            "/matomo.php?idsite=9&rec=1",  # invalid: index 1 after the drops
            {"idsite": "2", "rec": "1", "url": "https://shop.example.net/"},
            42, None]                    # not a request: dropped
    r = bulk(client, reqs)
    assert r.json() == {"status": "success", "tracked": 2, "invalid": 1, "invalid_indices": [1]}
    got = ep.received()
    assert [g["params"].get("idsite") for g in got] == ["1", "9", "2"]
    assert ep.report()["sites"]["1"]["top_pages"] == [["https://www.example.com/s", 1]]


def test_empty_param_arrays_count_as_tracked(ep, client):
    r = bulk(client, [[], {}, hit()])
    assert r.json() == {"status": "success", "tracked": 3, "invalid": 0, "invalid_indices": []}
    assert outcomes(ep) == ["not_stored", "not_stored", "stored"]


def test_malformed_json_or_no_requests_tracks_nothing(ep, client):
    r = client.post("/matomo.php", content=b'{"requests": [ {"idsite": 1,')
    assert r.status_code == 200
    assert r.json() == {"status": "success", "tracked": 0, "invalid": 0}
    r = bulk(client, [])
    assert r.json() == {"status": "success", "tracked": 0, "invalid": 0, "invalid_indices": []}
    assert ep.received() == []


def test_send_image_0_in_the_body_answers_204(ep, client):
    r = bulk(client, [hit()], send_image=0)
    assert r.status_code == 204 and r.content == b""
    assert ep.report()["sites"]["1"]["pageviews"] == 1


def test_without_rec_and_bots_are_tracked_not_stored(ep, client):
    r = bulk(client, [hit(rec=None), hit(rec=0), hit(ua="Googlebot/2.1"),
                      hit(ua="Googlebot/2.1", bots=1)])
    assert r.json()["tracked"] == 4
    assert outcomes(ep) == ["not_stored", "not_stored", "not_stored", "stored"]
    assert ep.report()["sites"]["1"]["visits"] == 1


def test_per_request_validation_rules(ep, client):
    reqs = [
        hit(e_c=" ", e_a="play"),          # 0 whitespace-only event category
        hit(e_c="video", e_a="\t"),        # 1 whitespace-only event action
        hit(c_n="  "),                     # 2 whitespace-only content name
        hit(idgoal=9),                     # 3 unknown goal
        hit(idgoal=1),                     # 4 goal 1 exists on site 1
        hit(idgoal=0, ec_id="A1", revenue=10),  # 5 an order
        hit(idgoal=0, ec_id="A1", revenue=10),  # 6 the same order again
        hit(pf_srv=-5),                    # 7 negative performance timing
        hit(pf_srv=-1, pf_net="1.5"),      # 8 -1 and non-integers are ignored
        hit(e_c="video"),                  # 9 no e_a: a pageview, not an error
    ]
    r = bulk(client, reqs)
    assert r.json() == {"status": "success", "tracked": 4, "invalid": 6,
                        "invalid_indices": [0, 1, 2, 3, 6, 7]}
    # The order stays unique across batches.
    r = bulk(client, [hit(idgoal=0, ec_id="A1")])
    assert r.json()["invalid_indices"] == [0]


def test_a_fatal_error_rolls_the_whole_batch_back(ep, client):
    # ca=1 matching no action is a plain Exception in Matomo: HTTP 500, batch rolled back.
    r = bulk(client, [hit(cdt=NOW()), hit(idsite=99), hit(ca=1), hit()])
    assert r.status_code == 500
    assert r.json() == {"status": "error", "tracked": 1, "invalid": 1, "invalid_indices": [1]}
    assert outcomes(ep) == ["rolled_back"] * 4
    assert ep.report()["sites"]["1"]["visits"] == 0


def test_ca_1_with_an_event_is_fine(ep, client):
    r = bulk(client, [hit(ca=1, e_c="video", e_a="play")])
    assert r.json()["tracked"] == 1
    assert ep.report()["sites"]["1"]["events"] == 1


def test_cdt_forms_and_validity(ep, client):
    now = int(time.time())
    reqs = [
        hit(cdt=str(now - 7200)),                      # unix timestamp
        hit(cdt="2026-03-01T10:00:00+02:00", cip="1.1.1.1"),  # ISO 8601 with an offset
        hit(cdt=time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now + 86400 * 3))),  # future
        hit(cdt="1990-01-01 00:00:00"),                # more than 20 years old: ignored
        hit(cdt="not a date"),                         # unparsable: ignored
        hit(cdt=str(now * 1000)),                      # milliseconds: in the future, ignored
    ]
    r = bulk(client, reqs, token=None, path="/matomo.php")
    # Only the ISO date is old (needs a token) and there is none: invalid.
    assert r.json() == {"status": "success", "tracked": 5, "invalid": 1}
    days = ep.report()["sites"]["1"]["days"]
    today = time.strftime("%Y-%m-%d", time.gmtime(now))
    assert sum(d["actions"] for d in days.values()) == 5
    assert days[today]["actions"] >= 4  # the ignored ones are recorded at "now"
    r = bulk(client, [hit(cdt="2026-03-01T10:00:00+02:00")])
    assert "2026-03-01" in ep.report()["sites"]["1"]["days"]


def test_cdo_counts_back(ep, client):
    r = bulk(client, [hit(cdt="2026-03-02 00:00:30", cdo=60)])
    assert r.json()["tracked"] == 1
    assert list(ep.report()["sites"]["1"]["days"]) == ["2026-03-01"]


def test_the_body_is_bulk_whatever_the_content_type(ep, client):
    body = orjson.dumps({"requests": [hit()], "token_auth": TOKEN})
    r = client.post("/matomo.php", content=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.json()["tracked"] == 1


def test_nested_json_params_are_accepted(ep, client):
    r = bulk(client, [hit(cvar={"1": ["HTTP-code", "200"]}, _cvar={"1": ["Bot", "no"]})])
    assert r.json()["tracked"] == 1
    assert ep.received()[0]["params"]["cvar"] == {"1": ["HTTP-code", "200"]}


def test_a_chunked_body_is_read(ep, client):
    body = orjson.dumps({"requests": [hit(), hit()], "token_auth": TOKEN})
    r = client.post("/matomo.php", content=iter([body[:10], body[10:]]))
    assert ep.http_log[-1]["headers"].get("transfer-encoding") == "chunked"
    assert r.json()["tracked"] == 2
