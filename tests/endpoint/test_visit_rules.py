"""Visits as Matomo counts them: scenario tests with the visit counts Matomo's rules give.

Rules and their sources (see log_importer/endpoint/visits.py and the endpoint README):
  - a campaign other than the visit's starts a visit: plugins/Referrers/Columns/Campaign.php
    (create_new_visit_when_campaign_changes = 1);
  - `uid` sent on a visit that began anonymously sets the user id on that visit:
    core/Tracker/Visit.php setIdVisitorForExistingVisit, plugins/CoreHome/Columns/UserId.php;
  - a hit sent out of time order joins the visit whose last action is within 30 minutes of it:
    core/Tracker/VisitorRecognizer.php, core/Tracker/Model.php (ORDER BY
    visit_last_action_time DESC), VisitRequestProcessor.php isLastActionInTheSameVisit;
  - midnight in the site's time zone ends a visit: VisitRequestProcessor.php
    wasLastActionNotToday (create_new_visit_after_midnight = 1);
  - bots are answered as tracked and not stored: core/Tracker/VisitExcluded.php.
"""
from __future__ import annotations

import hashlib

import httpx
import pytest

from .calls import api, bulk, hit

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SITES = {1: ["https://www.example.com", "http://example.com"], 2: "https://shop.example.net",
         3: "https://paris.example.fr"}


def at(t, url="https://www.example.com/page", **kw):
    """A pageview at UTC time `t` of visitor 1.1.1.1 with Firefox."""
    return hit(cdt=t, url=url, cip=kw.pop("cip", "1.1.1.1"), ua=kw.pop("ua", FIREFOX), **kw)


def visits(ep, idsite=1):
    return ep.query("SELECT day, total_actions, referer_type, referer_name, user_id, idvisitor "
                    "FROM visit WHERE idsite = ? ORDER BY idvisit", (idsite,))


@pytest.fixture
def paris(make_endpoint):
    return make_endpoint(sites=SITES, timezones={3: "Europe/Paris"})


@pytest.fixture
def paris_client(paris):
    with httpx.Client(base_url=paris.url, timeout=10) as c:
        yield c


def test_a_campaign_other_than_the_visits_starts_a_visit(ep, client):
    page = "https://www.example.com/page"
    r = bulk(client, [
        at("2026-03-01 10:00:00"),                                        # 1: direct
        at("2026-03-01 10:05:00", url=page + "?utm_campaign=Spring&x=1"),  # 2: campaign: new
        at("2026-03-01 10:10:00"),                                        # no campaign: joins 2
        at("2026-03-01 10:15:00", url=page + "?utm_campaign=spring"),     # same campaign: joins
        at("2026-03-01 10:20:00", url=page + "?pk_campaign=summer&pk_kwd=Sale"),  # 3: new
        at("2026-03-01 10:25:00", _rcn="summer", _rck="sale"),            # the same: joins 3
        at("2026-03-01 10:30:00", _rcn="summer", _rck="other"),           # 4: keyword changed
    ])
    assert r.json()["tracked"] == 7
    rows = visits(ep)
    assert [(n, kind, name) for _, n, kind, name, _, _ in rows] == [
        (1, 1, ""), (3, 6, "spring"), (2, 6, "summer"), (1, 6, "summer")]
    # The campaign parameters are stripped from the stored page URL, the others stay.
    urls = [u for (u,) in ep.query("SELECT url FROM action ORDER BY idaction")]
    assert urls[1] == page + "?x=1" and urls[3] == page and urls[4] == page
    # The Reporting API sees the campaigns and the channels.
    camps = api(client, "Referrers.getCampaigns", idSite=1, period="day",
                date="2026-03-01").json()
    assert [(c["label"], c["nb_visits"]) for c in camps] == [("summer", 2), ("spring", 1)]
    flat = api(client, "Referrers.getCampaigns", idSite=1, period="day", date="2026-03-01",
               flat=1).json()
    assert {c["label"] for c in flat} == {"spring - Value not defined", "summer - sale",
                                          "summer - other"}
    types = api(client, "Referrers.getReferrerType", idSite=1, period="day",
                date="2026-03-01").json()
    assert {t["label"]: t["nb_visits"] for t in types} == {"Campaigns": 3, "Direct Entry": 1}


def test_uid_after_an_anonymous_start_is_set_on_that_visit(ep, client):
    bulk(client, [at("2026-03-01 10:00:00"),
                  at("2026-03-01 10:05:00", uid="alice"),
                  at("2026-03-01 10:10:00")])
    rows = visits(ep)
    assert len(rows) == 1
    assert rows[0][4] == "alice" and rows[0][1] == 3
    assert rows[0][5] == hashlib.sha1(b"alice").hexdigest()[:16]
    summary = api(client, "VisitsSummary.get", idSite=1, period="day", date="2026-03-01").json()
    assert summary["nb_visits"] == 1 and summary["nb_users"] == 1
    live = api(client, "Live.getLastVisitsDetails", idSite=1).json()
    assert live[0]["userId"] == "alice" and len(live[0]["actionDetails"]) == 3


def test_another_uid_does_not_join_a_visit_of_another_user(ep, client):
    bulk(client, [at("2026-03-01 10:00:00", uid="alice"), at("2026-03-01 10:05:00", uid="bob")])
    assert [r[4] for r in visits(ep)] == ["alice", "bob"]


