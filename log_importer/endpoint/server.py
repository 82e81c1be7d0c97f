"""The HTTP server and the `Endpoint` object that owns it.

Routes (exact paths, as at the root of a Matomo install; anything else is a 404, as Matomo's
web server answers, so that a wrong `--url` prefix is caught; HEAD is answered like GET, without
the body):
  /matomo.php, /piwik.php   Tracking API: GET, form POST, bulk JSON POST, OPTIONS
  /index.php, /             Reporting API (module=API), else a small index page
  /report.json, /report     what was stored, as JSON and as an HTML page
"""
from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import orjson

from . import faults as F
from .api import ReportingApi
from .auth import Tokens, new_token
from .load import Load
from .querystring import parse_query
from .report import build, render_page
from .sites import Site, host_of, normalise_site_url
from .store import Store, StoreError
from .timestamps import zone
from .tracking import GIF, MATOMO_TEXT, Reply, Tracker, is_bulk
from .visits import Visits


class EndpointError(Exception):
    """A problem starting the endpoint (bad option, port in use, unreadable db)."""


INDEX_PAGE = (b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Matomo-compatible "
              b"tracking endpoint</title></head><body><h1>Matomo-compatible tracking endpoint</h1>"
              b"<p>Tracking API: <code>/matomo.php</code>, <code>/piwik.php</code>. Reporting API: "
              b"<code>/index.php?module=API&amp;format=json&amp;method=...</code>.</p>"
              b"<p><a href='/report'>Report</a> | <a href='/report.json'>report.json</a></p>"
              b"</body></html>")


