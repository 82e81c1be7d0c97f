"""Tracking: turn a classified Hit into Tracking API parameters (the contract's section 4).

Pure functions of the hit, its site and the options, so they run in worker processes.
"""
from __future__ import annotations

import json
from typing import NamedTuple
from urllib.parse import parse_qsl, quote

from .classify import IS_BOT, IS_DOWNLOAD, IS_ERROR, IS_REDIRECT
from .config import Config

MAX_URL = 1024
REPLAY_DATE_PARAMS = ("_idts", "_viewts", "_ects", "_refts")


class Hit(NamedTuple):
    """One normalised log line (the contract's section 2): the same fields for every format."""
    ip: str
    host: str | None
    cdt: str  # UTC "YYYY-MM-DD HH:MM:SS"
    method: str | None
    path: str
    query_string: str
    status: str
    length: int
    referrer: str
    user_agent: str
    userid: str | None
    generation_time_milli: float
    event_category: str | None
    event_action: str | None
    event_name: str | None
    flags: int  # classify.IS_* bits
    page_cvars: tuple = ()   # ((name, value), ...) from --regex-group-to-page-cvar
    visit_cvars: tuple = ()  # ((name, value), ...) from --regex-group-to-visit-cvar
    replay_args: dict | None = None


def _cvars(pairs):
    return json.dumps({str(i): [k, v] for i, (k, v) in enumerate(pairs, 1)})


def replay_args(query_string: str, add_seconds: int = 0) -> dict:
    """The tracking parameters of a logged piwik.php/matomo.php request (last value wins)."""
    args = dict(parse_qsl(query_string, keep_blank_values=True))
    if add_seconds:
        for p in REPLAY_DATE_PARAMS:
            if p in args:
                try:
                    args[p] = int(args[p]) + add_seconds
                except ValueError:
                    pass
    return args


def visitor_key(hit: Hit) -> str:
    """What keeps one visitor's hits together (and in order) on one sender."""
    if hit.replay_args:
        for p in ("uid", "cid", "_id", "cip"):
            v = hit.replay_args.get(p)
            if v:
                return v
    return hit.ip


class RequestBuilder:
    def __init__(self, config: Config):
        self.c = config
        self.delim = config.query_string_delimiter
        self.title_delim = config.title_category_delimiter
        self.dp = "0" if config.enable_reverse_dns else "1"
        self.rec = "0" if config.replay_tracking else "1"
        self._status_cvars: dict = {}

    def build(self, hit: Hit, idsite, url_prefix: str) -> dict:
        """Parameters of one tracking request. `url_prefix` is "scheme://host" or the site's main URL."""
        c = self.c
        path = hit.path
        if hit.query_string and not c.strip_query_string:
            path = path + self.delim + hit.query_string
        path = path[:MAX_URL]
        url = url_prefix + path if path.startswith("/") else path
        urlref = hit.referrer[:MAX_URL]
        args = {
            "rec": self.rec,
            "apiv": "1",
            "idsite": idsite,
            "url": url,
            "urlref": urlref,
            "cip": hit.ip,
            "cdt": hit.cdt,
            "ua": hit.user_agent,
            "dp": self.dp,
            "queuedtracking": "0",
        }
        if hit.page_cvars or c.track_http_method:
            page = [("HTTP-code", hit.status)]
            if c.track_http_method and hit.method and hit.method != "-":
                page.append(("HTTP-method", hit.method))
            page.extend(hit.page_cvars)
            args["cvar"] = _cvars(page)
        else:
            cvar = self._status_cvars.get(hit.status)
            if cvar is None:
                cvar = self._status_cvars[hit.status] = _cvars([("HTTP-code", hit.status)])
            args["cvar"] = cvar
        visit = []
        if c.enable_bots:
            visit.append(("Bot" if hit.flags & IS_BOT else "Not-Bot", hit.user_agent))
        visit.extend(hit.visit_cvars)
        if visit:
            args["_cvar"] = _cvars(visit)
        if hit.userid:
            args["uid"] = hit.userid
        if hit.replay_args:
            extra = dict(hit.replay_args)
            extra.pop("idsite", None)
            args.update(extra)
        flags = hit.flags
        if flags & IS_DOWNLOAD:
            args["download"] = args["url"]
        if c.enable_bots:
            args["bots"] = "1"
        if flags & (IS_ERROR | IS_REDIRECT):
            title = "%s%sURL = %s" % (hit.status, self.title_delim, quote(args["url"], ""))
            if args["urlref"] != "":
                title += "%sFrom = %s" % (self.title_delim, quote(args["urlref"], ""))
            args["action_name"] = title
        if hit.generation_time_milli > 0:
            args["pf_srv"] = int(hit.generation_time_milli)
        if hit.event_category and hit.event_action:
            args["e_c"] = hit.event_category
            args["e_a"] = hit.event_action
            if hit.event_name:
                args["e_n"] = hit.event_name
        if hit.length > 0:
            args["bw_bytes"] = hit.length
        return args
