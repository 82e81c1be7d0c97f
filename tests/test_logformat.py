"""Format strings (formats/logformat.py): Apache's LogFormat and nginx's log_format, directive by
directive, the servers' escaping read back, config files, and the default strings giving
exactly what the named formats give, over real HTTP."""
import json

import apachelogs
import pytest

import formats
from conftest import TOKEN, unordered
from formats import REGISTRY, FormatError
from formats.logformat import apache_format, format_from_file, formats_in_config, nginx_format
from log_importer.loggen import generate
from test_import_http import importer, write

COMBINED = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'
COMMON = '%h %l %u %t "%r" %>s %b'
VHOST_COMBINED = '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"'
VHOST_COMMON = '%v:%p %h %l %u %t "%r" %>s %b'
MAIN = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
        '"$http_user_agent"')


def test_the_apachelogs_version_the_importer_was_written_for():
    """formats/logformat.py uses apachelogs' tokenizer and its (undocumented) format2regex: a
    new version must be checked before the pin in pyproject.toml moves."""
    assert apachelogs.__version__ == "0.6.1"
    from apachelogs.directives import format2regex
    groups, regex = format2regex("%>s")
    assert groups[0][:2] == ("final_status", "%>s")
    groups, _ = format2regex("%{User-Agent}i")
    assert groups[0][:2] == (("headers_in", "User-Agent"), "%{User-Agent}i")
    groups, _ = format2regex("%{%Y-%m-%d %H:%M:%S}t")
    assert [g[0][1] for g in groups] == ["year", "mon", "mday", "hour", "min", "sec"]


@pytest.mark.parametrize("string,name", [(COMBINED, "ncsa_extended"), (COMMON, "common"),
                                         (VHOST_COMBINED, "common_complete"), (VHOST_COMMON, "common_vhost")])
def test_apache_default_strings_compile_into_the_family_and_its_scanner(string, name):
    fmt = apache_format(string)
    assert fmt.scanner == REGISTRY[name].scanner and fmt.compile().scanned
    for line, _ in REGISTRY[name].samples:
        assert fmt.compile().extract(line) == REGISTRY[name].compile().extract(line)


def test_nginx_main_is_combined():
    fmt = nginx_format(MAIN)
    assert fmt.regex == REGISTRY["ncsa_extended"].regex and fmt.compile().scanned


# Each directive of mod_log_config, after a base that gives the fields every hit needs.
BASE = '%a %t "%r" %>s '
BASE_LINE = '192.0.2.1 [01/Mar/2026:10:00:00 +0100] "GET /p?q=1 HTTP/1.1" 200 '
APACHE_DIRECTIVES = [  # (directive, the value written, the name it is read as, the value read)
    ("%h", "client.example.net", "remote_host", "client.example.net"),  # %a gives the ip
    ("%l", "ident", "remote_logname", "ident"),
    ("%u", "alice", "userid", "alice"),
    ("%t", "[01/Mar/2026:11:00:00 +0100]", "request_time_fields_timestamp", None),  # the first date wins
    ("%r", '"POST /other HTTP/1.0"', "request", None),
    ("%m", "GET", "request_method", "GET"),
    ("%U", "/p", "request_uri", "/p"),
    ("%q", "?q=1", "request_query", "q=1"),
    ("%H", "HTTP/1.1", "request_protocol", "HTTP/1.1"),
    ("%s", "302", "status", "200"),  # %>s (the final status) wins over %s
    ("%b", "5120", "length", "5120"),
    ("%B", "5120", "length", "5120"),
    ("%O", "5400", "length", "5400"),
    ("%I", "412", "bytes_in", "412"),
    ("%D", "25431", "generation_time_micro", "25431"),
    ("%T", "2", "generation_time_secs", "2"),
    ("%{ms}T", "25", "generation_time_milli", "25"),
    ("%{us}T", "25431", "generation_time_micro", "25431"),
    ("%{s}T", "2", "generation_time_secs", "2"),
    ("%v", "www.example.com", "host", "www.example.com"),
    ("%V", "www.example.com", "host", "www.example.com"),
    ("%p", "443", "server_port", "443"),
    ("%{Host}i", "www.example.com", "host", "www.example.com"),
    ("%{Referer}i", "https://www.google.com/", "referrer", "https://www.google.com/"),
    ('"%{User-Agent}i"', '"Mozilla/5.0 (X11; Linux x86_64)"', "user_agent", "Mozilla/5.0 (X11; Linux x86_64)"),
    ("%{X-Forwarded-For}i", "198.51.100.7,10.0.0.1", "forwarded_for", "198.51.100.7,10.0.0.1"),
    ("%{X-Request-Id}i", "abc123", "http_x_request_id", "abc123"),
    ("%{UNIQUE_ID}e", "Z3x9", "env_unique_id", "Z3x9"),
    ("%{session}C", "s3cr3t", "cookie_session", "s3cr3t"),
    ("%X", "+", "connection_status", "+"),
    ("%k", "3", "requests_on_connection", "3"),
    ("%L", "ZmFrZQ", "request_log_id", "ZmFrZQ"),
    ("%R", "php-fpm", "handler", "php-fpm"),
    ("%!200,304{Referer}i", "-", "referrer", "-"),
    ("%{sec}t", "1772355600", "request_time_fields_epoch", None),
]


