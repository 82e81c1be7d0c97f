"""HTTP for the tracker's POSTs, the importer's hot path: http.client, one keep-alive connection
per sender thread.

httpx spends about 0.6 ms of CPU on a 200-hit bulk POST, http.client about 0.12 ms
(`benchmarks/run.py --profile` measures both). The API calls (api.py) stay on httpx. What the
httpx client does for the tracker is kept: the same TLS context (api.ssl_context: the same
certificates trusted, --ca-bundle, --client-cert, or none checked with
--accept-invalid-ssl-certificate), basic auth, the User-Agent and the timeouts (--connect-timeout
to open a connection, --request-timeout for the answer). A proxy set in
the environment for the tracker's host (HTTPS_PROXY/HTTP_PROXY, NO_PROXY) sends the POSTs
through the httpx client, which keeps its connections alive too. A redirect in an answer is
followed with the same method and body (api.post), and its target becomes the tracker URL for
the rest of the run.
"""
from __future__ import annotations

import base64
import http.client
import logging
import select
import socket
import threading
import urllib.request
from typing import NamedTuple
from urllib.parse import urlsplit

import httpx

from .api import post, ssl_context
from .config import Config

log = logging.getLogger("log_importer")


class Response(NamedTuple):
    status_code: int
    headers: object  # has .get(name), case-insensitive
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


def _proxied(url: str) -> bool:
    """Whether the environment routes this URL through a proxy (as httpx's trust_env does)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass_environment(parts.hostname or "", proxies)


class TrackerHttp:
    def __init__(self, config: Config, url: str, client: httpx.Client, user_agent: str, ssl_context=None):
        self.client = client  # the shared httpx client: proxies and redirects
        self.timeout = config.request_timeout
        self.connect_timeout = config.connect_timeout
        self.headers = {"User-Agent": user_agent}
        if config.auth_user is not None:
            userpass = ("%s:%s" % (config.auth_user, config.auth_password or "")).encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(userpass).decode()
        self._context = ssl_context
        self._config = config
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set = set()
        self._aim(url)

    def _aim(self, url: str):
        """Send to `url` from now on (at start, and after a redirect)."""
        parts = urlsplit(url)
        self.url = url
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        if self.https and self._context is None:
            self._context = ssl_context(self._config)
        self.ssl_context = self._context if self.https else None
        self.via_httpx = _proxied(url)

    def post(self, body: bytes, content_type: str) -> Response:
        """POST to the tracker URL. Raises OSError or http.client.HTTPException when the
        connection fails (responses.classify_exception knows them)."""
        if self.via_httpx:
            return self._post_httpx(body, content_type)
        conn = self._connection()
        headers = dict(self.headers)
        headers["Content-Type"] = content_type
        try:
            if conn.sock is None:  # open it within --connect-timeout, then wait for answers longer
                conn.connect()
                conn.sock.settimeout(self.timeout)
            conn.request("POST", self.target, body, headers)
            answer = conn.getresponse()
            content = answer.read()
        except BaseException:
            self._drop(conn)
            raise
        if answer.will_close:
            self._drop(conn)
        if 300 <= answer.status < 400 and answer.getheader("location"):
            return self._post_httpx(body, content_type)
        return Response(answer.status, answer.headers, content)

    def _post_httpx(self, body, content_type):
        url = self.url
        r, final = post(self.client, url, content=body, headers={"Content-Type": content_type})
        if final != url:
            with self._lock:
                if self.url == url:
                    log.info("the tracker redirects to %s: sending there from now on", final.partition("?")[0])
                    self._aim(final)
        return Response(r.status_code, r.headers, r.content)

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and (conn.host, conn.port) != (self.host, self.port or conn.default_port):
            self._drop(conn)  # the tracker moved (a redirect)
            conn = None
        if conn is not None and conn.sock is not None and _readable(conn.sock):
            # An idle keep-alive connection the server has closed (or that holds stray bytes):
            # a request on it would fail, so start a new one.
            self._drop(conn)
            conn = None
        if conn is None:
            if self.https:
                conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.connect_timeout,
                                                   context=self.ssl_context)
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout)
            self._local.conn = conn
            with self._lock:
                self._open.add(conn)
        return conn

    def _drop(self, conn):
        conn.close()
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        with self._lock:
            self._open.discard(conn)

    def cut(self):
        """End every request in progress now (a second signal): their threads see the
        connection fail. Called from a signal handler, so it never waits long for the lock."""
        if not self._lock.acquire(timeout=1.0):
            return
        try:
            conns = list(self._open)
        finally:
            self._lock.release()
        for conn in conns:
            sock = conn.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        with self._lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            conn.close()


def _readable(sock) -> bool:
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True
