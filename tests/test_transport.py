"""Transport against the embedded endpoint served over TLS with a test CA (trustme): --ca-bundle,
--client-cert/--client-key, --accept-invalid-ssl-certificate; a redirect from http to https that
keeps the POSTs and their bodies; HTTPS_PROXY; keep-alive connections on every path."""
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme

from conftest import TOKEN, line
from test_import_http import importer, tracking_calls, write


@pytest.fixture
def pki(tmp_path):
    """A test CA, the endpoint's certificate for 127.0.0.1, and a client certificate."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    client = ca.issue_cert("log-importer@example.org")
    files = {}
    for name, blob in [("ca", ca.cert_pem), ("cert", server.cert_chain_pems[0]),
                       ("key", server.private_key_pem), ("client", client.cert_chain_pems[0]),
                       ("client_key", client.private_key_pem)]:
        files[name] = str(tmp_path / (name + ".pem"))
        blob.write_to_path(files[name])
    files["client_both"] = str(tmp_path / "client-both.pem")
    client.private_key_and_cert_chain_pem.write_to_path(files["client_both"])
    return files


def tls_endpoint(endpoint, pki, client_ca=False):
    return endpoint(tls_cert=pki["cert"], tls_key=pki["key"], tls_client_ca=pki["ca"] if client_ca else None)


def run(ep_url, args, tmp_path, n=1):
    log = write(tmp_path, [line(ip="192.0.2.%d" % (i + 1)) for i in range(n)])
    return importer(["--url", ep_url, "--token-auth", TOKEN, "--idsite", 1, "--retry-max-attempts", 1] + args + [log])


def test_tls_with_a_ca_bundle(endpoint, pki, tmp_path):
    ep = tls_endpoint(endpoint, pki)
    assert ep.url.startswith("https://")
    code, text = run(ep.url, ["--retry-max-attempts", 3], tmp_path)
    assert code == 2 and "CERTIFICATE_VERIFY_FAILED" in text and len(text.strip().splitlines()) == 1
    assert "give its certificate with --ca-bundle FILE (PEM)" in text and "retrying" not in text
    other = trustme.CA()
    other.cert_pem.write_to_path(str(tmp_path / "other.pem"))
    code, text = run(ep.url, ["--ca-bundle", tmp_path / "other.pem"], tmp_path)
    assert code == 2 and "no certificate authority of --ca-bundle %s signed it" % (tmp_path / "other.pem") in text
    code, text = run(ep.url, ["--ca-bundle", pki["ca"]], tmp_path)
    assert code == 0, text
    assert [r["outcome"] for r in ep.received()] == ["stored"]
    code, text = run(ep.url, ["--accept-invalid-ssl-certificate", "--reimport"], tmp_path)
    assert code == 0, text
    assert len(ep.received()) == 2


def test_tls_with_a_client_certificate(endpoint, pki, tmp_path):
    ep = tls_endpoint(endpoint, pki, client_ca=True)
    code, text = run(ep.url, ["--ca-bundle", pki["ca"]], tmp_path)
    assert code == 2 and "cannot reach" in text
    code, text = run(ep.url, ["--ca-bundle", pki["ca"], "--client-cert", pki["client"], "--client-key",
                              pki["client_key"]], tmp_path, n=5)
    assert code == 0, text
    assert len(ep.received()) == 5
    code, text = run(ep.url, ["--ca-bundle", pki["ca"], "--client-cert", pki["client_both"], "--reimport"], tmp_path)
    assert code == 0, text


@pytest.mark.parametrize("args,message", [
    (["--ca-bundle", "/nonexistent/ca.pem"], "--ca-bundle /nonexistent/ca.pem: no such file"),
    (["--client-key", "{key}"], "--client-key needs --client-cert"),
    (["--ca-bundle", "{key}"], "not a PEM file of certificates"),
    (["--client-cert", "{ca}"], "--client-cert {ca}: cannot load the certificate and its key"),
])
def test_tls_option_errors(pki, tmp_path, args, message):
    args = [a.format(**pki) for a in args]
    code, text = run("https://127.0.0.1:9", args, tmp_path)
    assert code == 2 and message.format(**pki) in text and len(text.strip().splitlines()) == 1, text


class Redirect(BaseHTTPRequestHandler):
    """Sends every request elsewhere, as a web server moving http to https does (301)."""
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append(self.path)
        self.send_response(self.server.status)
        self.send_header("Location", self.server.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def redirector(target, status=301):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    srv.daemon_threads = True
    srv.target, srv.status, srv.seen = target, status, []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_to_https_keeps_the_posts_and_their_bodies(endpoint, pki, tmp_path, status):
    ep = tls_endpoint(endpoint, pki)
    srv = redirector(ep.url, status)
    try:
        code, text = run("http://127.0.0.1:%d" % srv.server_port, ["--ca-bundle", pki["ca"],
                                                                   "--recorder-max-payload-size", 2], tmp_path, n=6)
    finally:
        srv.shutdown()
        srv.server_close()
    assert code == 0, text
    assert len(ep.received()) == 6
    assert all(h["method"] == "POST" and h["body"] for h in ep.http_log)
    # Only the first API call and the pre-flight went through the redirect; later requests go straight.
    assert srv.seen == ["/index.php", "/piwik.php?queuedtracking=0"]
    assert "redirects to %s/piwik.php" % ep.url in text


def test_a_redirect_from_https_to_http_is_refused(endpoint, pki, tmp_path):
    ep = endpoint()
    ca = trustme.CA()
    srv = redirector(ep.url)
    context = __import__("ssl").create_default_context(__import__("ssl").Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    ca_file = tmp_path / "other-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    try:
        code, text = run("https://127.0.0.1:%d" % srv.server_port, ["--ca-bundle", ca_file], tmp_path)
    finally:
        srv.shutdown()
        srv.server_close()
    assert code == 2 and "refusing a redirect from https to http" in text and TOKEN not in text
    assert ep.http_log == []


def test_keep_alive_on_every_path(endpoint, tmp_path):
    """API calls, the pre-flight and 40 bulk POSTs from 2 senders: a handful of connections."""
    ep = endpoint()
    log = write(tmp_path, [line(host="www.example.com", ip="192.0.2.%d" % (i % 50 + 1)) for i in range(200)])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--recorders", 2, "--recorder-max-payload-size", 5,
                           log])
    assert code == 0, text
    assert len(tracking_calls(ep)) > 40
    assert len({h["peer"] for h in ep.http_log}) <= 4  # httpx's API connection, the pre-flight's, 2 senders
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--disable-bulk-tracking", "--recorders", 2, log])
    assert code == 0, text
    posts = [h for h in tracking_calls(ep) if h["method"] == "POST"]
    assert len(posts) == 200 and len({h["peer"] for h in ep.http_log}) <= 4


class ConnectProxy(BaseHTTPRequestHandler):
    """A small HTTPS proxy: CONNECT host:port, then bytes both ways."""

    def do_CONNECT(self):
        host, _, port = self.path.partition(":")
        self.server.seen.append(self.path)
        upstream = socket.create_connection((host, int(port)))
        self.send_response(200, "Connection established")
        self.end_headers()
        conns = [self.connection, upstream]
        try:
            while True:
                ready = select.select(conns, [], [], 5)[0]
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is self.connection else self.connection).sendall(data)
        finally:
            upstream.close()

    def log_message(self, *args):
        pass


def test_https_proxy_from_the_environment(endpoint, pki, tmp_path, monkeypatch):
    ep = tls_endpoint(endpoint, pki)
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), ConnectProxy)
    proxy.daemon_threads = True
    proxy.seen = []
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:%d" % proxy.server_port)
    try:
        code, text = run(ep.url, ["--ca-bundle", pki["ca"], "--recorder-max-payload-size", 2], tmp_path, n=6)
        assert code == 0, text
        assert len(ep.received()) == 6
        tunnels = len(proxy.seen)
        assert tunnels >= 1 and set(proxy.seen) == {ep.url.partition("://")[2]}
        # NO_PROXY: straight to Matomo.
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        code, text = run(ep.url, ["--ca-bundle", pki["ca"], "--reimport"], tmp_path)
        assert code == 0, text
        assert len(proxy.seen) == tunnels and len(ep.received()) == 7
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_api_url_tracker_path_and_request_suffix(endpoint, tmp_path):
    """--api-url: the Reporting API elsewhere than the tracker (a second endpoint with the same sites)."""
    tracker, api = endpoint(), endpoint()
    code, text = importer(["--url", tracker.url, "--api-url", api.url, "--token-auth", TOKEN,
                           "--tracker-endpoint-path", "matomo.php", "--request-suffix", "instance=7",
                           write(tmp_path, [line(host="blog.example.org")])])
    assert code == 0, text
    assert {h["path"].split("?")[0] for h in api.http_log} == {"/index.php"}
    assert {h["path"] for h in tracker.http_log} == {"/matomo.php?queuedtracking=0&instance=7"}
    assert [r["params"]["idsite"] for r in tracker.received()] == [2] and api.received() == []
    assert all(h["path"] == "/index.php?instance=7" for h in api.http_log)