@pytest.mark.parametrize("directive,written,name,value", APACHE_DIRECTIVES, ids=[d[0] for d in APACHE_DIRECTIVES])
def test_each_apache_directive(directive, written, name, value):
    fmt = apache_format(BASE + directive)
    decoder = fmt.compile(extra_groups=(name,) if name not in formats.FIELDS else ())
    fields = decoder.as_dict(BASE_LINE + written)
    assert fields is not None, fmt.regex
    assert (fields["ip"], fields["date"], fields["path"], fields["status"] if name != "status" else "200") == \
        ("192.0.2.1", "01/Mar/2026:10:00:00", "/p?q=1", "200")
    if value is not None:
        assert fields.get(name) == value


@pytest.mark.parametrize("string,line,expected", [
    ('%a %{%Y-%m-%d %H:%M:%S}t "%m %U%q %H" %>s', '192.0.2.1 2026-03-01 10:00:00 "GET /a?b=1 HTTP/1.1" 200',
     {"date": "2026-03-01 10:00:00", "method": "GET", "path": "/a", "query_string": "b=1"}),
    ('%a [%{%d/%b/%Y:%H:%M:%S}t.%{msec_frac}t %{%z}t] "%r" %<s %>s', '192.0.2.1 [01/Mar/2026:10:00:00.123 +0100] '
     '"GET / HTTP/1.1" 301 200', {"date": "01/Mar/2026:10:00:00", "timezone": "+0100", "status": "200"}),
    ('%{c}a %h %{msec}t "%r" %s', "10.0.0.1 192.0.2.1 1772355600123 \"GET / HTTP/1.1\" 200",
     {"ip": "192.0.2.1", "date": "1772355600123"}),
    ('%a %{usec}t "%r" %s %{%z}t', '192.0.2.1 1772355600123456 "GET / HTTP/1.1" 200 +0000',
     {"date": "1772355600123456", "timezone": "+0000"}),
    # A varnishncsa -F format (varnishncsa(1)): %r holds the full URL; Varnish's own %{Varnish:...}x.
    ('%h %l %u %t "%r" %s %b "%{Referer}i" "%{User-agent}i" %{Varnish:time_firstbyte}x %{Varnish:hitmiss}x',
     '192.0.2.1 - - [01/Mar/2026:10:00:00 +0100] "GET http://www.example.com/a HTTP/1.1" 200 5 "-" "UA" 0.025 hit',
     {"path": "http://www.example.com/a", "user_agent": "UA", "generation_time_secs": "0.025"}),
])
def test_apache_dates_requests_and_ranks(string, line, expected):
    fields = apache_format(string).compile().as_dict(line)
    for key, value in expected.items():
        assert fields[key] == value, key


@pytest.mark.parametrize("string,message", [
    ("%h %t %>s", "no the requested path"),
    ('%h "%r" %>s', "no the date"),
    ("%h %t %Z", "Unknown log format directive: '%Z'"),
    ('%h %t "%r" %', "lone %"),
])
def test_apache_strings_that_cannot_be_read_say_why(string, message):
    with pytest.raises(FormatError, match=message):
        apache_format(string)


