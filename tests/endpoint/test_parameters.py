"""Every parameter of the Tracking HTTP API: sent over real HTTP, the stored row, and what the
Reporting API (and the /report page) answers for it."""
from __future__ import annotations

import httpx
import orjson
import pytest

from .calls import TOKEN, api, bulk, hit

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
DAY = "2026-03-01"


def at(second, **kw):
    """A request of visitor 1.1.1.1 at 2026-03-01 10:00:SS UTC."""
    return hit(cdt="%s 10:00:%02d" % (DAY, second), cip=kw.pop("cip", "1.1.1.1"), ua=FIREFOX,
               **kw)


def report(client, method, **params):
    r = api(client, method, idSite=params.pop("idSite", 1), period=params.pop("period", "day"),
            date=params.pop("date", DAY), **params)
    assert r.status_code == 200, r.text
    return r.json()


def actions(ep, *columns):
    return ep.query("SELECT %s FROM action ORDER BY idaction" % ", ".join(columns))


def live_actions(client):
    return report(client, "Live.getLastVisitsDetails")[0]["actionDetails"]


@pytest.fixture
def dims_ep(make_endpoint):
    return make_endpoint(dimensions={1: {1: "visit", 2: "action"}})


@pytest.fixture
def dims_client(dims_ep):
    with httpx.Client(base_url=dims_ep.url, timeout=10) as c:
        yield c


def test_action_name_categories_are_normalised(ep, client):
    bulk(client, [at(0, action_name=" Help /  Feedback / "), at(1, action_name="Plain title")])
    assert actions(ep, "name") == [("Help/Feedback",), ("Plain title",)]
    assert [a["pageTitle"] for a in live_actions(client)] == ["Help/Feedback", "Plain title"]


def test_downloads_and_outlinks(ep, client):
    bulk(client, [at(0, download="https://www.example.com/f.pdf"),
                  at(1, link="https://other.example/x"), at(2)])
    assert actions(ep, "type", "url")[:2] == [("download", "https://www.example.com/f.pdf"),
                                             ("outlink", "https://other.example/x")]
    got = report(client, "Actions.get")
    assert (got["nb_downloads"], got["nb_outlinks"], got["nb_pageviews"]) == (1, 1, 1)
    assert [a["type"] for a in live_actions(client)] == ["download", "outlink", "action"]


def test_site_search_with_category_and_result_count(ep, client):
    bulk(client, [at(0, search="Matomo", search_cat="Docs", search_count=12),
                  at(1, search="nothing here", search_count=0),
                  at(2, url="https://www.example.com/find?q=Import&x=1", search_count="7"),
                  at(3, search="bad count", search_count="many")])
    assert actions(ep, "name", "search_cat", "search_count") == [
        ("matomo", "Docs", 12), ("nothing here", None, 0), ("import", None, 7),
        ("bad count", None, None)]
    got = report(client, "Actions.get")
    assert got["nb_searches"] == 4 and got["nb_keywords"] == 4
    first = live_actions(client)[0]
    assert (first["type"], first["siteSearchKeyword"], first["siteSearchCategory"],
            first["siteSearchCount"]) == ("search", "matomo", "Docs", 12)
    page = client.get("/report").text
    assert "<td>nothing here</td><td class='n'>1</td><td>yes</td>" in page


def test_site_search_keyword_in_another_charset(ep, client):
    # cs: the page's charset decodes the keyword (PageUrl::reencodeParameters).
    bulk(client, [at(0, url="https://www.example.com/find?q=%E9t%E9", cs="ISO-8859-1"),
                  at(1, url="https://www.example.com/find?q=%C3%A9t%C3%A9")])
    assert actions(ep, "name") == [("été",), ("été",)]


def test_events_with_values(ep, client):
    bulk(client, [at(0, e_c="Video", e_a="Play", e_n="intro", e_v="2.5"),
                  at(1, e_c="Video", e_a="Pause", e_v=4),
                  at(2, e_c="Video", e_a="Stop", e_v="not a number"),
                  at(3, e_c="Form", e_a="Send")])
    assert actions(ep, "event_category", "event_action", "event_name", "event_value") == [
        ("Video", "Play", "intro", 2.5), ("Video", "Pause", None, 4.0),
        ("Video", "Stop", None, 0.0), ("Form", "Send", None, None)]
    rows = report(client, "Events.getCategory")
    video = rows[0]
    assert (video["label"], video["nb_events"], video["nb_events_with_value"],
            video["sum_event_value"], video["max_event_value"]) == ("Video", 3, 3, 6.5, 4)
    assert rows[1]["label"] == "Form" and rows[1]["nb_events_with_value"] == 0
    assert live_actions(client)[0]["eventValue"] == 2.5


