"""`log-importer-endpoint`: run the Matomo-compatible tracking endpoint until interrupted."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from urllib.parse import urlsplit

from .server import Endpoint, EndpointError

PROG = "log-importer-endpoint"


def _site(text: str) -> tuple[int, str]:
    ident, sep, url = text.partition("=")
    url = url.strip()
    try:
        parts = urlsplit(url)
        usable = sep and parts.scheme in ("http", "https") and parts.hostname
    except ValueError:  # an IPv6 literal without its closing bracket, a bad port
        usable = False
    if not usable:
        raise argparse.ArgumentTypeError("expected ID=URL with an http:// or https:// URL, e.g. "
                                         "1=https://www.example.com; got %r" % text)
    return _positive(ident, "site id"), url


def _user(text: str) -> tuple[str, str]:
    login, sep, password = text.partition(":")
    if not sep or not login or not password:
        raise argparse.ArgumentTypeError("expected LOGIN:PASSWORD, got %r" % text)
    return login, password


def _write_token(text: str) -> tuple[str, list[int]]:
    token, sep, ids = text.partition("=")
    if not sep or not token or not ids:
        raise argparse.ArgumentTypeError("expected TOKEN=ID[,ID...], got %r" % text)
    return token, [_positive(i, "site id") for i in ids.split(",")]


def _goal(text: str) -> tuple[int, int]:
    site, sep, goal = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError("expected SITE=GOAL, e.g. 1=1; got %r" % text)
    return _positive(site, "site id"), _positive(goal, "goal id")


def _timezone(text: str) -> tuple[int, str]:
    site, sep, name = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError("expected SITE=TIMEZONE, e.g. 1=Europe/Paris; got %r"
                                         % text)
    return _positive(site, "site id"), name.strip()


def _dimension(text: str) -> tuple[int, int, str]:
    site, sep, rest = text.partition("=")
    ident, sep2, scope = rest.partition(":")
    if not sep or not sep2 or scope not in ("visit", "action"):
        raise argparse.ArgumentTypeError("expected SITE=ID:visit or SITE=ID:action, e.g. "
                                         "1=2:action; got %r" % text)
    return _positive(site, "site id"), _positive(ident, "dimension id"), scope


def _positive(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%s must be a whole number, not %r" % (what, text))
    if value <= 0:
        raise argparse.ArgumentTypeError("%s must be > 0, not %d" % (what, value))
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number >= 0, not %r" % text)
    if value < 0:
        raise argparse.ArgumentTypeError("expected a whole number >= 0, not %d" % value)
    return value


def _cost(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected milliseconds >= 0, not %r" % text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("expected milliseconds >= 0, not %s" % text)
    return value


def _port(text: str) -> int:
    value = _count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError("a port is at most 65535, not %d" % value)
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="A Matomo-compatible Tracking and Reporting API endpoint that stores hits in "
                    "SQLite, for testing log imports. Tracking: /matomo.php and /piwik.php; "
                    "Reporting API: /index.php; summary: /report.json and /report.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8080,
                   help="port to listen on; 0 picks a free one (default 8080)")
    p.add_argument("--db", default="tracking.sqlite3",
                   help="SQLite file to store into; reused when it exists "
                        "(default tracking.sqlite3)")
    p.add_argument("--token", help="the super user's token_auth (default: a new one, printed once)")
    p.add_argument("--site", type=_site, action="append", default=[], metavar="ID=URL",
                   help="predefine a site; repeat an ID to give it alias URLs")
    p.add_argument("--user", type=_user, action="append", default=[], metavar="LOGIN:PASSWORD",
                   help="a super user who may call UsersManager.createAppSpecificTokenAuth")
    p.add_argument("--write-token", type=_write_token, action="append", default=[],
                   metavar="TOKEN=ID[,ID...]",
                   help="a token with write (not super user) access to the listed sites")
    p.add_argument("--goal", type=_goal, action="append", default=[], metavar="SITE=GOAL",
                   help="a goal id that exists for a site (for idgoal=GOAL requests)")
    p.add_argument("--timezone", type=_timezone, action="append", default=[],
                   metavar="SITE=TIMEZONE",
                   help="the site's time zone, where its days begin (an IANA name such as "
                        "Europe/Paris, or UTC+5.5; default UTC)")
    p.add_argument("--dimension", type=_dimension, action="append", default=[],
                   metavar="SITE=ID:SCOPE",
                   help="a custom dimension of the site, of scope visit or action (requests' "
                        "dimensionID values are stored for configured dimensions only)")
    faults = p.add_argument_group("faults on demand (counted over tracking calls)")
    faults.add_argument("--fail-every", type=_count, default=0, metavar="N",
                        help="answer every Nth tracking call with a 500 and store nothing")
    faults.add_argument("--drop-every", type=_count, default=0, metavar="N",
                        help="close the connection of every Nth tracking call without answering")
    faults.add_argument("--rollback-every", type=_count, default=0, metavar="N",
                        help="process half of every Nth call, then roll all of it back and "
                             "answer 500 with tracked=k")
    faults.add_argument("--no-transactions", action="store_true",
                        help="like Matomo with bulk_requests_use_transaction=0: a --rollback-every "
                             "call keeps the hits it processed before failing")
    faults.add_argument("--garbage-every", type=_count, default=0, metavar="N",
                        help="answer every Nth tracking call with an HTML page and status 200")
    faults.add_argument("--db-gone-every", type=_count, default=0, metavar="N",
                        help="answer every Nth tracking call as Matomo does when its database went "
                             "away: status 200 and the text 'Error:SQLSTATE[HY000]: General error: "
                             "2006 MySQL server has gone away'")
    faults.add_argument("--delay-ms", type=_count, default=0, metavar="MS",
                        help="wait MS milliseconds before answering each tracking call")
    load = p.add_argument_group("a loaded Matomo (on when any of these is given)")
    load.add_argument("--capacity", type=lambda t: _positive(t, "--capacity"), default=None, metavar="N",
                      help="tracking requests served at once; more wait (default 2, as Matomo on "
                           "2 cores)")
    load.add_argument("--cost-ms-per-hit", type=_cost, default=None, metavar="MS",
                      help="milliseconds each hit holds its request's slot, a sleep (default 5, "
                           "Matomo's PHP and database CPU per hit)")
    load.add_argument("--max-waiting", type=_count, default=None, metavar="N",
                      help="requests that may wait for a slot; one more gets a 500 with MySQL's "
                           "lock-wait text (default 4 x capacity)")
    p.add_argument("--verbose", action="store_true", help="log every HTTP request to stderr")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    sites: dict[int, list[str]] = {}
    for ident, url in args.site:
        sites.setdefault(ident, []).append(url)
    goals: dict[int, list[int]] = {}
    for site, goal in args.goal:
        goals.setdefault(site, []).append(goal)
    dimensions: dict[int, dict[int, str]] = {}
    for site, ident, scope in args.dimension:
        dimensions.setdefault(site, {})[ident] = scope
    ep = Endpoint(host=args.host, port=args.port, db=args.db, token=args.token, sites=sites,
                  timezones=dict(args.timezone), dimensions=dimensions,
                  users=dict(args.user), write_tokens=dict(args.write_token), goals=goals,
                  fail_every=args.fail_every, drop_every=args.drop_every,
                  rollback_every=args.rollback_every, garbage_every=args.garbage_every,
                  db_gone_every=args.db_gone_every,
                  delay_ms=args.delay_ms, keep_http_bodies=False, verbose=args.verbose,
                  transactions=not args.no_transactions, capacity=args.capacity,
                  cost_ms_per_hit=args.cost_ms_per_hit, max_waiting=args.max_waiting)
    try:
        ep.start()
    except EndpointError as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if not args.token:
        print("super user token_auth: %s" % ep.token)
    if ep.load is not None:
        print("loaded: %d request(s) at once, %g ms per hit, up to %d waiting"
              % (ep.load.capacity, ep.load.cost * 1000, ep.load.max_waiting))
    print("listening on %s" % ep.url, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        ep.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