NGINX_VARIABLES = [  # (variable, the value written, the name it is read as, the value read)
    ("$realip_remote_addr", "10.0.0.1", "realip_remote_addr", "10.0.0.1"),  # $remote_addr gives the ip
    ("$remote_user", "alice", "userid", "alice"),
    ("$time_iso8601", "2026-03-01T10:00:00+01:00", "time_iso8601", "2026-03-01T10:00:00+01:00"),
    ("$msec", "1772355600.123", "msec", "1772355600.123"),
    ("$request_method", "GET", "request_method", "GET"),
    ("$request_uri", "/p?q=1", "request_uri", "/p?q=1"),
    ("$uri", "/p", "uri", "/p"),
    ("$args", "q=1", "args", "q=1"),
    ("$query_string", "q=1", "query_string", None),  # $request's path holds the query string
    ("$body_bytes_sent", "5120", "length", "5120"),
    ("$bytes_sent", "5400", "length", "5400"),
    ('"$http_referer"', '"https://www.google.com/"', "referrer", "https://www.google.com/"),
    ('"$http_user_agent"', '"Mozilla/5.0 (X11)"', "user_agent", "Mozilla/5.0 (X11)"),
    ("$host", "www.example.com", "host", "www.example.com"),
    ("$server_name", "www.example.com", "host", "www.example.com"),
    ("$request_time", "0.025", "generation_time_secs", "0.025"),
    ("$upstream_response_time", "0.012, 0.003 : 0.001", None, None),
    ('"$http_x_forwarded_for"', '"198.51.100.7, 10.0.0.1"', "forwarded_for", "198.51.100.7, 10.0.0.1"),
    ("$ssl_protocol", "TLSv1.3", "ssl_protocol", "TLSv1.3"),
    ("${scheme}://", "https://", "scheme", "https"),
]
NGINX_BASE = '$remote_addr [$time_local] "$request" $status '


@pytest.mark.parametrize("variable,written,name,value", NGINX_VARIABLES, ids=[v[0] for v in NGINX_VARIABLES])
def test_each_nginx_variable(variable, written, name, value):
    fmt = nginx_format(NGINX_BASE + variable)
    decoder = fmt.compile(extra_groups=(name,) if name and name not in formats.FIELDS else ())
    fields = decoder.as_dict(BASE_LINE + written)
    assert fields is not None, fmt.regex
    assert (fields["ip"], fields["path"], fields["status"]) == ("192.0.2.1", "/p?q=1", "200")
    if name:
        assert fields.get(name) == value


def test_nginx_upstream_time_is_summed_when_it_is_the_only_time():
    fmt = nginx_format(NGINX_BASE + "$upstream_response_time")
    assert fmt.compile().as_dict(BASE_LINE + "0.012, 0.003 : 0.001")["generation_time_secs"] == "0.016"
    assert fmt.compile().as_dict(BASE_LINE + "-")["generation_time_secs"] is None


def test_nginx_path_from_request_uri_keeps_the_query_string_in_it():
    fields = nginx_format('$remote_addr [$time_local] "$request_method $request_uri" $status $args').compile() \
        .as_dict(BASE_LINE.replace(" HTTP/1.1", "") + "q=1")
    assert fields["path"] == "/p?q=1" and fields.get("query_string") is None


# Escaping: lines written with the servers' own rules read back the original values.
ORIGINALS = ['Mozilla/5.0 "quoted" agent', "back\\slash \\x41 literal", "café crème", "tab\there",
             "ünïcødé ☃", "ctrl\x01\x7f"]


def apache_escaped(text):
    """ap_escape_logitem (server/util.c): " and \\ with a backslash, \\b\\n\\r\\t\\v by name, other
    control bytes and all bytes above 126 as \\xhh."""
    out = []
    for b in text.encode("utf-8"):
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif c in "\b\n\r\t\v":
            out.append("\\" + "bnrtv"["\b\n\r\t\v".index(c)])
        elif b < 32 or b > 126:
            out.append("\\x%02x" % b)
        else:
            out.append(c)
    return "".join(out)


