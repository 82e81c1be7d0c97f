"""The Reporting API's report methods: periods and dates, Matomo's JSON shapes, access and errors;
and the routes a Matomo server has (404 elsewhere, HEAD, addSite without a URL)."""
from __future__ import annotations

import time

from .calls import TOKEN, WRITE_TOKEN, api, bulk, hit

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def three_days(client):
    bulk(client, [
        hit(cip="1.1.1.1", ua=UA, cdt="2026-03-01 10:00:00"),
        hit(cip="1.1.1.1", ua=UA, cdt="2026-03-01 10:00:30", url="https://www.example.com/b"),
        hit(cip="2.2.2.2", ua=UA, cdt="2026-03-01 11:00:00"),
        hit(cip="1.1.1.1", ua=UA, cdt="2026-03-03 09:00:00"),
    ])


def test_visits_summary_for_a_day(ep, client):
    three_days(client)
    r = api(client, "VisitsSummary.get", idSite=1, period="day", date="2026-03-01")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json() == {"nb_uniq_visitors": 2, "nb_users": 0, "nb_visits": 2, "nb_actions": 3,
                        "max_actions": 2, "sum_visit_length": 31, "bounce_count": 1,
                        "nb_visits_converted": 0, "bounce_rate": "50%",
                        "nb_actions_per_visit": 1.5, "avg_time_on_site": 16}


def test_several_days_are_keyed_by_day_and_empty_days_are_empty(ep, client):
    three_days(client)
    got = api(client, "VisitsSummary.get", idSite=1, period="day",
              date="2026-03-01,2026-03-03").json()
    assert list(got) == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert got["2026-03-02"] == [] and got["2026-03-03"]["nb_visits"] == 1


def test_a_range_is_one_result_without_unique_visitors(ep, client):
    three_days(client)
    got = api(client, "VisitsSummary.get", idSite=1, period="range",
              date="2026-03-01,2026-03-03").json()
    assert got["nb_visits"] == 3 and "nb_uniq_visitors" not in got and "nb_users" not in got
    month = api(client, "VisitsSummary.get", idSite=1, period="month", date="2026-03-15").json()
    assert month["nb_visits"] == 3 and month["nb_uniq_visitors"] == 2
    week = api(client, "Actions.get", idSite=1, period="week", date="2026-03-03").json()
    assert week["nb_pageviews"] == 1  # the week of Monday 2 March


def test_today_and_last_n_in_the_sites_time_zone(ep, client):
    bulk(client, [hit(cip="1.1.1.1", ua=UA)])  # now
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert api(client, "VisitsSummary.get", idSite=1, period="day",
               date="today").json()["nb_visits"] == 1
    last = api(client, "VisitsSummary.get", idSite=1, period="day", date="last3").json()
    assert len(last) == 3 and last[today]["nb_visits"] == 1
    assert api(client, "VisitsSummary.get", idSite=1, period="range",
               date="previous2").json() == []


def test_actions_get_and_page_urls(ep, client):
    three_days(client)
    bulk(client, [hit(cip="3.3.3.3", ua=UA, cdt="2026-03-01 12:00:00",
                      url="https://www.example.com/docs/install?x=1"),
                  hit(cip="3.3.3.3", ua=UA, cdt="2026-03-01 12:00:10",
                      download="https://www.example.com/f.zip")])
    got = api(client, "Actions.get", idSite=1, period="day", date="2026-03-01").json()
    assert got == {"nb_pageviews": 4, "nb_uniq_pageviews": 4, "nb_downloads": 1,
                   "nb_uniq_downloads": 1, "nb_outlinks": 0, "nb_uniq_outlinks": 0,
                   "nb_searches": 0, "nb_keywords": 0}
    pages = api(client, "Actions.getPageUrls", idSite=1, period="day", date="2026-03-01",
                flat=1).json()
    by_label = {p["label"]: p for p in pages}
    assert set(by_label) == {"/page", "/b", "docs/install?x=1"}
    page = by_label["/page"]
    assert (page["nb_visits"], page["nb_hits"], page["entry_nb_visits"], page["exit_nb_visits"],
            page["sum_time_spent"], page["bounce_rate"], page["exit_rate"]) == (
        2, 2, 2, 1, 30, "50%", "50%")
    assert page["url"] == "https://www.example.com/page"
    assert page["segment"] == "pageUrl==https%253A%252F%252Fwww.example.com%252Fpage"
    assert len(api(client, "Actions.getPageUrls", idSite=1, period="day", date="2026-03-01",
                   filter_limit=1).json()) == 1


