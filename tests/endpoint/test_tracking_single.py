"""Single tracking requests (GET and form POST): status codes and bodies (behaviour spec §2.1)."""
from __future__ import annotations

import base64
import time

from log_importer.endpoint.tracking import MATOMO_TEXT

from .calls import TOKEN, WRITE_TOKEN

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAAAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
PAGE = {"idsite": "1", "rec": "1", "url": "https://www.example.com/a"}


def test_get_answers_the_43_byte_gif(ep, client):
    r = client.get("/matomo.php", params=PAGE)
    assert r.status_code == 200
    assert r.content == GIF and len(r.content) == 43
    assert r.headers["content-type"] == "image/gif"
    assert r.headers["cache-control"] == "no-store"
    assert [x["outcome"] for x in ep.received()] == ["stored"]
    assert ep.report()["sites"]["1"]["pageviews"] == 1


def test_piwik_php_is_the_same_endpoint(ep, client):
    r = client.get("/piwik.php", params=PAGE)
    assert r.status_code == 200 and r.content == GIF
    assert ep.report()["sites"]["1"]["pageviews"] == 1


def test_send_image_0_answers_204(ep, client):
    r = client.get("/matomo.php", params={**PAGE, "send_image": "0"})
    assert r.status_code == 204 and r.content == b""
    assert ep.report()["sites"]["1"]["pageviews"] == 1


def test_form_post_is_tracked_with_cors_headers(ep, client):
    r = client.post("/matomo.php", data=PAGE, headers={"Origin": "https://www.example.com"})
    assert r.status_code == 200 and r.content == GIF
    assert r.headers["access-control-allow-origin"] == "https://www.example.com"
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "cache-control" not in r.headers
    assert ep.received()[0]["params"] == PAGE


def test_query_string_wins_over_the_form_like_php(ep, client):
    r = client.post("/matomo.php?idsite=2", data={**PAGE, "idsite": "99"})
    assert r.status_code == 200
    assert ep.received()[0]["params"]["idsite"] == "2"
    assert ep.report()["sites"]["2"]["pageviews"] == 1


def test_empty_get_answers_the_matomo_text(client):
    r = client.get("/matomo.php")
    assert r.status_code == 200
    assert r.content == MATOMO_TEXT
    assert b"This resource is part of Matomo" in r.content


def test_empty_post_answers_400(client):
    r = client.post("/matomo.php")
    assert r.status_code == 400
    assert r.content == MATOMO_TEXT


def test_json_body_without_requests_is_an_empty_post(ep, client):
    r = client.post("/matomo.php", content=b'{"idsite": 1, "rec": 1}',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.content == MATOMO_TEXT
    assert ep.received() == []


def test_options_preflight(client):
    r = client.options("/matomo.php", headers={"Origin": "https://a.example",
                                               "Access-Control-Request-Method": "POST"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://a.example"
    assert "POST" in r.headers["access-control-allow-methods"]


def test_unknown_site_answers_400_gif_and_text(ep, client):
    r = client.get("/matomo.php", params={**PAGE, "idsite": "99"})
    assert r.status_code == 400
    assert r.content == GIF + MATOMO_TEXT
    assert [x["outcome"] for x in ep.received()] == ["invalid"]
    assert ep.report()["sites"]["1"]["actions"] == 0


def test_invalid_idsite_values_answer_400_even_without_rec(client):
    for bad in ("0", "-1", "1abc", "1,2", ""):
        r = client.get("/matomo.php", params={"idsite": bad, "url": "https://www.example.com/"})
        assert r.status_code == 400, bad


def test_400_with_send_image_0_is_text_only(client):
    r = client.get("/matomo.php", params={**PAGE, "idsite": "99", "send_image": "0"})
    assert r.status_code == 400 and r.content == MATOMO_TEXT


def test_cid_must_have_16_characters(ep, client):
    assert client.get("/matomo.php", params={**PAGE, "cid": "a" * 17}).status_code == 400
    assert client.get("/matomo.php", params={**PAGE, "cid": "a" * 15}).status_code == 400
    assert client.get("/matomo.php", params={**PAGE, "cid": "0123456789abcdef"}).status_code == 200
    assert [x["outcome"] for x in ep.received()] == ["invalid", "invalid", "stored"]


def test_cip_needs_a_token(ep, client):
    assert client.get("/matomo.php", params={**PAGE, "cip": "1.2.3.4"}).status_code == 400
    bad = client.get("/matomo.php", params={**PAGE, "cip": "1.2.3.4", "token_auth": "x" * 32})
    assert bad.status_code == 400
    ok = client.get("/matomo.php", params={**PAGE, "cip": "1.2.3.4", "token_auth": TOKEN})
    assert ok.status_code == 200
    write = client.get("/matomo.php",
                       params={**PAGE, "cip": "5.6.7.8", "token_auth": WRITE_TOKEN})
    assert write.status_code == 200
    # A write token is only valid for its own sites (site 1 here).
    other = client.get("/matomo.php", params={**PAGE, "idsite": "2", "cip": "5.6.7.8",
                                              "token_auth": WRITE_TOKEN})
    assert other.status_code == 400


def test_old_cdt_needs_a_token_recent_cdt_does_not(ep, client):
    now = int(time.time())
    old = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now - 86400 - 60))
    recent = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now - 3600))
    assert client.get("/matomo.php", params={**PAGE, "cdt": old}).status_code == 400
    assert client.get("/matomo.php", params={**PAGE, "cdt": recent}).status_code == 200
    assert client.get("/matomo.php", params={**PAGE, "cdt": old,
                                             "token_auth": TOKEN}).status_code == 200
    days = ep.report()["sites"]["1"]["days"]
    assert old[:10] in days and recent[:10] in days