def nginx_escaped(text):
    """ngx_http_log_escape (escape=default): ", \\, bytes below 32 and above 126 as \\xHH."""
    return "".join("\\x%02X" % b if b < 32 or b > 126 or b in (34, 92) else chr(b) for b in text.encode("utf-8"))


def nginx_json_escaped(text):
    """escape=json: ngx_escape_json: \\" \\\\ \\n \\r \\t \\b \\f and \\u00XX for other control bytes."""
    return json.dumps(text, ensure_ascii=False)[1:-1].replace("\\u007f", "\x7f")


@pytest.mark.parametrize("original", ORIGINALS)
def test_escaping_round_trips(original):
    line = '192.0.2.1 - - [01/Mar/2026:10:00:00 +0100] "GET /%s HTTP/1.1" 200 5 "-" "%s"'
    apache = apache_format(COMBINED).compile().as_dict(line % (apache_escaped("a"), apache_escaped(original)))
    assert apache["user_agent"] == original
    nginx = nginx_format(MAIN).compile().as_dict(line % ("a", nginx_escaped(original)))
    assert nginx["user_agent"] == original
    as_json = nginx_format(MAIN, "json").compile().as_dict(
        line % ("a", nginx_json_escaped(original)))
    assert as_json["user_agent"] == original
    assert REGISTRY["ncsa_extended"].compile().as_dict(line % ("a", apache_escaped(original)))["user_agent"] == original


def test_nginx_escape_none_reads_values_as_written():
    fields = nginx_format(MAIN, "none").compile().as_dict(
        '192.0.2.1 - - [01/Mar/2026:10:00:00 +0100] "GET /a HTTP/1.1" 200 5 "-" "agent \\x41"')
    assert fields["user_agent"] == "agent \\x41"


def test_a_json_shaped_log_format_is_read_as_json():
    fmt = nginx_format('{"time":"$time_local","client":"$remote_addr","req":"$request","status":$status,'
                       '"bytes":$body_bytes_sent,"ua":"$http_user_agent","rt":$request_time,'
                       '"xff":"$http_x_forwarded_for"}', "json")
    assert fmt.json_map is not None
    line = ('{"time":"01/Mar/2026:10:00:00 +0100","client":"192.0.2.1","req":"GET /a?b=1 HTTP/1.1","status":200,'
            '"bytes":5120,"ua":"Mozilla/5.0","rt":0.025,"xff":"-"}')
    fields = fmt.compile(extra_groups=("forwarded_for",)).as_dict(line)
    assert fields == {"ip": "192.0.2.1", "date": "01/Mar/2026:10:00:00", "timezone": "+0100", "method": "GET",
                      "path": "/a?b=1", "status": "200", "length": 5120, "user_agent": "Mozilla/5.0",
                      "generation_time_secs": 0.025, "forwarded_for": "-"}


APACHE_CONF = r'''
<IfModule log_config_module>
    LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" combined
    LogFormat "%h %l %u %t \"%r\" %>s %b" common
    LogFormat "%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" vhost_combined
</IfModule>
'''
NGINX_CONF = r'''
http {
    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent"';
    log_format timed escape=json '$remote_addr [$time_local] "$request" $status $request_time';
    access_log  /var/log/nginx/access.log  main;
}
'''


def test_formats_are_read_from_server_config_files(tmp_path):
    apache_conf = tmp_path / "apache2.conf"
    apache_conf.write_text(APACHE_CONF)
    nginx_conf = tmp_path / "nginx.conf"
    nginx_conf.write_text(NGINX_CONF)
    assert formats_in_config(APACHE_CONF)["combined"] == ("apache", COMBINED)
    assert formats_in_config(NGINX_CONF)["main"] == ("nginx", MAIN, "default")
    assert formats_in_config(NGINX_CONF)["timed"][2] == "json"
    assert format_from_file(str(apache_conf), "vhost_combined").scanner == REGISTRY["common_complete"].scanner
    assert format_from_file(str(nginx_conf), "main").regex == REGISTRY["ncsa_extended"].regex
    with pytest.raises(FormatError, match="--log-format-ref"):
        format_from_file(str(nginx_conf), None)
    with pytest.raises(FormatError, match="it has: combined, common, vhost_combined"):
        format_from_file(str(apache_conf), "main")


