"""Reading `cdt` / `cdo` like Matomo (behaviour spec §2.4): pure functions, no server."""
from __future__ import annotations

from log_importer.endpoint.querystring import parse_query
from log_importer.endpoint.timestamps import day_of, hit_time, parse_cdt

NOW = 1795000000  # 2026-11-18


def test_parse_cdt_forms():
    assert parse_cdt("2026-03-01 10:00:00") == 1772359200
    assert parse_cdt("1772359200") == 1772359200
    assert parse_cdt(1772359200) == 1772359200
    assert parse_cdt("1772359200.9") == 1772359200
    assert parse_cdt("2026-03-01T12:00:00+02:00") == 1772359200
    assert parse_cdt("2026-03-01T10:00:00Z") == 1772359200
    assert parse_cdt("2026-03-01") == 1772323200
    for bad in ("2026-03-01 25:00:00", "2026-02-30 10:00:00", "yesterday-ish", "", None):
        assert parse_cdt(bad) is None, bad


def test_hit_time_validity():
    assert hit_time(None, None, NOW) == (NOW, False)
    assert hit_time("1772359200", None, NOW) == (1772359200, True)
    assert hit_time(str(NOW + 10), None, NOW) == (NOW, False)           # future
    assert hit_time(str(NOW - 20 * 365 * 86400), None, NOW) == (NOW, False)  # too old
    assert hit_time(str(NOW - 20 * 365 * 86400 + 1), None, NOW)[1] is True
    assert hit_time("garbage", None, NOW) == (NOW, False)
    assert hit_time(None, "60", NOW) == (NOW - 60, True)               # cdo alone
    assert hit_time("1772359200", "-60", NOW) == (1772359140, True)    # abs(cdo)


def test_day_of_is_the_utc_day():
    assert day_of(1772323199) == "2026-02-28"
    assert day_of(1772323200) == "2026-03-01"


def test_parse_query_like_php():
    assert parse_query("a=1&a=2&b=x+y&c=%2F") == {"a": "2", "b": "x y", "c": "/"}
    assert parse_query("urls[0]=u&urls[1]=v&x[]=1&x[]=2") == {
        "urls": {"0": "u", "1": "v"}, "x": {"0": "1", "1": "2"}}
    assert parse_query("") == {} and parse_query("&&=1") == {}