def test_content_impressions_and_interactions_are_distinct(ep, client):
    bulk(client, [at(0), at(1, c_n="Banner", c_p="/img/b.png", c_t="https://x.example/"),
                  at(2, c_n="Banner", c_p="/img/b.png", c_t="https://x.example/", c_i="click")])
    assert actions(ep, "type", "content_name", "content_piece", "content_target",
                   "content_interaction")[1:] == [
        ("content", "Banner", "/img/b.png", "https://x.example/", None),
        ("content", "Banner", "/img/b.png", "https://x.example/", "click")]
    assert ep.query("SELECT total_actions, interactions FROM visit") == [(1, 1)]
    contents = [a for a in live_actions(client) if a["type"] == "content"]
    assert [c["contentInteraction"] for c in contents] == [None, "click"]


def test_goals_with_revenue_once_per_visit(ep, client):
    r = bulk(client, [at(0), at(1, idgoal=1, revenue="9.5"), at(2, idgoal=1, revenue=3)])
    assert r.json()["tracked"] == 3
    assert actions(ep, "type", "idgoal", "revenue") == [("pageview", None, None),
                                                         ("goal", 1, 9.5)]
    got = report(client, "Goals.get", idGoal=1)
    assert got == {"nb_conversions": 1, "nb_visits_converted": 1, "revenue": 9.5,
                   "conversion_rate": "100%"}
    assert report(client, "VisitsSummary.get")["nb_visits_converted"] == 1


def test_ecommerce_order_and_abandoned_cart(ep, client):
    items = orjson.dumps([["SKU-1", "Book", "Books", 12.499, 2], ["", "no sku", "", 1, 1],
                          ["SKU-2", "Pen", ["Office", "Pens"], "x", "3"]]).decode()
    bulk(client, [
        at(0),
        at(1, idgoal=0, ec_items=items),                                  # a cart update
        at(2, idgoal=0, ec_id="O-1", ec_items=items, revenue="30", ec_st="25", ec_tx="4",
           ec_sh="3", ec_dt="2"),                                           # the order
        at(3, cip="2.2.2.2", idgoal=0, ec_items=items, revenue=25),         # abandoned cart
    ])
    row = ep.query("SELECT type, ec_id, revenue, subtotal, tax, shipping, discount, items FROM "
                   "action WHERE type = 'ecommerce'")[0]
    assert row[:7] == ("ecommerce", "O-1", 30.0, 25.0, 4.0, 3.0, 2.0)
    assert orjson.loads(row[7]) == [["SKU-1", "Book", "Books", 12.5, 2],
                                    ["SKU-2", "Pen", ["Office", "Pens"], 0.0, 3]]
    orders = report(client, "Goals.get", idGoal="ecommerceOrder")
    assert (orders["nb_conversions"], orders["revenue"], orders["items"],
            orders["revenue_subtotal"], orders["revenue_tax"], orders["revenue_shipping"],
            orders["revenue_discount"]) == (1, 30, 5, 25, 4, 3, 2)
    carts = report(client, "Goals.get", idGoal="ecommerceAbandonedCart")
    assert (carts["nb_conversions"], carts["revenue"]) == (1, 25)
    skus = report(client, "Goals.getItemsSku")
    assert [(s["label"], s["quantity"], s["revenue"], s["orders"]) for s in skus] == [
        ("SKU-1", 2, 25, 1), ("SKU-2", 3, 0, 1)]
    abandoned = report(client, "Goals.getItemsSku", abandonedCarts=1)
    assert [s["label"] for s in abandoned] == ["SKU-1", "SKU-2"]
    assert report(client, "Goals.get")["nb_conversions"] == 1  # goals and orders
    visit = [v for v in report(client, "Live.getLastVisitsDetails") if v["visitIp"] == "1.1.1.1"]
    assert visit[0]["visitEcommerceStatus"] == "ordered"
    order = [a for a in visit[0]["actionDetails"] if a["type"] == "ecommerceOrder"][0]
    assert order["orderId"] == "O-1" and order["itemDetails"][0]["itemSKU"] == "SKU-1"
    # A JSON scalar as ec_items: Matomo records no conversion.
    bulk(client, [at(5, idgoal=0, ec_id="O-2", ec_items="5")])
    assert ep.query("SELECT count(*) FROM action WHERE ec_id = 'O-2'") == [(0,)]


