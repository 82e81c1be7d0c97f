"""/report.json and the /report HTML page."""
from __future__ import annotations

from .calls import bulk, hit


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


def test_report_html_has_an_inline_svg_chart(ep, client):
    bulk(client, [hit(cip="1.1.1.1", cdt="2026-03-01 10:00:00"),
                  hit(cip="1.1.1.1", cdt="2026-03-02 10:00:00")])
    r = client.get("/report")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "<svg" in page and page.count("<rect") == 2
    assert "2026-03-01: 1 visits" in page
    assert "www.example.com" in page
    assert "<script" not in page and "<link" not in page and "src=" not in page