TRACKER_PATHS = ("/matomo.php", "/piwik.php")
NOT_FOUND_PAGE = (b"<!DOCTYPE html><html><head><title>404 Not Found</title></head><body>"
                  b"<h1>Not Found</h1><p>The requested URL was not found on this server.</p>"
                  b"</body></html>")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, handler, endpoint):
        self.endpoint = endpoint
        self.open_sockets: set = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, handler)

    def get_request(self):
        sock, address = super().get_request()
        context = self.endpoint.ssl_context
        if context is not None:  # the handshake happens in the connection's own thread
            sock = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request, client_address):
        """A client that hung up before its answer (an importer cutting its requests on a second
        signal), refused our TLS certificate or reset its connection is not an error of the
        endpoint's: no traceback for it (a ConnectionError is an OSError)."""
        if isinstance(sys.exc_info()[1], OSError) and not self.endpoint.verbose:
            return
        super().handle_error(request, client_address)

    def process_request(self, request, client_address):
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_all(self):
        with self.sockets_lock:
            socks = list(self.open_sockets)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MatomoCompatibleEndpoint/1"
    timeout = 120
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        if self.server.endpoint.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_OPTIONS(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def do_HEAD(self):
        self._handle()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self):
        ep: Endpoint = self.server.endpoint
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send(Reply(400, {"Content-Type": "text/plain"}, b"bad request body\n"), None)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        index = ep._log_http(self.command, self.path, headers, body, self.client_address)
        path, _, qs = self.path.partition("?")
        if "://" in path:  # absolute-form request target
            parts = urlsplit(self.path)
            path, qs = parts.path, parts.query
        try:
            if ep.refuse_url_tokens and "token_auth" in parse_query(qs):
                # Matomo 5's answer for a token created "only for secure requests" sent in a URL.
                reply = Reply(401, {"Content-Type": "application/json; charset=utf-8"}, orjson.dumps(
                    {"result": "error", "message": "Unable to authenticate with the provided token. It is either "
                     "invalid, expired or is required to be sent as a POST parameter."}))
            elif path in TRACKER_PATHS:
                reply = self._tracking(ep, index, qs, headers, body)
                if reply is None:  # a dropped connection
                    ep._log_status(index, None)
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
            elif path == "/report.json":
                reply = Reply(200, {"Content-Type": "application/json"}, orjson.dumps(ep.report()))
            elif path == "/report":
                reply = Reply(200, {"Content-Type": "text/html; charset=utf-8"},
                              ep.report_page(qs).encode())
            elif path in ("/index.php", "/"):
                reply = self._api(ep, qs, headers, body)
            else:
                reply = Reply(404, {"Content-Type": "text/html; charset=utf-8"}, NOT_FOUND_PAGE)
        except Exception as e:  # never let a bug hang the client: answer 500
            sys.stderr.write("log-importer-endpoint: internal error on %s %s: %r\n"
                             % (self.command, self.path, e))
            reply = Reply(500, {"Content-Type": "text/plain"}, b"internal error\n")
        self._send(reply, index)

    def _send(self, reply: Reply, index):
        ep: Endpoint = self.server.endpoint
        if index is not None:
            ep._log_status(index, reply.status)
        self.send_response(reply.status)
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.body and self.command != "HEAD":
            self._headers_buffer.append(b"\r\n" + reply.body)  # headers and body in one write
            self.flush_headers()
        else:
            self.end_headers()

    def _form(self, headers, body) -> dict:
        ctype = headers.get("content-type", "").lower()
        if body and ctype.startswith("application/x-www-form-urlencoded"):
            return parse_query(body.decode("utf-8", "replace"))
        return {}

    def _tracking(self, ep, index, qs, headers, body) -> Reply | None:
        method = "GET" if self.command == "HEAD" else self.command
        if method == "OPTIONS" and any(h.startswith("access-control-request-") for h in headers):
            return Reply(204, {
                "Access-Control-Allow-Origin": headers.get("origin", "*"),
                "Access-Control-Allow-Credentials": "true",
                "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Allow-Headers": "*"})
        fault = ep.faults.next()
        ep.faults.pause()
        if fault == F.DROP:
            return None
        cors = {}
        if method != "GET":
            cors = {"Access-Control-Allow-Origin": headers.get("origin", "*"),
                    "Access-Control-Allow-Credentials": "true"}
        query = parse_query(qs)
        bulk = method == "POST" and is_bulk(body) and ep.bulk_tracking
        if fault == F.FAIL:
            if bulk:
                reply = Reply(500, {"Content-Type": "application/json"},
                              b'{"status":"error","tracked":0,"invalid":0}')
            else:
                reply = Reply(500, {"Content-Type": "text/html; charset=utf-8"},
                              GIF + MATOMO_TEXT)
        elif fault == F.GARBAGE:
            reply = Reply(200, {"Content-Type": "text/html; charset=utf-8"}, F.GARBAGE_PAGE)
        elif fault == F.DB_GONE:
            reply = Reply(200, {"Content-Type": "text/html; charset=utf-8"}, F.DB_GONE_TEXT)
        else:
            rollback = fault == F.ROLLBACK
            ua = headers.get("user-agent", "")
            lang = headers.get("accept-language", "")
            peer = self.client_address[0]

            def process():
                if bulk:
                    return ep.tracker.bulk(index, body, query, ua, peer, rollback, lang)
                form = self._form(headers, body) if method == "POST" else {}
                params = {**form, **query}  # PHP's $_GET + $_POST: the query string wins
                send_image = params.get("send_image") != "0"
                return ep.tracker.single(index, params, method, send_image, ua, peer, rollback, lang)
            reply = process() if ep.load is None else ep.load.serve(process, bulk, index)  # load.py
        reply.headers.update(cors)
        return reply

    def _api(self, ep, qs, headers, body) -> Reply:
        query = parse_query(qs)
        form = self._form(headers, body) if self.command == "POST" else {}
        params = {**form, **query}
        if params.get("module") != "API":
            return Reply(200, {"Content-Type": "text/html; charset=utf-8"}, INDEX_PAGE)
        token_in_post = bool(form.get("token_auth")) and not query.get("token_auth")
        return ep.api.handle(params, token_in_post)


def _site_urls(value) -> list[str]:
    urls = [value] if isinstance(value, str) else list(value or [])
    return [normalise_site_url(u) for u in urls if u and u.strip()]