def test_hits_out_of_time_order_join_the_visit_they_belong_to(ep, client):
    bulk(client, [at("2026-03-01 10:00:00"), at("2026-03-01 10:10:00"),   # visit A
                  at("2026-03-01 12:00:00"), at("2026-03-01 12:05:00"),   # visit B
                  at("2026-03-01 10:15:00"),                              # late: joins A
                  at("2026-03-01 11:50:00")])                             # late: joins B
    rows = ep.query("SELECT first_action_time, last_action_time, total_actions FROM visit "
                    "ORDER BY idvisit")
    assert [r[2] for r in rows] == [3, 3]
    t0 = 1772359200  # 2026-03-01 10:00:00 UTC
    assert rows[0][:2] == (t0, t0 + 900)               # A's last action moved to 10:15
    assert rows[1][:2] == (t0 + 7200, t0 + 7500)       # B's first action did not move back
    # A hit more than 30 minutes before every visit's last action starts one.
    bulk(client, [at("2026-03-01 11:00:00")])
    assert len(visits(ep)) == 3


def test_the_day_ends_at_midnight_in_the_sites_time_zone(paris, paris_client):
    client = paris_client

    def both(t):
        return [at(t, cip="5.5.5.5"), at(t, cip="5.5.5.5", idsite=3,
                                         url="https://paris.example.fr/")]

    # 22:50 and 23:10 UTC are 23:50 and 00:10 in Paris (UTC+1 on 1 March).
    bulk(client, both("2026-03-01 22:50:00") + both("2026-03-01 23:10:00"))
    assert [r[0] for r in visits(paris, 1)] == ["2026-03-01"]
    assert [r[0] for r in visits(paris, 3)] == ["2026-03-01", "2026-03-02"]
    # 23:40 UTC and 00:05 UTC are both on 2 March in Paris.
    bulk(client, both("2026-03-02 23:40:00") + both("2026-03-03 00:05:00"))
    assert [r[0] for r in visits(paris, 1)] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert [r[0] for r in visits(paris, 3)] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    by_day = api(client, "VisitsSummary.get", idSite=3, period="day",
                 date="2026-03-01,2026-03-03").json()
    assert {d: (v["nb_visits"] if v else 0) for d, v in by_day.items()} == {
        "2026-03-01": 1, "2026-03-02": 1, "2026-03-03": 1}
    site = api(client, "SitesManager.getSiteFromId", idSite=3).json()
    assert site["timezone"] == "Europe/Paris"


def test_bots_are_answered_as_tracked_and_not_stored(ep, client):
    r = bulk(client, [at("2026-03-01 10:00:00", ua=GOOGLEBOT),
                      at("2026-03-01 10:00:00", cip="2.2.2.2"),
                      at("2026-03-01 10:01:00", ua=GOOGLEBOT, bots=1)])
    assert r.json() == {"status": "success", "tracked": 3, "invalid": 0, "invalid_indices": []}
    assert len(visits(ep)) == 2  # Firefox, and the bot with bots=1
    assert [x["outcome"] for x in ep.received()] == ["not_stored", "stored", "stored"]
    page = client.get("/report").text
    assert "id='bots-1'>1</b>" in page


def test_libraries_are_visits_and_link_previewers_are_bots_as_in_matomo(ep, client):
    """Measured on Matomo 5.1 (a bulk with facebookexternalhit and python-requests: both answered
    as tracked, only python-requests stored): Device Detector's bots.yml decides, libraries.yml
    does not, so HTTP libraries count as visitors and link previewers do not."""
    agents = {"curl/8.5.0": "stored", "python-requests/2.32.3": "stored",
              "Java/17.0.2": "stored", "Apache-HttpClient/4.5.14 (Java/17.0.2)": "stored",
              "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)": "not_stored",
              "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)": "not_stored"}
    r = bulk(client, [at("2026-03-01 10:00:00", ua=ua, cip="3.3.3.%d" % i)
                      for i, ua in enumerate(agents, 1)])
    assert r.json()["tracked"] == len(agents)
    assert [x["outcome"] for x in ep.received()] == list(agents.values())
    assert len(visits(ep)) == 4


def test_a_visitor_who_logged_in_and_comes_back_later_starts_a_visit(ep, client):
    """Found by a user's trial: an anonymous visit joined by a uid (its visitor id changes), then
    the same IP and agent anonymously 59 minutes later. The visit index must not keep an empty
    entry for the old visitor id (that answered HTTP 500 to every batch)."""
    r = bulk(client, [at("2026-03-01 10:00:00"),
                      at("2026-03-01 10:01:00", uid="alice"),
                      at("2026-03-01 11:00:00")])
    assert r.status_code == 200 and r.json()["tracked"] == 3
    rows = visits(ep)
    assert [(v[1], v[4]) for v in rows] == [(2, "alice"), (1, None)]  # (total_actions, user_id)
    # The same again in a later batch, and with visitor ids from _id (replayed requests).
    r = bulk(client, [at("2026-03-01 12:00:00", _id="a" * 16), at("2026-03-01 12:01:00", _id="b" * 16),
                      at("2026-03-01 12:02:00", _id="a" * 16, cip="1.1.1.2")])
    assert r.status_code == 200 and r.json()["tracked"] == 3
