"""Credentials over real HTTP against the embedded endpoint: each source of the token, the token
never in a URL, and never shown (debug output, errors, the summary JSON, the state files)."""
import json
import os

import pytest

from conftest import TOKEN, line
from log_importer import redaction
from test_import_http import importer, write


@pytest.fixture(autouse=True)
def _no_token_in_environment(monkeypatch):
    monkeypatch.delenv("MATOMO_TOKEN_AUTH", raising=False)
    monkeypatch.delenv("MATOMO_PASSWORD", raising=False)
    yield
    redaction.forget_all()


def token_file(tmp_path, mode=0o600, text=TOKEN + "\n"):
    path = tmp_path / "token"
    path.write_text(text)
    path.chmod(mode)
    return path


def imported(ep, args, tmp_path):
    log = write(tmp_path, [line()])
    code, text = importer(["--url", ep.url, "--idsite", 1] + args + [log])
    return code, text


def test_token_from_a_private_file(endpoint, tmp_path):
    ep = endpoint(refuse_url_tokens=True)
    code, text = imported(ep, ["--token-auth-file", token_file(tmp_path)], tmp_path)
    assert code == 0, text
    assert [r["outcome"] for r in ep.received()] == ["stored"]
    assert all(h["status"] != 401 for h in ep.http_log)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_token_file_others_may_read_is_refused(endpoint, tmp_path, mode):
    ep = endpoint()
    path = token_file(tmp_path, mode)
    code, text = imported(ep, ["--token-auth-file", path], tmp_path)
    assert code == 2
    assert text.strip() == ("log-importer: error: --token-auth-file %s holds a secret and others may read it "
                            "(mode %04o): run chmod 600 %s" % (path, mode, path))
    assert ep.http_log == []


def test_empty_token_file_and_both_token_options(endpoint, tmp_path):
    ep = endpoint()
    code, text = imported(ep, ["--token-auth-file", token_file(tmp_path, text="\n\n")], tmp_path)
    assert code == 2 and "is empty" in text
    code, text = imported(ep, ["--token-auth-file", token_file(tmp_path), "--token-auth", TOKEN], tmp_path)
    assert code == 2 and "either --token-auth or --token-auth-file" in text
    assert ep.http_log == []


def test_token_from_the_environment(endpoint, tmp_path, monkeypatch):
    ep = endpoint(refuse_url_tokens=True)
    monkeypatch.setenv("MATOMO_TOKEN_AUTH", TOKEN)
    code, text = imported(ep, [], tmp_path)
    assert code == 0, text
    assert len(ep.received()) == 1
    # --token-auth on the command line wins over the environment.
    monkeypatch.setenv("MATOMO_TOKEN_AUTH", "f" * 32)
    code, text = imported(ep, ["--token-auth", TOKEN, "--reimport"], tmp_path)
    assert code == 0, text


def test_login_with_the_password_from_the_environment(endpoint, tmp_path, monkeypatch):
    ep = endpoint(refuse_url_tokens=True)
    monkeypatch.setenv("MATOMO_PASSWORD", "secret")
    code, text = imported(ep, ["--login", "admin"], tmp_path)
    assert code == 0, text
    created = [h for h in ep.http_log if b"createAppSpecificTokenAuth" in h["body"]]
    assert len(created) == 1 and b"passwordConfirmation=secret" in created[0]["body"]
    assert "secret" not in created[0]["path"]
    monkeypatch.setenv("MATOMO_PASSWORD", "nope")
    code, text = imported(ep, ["--login", "admin", "--reimport"], tmp_path)
    assert code == 2 and "--login admin" in text and "nope" not in text
    monkeypatch.delenv("MATOMO_PASSWORD")
    code, text = imported(ep, ["--login", "admin"], tmp_path)
    assert code == 2 and "--login needs --password (or the MATOMO_PASSWORD environment variable)" in text


def test_the_token_is_never_in_a_url_on_any_path(endpoint, tmp_path):
    """The endpoint refuses every request with token_auth in its query string: API calls, the
    pre-flight, bulk and single tracking, site creation."""
    ep = endpoint(refuse_url_tokens=True)
    log = write(tmp_path, [line(host="new.example.net"), line(host="www.example.com")])
    for extra in ([], ["--disable-bulk-tracking", "--reimport"]):
        code, text = importer(["--url", ep.url, "--token-auth-file", token_file(tmp_path), "--add-sites-new-hosts",
                               "--recorders", 2] + extra + [log])
        assert code == 0, text
    assert len([r for r in ep.received() if r["outcome"] == "stored"]) == 4
    assert all(TOKEN not in h["path"] and "token_auth" not in h["path"] for h in ep.http_log)
    assert all(h["status"] in (200, 204) for h in ep.http_log)