class Endpoint:
    """A Matomo-compatible tracking endpoint on a local port, backed by SQLite.

    Usable as a context manager (`with Endpoint(...) as ep:` starts and stops it).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, db: str | None = None,
                 token: str | None = None, sites: dict | None = None,
                 users: dict | None = None, write_tokens: dict | None = None,
                 fail_every: int = 0, drop_every: int = 0, rollback_every: int = 0,
                 garbage_every: int = 0, delay_ms: int = 0, goals: dict | None = None,
                 db_gone_every: int = 0,
                 keep_http_bodies: bool = True, verbose: bool = False, transactions: bool = True,
                 timezones: dict | None = None, dimensions: dict | None = None,
                 view_tokens: dict | None = None, refuse_url_tokens: bool = False, bulk_tracking: bool = True,
                 tls_cert: str | None = None, tls_key: str | None = None, tls_client_ca: str | None = None,
                 capacity: int | None = None, cost_ms_per_hit: float | None = None,
                 max_waiting: int | None = None):
        """`view_tokens`: token -> ids of the sites it may only view. `refuse_url_tokens`: any
        request with token_auth in its query string gets 401 (Matomo 5's answer for tokens made
        "only for secure requests"). `bulk_tracking=False`: as if BulkTracking were disabled (a
        bulk body is an ordinary request without parameters: 400). `tls_cert`/`tls_key`: serve
        HTTPS with this PEM certificate and key; `tls_client_ca`: also require a client
        certificate signed by this CA. `capacity`, `cost_ms_per_hit`, `max_waiting`: behave like
        a loaded Matomo (load.py)."""
        self.host = host
        self.view_tokens = dict(view_tokens or {})
        self.refuse_url_tokens = refuse_url_tokens
        self.bulk_tracking = bulk_tracking
        self.ssl_context = None
        if tls_cert:
            import ssl
            try:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(tls_cert, tls_key)
                if tls_client_ca:
                    context.load_verify_locations(tls_client_ca)
                    context.verify_mode = ssl.CERT_REQUIRED
            except (OSError, ssl.SSLError) as e:
                raise EndpointError("cannot use the TLS certificate %s: %s" % (tls_cert, e)) from None
            self.ssl_context = context
        self.transactions = transactions  # False: like bulk_requests_use_transaction=0
        self.port = port
        self.db = db
        self.token = token or new_token()
        self._sites_arg = dict(sites or {})
        self._goals_arg = {int(k): set(int(g) for g in v) for k, v in (goals or {}).items()}
        self._timezones_arg = {int(k): str(v) for k, v in (timezones or {}).items()}
        self._dimensions_arg = {int(k): {int(d): str(scope) for d, scope in v.items()}
                                for k, v in (dimensions or {}).items()}
        self.users = dict(users or {})
        self.write_tokens = dict(write_tokens or {})
        try:
            self.faults = F.Faults(fail_every, drop_every, rollback_every, garbage_every, delay_ms,
                                   db_gone_every)
        except ValueError as e:
            raise EndpointError(str(e)) from None
        self.load = None  # a loaded Matomo (load.py) when any of its three options is given
        if (capacity, cost_ms_per_hit, max_waiting) != (None, None, None):
            try:
                self.load = Load(capacity, cost_ms_per_hit, max_waiting)
            except ValueError as e:
                raise EndpointError(str(e)) from None
        self.keep_http_bodies = keep_http_bodies
        self.verbose = verbose
        self.http_log: list[dict] = []
        self.lock = threading.RLock()
        self._log_lock = threading.Lock()
        self._server = None
        self._thread = None
        self._temp_db = None
        self.store = None
        self.sites: dict[int, Site] = {}

    # Life cycle ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else "[%s]" % self.host
        return "%s://%s:%d" % ("https" if self.ssl_context else "http", host, self.port)

    def start(self) -> "Endpoint":
        if self._server is not None:
            return self
        if self.db is None:
            fd, self._temp_db = tempfile.mkstemp(prefix="endpoint-", suffix=".sqlite3")
            os.close(fd)
            path = self._temp_db
        else:
            path = self.db
        try:
            self.store = Store(path)
        except StoreError as e:
            self._remove_temp_db()
            raise EndpointError(str(e)) from None
        try:
            self._load()
            self._server = _Server((self.host, self.port), _Handler, self)
        except OSError as e:
            self.store.close()
            self._remove_temp_db()
            raise EndpointError("cannot listen on %s:%s: %s"
                                % (self.host, self.port, e.strerror or e)) from None
        except Exception:
            self.store.close()
            self._remove_temp_db()
            raise
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.02},
                                        name="endpoint-%d" % self.port, daemon=True)
        self._thread.start()
        return self

    def _load(self) -> None:
        store = self.store
        self.sites = store.load_sites()
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        for idsite, value in sorted(self._sites_arg.items()):
            idsite = int(idsite)
            if idsite <= 0:
                raise EndpointError("site ids must be positive, not %d" % idsite)
            urls = _site_urls(value)
            old = self.sites.get(idsite)
            site = Site(idsite=idsite, name=host_of(urls[0]) if urls else "Site %d" % idsite,
                        main_url=urls[0] if urls else "", aliases=urls[1:],
                        ts_created=old.ts_created if old else now,
                        goals=set(old.goals) if old else set(),
                        timezone=old.timezone if old else "UTC",
                        dimensions=dict(old.dimensions) if old else {})
            self.sites[idsite] = site
        for what, arg in (("goals", self._goals_arg), ("a time zone", self._timezones_arg),
                          ("custom dimensions", self._dimensions_arg)):
            for idsite in arg:
                if idsite not in self.sites:
                    raise EndpointError("%s given for site %d, which does not exist"
                                        % (what, idsite))
        for idsite, goals in self._goals_arg.items():
            self.sites[idsite].goals |= goals
        for idsite, name in self._timezones_arg.items():
            if zone(name) is None:
                raise EndpointError("unknown time zone %r for site %d (an IANA name such as "
                                    "Europe/Paris, or UTC+5.5)" % (name, idsite))
            self.sites[idsite].timezone = name
        for idsite, dims in self._dimensions_arg.items():
            for ident, scope in dims.items():
                if scope not in ("visit", "action") or ident <= 0:
                    raise EndpointError("custom dimension %d of site %d: the scope is visit or "
                                        "action, not %r" % (ident, idsite, scope))
            self.sites[idsite].dimensions.update(dims)
        for idsite in (set(self._sites_arg) | set(self._goals_arg) | set(self._timezones_arg)
                       | set(self._dimensions_arg)):
            site = self.sites[int(idsite)]
            site.refresh()
            store.save_site(site)
        self.tokens = Tokens(self.token, self.users, self.write_tokens, self.view_tokens)
        for token, login, expires in store.load_tokens():
            self.tokens.add_user_token(token, login, expires)
        self.visits = Visits(store.max_visit_id() + 1)
        self.visits_flushed = 0
        self.visits.load(store.load_visits())
        self.orders = store.load_orders()
        self.tracker = Tracker(self)
        self.api = ReportingApi(self)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_all()
            if self._thread is not None:
                self._thread.join(timeout=5)
        if self.store is not None:
            with self.lock:
                self.flush()
                self.store.close()
            self.store = None
        self._remove_temp_db()

    def _remove_temp_db(self) -> None:
        if self._temp_db:
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.remove(self._temp_db + suffix)
                except FileNotFoundError:
                    pass
            self._temp_db = None

    def __enter__(self) -> "Endpoint":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # What tests look at ----------------------------------------------------------------------
    def received(self) -> list[dict]:
        """Every tracking request processed since start, in processing order."""
        with self.lock:
            self.flush()
            return self.store.received()

    def report(self) -> dict:
        with self.lock:
            self.flush()
            return build(self.store, self.sites)

    def report_page(self, query: str = "") -> str:
        """The /report HTML page (`query`: its query string, e.g. "idSite=2")."""
        with self.lock:
            self.flush()
            return render_page(self, parse_query(query))

    def query(self, sql: str, args=()) -> list[tuple]:
        """Run a read-only SQL query on the endpoint's db (visits written first)."""
        with self.lock:
            self.flush()
            return self.store.query(sql, args)

    def flush(self) -> None:
        """Write the visits changed since the last write (call under the lock)."""
        if self.visits.dirty:
            self.store.write_batch([], self.visits.dirty_rows())
            self.visits.written()

    def add_site(self, site: Site) -> int:
        """Give `site` the next free id, store it and return the id (call under the lock)."""
        site.idsite = max(self.sites, default=0) + 1
        site.refresh()
        self.sites[site.idsite] = site
        self.store.save_site(site)
        return site.idsite

    # HTTP log --------------------------------------------------------------------------------
    def _log_http(self, method, path, headers, body, peer=None) -> int:
        with self._log_lock:
            self.http_log.append({"method": method, "path": path, "headers": headers,
                                  "body": body if self.keep_http_bodies else b"",
                                  "status": None, "peer": peer})
            return len(self.http_log) - 1

    def _log_status(self, index: int, status) -> None:
        self.http_log[index]["status"] = status
