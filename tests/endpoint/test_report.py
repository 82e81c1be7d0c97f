"""/report.json and the /report HTML page."""
from __future__ import annotations

from .calls import api, bulk, hit


def test_report_json_shape(ep, client):
    bulk(client, [hit(cip="1.1.1.1", cdt="2026-03-01 10:00:00", urlref="https://www.bing.com/"),
                  hit(cip="1.1.1.1", cdt="2026-03-01 10:01:00", url="https://www.example.com/b"),
                  hit(cip="2.2.2.2", cdt="2026-03-02 10:00:00", download="https://x/a.zip")])
    r = client.get("/report.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    data = r.json()
    assert data == ep.report()
    assert set(data["sites"]) == {"1", "2"}
    s = data["sites"]["1"]
    assert s == {
        "visits": 2, "visitors": 2, "actions": 3, "pageviews": 2, "downloads": 1, "outlinks": 0,
        "events": 0, "site_searches": 0,
        "days": {"2026-03-01": {"visits": 1, "actions": 2}, "2026-03-02": {"visits": 1, "actions": 1}},
        "top_pages": [["https://www.example.com/b", 1], ["https://www.example.com/page", 1]],
        "top_referrers": [["https://www.bing.com/", 1]],
    }
    assert data["sites"]["2"]["visits"] == 0 and data["sites"]["2"]["days"] == {}


def test_report_page_shows_the_dashboard_first_widgets(ep, client):
    bulk(client, [
        hit(cip="1.1.1.1", cdt="2026-03-01 10:00:00", urlref="https://www.google.com/search?q=x",
            url="https://www.example.com/caf%C3%A9/menu"),
        hit(cip="1.1.1.1", cdt="2026-03-01 10:01:00", search="opening hours", search_count=0),
        hit(cip="1.1.1.1", cdt="2026-03-01 10:02:00", e_c="Video", e_a="Play", e_v=3),
        hit(cip="1.1.1.1", cdt="2026-03-01 10:03:00", idgoal=1, revenue=5),
        hit(cip="2.2.2.2", cdt="2026-03-04 10:00:00", url="https://www.example.com/?utm_campaign=Mail"),
        hit(cip="2.2.2.2", cdt="2026-03-04 10:01:00", idgoal=0, ec_id="A-1", revenue=20,
            ec_items='[["SKU-9", "Mug", "", 10, 2]]'),
        hit(cip="3.3.3.3", cdt="2026-03-04 10:00:00", ua="Mozilla/5.0 (compatible; Googlebot/2.1)"),
    ])
    r = client.get("/report")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "<b>2</b>" in page                                  # visits and unique visitors
    assert "<td>caf\u00e9/menu</td>" in page                    # decoded page URL
    assert page.count("<rect class=\"day\"") == 4             # 1 to 4 March, empty days too
    assert "2026-03-02: 0 visits, 0 actions" in page
    for channel in ("Direct Entry", "Search Engines", "Websites", "Social Networks", "Campaigns"):
        assert "<td>%s</td>" % channel in page
    assert "<td>Search Engines</td><td class='n'>1</td>" in page
    assert "<td>mail</td>" in page                             # the campaign, lowercased
    assert "<td>opening hours</td><td class='n'>1</td><td>yes</td>" in page
    assert "<td>Video</td><td class='n'>1</td><td class='n'>3</td>" in page
    assert "<td>Ecommerce orders</td><td class='n'>1</td><td class='n'>20</td>" in page
    assert "<td>SKU-9</td>" in page
    assert "id='bots-1'>1</b>" in page
    # Nothing is loaded from elsewhere: no scripts, no external resources.
    assert "<script" not in page and "src=" not in page and "http-equiv" not in page
    assert page.count("<link") == 1 and "<link rel='icon' href='data:,'>" in page


def test_report_page_for_one_site_and_a_period(ep, client):
    bulk(client, [hit(cip="1.1.1.1", cdt="2026-03-01 10:00:00"),
                  hit(cip="1.1.1.1", cdt="2026-03-05 10:00:00")])
    page = client.get("/report", params={"idSite": "1", "period": "day",
                                         "date": "2026-03-05"}).text
    assert "Site 1:" in page and "Site 2:" not in page
    assert page.count("<rect class=\"day\"") == 1 and "2026-03-05: 1 visits" in page
    assert "Please specify" not in client.get("/report", params={"idSite": "2"}).text
    bad = client.get("/report", params={"period": "fortnight", "date": "today"}).text
    assert "The period &#x27;fortnight&#x27; is not supported" in bad


def test_report_page_for_a_period_of_centuries(ep, client):
    """Found by a user's trial: a range longer than the chart's ten years answered 500."""
    bulk(client, [hit(cip="1.1.1.1", cdt="2026-03-01 10:00:00"),
                  hit(cip="1.1.1.2", cdt="2026-03-05 10:00:00")])
    for params in ({"idSite": "1", "period": "range", "date": "1900-01-01,2100-12-31"},
                   {"idSite": "1", "period": "day", "date": "last5000"}):
        r = client.get("/report", params=params)
        assert r.status_code == 200, params
        assert "2026-03-05: 1 visits" in r.text and r.text.count("<rect class=\"day\"") == 5


def test_the_chart_axis_has_whole_distinct_numbers(ep, client):
    """Found by a user's trial: one visit drew an axis of 0, 0, 1."""
    import re
    bulk(client, [hit(cip="1.1.1.1", cdt="2026-03-01 10:00:00")])
    page = client.get("/report", params={"idSite": "1", "period": "day", "date": "2026-03-01"}).text
    labels = re.findall(r'text-anchor="end">(\d+)</text>', page)
    assert labels == ["0", "1", "2"]


def test_unique_visitors_are_the_api_s_or_said_to_be_the_page_s_own(ep, client):
    """The trial: /report showed unique visitors for a range, which VisitsSummary.get does not give."""
    bulk(client, [hit(cip="1.1.1.1", cdt="2026-03-01 10:00:00"), hit(cip="1.1.1.1", cdt="2026-03-05 10:00:00"),
                  hit(cip="2.2.2.2", cdt="2026-03-05 11:00:00")])
    day = client.get("/report", params={"idSite": "1", "period": "day", "date": "2026-03-05"}).text
    answer = api(client, "VisitsSummary.get", idSite=1, period="day", date="2026-03-05").json()
    assert "<div class='card'>Unique visitors<b>%d</b></div>" % answer["nb_uniq_visitors"] in day
    assert answer["nb_uniq_visitors"] == 2 and "Unique visitors*" not in day
    span = client.get("/report", params={"idSite": "1", "period": "range", "date": "2026-03-01,2026-03-05"}).text
    answer = api(client, "VisitsSummary.get", idSite=1, period="range", date="2026-03-01,2026-03-05").json()
    assert "nb_uniq_visitors" not in answer and answer["nb_visits"] == 3
    assert "<div class='card'>Unique visitors*<b>2</b></div>" in span
    assert "* over the whole period=range: Matomo's VisitsSummary.get gives no unique visitors" in span
