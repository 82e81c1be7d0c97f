"""How hits become visits and actions (behaviour spec §4, and the action types)."""
from __future__ import annotations

import hashlib

from .calls import bulk, hit

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def at(t, **kw):
    """A pageview at UTC time `t` ("YYYY-MM-DD HH:MM:SS") of visitor 1.1.1.1 + UA."""
    return hit(cdt=t, cip=kw.pop("cip", "1.1.1.1"), ua=kw.pop("ua", UA), **kw)


def site1(ep):
    return ep.report()["sites"]["1"]


def visits_of(ep):
    return ep.query("SELECT idvisitor, first_action_time, last_action_time, total_actions "
                          "FROM visit ORDER BY idvisit")


def test_30_minutes_without_an_action_start_a_new_visit(ep, client):
    r = bulk(client, [at("2026-03-01 10:00:00"), at("2026-03-01 10:29:59"),   # same visit
                      at("2026-03-01 10:59:58"),                              # 29:59 later: same
                      at("2026-03-01 11:29:58")])                             # 30:00 later: new
    assert r.json()["tracked"] == 4
    s = site1(ep)
    assert s["visits"] == 2 and s["visitors"] == 1 and s["actions"] == 4
    assert [v[3] for v in visits_of(ep)] == [3, 1]


def test_utc_midnight_starts_a_new_visit(ep, client):
    bulk(client, [at("2026-03-01 23:59:00"), at("2026-03-02 00:01:00")])
    s = site1(ep)
    assert s["visits"] == 2
    assert s["days"] == {"2026-03-01": {"visits": 1, "actions": 1},
                         "2026-03-02": {"visits": 1, "actions": 1}}


def test_new_visit_1_forces_a_new_visit(ep, client):
    bulk(client, [at("2026-03-01 10:00:00"), at("2026-03-01 10:01:00", new_visit=1),
                  at("2026-03-01 10:02:00")])
    assert site1(ep)["visits"] == 2
    assert site1(ep)["visitors"] == 1  # the visitor id is kept


def test_fingerprint_is_site_ip_and_user_agent(ep, client):
    bulk(client, [at("2026-03-01 10:00:00"),
                  at("2026-03-01 10:00:01", cip="2.2.2.2"),
                  at("2026-03-01 10:00:02", ua="Other/1.0"),
                  at("2026-03-01 10:00:03", idsite=2, url="https://shop.example.net/"),
                  at("2026-03-01 10:00:04")])
    rep = ep.report()["sites"]
    assert rep["1"]["visits"] == 3 and rep["1"]["actions"] == 4
    assert rep["2"]["visits"] == 1


def test_uid_sets_the_visitor_id_to_its_sha1(ep, client):
    bulk(client, [at("2026-03-01 10:00:00", uid="alice"),
                  at("2026-03-01 10:05:00", uid="alice", cip="9.9.9.9")])
    rows = visits_of(ep)
    assert len(rows) == 1
    assert rows[0][0] == hashlib.sha1(b"alice").hexdigest()[:16]


def test_cid_identifies_the_visitor_across_ips_and_user_agents(ep, client):
    cid = "0123456789ABCDEF"
    bulk(client, [at("2026-03-01 10:00:00", cid=cid),
                  at("2026-03-01 10:10:00", cid=cid, cip="8.8.8.8", ua="Other/2.0"),
                  at("2026-03-01 12:00:00", cid=cid)])
    rows = visits_of(ep)
    assert [r[0] for r in rows] == [cid.lower(), cid.lower()]
    assert [r[3] for r in rows] == [2, 1]
    assert site1(ep)["visitors"] == 1


def test_id_cookie_of_16_or_more_chars_is_the_visitor_id(ep, client):
    bulk(client, [at("2026-03-01 10:00:00", _id="abcdef0123456789xyz"),
                  at("2026-03-01 10:00:00", _id="short", cip="3.3.3.3")])
    ids = [r[0] for r in visits_of(ep)]
    assert ids[0] == "abcdef0123456789"
    assert ids[1] != "short" and len(ids[1]) == 16


def test_ping_updates_an_open_visit_only(ep, client):
    r = bulk(client, [at("2026-03-01 10:00:00", ping=1)])  # no visit yet: dropped
    assert r.json()["tracked"] == 1
    assert site1(ep)["visits"] == 0
    bulk(client, [at("2026-03-01 10:00:00"), at("2026-03-01 10:10:00", ping=1)])
    rows = ep.query("SELECT total_actions, total_time, last_action_time - "
                          "first_action_time FROM visit")
    assert rows == [(1, 601, 0)]  # total time moved, last action time did not
    assert [x["outcome"] for x in ep.received()] == ["not_stored", "stored", "stored"]
    assert site1(ep)["actions"] == 1