# Over real HTTP: the default strings send exactly what the named format sends.
@pytest.mark.parametrize("options", [
    ["--log-format-apache", COMBINED], ["--log-format-nginx", MAIN], ["--log-format-nginx", "escape=default " + MAIN],
    ["--log-format-file", "nginx.conf", "--log-format-ref", "main"],
    ["--log-format-file", "apache2.conf", "--log-format-ref", "combined"],
], ids=["apache-combined", "nginx-main", "nginx-main-escape", "nginx-conf", "apache-conf"])
def test_default_strings_import_exactly_what_ncsa_extended_imports(options, endpoint, tmp_path, loggen, monkeypatch):
    (tmp_path / "nginx.conf").write_text(NGINX_CONF)
    (tmp_path / "apache2.conf").write_text(APACHE_CONF)
    monkeypatch.chdir(tmp_path)
    log = loggen(3000, seed=5, hostile=True)
    sent = []
    for extra in (["--log-format-name", "ncsa_extended"], options):
        ep = endpoint()
        code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--enable-http-errors",
                               "--enable-http-redirects", "--enable-static"] + extra + [log])
        assert code == 0, text
        sent.append(unordered(r["params"] for r in ep.received()))
    assert len(sent[0]) > 2000 and sent[1] == sent[0]


def test_the_issue_s_apache_format_imports_with_its_host_and_time(endpoint, tmp_path):
    string = '%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-Agent}i\\" %D %{Host}i'.replace('\\"', '"')
    lines = [t.decode() + " %d %s" % (1000 * (i + 1), "shop.example.net" if i % 2 else "www.example.com")
             for i, t in enumerate(generate(30, "combined", seed=4))]
    log = write(tmp_path, lines)
    ep = endpoint(sites={1: "https://www.example.com", 2: "https://shop.example.net"})
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--log-format-apache", string,
                           "--enable-bots", "--enable-static", "--enable-http-errors", "--enable-http-redirects",
                           log])
    assert code == 0, text
    received = [r["params"] for r in ep.received()]
    assert len(received) == 30
    assert {r["idsite"] for r in received} == {1, 2}
    assert any(r["pf_srv"] == 2 and r["url"].startswith("https://shop.example.net/") for r in received)


# The trial's hang: a JSON-shaped log_format with $request could not be pickled to the workers.
JSON_NGINX = ('escape=json {"t":"$time_local","ip":"$remote_addr","r":"$request","s":$status,'
              '"ua":"$http_user_agent","up":"$upstream_response_time"}')


@pytest.mark.parametrize("workers", [1, 2])
def test_a_json_shaped_nginx_format_imports_through_the_workers(workers, endpoint, tmp_path):
    lines = ['{"t":"01/Mar/2026:10:00:%02d +0100","ip":"192.0.2.%d","r":"GET /p%d?q=caf\\u00e9 HTTP/1.1",'
             '"s":200,"ua":"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0","up":"0.010, 0.020"}' % (i, i + 1, i)
             for i in range(40)]
    log = write(tmp_path, lines)
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--workers", workers,
                           "--log-format-nginx", JSON_NGINX, log])
    assert code == 0, text
    got = sorted((r["params"] for r in ep.received()), key=lambda r: r["cip"])
    assert len(got) == 40
    assert got[0]["url"] == "https://www.example.com/p0?q=café" and got[0]["cdt"] == "2026-03-01 09:00:00"
    assert got[0]["pf_srv"] == 30  # the upstream times summed


def test_every_format_goes_to_the_workers_and_reads_the_same_there():
    """Chunk tasks carry their format to the worker processes, pickled: every named format and
    every kind built from a string must survive it, converters included."""
    import pickle
    built = [nginx_format(JSON_NGINX.partition(" ")[2], "json"), nginx_format(MAIN, "default"),
             apache_format(COMBINED)]
    for fmt in list(REGISTRY.values()) + built:
        if fmt.regex is None and fmt.json_map is None:  # W3C: the format of a file is built from its header
            fields = [h for h in fmt.header_lines if h.startswith("#Fields:")][0]
            fmt = fmt.for_header(fields)
        again = pickle.loads(pickle.dumps(fmt))
        for sample, _ in fmt.samples:
            assert again.compile().as_dict(sample) == fmt.compile().as_dict(sample), fmt.name
    line = ('{"t":"01/Mar/2026:10:00:00 +0100","ip":"192.0.2.1","r":"GET /a HTTP/1.1","s":200,"ua":"x",'
            '"up":"0.5"}')
    assert pickle.loads(pickle.dumps(built[0])).compile().as_dict(line) == built[0].compile().as_dict(line)