def test_refused_url_token_is_a_token_problem(endpoint, tmp_path):
    """What an importer that puts the token in a URL gets from a Matomo 5 "secure only" token."""
    import httpx
    ep = endpoint(refuse_url_tokens=True)
    r = httpx.post(ep.url + "/index.php?token_auth=" + TOKEN, data={"module": "API", "format": "json",
                                                                     "method": "API.getMatomoVersion"})
    assert r.status_code == 401 and "required to be sent as a POST parameter" in r.json()["message"]
    r = httpx.post(ep.url + "/piwik.php?token_auth=" + TOKEN, content=b'{"requests":[]}')
    assert r.status_code == 401


def test_secrets_are_hidden_in_debug_output_summary_and_state(endpoint, tmp_path):
    ep = endpoint(fail_every=3)  # retries: their messages are logged
    log = write(tmp_path, [line(ip="192.0.2.%d" % i) for i in range(30)])
    summary = tmp_path / "summary.json"
    state = tmp_path / "state-dir"
    url = ep.url.replace("http://", "http://operator:hunter22@")
    code, text = importer(["--url", url, "--token-auth-file", token_file(tmp_path), "--idsite", 1, "-d", "-d",
                           "--debug-tracker", "--auth-user", "u", "--auth-password", "pa55word",
                           "--summary-json", summary, "--state-dir", state, "--retry-delay", 0,
                           "--recorder-max-payload-size", 5, "--show-progress", log])
    assert code == 0, text
    assert "tracker answer" in text and "retrying" in text
    written = text + summary.read_text() + "".join(p.read_text() for p in state.rglob("*.json"))
    for secret in (TOKEN, "pa55word", "hunter22"):
        assert secret not in written
    assert json.loads(summary.read_text())["exit_code"] == 0


def test_redaction_of_texts():
    redaction.register(TOKEN, "pa&ss")
    assert redaction.redact("a %s b" % TOKEN) == "a <hidden> b"
    assert redaction.redact("token_auth=abcdef0123&x=1") == "token_auth=<hidden>&x=1"
    assert redaction.redact('{"token_auth": "zz99"}') == '{"token_auth": "<hidden>"}'
    assert redaction.redact("https://me:pw@host/x") == "https://me:<hidden>@host/x"
    assert redaction.redact("password=pa%26ss") == "password=<hidden>"
    assert redaction.redact("a bit of text") == "a bit of text"
    # Only a value is hidden: the word after token_auth in prose is not a secret.
    assert redaction.redact("no token_auth: the token never travels") == "no token_auth: the token never travels"
    assert redaction.redact("{'token_auth': 'zz99', 'a': 1}") == "{'token_auth': '<hidden>', 'a': 1}"
    assert redaction.redact("GET /x?token_auth%3Dzz99 HTTP") == "GET /x?token_auth%3D<hidden> HTTP"