def test_custom_variables_of_both_scopes(ep, client):
    bulk(client, [
        at(0, _cvar={"1": ["Plan", "Pro"], "7": ["Slot", "too high"], "2": ["Only one"]},
           cvar='{"1": ["HTTP-code", "200"], "2": ["Lang", " fr "]}'),
        at(1, cvar='{"1": ["HTTP-code", "404"]}', _cvar='{"2": ["Theme", "dark"]}'),
        at(2, cvar="not json"),
    ])
    assert ep.query("SELECT custom_variables FROM visit") == [
        ('{"1":["Plan","Pro"],"2":["Theme","dark"]}',)]
    assert actions(ep, "custom_variables") == [('{"1":["HTTP-code","200"],"2":["Lang","fr"]}',),
                                               ('{"1":["HTTP-code","404"]}',), (None,)]
    rows = report(client, "CustomVariables.getCustomVariables")
    assert {r["label"]: (r["nb_visits"], r["nb_actions"]) for r in rows} == {
        "Plan": (1, 3), "Theme": (1, 3), "HTTP-code": (1, 2), "Lang": (1, 1)}
    flat = report(client, "CustomVariables.getCustomVariables", flat=1)
    assert {r["label"] for r in flat} >= {"HTTP-code - 200", "HTTP-code - 404", "Plan - Pro"}
    live = report(client, "Live.getLastVisitsDetails")[0]
    assert live["customVariables"]["1"] == {"customVariableName1": "Plan",
                                            "customVariableValue1": "Pro"}
    assert live["actionDetails"][0]["customVariables"]["1"] == {
        "customVariablePageName1": "HTTP-code", "customVariablePageValue1": "200"}


def test_custom_dimensions_of_both_scopes(dims_ep, dims_client):
    client = dims_client
    bulk(client, [at(0, dimension1="Gold", dimension2="Hero A", dimension3="not configured"),
                  at(1, dimension2="Hero B"), at(2, cip="2.2.2.2")])
    assert dims_ep.query("SELECT dimensions FROM visit ORDER BY idvisit") == [
        ('{"1":"Gold"}',), (None,)]
    assert actions(dims_ep, "dimensions") == [('{"2":"Hero A"}',), ('{"2":"Hero B"}',), (None,)]
    visit_dim = report(client, "CustomDimensions.getCustomDimension", idDimension=1)
    assert {r["label"]: r["nb_visits"] for r in visit_dim} == {"Gold": 1,
                                                               "Value not defined": 1}
    action_dim = report(client, "CustomDimensions.getCustomDimension", idDimension=2)
    assert {r["label"]: r["nb_hits"] for r in action_dim} == {"Hero A": 1, "Hero B": 1,
                                                             "Value not defined": 1}
    r = api(client, "CustomDimensions.getCustomDimension", idSite=1, period="day", date=DAY,
            idDimension=9)
    assert r.json()["result"] == "error"
    live = report(client, "Live.getLastVisitsDetails", date="2026-03-01,2026-03-01",
                  period="range")
    assert [v.get("dimension1") for v in live] == [None, "Gold"]


def test_campaign_parameters_rcn_rck_and_in_the_url(ep, client):
    bulk(client, [at(0, _rcn="Newsletter", _rck="March"),
                  at(0, cip="2.2.2.2", url="https://www.example.com/?mtm_campaign=Ads&mtm_kwd=Shoes"
                                          "&utm_source=x&id=3"),
                  at(0, cip="3.3.3.3", url="https://www.example.com/#matomo_campaign=Frag")])
    assert ep.query("SELECT referer_type, referer_name, referer_keyword FROM visit ORDER BY "
                    "idvisit") == [(6, "newsletter", "march"), (6, "ads", "shoes"),
                                   (6, "frag", "")]
    assert actions(ep, "url")[1] == ("https://www.example.com/?id=3",)
    assert {c["label"] for c in report(client, "Referrers.getCampaigns")} == {
        "newsletter", "ads", "frag"}


