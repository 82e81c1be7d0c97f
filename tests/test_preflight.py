"""The checks before the first hit: each misconfiguration is one line, exit 2, and nothing sent.

Against the embedded endpoint answering as Matomo 5 does (a wrong token in a POST body: HTTP 401
and an HTML page; view-only tokens; BulkTracking disabled), and, for "not a Matomo", against
small real servers that answer something else.
"""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from conftest import TOKEN, WRITE_TOKEN, line
from test_import_http import importer, write

VIEW_TOKEN = "5eed5eed5eed5eed5eed5eed5eed5eed"


def run_against(ep, args, tmp_path, lines=None):
    log = write(tmp_path, lines or [line(host="www.example.com")])
    return importer(["--url", ep.url if hasattr(ep, "url") else ep, "--retry-max-attempts", 1] + args + [log])


def one_line_exit_2(code, text, ep=None):
    assert code == 2, text
    assert len(text.strip().splitlines()) == 1, text
    assert "Traceback" not in text
    if ep is not None:
        assert ep.received() == []
        assert not any(b'"requests":[{' in h["body"] for h in ep.http_log)


@pytest.mark.parametrize("args,message", [
    # A wrong token: Matomo 5's 401 HTML page is a token problem, not a URL problem.
    (["--token-auth", "f" * 32, "--idsite", 1],
     'Matomo refused the token: it is invalid or expired (HTTP 401 "Unable to authenticate with the provided '
     'token"): check --token-auth'),
    # A view-only token passes API.getMatomoVersion, but cannot import.
    (["--token-auth", VIEW_TOKEN, "--idsite", 1],
     "--idsite 1: the token has only view access to site 1; importing needs write access"),
    (["--token-auth", VIEW_TOKEN],
     "the token has no write access to any site (a token with view access cannot import): give a token of a "
     "user with write or admin access"),
    (["--token-auth", WRITE_TOKEN, "--idsite", 2],
     "--idsite 2: site 2 does not exist, or the token has no access to it"),
    (["--token-auth", WRITE_TOKEN, "--idsite-fallback", 2],
     "--idsite-fallback 2: site 2 does not exist, or the token has no access to it"),
    (["--token-auth", TOKEN, "--idsite", 99], "--idsite 99: site 99 does not exist in Matomo"),
    (["--token-auth", WRITE_TOKEN, "--add-sites-new-hosts"],
     "--add-sites-new-hosts needs a super user's token: this token cannot create sites"),
    (["--token-auth", TOKEN, "--idsite", 1, "--tracker-endpoint-path", "/nope.php"],
     "the tracker http://{host}/nope.php does not exist (HTTP 404): check --url and --tracker-endpoint-path"),
    (["--token-auth", TOKEN, "--idsite", 1, "--tracker-endpoint-path", "/nope.php", "--disable-bulk-tracking"],
     "the tracker http://{host}/nope.php does not exist (HTTP 404): check --url and --tracker-endpoint-path"),
    (["--token-auth", TOKEN, "--idsite", 1, "--tracker-endpoint-path", "/index.php", "--disable-bulk-tracking"],
     "http://{host}/index.php did not answer like Matomo's tracker (HTTP 200): check --tracker-endpoint-path "
     "(matomo.php or piwik.php)"),
    (["--token-auth", TOKEN, "--idsite", 1, "--tracker-endpoint-path", "/index.php"],
     "http://{host}/index.php answered an HTML page, not Matomo's tracker: check --tracker-endpoint-path "
     "(matomo.php or piwik.php)"),
])
def test_misconfigurations(endpoint, tmp_path, args, message):
    ep = endpoint(view_tokens={VIEW_TOKEN: [1, 2]})
    code, text = run_against(ep, args, tmp_path)
    one_line_exit_2(code, text, ep)
    assert text.strip() == "log-importer: error: " + message.format(host=ep.url.partition("://")[2])


def test_an_expired_token(endpoint, tmp_path):
    ep = endpoint()
    r = httpx.post(ep.url + "/index.php", data={
        "module": "API", "format": "json", "method": "UsersManager.createAppSpecificTokenAuth",
        "userLogin": "admin", "passwordConfirmation": "secret", "description": "x",
        "expireDate": "2020-01-01 00:00:00"})
    expired = r.json()["value"]
    code, text = run_against(ep, ["--token-auth", expired, "--idsite", 1], tmp_path)
    one_line_exit_2(code, text, ep)
    assert "Matomo refused the token: it is invalid or expired" in text and expired not in text