def test_an_error_message_echoing_the_token_is_redacted(tmp_path):
    """A server (a proxy, a misconfigured Matomo) that echoes the request in its error message."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            answer = json.dumps({"result": "error", "message": "bad request: " + body.decode()}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        code, text = importer(["--url", "http://127.0.0.1:%d" % srv.server_port, "--token-auth-file",
                               token_file(tmp_path), "--idsite", 1, write(tmp_path, [line()])])
    finally:
        srv.shutdown()
        srv.server_close()
    assert code == 2 and "bad request" in text
    assert TOKEN not in text and "<hidden>" in text


def test_a_token_in_request_suffix_or_url_is_refused(tmp_path):
    log = write(tmp_path, [line()])
    code, text = importer(["--url", "http://127.0.0.1:9", "--request-suffix", "token_auth=" + TOKEN, log])
    assert code == 2 and "--request-suffix must not hold token_auth" in text and TOKEN not in text
    code, text = importer(["--url", "http://127.0.0.1:9/?token_auth=" + TOKEN, log])
    assert code == 2 and TOKEN not in text
    assert ("--url must not hold token_auth: the token never travels in a URL (use --token-auth-file or "
            "MATOMO_TOKEN_AUTH)") in text


@pytest.mark.parametrize("name,content", [
    ("config.toml", 'url = "{url}"\ntoken-auth = "{token}"\nidsite = 1\nrecorders = 2\n'
                    'exclude-path = ["/a/*", "/b/*"]\nenable-http-errors = true\nenable-bots = false\n'
                    'files = ["{log}"]\n'),
    ("config.toml", '[log-importer]\nurl = "{url}"\ntoken_auth = "{token}"\nidsite = 1\n'
                    'exclude_path = ["/a/*", "/b/*"]\nenable_http_errors = true\nfiles = ["{log}"]\n'),
    ("importer.ini", '[log-importer]\nurl = {url}\ntoken-auth = {token}\nidsite = 1\n'
                     'exclude-path = /a/*\n    /b/*\nenable-http-errors = yes\nenable-bots = no\nfiles = {log}\n'),
])
def test_config_file_holds_every_option(endpoint, tmp_path, name, content):
    ep = endpoint()
    log = write(tmp_path, [line(request="GET /a/1 HTTP/1.1"), line(request="GET /b/2 HTTP/1.1"),
                           line(status=404), line()])
    path = tmp_path / name
    path.write_text(content.format(url=ep.url, token=TOKEN, log=log))
    path.chmod(0o600)
    code, text = importer(["--config-file", path])
    assert code == 0, text
    assert len(ep.received()) == 2  # the 404 (errors on) and the plain hit; /a and /b excluded
    assert "2 requests excluded by --exclude-path" in text
    # The command line wins: --idsite 2 over the file's idsite = 1.
    code, text = importer(["--config-file", path, "--idsite", 2, "--reimport"])
    assert code == 0, text
    assert [r["params"]["idsite"] for r in ep.received()][-2:] == [2, 2]


def test_default_config_file_and_its_errors(endpoint, tmp_path, monkeypatch):
    ep = endpoint()
    log = write(tmp_path, [line()])
    home = tmp_path / "xdg"
    (home / "log-importer").mkdir(parents=True)
    default = home / "log-importer" / "config.toml"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    default.write_text('url = "%s"\ntoken-auth = "%s"\nidsite = 1\n' % (ep.url, TOKEN))
    default.chmod(0o644)
    code, text = importer([log])
    assert code == 2 and "--config-file %s holds a secret and others may read it" % default in text
    default.chmod(0o600)
    code, text = importer([log])
    assert code == 0, text
    assert len(ep.received()) == 1
    assert "options read from the config file %s; those given on the command line replace its own" % default in text
    for body, message in [('nonsense = 1\n', "unknown option 'nonsense'"),
                          ('enable-bots = "maybe"\n', "enable-bots is a flag"),
                          ('idsite = [1, 2]\n', "idsite takes one value"),
                          ('url = \n', "--config-file %s:" % default)]:
        default.write_text(body)
        code, text = importer([log])
        assert code == 2 and message in text, text
        assert len(text.strip().splitlines()) == 1
    ini = tmp_path / "a.ini"
    ini.write_text("url = x\n")
    code, text = importer(["--config-file", ini, log])
    assert code == 2 and "--config-file %s:" % ini in text and "Traceback" not in text
    os.remove(default)


def test_log_records_are_redacted_also_under_the_progress_bar():
    import io
    import logging
    from tqdm.contrib.logging import logging_redirect_tqdm
    from log_importer.cli import setup_logging
    from log_importer.config import Config
    stream = io.StringIO()
    setup_logging(Config(debug=1), stream)
    redaction.register(TOKEN)
    log = logging.getLogger("log_importer")
    log.warning("answer: %s", "token_auth=%s" % TOKEN)
    with logging_redirect_tqdm(loggers=[log]):  # swaps the handler for tqdm's own
        log.handlers[0].stream = stream
        log.warning("under the bar: %s", TOKEN)
    assert TOKEN not in stream.getvalue() and stream.getvalue().count("<hidden>") == 2


def test_the_command_line_replaces_a_list_of_the_config_file(endpoint, tmp_path, monkeypatch):
    ep = endpoint()
    log = write(tmp_path, [line(ip="192.0.2.%d" % k, request="GET /%s/%d HTTP/1.1" % (part, k))
                           for k, part in enumerate(["a", "b", "c", "a", "b", "c"], 1)])
    home = tmp_path / "xdg"
    (home / "log-importer").mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    (home / "log-importer" / "config.toml").write_text(
        'url = "%s"\nidsite = 1\nexclude-path = ["/a/*"]\ndebug = 1\n' % ep.url)
    code, text = importer(["--token-auth", TOKEN, log])
    assert code == 0 and "2 requests excluded by --exclude-path" in text and "DEBUG" in text
    assert sorted(r["params"]["url"].rsplit("/", 2)[1] for r in ep.received()) == ["b", "b", "c", "c"]
    code, text = importer(["--token-auth", TOKEN, "--reimport", "--exclude-path", "/b/*", "--exclude-path", "/c/*",
                           log])
    assert code == 0 and "4 requests excluded by --exclude-path" in text, text
    assert sorted(r["params"]["url"].rsplit("/", 2)[1] for r in ep.received()[4:]) == ["a", "a"]
    assert "options read from the config file %s" % (home / "log-importer" / "config.toml") in text


def test_a_logged_token_is_hidden_in_the_summary_json_too(endpoint, tmp_path):
    """The trial: an invalid line quoting the run's own token (an API call the web server
    logged) put it in clear in --summary-json's invalid_reasons, though not on screen."""
    from conftest import cli
    ep = endpoint()
    log = tmp_path / "access.log"
    log.write_text("\n".join([line()] * 5 + ["junk GET /x?token_auth=%s zz" % TOKEN,
                                                  "junk with the token alone %s" % TOKEN]) + "\n")
    summary = tmp_path / "summary.json"
    code, text = cli(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--summary-json", summary, log])
    assert code == 0, text
    written = summary.read_text()
    assert TOKEN not in written and TOKEN not in text
    reasons = json.loads(written)["invalid_reasons"][str(log)]
    assert "token_auth=<hidden>" in json.dumps(reasons)
