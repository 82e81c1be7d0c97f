"""Tracking: turn a classified hit into Tracking API parameters (the contract's section 4).

Pure functions of the hit, its site and the options, so they run in worker processes.
"""
from __future__ import annotations

import json
from urllib.parse import quote, unquote_plus

from .classify import IS_BOT, IS_DOWNLOAD, IS_ERROR, IS_REDIRECT
from .config import Config

MAX_URL = 1024
MAX_DIMENSION = 255  # Matomo's custom dimension values are VARCHAR(255)
REPLAY_DATE_PARAMS = ("_idts", "_viewts", "_ects", "_refts")


def _cvars(pairs):
    return json.dumps({str(i): [k, v] for i, (k, v) in enumerate(pairs, 1)})


def php_parse_str(query_string: str) -> dict:
    """The parameters PHP's parse_str (and so Matomo's $_GET) makes of a query string.

    `a[b][]=1&a[b][]=2` gives {"a": {"b": ["1", "2"]}}; a plain key's last value wins; `+` is a
    space; in a base name, spaces and dots become `_` and an unclosed `[` becomes `_`, as in
    PHP (main/php_variables.c, php_register_variable_ex). Arrays whose keys are 0..n-1 are
    lists, others dicts (the same PHP array once Matomo json_decodes a bulk request).
    """
    out: dict = {}
    for part in query_string.split("&"):
        if not part:
            continue
        raw_key, _, raw_value = part.partition("=")
        key, value = unquote_plus(raw_key), unquote_plus(raw_value)
        bracket = key.find("[")
        base, rest = (key, "") if bracket < 0 else (key[:bracket], key[bracket:])
        segments = []
        while rest.startswith("["):
            end = rest.find("]")
            if end < 0:
                break
            segments.append(rest[1:end])
            rest = rest[end + 1:]
        if bracket >= 0 and not segments:  # "a[b" : PHP keeps it as a plain name "a_b"
            base, segments = key.replace("[", "_", 1), []
        base = base.replace(" ", "_").replace(".", "_")
        if not base:
            continue
        if not segments:
            out[base] = value
            continue
        node = out.get(base)
        if not isinstance(node, dict):
            node = out[base] = {}
        for i, seg in enumerate(segments):
            last = i == len(segments) - 1
            if seg == "":  # append: PHP's next integer key
                ints = [int(k) for k in node if k.isdigit()]
                seg = str(max(ints) + 1 if ints else 0)
            if last:
                node[seg] = value
            else:
                child = node.get(seg)
                if not isinstance(child, dict):
                    child = node[seg] = {}
                node = child
    return {k: _php_lists(v) for k, v in out.items()}


def _php_lists(value):
    if not isinstance(value, dict):
        return value
    items = {k: _php_lists(v) for k, v in value.items()}
    if list(items) == [str(i) for i in range(len(items))]:
        return list(items.values())
    return items