def test_bulk_tracking_disabled(endpoint, tmp_path):
    ep = endpoint(bulk_tracking=False)
    code, text = run_against(ep, ["--token-auth", TOKEN, "--idsite", 1], tmp_path)
    one_line_exit_2(code, text)
    # The pre-flight's empty bulk request, seen as a request without parameters, is all it got.
    assert [r["params"] for r in ep.received()] == [{"queuedtracking": "0"}]
    assert "the BulkTracking plugin is disabled; activate it, or use --disable-bulk-tracking" in text
    code, text = run_against(ep, ["--token-auth", TOKEN, "--idsite", 1, "--disable-bulk-tracking"], tmp_path)
    assert code == 0, text
    assert [r["outcome"] for r in ep.received()][1:] == ["stored"]


def test_unreachable(tmp_path):
    code, text = run_against("http://127.0.0.1:9", ["--token-auth", TOKEN, "--idsite", 1], tmp_path)
    one_line_exit_2(code, text)
    assert "cannot reach" in text and "check --url" in text


def serve(status, content_type, body, headers=()):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.mark.parametrize("status,ctype,body,headers,message", [
    (200, "text/html", b"<html><body>Welcome to nginx!</body></html>", (),
     "http://{host}/index.php is not a Matomo API: it answered HTTP 200 with text/html, not JSON"),
    (200, "application/json", json.dumps({"status": "ok"}).encode(), (),
     'http://{host}/index.php is not a Matomo API: API.getMatomoVersion answered {{"status":"ok"}}'),
    (401, "text/html", b"<html>Authorization Required</html>", (("WWW-Authenticate", 'Basic realm="x"'),),
     "the web server in front of Matomo asks for HTTP basic auth (HTTP 401): check --auth-user and "
     "--auth-password"),
])
def test_not_a_matomo(tmp_path, status, ctype, body, headers, message):
    srv = serve(status, ctype, body, headers)
    try:
        url = "http://127.0.0.1:%d" % srv.server_port
        code, text = run_against(url, ["--token-auth", TOKEN, "--idsite", 1], tmp_path)
    finally:
        srv.shutdown()
        srv.server_close()
    one_line_exit_2(code, text)
    assert message.format(host="127.0.0.1:%d" % srv.server_port) in text


def test_hosts_of_sites_the_token_may_only_view_are_skipped_before_sending(endpoint, tmp_path):
    """Their hits would each be refused by Matomo: skipped with a warning naming the host instead."""
    ep = endpoint(write_tokens={WRITE_TOKEN: [1]}, view_tokens={WRITE_TOKEN: [2]})
    lines = [line(host="www.example.com"), line(host="blog.example.org")]
    code, text = run_against(ep, ["--token-auth", WRITE_TOKEN], tmp_path, lines)
    assert code == 0, text
    assert [r["params"]["idsite"] for r in ep.received()] == [1]
    assert "host blog.example.org is Matomo site 2, which the token cannot write to: its hits are skipped" in text


def test_a_passing_tracker_failure_during_the_checks_is_retried_not_a_wrong_setting(endpoint, tmp_path):
    """The trial: a tracker answering 500 once to the check before sending stopped a cron run
    with exit 2, which says to fix the command; the API check and the batches retry such answers."""
    ep = endpoint(fail_every=1)  # every tracker call fails: the check retries, then gives up
    log = write(tmp_path, [line()])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--retry-max-attempts", 3,
                           "--retry-delay", 0, log])
    assert code == 2, text
    assert text.count("to the check before sending; retrying in 0.0 s") == 2
    assert "(attempt 3 of 3)" in text and "is not usable: HTTP 500" in text
    assert ep.received() == [] and sum(1 for h in ep.http_log if h["path"].startswith("/piwik.php")) == 3


def test_the_tracker_url_of_matomo_s_snippet_is_taken_as_its_folder(endpoint, tmp_path):
    """The trial gave --url https://host/matomo.php (the tracker URL of Matomo's JavaScript
    snippet) and was told that .../matomo.php/index.php is not a Matomo API."""
    ep = endpoint()
    log = write(tmp_path, [line()])
    code, text = importer(["--url", ep.url + "/matomo.php", "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0, text
    assert [h["path"].partition("?")[0] for h in ep.http_log if "php" in h["path"]][-1] == "/matomo.php"
    assert len(ep.received()) == 1
