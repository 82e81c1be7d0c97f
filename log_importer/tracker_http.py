"""HTTP for the tracker's POSTs, the importer's hot path: http.client, one keep-alive connection
per sender thread.

httpx spends about 0.6 ms of CPU on a 200-hit bulk POST, http.client about 0.12 ms
(`benchmarks/run.py --profile` measures both). The API calls (api.py) stay on httpx. What the
httpx client does for the tracker is kept: the same TLS context (`httpx.create_ssl_context`, so
the same certificates are trusted, or none are checked with --accept-invalid-ssl-certificate),
basic auth, the User-Agent and the timeout. Two rare cases go to the httpx client instead, so
that they behave exactly as before: an HTTP proxy set in the environment for the tracker's host,
and a redirect in the answer (httpx follows it).
"""
from __future__ import annotations

import base64
import http.client
import select
import socket
import threading
import urllib.request
from typing import NamedTuple
from urllib.parse import urlsplit

import httpx

from .config import Config


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
    def __init__(self, config: Config, url: str, client: httpx.Client, user_agent: str):
        self.url = url
        self.client = client  # the shared httpx client: proxies and redirects
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        self.timeout = config.request_timeout
        self.headers = {"User-Agent": user_agent}
        if config.auth_user is not None:
            userpass = ("%s:%s" % (config.auth_user, config.auth_password or "")).encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(userpass).decode()
        self.ssl_context = (httpx.create_ssl_context(verify=not config.accept_invalid_ssl_certificate)
                            if self.https else None)
        self.via_httpx = _proxied(url)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set = set()

    def post(self, body: bytes, content_type: str) -> Response:
        """POST to the tracker URL. Raises OSError or http.client.HTTPException when the
        connection fails (responses.classify_exception knows them)."""
        if self.via_httpx:
            return self._post_httpx(body, content_type)
        conn = self._connection()
        headers = dict(self.headers)
        headers["Content-Type"] = content_type
        try:
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
        r = self.client.post(self.url, content=body, headers={"Content-Type": content_type})
        return Response(r.status_code, r.headers, r.content)

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and conn.sock is not None and _readable(conn.sock):
            # An idle keep-alive connection the server has closed (or that holds stray bytes):
            # a request on it would fail, so start a new one.
            self._drop(conn)
            conn = None
        if conn is None:
            if self.https:
                conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                                   context=self.ssl_context)
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
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