def test_access_and_parameter_errors(ep, client):
    three_days(client)
    r = api(client, "VisitsSummary.get", token=None, idSite=1, period="day", date="2026-03-01")
    assert r.status_code == 401
    assert r.json()["message"] == ("You can't access this resource as it requires 'view' access "
                                   "for the website id = 1.")
    assert api(client, "VisitsSummary.get", token=WRITE_TOKEN, idSite=2, period="day",
               date="today").status_code == 401
    assert api(client, "VisitsSummary.get", token=WRITE_TOKEN, idSite=1, period="day",
               date="2026-03-01").json()["nb_visits"] == 2
    for params, message in (
            ({"idSite": 1, "date": "today"}, "Please specify a value for 'period'."),
            ({"idSite": 1, "period": "day"}, "Please specify a value for 'date'."),
            ({"idSite": 1, "period": "decade", "date": "today"}, "is not supported"),
            ({"idSite": 1, "period": "day", "date": "01/03/2026"}, "Date format must be"),
            ({"idSite": 1, "period": "range", "date": "2026-03-01"}, "not a correct date range"),
            ({"period": "day", "date": "today"}, "Please specify a value for 'idSite'."),
            ({"idSite": 99, "period": "day", "date": "today"}, "website id was set to '99'")):
        r = api(client, "VisitsSummary.get", **params)
        assert r.status_code == 200 and r.json()["result"] == "error", params
        assert message in r.json()["message"], (params, r.json())


def test_xml_format_of_a_report(ep, client):
    three_days(client)
    r = client.get("/index.php", params={"module": "API", "method": "VisitsSummary.get",
                                         "idSite": 1, "period": "day", "date": "2026-03-01",
                                         "token_auth": TOKEN})
    assert r.headers["content-type"].startswith("text/xml")
    assert "<nb_visits>2</nb_visits>" in r.text


def test_live_last_visits_details(ep, client):
    three_days(client)
    visits = api(client, "Live.getLastVisitsDetails", idSite=1).json()
    assert [v["idVisit"] for v in visits] == [3, 2, 1]  # latest first
    first = visits[-1]
    assert first["actions"] == 2 and first["visitDuration"] == 31
    assert [a["type"] for a in first["actionDetails"]] == ["action", "action"]
    assert first["serverDate"] == "2026-03-01" and first["referrerType"] == "direct"
    one = api(client, "Live.getLastVisitsDetails", idSite=1, filter_limit=1).json()
    assert [v["idVisit"] for v in one] == [3]
    day = api(client, "Live.getLastVisitsDetails", idSite=1, period="day",
              date="2026-03-03").json()
    assert [v["idVisit"] for v in day] == [3]


def test_unknown_paths_answer_404_as_a_web_server_would(client):
    for path in ("/matomo/matomo.php", "/matomo/piwik.php", "/matomo/index.php", "/nope",
                 "/matomo/", "/report/", "/index.php/x"):
        assert client.get(path).status_code == 404, path
        assert client.post(path, content=b'{"requests": []}').status_code == 404, path
    assert client.get("/matomo.php").status_code == 200
    assert client.get("/index.php").status_code == 200


def test_a_wrong_url_prefix_stops_the_importer_before_any_hit(ep, tmp_path):
    from log_importer.cli import main as importer_main

    log = tmp_path / "access.log"
    log.write_text('1.2.3.4 - - [01/Mar/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "%s"\n'
                   % UA)
    code = importer_main(["--url", ep.url + "/matomo", "--token-auth", TOKEN, "--idsite", "1",
                          str(log)])
    assert code == 2 and ep.received() == []


def test_head_is_answered_like_get_without_a_body(ep, client):
    r = client.head("/matomo.php", params={"idsite": 1, "rec": 1,
                                           "url": "https://www.example.com/h"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
    assert r.headers["content-length"] == "43" and r.content == b""
    assert [x["outcome"] for x in ep.received()] == ["stored"]
    for path in ("/", "/report", "/report.json", "/index.php"):
        r = client.head(path)
        assert r.status_code == 200 and r.content == b"", path
    assert client.head("/nothing").status_code == 404


def test_add_site_without_a_url_is_refused(client):
    r = api(client, "SitesManager.addSite", siteName="No URL")
    assert r.json() == {"result": "error",
                        "message": "You must specify at least one URL for the site."}
    r = api(client, "SitesManager.addSite", siteName="App", type="mobileapp")
    assert r.json() == {"value": 3}
    r = api(client, "SitesManager.addSite", siteName="Tz", urls="https://tz.example",
            timezone="UTC+5.5")
    assert r.json() == {"value": 4}