def test_a_format_string_that_cannot_be_read_stops_the_run(tmp_path):
    log = write(tmp_path, ["x"])
    code, text = importer(["--dry-run", "--log-format-apache", "%h %t %>s", log])
    assert code == 2 and "no the requested path" in text
    code, text = importer(["--dry-run", "--log-format-ref", "main", log])
    assert code == 2 and "--log-format-ref needs --log-format-file" in text


# The trial: nginx writes unquoted variables as they are: "urt":- without an upstream, "urt":0.010, 0.002
# after a retry, "bytes":- from some proxies. Those lines are not JSON, yet they are lines of the format.
UNQUOTED = ('escape=json {"time":"$time_local","addr":"$remote_addr","req":"$request","st":$status,'
            '"bytes":$body_bytes_sent,"ref":"$http_referer","ua":"$http_user_agent","urt":$upstream_response_time}')


def test_unquoted_variables_nginx_wrote_as_text_are_read(endpoint, tmp_path):
    values = [("512", "-"), ("512", "0.012"), ("512", "0.010, 0.002"), ("-", "0.5"), ("0", "-, 0.020")]
    lines = ['{"time":"01/Mar/2026:10:00:%02d +0100","addr":"192.0.2.%d","req":"GET /u%d HTTP/1.1","st":200,'
             '"bytes":%s,"ref":"-","ua":"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0 \\"q\\"","urt":%s}'
             % (k, k + 1, k, size, urt) for k, (size, urt) in enumerate(values)]
    log = write(tmp_path, lines)
    code, text = importer(["--test-format", log, "--log-format-nginx", UNQUOTED])
    assert code == 0 and "not read" not in text, text
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--log-format-nginx", UNQUOTED, log])
    assert code == 0, text
    got = sorted((r["params"] for r in ep.received()), key=lambda r: r["url"])
    assert [r["url"].rsplit("/", 1)[1] for r in got] == ["u0", "u1", "u2", "u3", "u4"]
    assert [r.get("pf_srv") for r in got] == [None, 12, 12, 500, 20]
    assert [r.get("bw_bytes") for r in got] == [512, 512, 512, None, None]
    assert got[0]["ua"].endswith('Firefox/120.0 "q"')


# The trial: a user agent written without quotes, last on the line, was cut at its first space:
# every agent became "Mozilla/5.0", so no bot was recognised and they were imported as visits.
@pytest.mark.parametrize("string,template", [
    ("%{%d/%b/%Y:%H:%M:%S %z}t|%h|%r|%>s|%b|%{User-Agent}i",
     "01/Mar/2026:10:00:%02d +0100|192.0.2.%d|GET /p HTTP/1.1|200|5|%s"),
    ("%h|%{User-Agent}i|%t|%r|%>s|%b", "192.0.2.{ip}|{ua}|[01/Mar/2026:10:00:{s:02d} +0100]|GET /p HTTP/1.1|200|5"),
], ids=["last", "between-separators"])
def test_an_unquoted_header_keeps_its_spaces(string, template, endpoint, tmp_path):
    agents = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
              "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
              "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"]
    if "{" in template:
        lines = [template.format(ip=k + 1, ua=ua, s=k) for k, ua in enumerate(agents)]
    else:
        lines = [template % (k, k + 1, ua) for k, ua in enumerate(agents)]
    log = write(tmp_path, lines)
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--log-format-apache", string, log])
    assert code == 0, text
    assert "characters after the match were ignored" not in text
    assert [r["params"]["ua"] for r in ep.received()] == agents[:1]  # the two bots recognised, skipped
    assert "2 requests done by bots" in text