def test_action_types_and_what_counts_as_an_action(ep, client):
    t = "2026-03-01 10:00:%02d"
    reqs = [
        at(t % 0),                                                     # pageview
        at(t % 1, download="https://www.example.com/f.pdf"),           # download
        at(t % 2, link="https://other.example/"),                      # outlink
        at(t % 3, e_c="video", e_a="play", e_n="intro"),               # event
        at(t % 4, search="Matomo"),                                    # site search
        at(t % 5, url="https://www.example.com/search?q=Import&x=1"),  # site search by URL
        at(t % 6, c_n="banner", c_p="/img.png"),                       # content: not an action
        at(t % 7, idgoal=1),                                           # goal: not an action
        at(t % 8, idgoal=0, ec_id="O-1", revenue="12.5"),              # order: not an action
        at(t % 9, download="https://x/f.zip", link="https://y/"),     # download wins
    ]
    assert bulk(client, reqs).json()["tracked"] == 10
    s = site1(ep)
    assert (s["pageviews"], s["downloads"], s["outlinks"], s["events"], s["site_searches"]) == \
        (1, 2, 1, 1, 2)
    assert s["actions"] == 7 and s["visits"] == 1
    types = ep.query("SELECT type, name FROM action ORDER BY idaction")
    assert types[3] == ("event", "video / play / intro")
    assert types[4] == ("site_search", "matomo")
    assert types[5] == ("site_search", "import")
    assert [t for t, _ in types[6:9]] == ["content", "goal", "ecommerce"]
    url = ep.query("SELECT url FROM action WHERE idaction = ?",
                         (ep.query("SELECT min(idaction) FROM action")[0][0] + 5,))[0][0]
    assert url == "https://www.example.com/search?x=1"


def test_page_urls_are_cleaned_like_matomo(ep, client):
    bulk(client, [at("2026-03-01 10:00:00", url="https://www.example.com/a?gclid=1&b=2#top"),
                  at("2026-03-01 10:00:01", url="not a url"),
                  at("2026-03-01 10:00:02", url="https://www.example.com/" + "x" * 2000)])
    urls = [u for (u,) in ep.query("SELECT url FROM action ORDER BY idaction")]
    assert urls[0] == "https://www.example.com/a?b=2"
    assert urls[1] is None
    assert len(urls[2].encode()) == 1024


def test_out_of_order_hit_joins_the_visit_without_moving_it_back(ep, client):
    bulk(client, [at("2026-03-01 10:00:00"), at("2026-03-01 10:20:00"),
                  at("2026-03-01 10:05:00")])
    rows = ep.query("SELECT first_action_time, last_action_time, total_actions FROM visit")
    assert len(rows) == 1 and rows[0][2] == 3
    assert rows[0][1] - rows[0][0] == 1200


def test_tracking_the_past_moves_ts_created_back(ep, client):
    bulk(client, [at("2025-12-24 08:00:00")])
    assert ep.sites[1].ts_created == "2025-12-24 08:00:00"


def test_referrers_and_top_pages(ep, client):
    bulk(client, [
        at("2026-03-01 10:00:00", urlref="https://www.google.com/"),
        at("2026-03-01 10:00:05", url="https://www.example.com/b",
           urlref="https://www.example.com/page"),
        at("2026-03-01 10:00:00", cip="4.4.4.4", urlref="https://www.google.com/"),
        at("2026-03-01 10:00:00", cip="5.5.5.5", urlref="http://example.com/internal"),
    ])
    s = site1(ep)
    assert s["top_referrers"] == [["https://www.google.com/", 2]]
    assert s["top_pages"] == [["https://www.example.com/page", 3], ["https://www.example.com/b", 1]]


def test_a_visitor_id_that_was_moved_away_can_start_a_visit_again():
    """A visit that takes another visitor id leaves nothing under its old id; a new visit of that
    id must not fail (it raised IndexError, answered 500, when 4 senders replayed _id visitors)."""
    from log_importer.endpoint.visits import Visits
    visits = Visits()
    first = visits.create(1, 100, "2026-03-01", "a" * 16, "192.0.2.1", "UA", None)
    visits.join(first, 110, "192.0.2.1", "UA", "b" * 16, None, False)  # first now belongs to b
    assert not visits.by_visitor.get((1, "a" * 16))  # nothing left under the old id
    again = visits.create(1, 120, "2026-03-01", "a" * 16, "192.0.2.2", "UA", None)
    assert visits.by_visitor[(1, "a" * 16)] == [again]