def test_geo_overrides_need_a_token(client):
    for name, value in (("country", "fr"), ("region", "75"), ("city", "Paris"),
                        ("lat", "48.8"), ("long", "2.3")):
        assert client.get("/matomo.php", params={**PAGE, name: value}).status_code == 400, name
        assert client.get("/matomo.php", params={**PAGE, name: value,
                                                 "token_auth": TOKEN}).status_code == 200, name


def test_without_rec_counted_but_not_stored(ep, client):
    r = client.get("/matomo.php", params={"idsite": "1", "url": "https://www.example.com/"})
    assert r.status_code == 200 and r.content == GIF
    r = client.get("/matomo.php", params={**PAGE, "rec": "0"})
    assert r.status_code == 200
    assert [x["outcome"] for x in ep.received()] == ["not_stored", "not_stored"]
    assert ep.report()["sites"]["1"]["visits"] == 0


def test_bots_are_excluded_unless_bots_1(ep, client):
    """Matomo's rule: Device Detector's bots.yml. curl and other HTTP libraries are visits."""
    bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    assert client.get("/matomo.php", params={**PAGE, "ua": bot}).status_code == 200
    assert ep.report()["sites"]["1"]["visits"] == 0
    # The user agent header counts when there is no `ua`.
    preview = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
    assert client.get("/matomo.php", params=PAGE, headers={"User-Agent": preview}).status_code == 200
    assert ep.report()["sites"]["1"]["visits"] == 0
    assert client.get("/matomo.php", params={**PAGE, "ua": bot, "bots": "1"}).status_code == 200
    assert ep.report()["sites"]["1"]["visits"] == 1
    assert client.get("/matomo.php", params=PAGE, headers={"User-Agent": "curl/8.5.0"}).status_code == 200
    assert ep.report()["sites"]["1"]["visits"] == 2
    assert [x["outcome"] for x in ep.received()] == ["not_stored", "not_stored", "stored", "stored"]


def test_http_log_records_every_request(ep, client):
    client.get("/matomo.php", params=PAGE)
    client.post("/matomo.php?x=1", data={"idsite": "99"}, headers={"X-Test": "yes"})
    log = ep.http_log
    assert [e["method"] for e in log] == ["GET", "POST"]
    assert log[1]["path"] == "/matomo.php?x=1"
    assert log[1]["headers"]["x-test"] == "yes"
    assert log[1]["body"] == b"idsite=99"
    assert [e["status"] for e in log] == [200, 400]
    assert [x["http"] for x in ep.received()] == [0, 1]


def test_unknown_path_is_404(client):
    assert client.get("/nothing-here").status_code == 404
