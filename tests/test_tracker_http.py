"""The tracker's HTTP client (log_importer/tracker_http.py) against small real servers.

What the importer does end to end over it is covered by the other integration tests (every
import there goes through it); here are the cases the embedded endpoint doesn't produce:
connections the server closes, redirects, TLS and proxies.
"""
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import trustme

from log_importer.api import make_client
from log_importer.config import Config
from log_importer.responses import RETRY, classify_exception
from log_importer.sending import TRANSPORT_ERRORS
from log_importer.tracker_http import TrackerHttp

OK_BODY = b'{"status":"success","tracked":1,"invalid":0}'


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    close_after = False  # answer, then close the connection without saying so

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((self.path, self.headers.get("Authorization"), body))
        if self.path.startswith("/old"):
            self.send_response(307)
            self.send_header("Location", "/piwik.php?moved=1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(OK_BODY)))
        self.end_headers()
        self.wfile.write(OK_BODY)
        self.wfile.flush()
        if self.close_after:
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    servers = []

    def start(handler=Handler, context=None):
        srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        srv.daemon_threads = True
        srv.seen = []
        if context is not None:
            srv.socket = context.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv
    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def tracker(url, **options):
    config = Config(files=[], url=url, request_timeout=5, **options)
    client = make_client(config)
    return TrackerHttp(config, url + "/piwik.php?queuedtracking=0", client, "test-agent"), client


def test_keeps_the_connection_alive_and_sends_auth(server):
    srv = server()
    http, client = tracker("http://127.0.0.1:%d" % srv.server_port, auth_user="u", auth_password="p")
    try:
        for i in range(3):
            r = http.post(b'{"n":%d}' % i, "application/json")
            assert r.status_code == 200 and r.content == OK_BODY
        conn = http._local.conn
        assert conn is not None and len(http._open) == 1  # one connection for the three
        assert [s[2] for s in srv.seen] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
        assert srv.seen[0][0] == "/piwik.php?queuedtracking=0"
        assert srv.seen[0][1] == "Basic dTpw"  # base64("u:p")
    finally:
        http.close()
        client.close()


def test_a_connection_the_server_closed_is_replaced_not_an_error(server):
    class Closing(Handler):
        close_after = True
    srv = server(Closing)
    http, client = tracker("http://127.0.0.1:%d" % srv.server_port)
    try:
        first = http.post(b"1", "application/json")
        conn = http._local.conn
        for _ in range(50):  # wait until the server's close has reached us
            if conn.sock is None or socket.socket.recv(conn.sock, 1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                break
        second = http.post(b"2", "application/json")
        assert first.status_code == second.status_code == 200
        assert http._local.conn is not conn
        assert [s[2] for s in srv.seen] == [b"1", b"2"]  # each sent once
    finally:
        http.close()
        client.close()


def test_a_redirect_is_followed_through_httpx(server):
    srv = server()
    config = Config(files=[], url="http://127.0.0.1:%d" % srv.server_port, request_timeout=5)
    client = make_client(config)
    http = TrackerHttp(config, config.url + "/old/piwik.php", client, "test-agent")
    try:
        r = http.post(b"body", "application/json")
        assert r.status_code == 200 and r.content == OK_BODY
        # http.client met the 307 first; httpx then sent it again and followed it
        assert [s[0] for s in srv.seen] == ["/old/piwik.php", "/old/piwik.php", "/piwik.php?moved=1"]
        assert srv.seen[-1][2] == b"body"
    finally:
        http.close()
        client.close()


def test_refused_connection_is_a_retry():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    http, client = tracker("http://127.0.0.1:%d" % port)
    try:
        with pytest.raises(TRANSPORT_ERRORS) as e:
            http.post(b"x", "application/json")
        outcome = classify_exception(e.value)
        assert outcome.kind == RETRY and "cannot reach the tracker" in outcome.message
    finally:
        client.close()


@pytest.fixture
def tls(server, tmp_path):
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    srv = server(context=context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return "https://127.0.0.1:%d" % srv.server_port, str(ca_file)


def test_tls_certificate_is_checked(tls):
    url, _ = tls
    http, client = tracker(url)
    try:
        with pytest.raises(TRANSPORT_ERRORS) as e:
            http.post(b"x", "application/json")
        assert isinstance(e.value, ssl.SSLError)
        assert classify_exception(e.value).kind == RETRY
    finally:
        client.close()


def test_tls_with_accept_invalid_ssl_certificate(tls):
    url, _ = tls
    http, client = tracker(url, accept_invalid_ssl_certificate=True)
    try:
        assert http.post(b"x", "application/json").status_code == 200
    finally:
        http.close()
        client.close()


def test_tls_trusts_what_httpx_trusts(tls, monkeypatch):
    url, ca_file = tls
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)  # httpx's trust_env reads it
    http, client = tracker(url)
    try:
        assert http.post(b"x", "application/json").status_code == 200
        assert client.post(url + "/piwik.php", content=b"x").status_code == 200
    finally:
        http.close()
        client.close()


def test_a_proxy_from_the_environment_goes_through_httpx(monkeypatch, server):
    srv = server()
    url = "http://127.0.0.1:%d" % srv.server_port
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    http, client = tracker(url)
    assert http.via_httpx
    with pytest.raises(httpx.HTTPError):  # httpx tried the (unreachable) proxy, as before
        http.post(b"x", "application/json")
    assert srv.seen == []
    client.close()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    http, client = tracker(url)
    assert not http.via_httpx
    client.close()