def php_form_pairs(params: dict) -> list:
    """(name, value) pairs for a form POST, nested values as PHP's `a[b][0]=…` (php_parse_str's inverse)."""
    pairs = []

    def walk(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk("%s[%s]" % (prefix, k), v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk("%s[%d]" % (prefix, i), v)
        else:
            pairs.append((prefix, value if isinstance(value, str) else str(value)))

    for key, value in params.items():
        walk(key, value)
    return pairs


def replay_args(query_string: str, add_seconds: int = 0) -> dict:
    """The tracking parameters of a logged piwik.php/matomo.php request, as Matomo would read
    them (php_parse_str: nested `a[b][]` parameters kept)."""
    args = php_parse_str(query_string)
    if add_seconds:
        for p in REPLAY_DATE_PARAMS:
            if p in args:
                try:
                    args[p] = int(args[p]) + add_seconds
                except (TypeError, ValueError):
                    pass
    return args


def host_key(host: str) -> str:
    """The host as sites are looked up and created: lowercase, without port, without a leading
    `www.` (Matomo's getSitesIdFromSiteUrl tries the www variants itself). "WWW.Example.com:8080"
    and "example.com" are the same site; an IPv6 host keeps its brackets."""
    host = host.strip().strip('"').lower().strip(".")
    if host.startswith("["):
        host = host.partition("]")[0] + "]"
    else:
        host = host.partition(":")[0].rstrip(".")
    return host[4:] if host.startswith("www.") and len(host) > 4 else host


def visitor_key(replay_args: dict | None, ip: str) -> str:
    """What keeps one visitor's hits together (and in order) on one sender."""
    if replay_args:
        for p in ("uid", "cid", "_id", "cip"):
            v = replay_args.get(p)
            if v and isinstance(v, str):
                return p + "=" + v
    return ip


def request_builder(c: Config, bot_classifier=None):
    """build(<the hit's fields>, idsite, url_prefix) -> the parameters of one tracking request.

    The hit's fields are one normalised log line (the contract's section 2), the same for every
    format: ip, host (or None), cdt (UTC "YYYY-MM-DD HH:MM:SS"), method, path, query_string,
    status, length (int), referrer, user_agent, userid, generation_time_milli (float),
    event_category, event_action, event_name, flags (classify.IS_* bits), page_cvars and
    visit_cvars (((name, value), ...) from --regex-group-to-*-cvar), dimensions
    ((("dimensionID", value), ...) from --regex-group-to-*-dimension: Matomo's CustomDimensions
    tracking parameter, the same for both scopes), replay_args (dict or None).
    `url_prefix` is "scheme://host" or the site's main URL. A closure over the options, read
    once: it runs for every hit. `bot_classifier` (a bots.BotClassifier) names the bots for
    --bot-dimension.
    """
    delim = c.query_string_delimiter
    title_delim = c.title_category_delimiter
    keep_qs = not c.strip_query_string
    dp = "0" if c.enable_reverse_dns else "1"
    rec = "0" if c.replay_tracking else "1"
    track_method = c.track_http_method
    bots = c.enable_bots
    bot_dimension = "dimension%d" % c.bot_dimension if c.bot_dimension and bots else None
    status_cvars: dict = {}

    def build(ip, host, cdt, method, path, query_string, status, length, referrer, user_agent,
              userid, generation_time_milli, event_category, event_action, event_name, flags,
              page_cvars, visit_cvars, dimensions, replay_args, idsite, url_prefix):
        if query_string and keep_qs:
            path = path + delim + query_string
        if len(path) > MAX_URL:
            path = path[:MAX_URL]
        url = url_prefix + path if path[:1] == "/" else path
        if len(referrer) > MAX_URL:
            referrer = referrer[:MAX_URL]
        if page_cvars or track_method:
            page = [("HTTP-code", status)]
            if track_method and method and method != "-":
                page.append(("HTTP-method", method))
            page.extend(page_cvars)
            cvar = _cvars(page)
        else:
            cvar = status_cvars.get(status)
            if cvar is None:
                cvar = status_cvars[status] = _cvars([("HTTP-code", status)])
        args = {"rec": rec, "apiv": "1", "idsite": idsite, "url": url, "urlref": referrer, "cip": ip,
                "cdt": cdt, "ua": user_agent, "dp": dp, "queuedtracking": "0", "cvar": cvar}
        if bots or visit_cvars:
            visit = [("Bot" if flags & IS_BOT else "Not-Bot", user_agent)] if bots else []
            visit.extend(visit_cvars)
            args["_cvar"] = _cvars(visit)
        if userid:
            args["uid"] = userid
        if dimensions:
            args.update(dimensions)
        if replay_args:
            extra = dict(replay_args)
            extra.pop("idsite", None)
            args.update(extra)
        if flags & IS_DOWNLOAD:
            args["download"] = args["url"]
        if bots:
            args["bots"] = "1"
            if bot_dimension and flags & IS_BOT and bot_classifier is not None:
                bot = bot_classifier.bot_of(user_agent)
                if bot:
                    args[bot_dimension] = bot.label()[:MAX_DIMENSION]
        if flags & (IS_ERROR | IS_REDIRECT):
            title = "%s%sURL = %s" % (status, title_delim, quote(args["url"], ""))
            if args["urlref"] != "":
                title += "%sFrom = %s" % (title_delim, quote(args["urlref"], ""))
            args["action_name"] = title
        if generation_time_milli > 0:
            args["pf_srv"] = int(generation_time_milli)
        if event_category and event_action:
            args["e_c"] = event_category
            args["e_a"] = event_action
            if event_name:
                args["e_n"] = event_name
        if length > 0:
            args["bw_bytes"] = length
        return args

    return build