def test_visit_attributes_resolution_language_local_time_plugins_counters(ep, client):
    r = client.get("/matomo.php", headers={"Accept-Language": "de-DE,de;q=0.9"}, params={
        "idsite": 1, "rec": 1, "url": "https://www.example.com/", "res": "1920x1080",
        "h": "23", "m": "5", "s": "61", "fla": "1", "pdf": "1", "cookie": "1", "dir": "1",
        "_idvc": "4", "_viewts": "1", "_idts": "1", "_ects": "1"})
    assert r.status_code == 200
    row = ep.query("SELECT resolution, language, local_time, plugins, visit_count, "
                   "visitor_returning, seconds_since_last > 0, seconds_since_order > 0 "
                   "FROM visit")[0]
    assert row == ("1920x1080", "de-de,de;q=0.9", "23:05:59", "flash, pdf, cookie", 4, 2, 1, 1)
    client.get("/matomo.php", params={"idsite": 1, "rec": 1, "url": "https://x.example/",
                                      "lang": "fr", "cip": "9.9.9.9", "token_auth": TOKEN})
    live = report(client, "Live.getLastVisitsDetails", period="day", date="today")
    first = {v["visitIp"]: v for v in live}["9.9.9.9"]
    assert (first["languageCode"], first["visitCount"], first["visitorType"]) == ("fr", 1, "new")
    other = [v for v in live if v["visitIp"] != "9.9.9.9"][0]
    assert (other["resolution"], other["plugins"], other["visitLocalTime"],
            other["visitorType"]) == ("1920x1080", "flash, pdf, cookie", "23:05:59",
                                      "returningCustomer")


def test_the_next_visit_of_a_known_visitor_counts_from_the_previous_one(ep, client):
    cid = "0123456789abcdef"
    bulk(client, [at(0, cid=cid), hit(cid=cid, cdt="%s 15:00:00" % DAY, cip="1.1.1.1")])
    assert ep.query("SELECT visit_count, visitor_returning, seconds_since_last FROM visit "
                    "ORDER BY idvisit") == [(1, 0, None), (2, 1, 18000)]


def test_pv_id_performance_and_generation_time(ep, client):
    bulk(client, [at(0, pv_id="abc123xyz", pf_net=10, pf_srv=120, gt_ms=250),
                  at(1, pv_id="abc123", e_c="Perf", e_a="late", pf_onl=900, pf_tfr=-1),
                  at(2, gt_ms=3600000)])
    assert actions(ep, "type", "pv_id", "gt_ms", "performance") == [
        ("pageview", "abc123", 250, '{"pf_net":10,"pf_srv":120,"pf_onl":900}'),
        ("event", "abc123", None, None), ("pageview", None, None, None)]
    pages = report(client, "Actions.getPageUrls", flat=1)
    assert pages[0]["nb_hits"] == 2 and pages[0]["avg_time_server"] == 0.12
    first = live_actions(client)[0]
    assert first["idpageview"] == "abc123" and first["generationTimeMilliseconds"] == 250


def test_geo_overrides_are_stored_with_a_token(ep, client):
    r = client.get("/matomo.php", params={
        "idsite": 1, "rec": 1, "url": "https://www.example.com/", "country": "FR",
        "region": "IDF", "city": "Paris", "lat": "48.85", "long": "2.35", "token_auth": TOKEN})
    assert r.status_code == 200
    assert ep.query("SELECT country, region, city, latitude, longitude FROM visit") == [
        ("fr", "IDF", "Paris", 48.85, 2.35)]
    live = report(client, "Live.getLastVisitsDetails", date="today")[0]
    assert (live["countryCode"], live["city"], live["latitude"]) == ("fr", "Paris", 48.85)


def test_visitor_ids(ep, client):
    bulk(client, [at(0, cid="FEDCBA9876543210"), at(1, cip="2.2.2.2", _id="0011223344556677"),
                  at(2, cip="3.3.3.3", uid="carol")])
    live = report(client, "Live.getLastVisitsDetails")
    assert {v["visitorId"] for v in live} >= {"fedcba9876543210", "0011223344556677"}
    assert [v["userId"] for v in live if v["userId"]] == ["carol"]
