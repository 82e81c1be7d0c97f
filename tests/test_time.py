"""Time: --log-timezone (daylight saving time through zoneinfo), epoch dates in s/ms/µs/ns, and
the dates of --exclude-older-than/--exclude-newer-than."""
import datetime as dt

import pytest

from conftest import TOKEN
from formats.base import EPOCH, EPOCH_MS, EPOCH_NS, EPOCH_US, ISO_DATE, DateConverter
from log_importer.timebounds import utc_bound, zone
from test_import_http import importer, write

PARIS = zone("Europe/Paris")


@pytest.mark.parametrize("local,utc", [
    # Spring forward: 2026-03-29 02:00 CET becomes 03:00 CEST.
    ("2026-03-29 01:59:59", "2026-03-29 00:59:59"),
    ("2026-03-29 02:30:00", "2026-03-29 01:30:00"),  # skipped by the clocks: read with the offset before
    ("2026-03-29 03:00:00", "2026-03-29 01:00:00"),
    # Fall back: 2026-10-25 03:00 CEST becomes 02:00 CET; 02:00-02:59 happens twice.
    ("2026-10-25 01:59:59", "2026-10-24 23:59:59"),
    ("2026-10-25 02:30:00", "2026-10-25 00:30:00"),  # read as the first (summer time)
    ("2026-10-25 03:00:00", "2026-10-25 02:00:00"),
    ("2026-07-01 12:00:00", "2026-07-01 10:00:00"),
    ("2026-01-01 12:00:00", "2026-01-01 11:00:00"),
])
def test_log_timezone_follows_daylight_saving_time(local, utc):
    assert DateConverter(ISO_DATE, zone=PARIS).convert(local) == utc
    assert DateConverter(ISO_DATE, zone=PARIS).convert(local, "+0000") == local  # an offset in the line wins
    assert DateConverter("%d/%b/%Y:%H:%M:%S", zone=PARIS).convert(
        dt.datetime.fromisoformat(local).strftime("%d/%b/%Y:%H:%M:%S")) == utc


@pytest.mark.parametrize("unit,value", [(EPOCH, "1772355600"), (EPOCH, 1772355600.9), (EPOCH_MS, "1772355600123"),
                                        (EPOCH_MS, 1772355600999), (EPOCH_US, "1772355600123456"),
                                        (EPOCH_NS, "1772355600123456789"), (EPOCH_NS, 1772355600123456789)])
def test_epoch_dates_in_every_unit(unit, value):
    converter = DateConverter(unit, zone=PARIS)  # an epoch is UTC whatever the zone
    assert converter.convert(value) == "2026-03-01 09:00:00"
    assert converter.convert(value) == "2026-03-01 09:00:00"  # memoised


NOW = dt.datetime(2026, 3, 29, 10, 30, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("text,zone_name,expected", [
    ("2026-03-01 10:00:00 +0100", None, "2026-03-01 09:00:00"),
    ("2026-03-01 10:00:00 +0100", "America/New_York", "2026-03-01 09:00:00"),
    ("2026-03-01 10:00:00", None, "2026-03-01 10:00:00"),
    ("2026-03-01 10:00:00", "Europe/Paris", "2026-03-01 09:00:00"),
    ("2026-07-01", "Europe/Paris", "2026-06-30 22:00:00"),
    ("2026-03-01T10:00:00Z", "Europe/Paris", "2026-03-01 10:00:00"),
    ("2d", None, "2026-03-27 10:30:00"),
    ("12h", "Europe/Paris", "2026-03-28 22:30:00"),
    ("30min", None, "2026-03-29 10:00:00"),
    ("3 days ago", None, "2026-03-26 10:30:00"),
    ("1w", None, "2026-03-22 10:30:00"),
    ("today", None, "2026-03-29 00:00:00"),
    ("yesterday", None, "2026-03-28 00:00:00"),
    ("yesterday", "Europe/Paris", "2026-03-27 23:00:00"),  # midnight before the clocks went forward
    ("today", "Europe/Paris", "2026-03-28 23:00:00"),
    ("today", "Pacific/Kiritimati", "2026-03-29 10:00:00"),  # UTC+14: already the 30th there
])
def test_exclusion_dates(text, zone_name, expected):
    assert utc_bound(text, zone_name, now=NOW) == expected


@pytest.mark.parametrize("text", ["the day before", "2026-13-45", "2x", ""])
def test_exclusion_dates_that_are_not_dates(text):
    with pytest.raises(ValueError, match="invalid date"):
        utc_bound(text, now=NOW)


FORMAT = '%a %{%Y-%m-%d %H:%M:%S}t "%r" %>s %b'
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def test_a_log_in_local_time_imports_across_both_transitions(endpoint, tmp_path):
    times = ["2026-03-29 01:59:00", "2026-03-29 03:01:00", "2026-10-25 01:59:00", "2026-10-25 03:01:00"]
    log = write(tmp_path, ['192.0.2.%d %s "GET /p%d HTTP/1.1" 200 5' % (i + 1, t, i) for i, t in enumerate(times)])
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--log-format-apache", FORMAT,
                           "--log-timezone", "Europe/Paris", log])
    assert code == 0, text
    assert sorted(r["params"]["cdt"] for r in ep.received()) == [
        "2026-03-29 00:59:00", "2026-03-29 01:01:00", "2026-10-24 23:59:00", "2026-10-25 02:01:00"]


W3C = ["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
       "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
       "cs(Referer) sc-status sc-substatus sc-win32-status time-taken",
       "2026-07-01 09:00:00 10.0.0.5 GET /a - 443 - 192.0.2.1 %s - 200 0 0 15" % UA.replace(" ", "+")]


@pytest.mark.parametrize("options,cdt", [([], "2026-07-01 09:00:00"),
                                         (["--log-timezone", "America/New_York"], "2026-07-01 13:00:00")])
def test_w3c_dates_stay_utc_unless_told(options, cdt, endpoint, tmp_path):
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1] + options + [write(tmp_path, W3C)])
    assert code == 0, text
    assert [r["params"]["cdt"] for r in ep.received()] == [cdt]


@pytest.mark.parametrize("options,imported", [
    ([], 4),
    (["--exclude-older-than", "2026-03-29 03:00:00", "--log-timezone", "Europe/Paris"], 3),  # 01:00 UTC
    (["--exclude-newer-than", "2026-10-25 02:30", "--log-timezone", "Europe/Paris"], 3),  # 00:30 UTC
    (["--exclude-older-than", "yesterday"], 0),
    (["--exclude-older-than", "36500d"], 4),
])
def test_exclusions_over_http(options, imported, endpoint, tmp_path):
    times = ["2026-03-29 01:59:00", "2026-03-29 03:01:00", "2026-10-25 01:59:00", "2026-10-25 03:01:00"]
    log = write(tmp_path, ['192.0.2.%d %s "GET /p%d HTTP/1.1" 200 5' % (i + 1, t, i) for i, t in enumerate(times)])
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--log-format-apache", FORMAT,
                           "--log-timezone", "Europe/Paris"] + options + [log])
    assert code == 0, text
    assert len(ep.received()) == imported
