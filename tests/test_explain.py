"""Detection that explains itself (formats/explain.py): where a format stops reading a line, the
nearest format when none reads a file, --debug's account of detection, --dump-log-regex for every
kind of format, and --test-format's table."""
import pytest

from conftest import line
from formats import REGISTRY
from formats.explain import ENDS_EARLY, caret, stop_column
from test_import_http import importer, write

COMBINED = line()


@pytest.mark.parametrize("text,column,reason", [
    (COMBINED, None, ""),
    (COMBINED.replace(" 200 ", " abc "), COMBINED.index(" 200 ") + 1, "unexpected 'a'"),
    (COMBINED[:60], 60, ENDS_EARLY),                                  # a truncated line
    (COMBINED.replace("[01/Mar", "(01/Mar"), COMBINED.index("[01/Mar"), "unexpected '('"),
])
def test_where_a_regex_format_stops(text, column, reason):
    assert stop_column(REGISTRY["ncsa_extended"], text) == (column, reason)


@pytest.mark.parametrize("text,reason", [
    ('{"date": "2026-03-01T10:00:00Z"}', "a JSON object without the key path"),
    ('{"date": "2026-03-01T10:00:00Z", "path": ', "not JSON"),
    ("[1, 2]", "not a JSON object"),
])
def test_where_a_json_format_stops(text, reason):
    column, why = stop_column(REGISTRY["nginx_json"], text)
    assert why.startswith(reason) and 0 <= column <= len(text)


def test_caret_points_at_the_column_even_in_a_long_line():
    text = "x" * 500 + "!" + "y" * 500
    shown, mark = caret(text, 500)
    assert shown[mark.index("^")] == "!" and len(shown) < 120


def test_an_unknown_file_says_which_line_which_format_and_where(tmp_path):
    bad = COMBINED.replace(" 200 ", " abc ")
    code, text = importer(["--dry-run", write(tmp_path, ["", bad, bad])])
    assert code == 2
    lines = text.splitlines()
    at = next(i for i, t in enumerate(lines) if t.startswith("line 2: no format reads it"))
    assert "the nearest, common, stops at column %d (unexpected 'a')" % (COMBINED.index(" 200 ") + 2) in lines[at]
    shown, mark = lines[at + 1], lines[at + 2]
    assert shown[mark.index("^"):].startswith("abc 5120") and set(mark) == {" ", "^"}
    assert "--log-format-apache" in lines[0]


def test_debug_says_which_format_won_on_which_lines_and_why_the_others_lost(tmp_path):
    log = write(tmp_path, [COMBINED] * 3 + ["garbage"] + [COMBINED])
    code, text = importer(["--dry-run", "-d", log])
    assert code == 0, text
    assert "detection: ncsa_extended reads 4 of 5 sample lines (lines 1-3, 5), with 10 fields" in text
    assert "common lost: reads 4 lines too, with 8 fields, not more" in text
    assert "elb lost: reads none; on line 1 it stops at column" in text
    assert "sample lines no format reads: lines 4" in text


@pytest.mark.parametrize("args,head,expected", [
    ([], [COMBINED], ["format: ncsa_extended", "regex: (?P<ip>", "date format: %d/%b/%Y:%H:%M:%S"]),
    ([], [REGISTRY["nginx_json"].samples[0][0]], ["format: nginx_json", "json map (field: key paths):",
                                                  "  generation_time_milli: generation_time_milli (converted)",
                                                  "detected by the keys: date, path", "date format: iso8601"]),
    ([], REGISTRY["iis"].header_lines + [REGISTRY["iis"].samples[0][0]], ["format: iis", "regex: ", "(?P<date>"]),
    ([], ["Mar  1 10:00:00 web1 nginx: " + COMBINED], ["format: syslog+ncsa_extended", "syslog prefix: ",
                                                       "regex: (?P<ip>"]),
    (["--log-format-apache", '%h %t "%r" %>s %{X-Request-Id}i'], [COMBINED],
     ["format: log-format-apache", r"(?P<http_x_request_id>.+)"]),  # a header last, unquoted: to the end
])
def test_dump_log_regex_for_every_kind_of_format(args, head, expected, tmp_path):
    code, text = importer(["--dump-log-regex"] + args + [write(tmp_path, head)])
    assert code == 0, text
    for piece in expected:
        assert any(t.startswith(piece) or piece in t for t in text.splitlines()), piece


def test_test_format_prints_the_fields_of_the_first_lines(tmp_path, loggen):
    log = write(tmp_path, [COMBINED, COMBINED.replace("/docs/install", "/a b"), "not a log line"])
    code, text = importer(["--test-format", log])
    assert code == 0, text
    rows = text.splitlines()
    assert rows[0] == "format: ncsa_extended"
    assert rows[1].split() == ["line", "ip", "date", "timezone", "method", "path", "status", "length", "referrer",
                               "user_agent", "userid", "cdt"]
    assert rows[2].endswith("  2026-03-01 09:00:00")
    assert rows[2].split()[:7] == ["1", "192.0.2.1", "01/Mar/2026:10:00:00", "+0100", "GET", "/docs/install", "200"]
    assert "/a b" in rows[3] and rows[4].startswith("3     (not read")
    assert rows[5] == "line 3: ncsa_extended stops at column 11 (unexpected 'l'):"  # "not a log" read as ip, -, user
    assert rows[6] == "  not a log line" and rows[7] == "  " + " " * 10 + "^"


def test_test_format_checks_a_format_string_before_importing(tmp_path):
    log = write(tmp_path, ['192.0.2.1 [01/Mar/2026:10:00:00 +0100] "GET /a HTTP/1.1" 200 1234 abc'])
    code, text = importer(["--test-format", log, "--log-format-apache", '%a %t "%r" %>s %D %{X-Trace}i'])
    assert code == 0, text
    assert text.splitlines()[1].split() == ["line", "ip", "date", "timezone", "method", "path", "status",
                                            "generation_time_micro", "cdt"]
    assert text.splitlines()[2].split()[-3:] == ["1234", "2026-03-01", "09:00:00"]


def test_test_format_shows_the_date_sent_after_log_timezone(tmp_path):
    """The trial could not check --log-timezone before importing: the table showed the logged
    time only. 02:30 on 29 March 2026 does not exist in Paris (the clocks skip it): sent as
    01:30 UTC, with the offset before the change, as the import does."""
    log = write(tmp_path, ['192.0.2.1 - - [2026-03-29 01:30:00] "GET /a HTTP/1.1" 200 5',
                           '192.0.2.1 - - [2026-03-29 02:30:00] "GET /b HTTP/1.1" 200 5',
                           '192.0.2.1 - - [2026-10-25 02:30:00] "GET /c HTTP/1.1" 200 5',
                           '192.0.2.1 - - [2026-02-30 10:00:00] "GET /d HTTP/1.1" 200 5'])
    code, text = importer(["--test-format", log, "--log-format-apache", '%h %l %u [%{%Y-%m-%d %H:%M:%S}t] "%r" %>s %b',
                           "--log-timezone", "Europe/Paris"])
    assert code == 0, text
    rows = text.splitlines()
    assert rows[1].split()[-1] == "cdt"
    assert rows[2].endswith("2026-03-29 00:30:00") and rows[3].endswith("2026-03-29 01:30:00")
    assert rows[4].endswith("2026-10-25 00:30:00") and rows[5].endswith("(invalid date)")
