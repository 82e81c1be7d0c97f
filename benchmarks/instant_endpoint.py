"""A Matomo stand-in that acknowledges every bulk tracking request at once (issue 5 benchmarks).

    .venv/bin/python benchmarks/instant_endpoint.py [--port 0] [--count fast|parse] [--token T]

Listens on 127.0.0.1 (a free port by default) and prints `listening on http://127.0.0.1:PORT`
once ready. HTTP/1.1 keep-alive, one asyncio protocol per connection, no framework, so that the
importer, not this server, is what a benchmark measures. It answers:

- POST /index.php (form): API.getMatomoVersion -> {"value":"5.2.0"};
  SitesManager.getSiteFromId -> the site with main_url https://www.example.com;
  SitesManager.getSitesIdFromSiteUrl -> [{"idsite":1}]; SitesManager.getAllSites -> [site 1];
  UsersManager.hasSuperUserAccess -> {"value":true}; SitesManager.getSitesIdWith{Admin,Write}Access
  -> [1] (the importer's checks of the token's access before the first hit).
- POST /piwik.php or /matomo.php (JSON bulk body `{"requests":[...],"token_auth":"..."}`):
  200 {"status":"success","tracked":N,"invalid":0} where N is the number of requests.
- GET /stats: {"bulk_posts":..,"tracked":..,"bytes":..,"verified":..,"mismatches":..,"errors":..}
  (what a benchmark compares with the importer's own count).

Counting the requests of a bulk body:
- `--count fast` (default): the number of `{"` in the body, minus the outer object. Exact for the
  importer's requests, which are flat JSON objects (a `"` inside a JSON string is always escaped,
  so `{"` cannot occur inside a string). Every `--verify-every`-th body (default 50) is also fully
  decoded with orjson and the two counts compared; a difference is counted in `mismatches`.
- `--count parse`: orjson.loads every body and take len(requests).
A token given with `--token` is checked (bulk bodies: the token_auth field; API: the form field).
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from urllib.parse import parse_qs

import orjson

SITE = {"idsite": "1", "name": "Example", "main_url": "https://www.example.com",
        "ts_created": "2024-01-01 00:00:00", "timezone": "UTC", "currency": "USD",
        "excluded_ips": "", "excluded_parameters": "", "sitesearch": "1", "type": "website"}

STATS = {"bulk_posts": 0, "tracked": 0, "bytes": 0, "verified": 0, "mismatches": 0, "errors": 0,
         "api_calls": 0}


def _response(status: int, body: bytes, content_type: bytes = b"application/json") -> bytes:
    reason = {200: b"OK", 400: b"Bad Request", 401: b"Unauthorized", 404: b"Not Found"}.get(status, b"X")
    return (b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            % (status, reason, content_type, len(body))) + body


class App:
    def __init__(self, token: str | None, count_mode: str, verify_every: int):
        self.token = token
        self.token_json = orjson.dumps(token) if token else None
        self.parse = count_mode == "parse"
        self.verify_every = max(0, verify_every)

    def handle(self, method: bytes, target: bytes, body: bytes) -> bytes:
        path, _, query = target.partition(b"?")
        if method == b"POST" and (path.endswith(b"/piwik.php") or path.endswith(b"/matomo.php")):
            return self.bulk(body)
        if path.endswith(b"/index.php") or path == b"/":
            return self.api(body if method == b"POST" else query)
        if path == b"/stats":
            return _response(200, orjson.dumps(STATS))
        return _response(404, b'{"result":"error","message":"not found"}')

    def bulk(self, body: bytes) -> bytes:
        s = STATS
        s["bulk_posts"] += 1
        s["bytes"] += len(body)
        if not body.startswith(b'{"requests":['):
            if body[:1] != b"{":  # a form POST (--disable-bulk-tracking): one hit
                s["tracked"] += 1
                return _response(200, b'{"status":"success","tracked":1,"invalid":0}')
            s["errors"] += 1
            return _response(400, b'{"status":"error","message":"not a bulk request"}')
        if self.token_json is not None and self.token_json not in body[-200:]:
            s["errors"] += 1
            return _response(401, b'{"status":"error","message":"token_auth is not valid"}')
        if self.parse:
            try:
                n = len(orjson.loads(body)["requests"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                s["errors"] += 1
                return _response(400, b'{"status":"error","message":"invalid JSON"}')
        else:
            n = body.count(b'{"') - 1
            if self.verify_every and s["bulk_posts"] % self.verify_every == 0:
                s["verified"] += 1
                try:
                    full = len(orjson.loads(body)["requests"])
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    full = -1
                if full != n:
                    s["mismatches"] += 1
                    n = full if full >= 0 else n
        s["tracked"] += n
        return _response(200, b'{"status":"success","tracked":%d,"invalid":0}' % n)

    def api(self, raw: bytes) -> bytes:
        STATS["api_calls"] += 1
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}
        if self.token and form.get("token_auth") != self.token:
            return _response(401, b'{"result":"error","message":"token_auth is not valid"}')
        m = form.get("method", "")
        if m == "API.getMatomoVersion":
            out = {"value": "5.2.0"}
        elif m == "SitesManager.getSiteFromId":
            if str(form.get("idSite", "")) != "1":
                return _response(200, b'{"result":"error","message":"The site id does not exist"}')
            out = SITE
        elif m == "SitesManager.getSitesIdFromSiteUrl":
            out = [{"idsite": 1}]
        elif m == "SitesManager.getAllSites":
            out = [SITE]
        elif m == "UsersManager.hasSuperUserAccess":
            out = {"value": True}
        elif m in ("SitesManager.getSitesIdWithAdminAccess", "SitesManager.getSitesIdWithWriteAccess"):
            out = [1]
        else:
            return _response(200, orjson.dumps({"result": "error", "message": "unknown method " + m}))
        return _response(200, orjson.dumps(out))


class HttpProtocol(asyncio.Protocol):
    """HTTP/1.1 with Content-Length or chunked bodies; keep-alive unless `Connection: close`."""

    def __init__(self, app: App):
        self.app = app
        self.buf = bytearray()
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buf += data
        while True:
            buf = self.buf
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0:
                if len(buf) > 65536:
                    self.transport.close()
                return
            head = bytes(buf[:head_end])
            lines = head.split(b"\r\n")
            try:
                method, target, _version = lines[0].split(b" ", 2)
            except ValueError:
                self.transport.write(_response(400, b"{}"))
                self.transport.close()
                return
            length = 0
            chunked = False
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            start = head_end + 4
            if chunked:
                body, consumed = _dechunk(buf, start)
                if body is None:
                    return
                end = consumed
            else:
                end = start + length
                if len(buf) < end:
                    return
                body = bytes(buf[start:end])
            del buf[:end]
            self.transport.write(self.app.handle(method, target, body))
            if close:
                self.transport.close()
                return


def _dechunk(buf: bytearray, pos: int):
    """(body, end position) of a complete chunked body at pos, or (None, 0) if incomplete."""
    parts = []
    while True:
        nl = buf.find(b"\r\n", pos)
        if nl < 0:
            return None, 0
        size = int(bytes(buf[pos:nl]).split(b";")[0], 16)
        pos = nl + 2
        if size == 0:
            end = buf.find(b"\r\n", pos)  # trailers end with an empty line
            while end >= 0 and end != pos:
                pos = end + 2
                end = buf.find(b"\r\n", pos)
            if end < 0:
                return None, 0
            return b"".join(parts), end + 2
        if len(buf) < pos + size + 2:
            return None, 0
        parts.append(bytes(buf[pos:pos + size]))
        pos += size + 2


async def serve(port: int, app: App):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpProtocol(app), "127.0.0.1", port, backlog=128)
    real_port = server.sockets[0].getsockname()[1]
    print("listening on http://127.0.0.1:%d" % real_port, flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    print("stats " + orjson.dumps(STATS).decode(), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", default=None, help="token_auth to require (default: accept any)")
    p.add_argument("--count", choices=("fast", "parse"), default="fast")
    p.add_argument("--verify-every", type=int, default=50,
                   help="with --count fast, fully decode every N-th body and compare (0: never)")
    a = p.parse_args(argv)
    asyncio.run(serve(a.port, App(a.token, a.count, a.verify_every)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
