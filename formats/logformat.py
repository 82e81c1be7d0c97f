"""Format strings: Apache's LogFormat (mod_log_config) and nginx's log_format, compiled into the
decoders the named formats use.

A format string is read directive by directive (Apache: `apachelogs`' tokenizer and directive
table, `apachelogs.directives.format2regex` for each directive, pinned in pyproject.toml; nginx:
`$variable` or `${variable}`). Each directive becomes a piece of one regex with named groups,
written with the Apache family's own pieces (formats/apache.py), so a format string that is one
of that family's layouts (Apache's `common`, `combined`, `vhost_combined`, nginx's `main`)
compiles into exactly that format's regex, and gets its C scanner. A JSON-shaped nginx
log_format becomes a JSON map (formats/jsonmap.py) instead.

What each directive gives is in the README ("Format strings"): the directives the importer uses
fill the field vocabulary (formats/base.py: FIELDS); every other directive is parsed and kept
under its own name (`http_x_request_id`, `remote_logname`, ...), which --regex-group-to-*-cvar
and --regex-group-to-*-dimension can name. Where two directives give the same field, the one the
tables below list first is read (`%a` before `%h`, `%>s` before `%s`).

Values are read with the escapes the servers write (formats/escapes.py): Apache's, and nginx's
`escape=default`, are decoded by the "backslash" rule; nginx's `escape=json` by the "json" rule;
`escape=none` leaves values as written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import orjson
from apachelogs.directives import DIRECTIVE_RGX, format2regex
from apachelogs.errors import Error as ApacheFormatError

from . import apache as family
from .addresses import CLIENT_ADDRESS, HOST_NAME
from .base import APACHE_DATE, EPOCH, EPOCH_MS, EPOCH_US, FIELDS, ISO8601, Format, FormatError
from .jsonmap import Key

APACHE_NAME = "log-format-apache"
NGINX_NAME = "log-format-nginx"

# Apache: apachelogs' name of a directive's value -> (field, rank). A lower rank wins where two
# directives give the same field. Names apachelogs prefixes with original_/final_ (the < and >
# modifiers) are looked up without the prefix, except the status, where %>s (final) wins.
APACHE_FIELDS = {
    "remote_address": ("ip", 0), "remote_host": ("ip", 1), "remote_client_address": ("ip", 2),
    "remote_user": ("userid", 0),
    "request_method": ("method", 1), "request_uri": ("path", 1), "request_query": ("query_string", 0),
    "final_status": ("status", 0), "status": ("status", 1), "original_status": ("status", 2),
    "bytes_sent": ("length", 0), "bytes_out": ("length", 1),
    "request_duration_microseconds": ("generation_time_micro", 0),
    "request_duration_milliseconds": ("generation_time_milli", 0),
    "request_duration_seconds": ("generation_time_secs", 0),
    "virtual_host": ("host", 0), "server_name": ("host", 1),
    ("headers_in", "host"): ("host", 2),
    ("headers_in", "referer"): ("referrer", 0),
    ("headers_in", "user-agent"): ("user_agent", 0),
    ("headers_in", "x-forwarded-for"): ("forwarded_for", 0),
    # varnishncsa's -F formats: Apache's directives, and Varnish's own as %{Varnish:...}x.
    ("variables", "varnish:time_firstbyte"): ("generation_time_secs", 1),
}
# What the other parameterised directives are kept as: their parameter after this prefix.
APACHE_EXTRA_PREFIX = {"headers_in": "http_", "headers_out": "sent_http_", "env_vars": "env_",
                       "cookies": "cookie_", "notes": "note_", "trailers_in": "trailer_",
                       "trailers_out": "sent_trailer_", "variables": "x_", "cryptography": "c_"}
_IP_NAMES = {"remote_address", "remote_host", "remote_client_address", "local_address"}

# nginx: variable -> (field, rank). Any other variable is kept under its own name.
NGINX_FIELDS = {
    "remote_addr": ("ip", 0), "realip_remote_addr": ("ip", 1),
    "remote_user": ("userid", 0),
    "request_method": ("method", 1),
    "request_uri": ("path", 1), "uri": ("path", 2), "document_uri": ("path", 3),
    "args": ("query_string", 0), "query_string": ("query_string", 1),
    "status": ("status", 0),
    "body_bytes_sent": ("length", 0), "bytes_sent": ("length", 1),
    "http_referer": ("referrer", 0), "http_user_agent": ("user_agent", 0),
    "host": ("host", 0), "http_host": ("host", 1), "server_name": ("host", 2),
    "request_time": ("generation_time_secs", 0), "upstream_response_time": ("generation_time_secs", 1),
    "http_x_forwarded_for": ("forwarded_for", 0),
}
# The variables that are dates, and the layout of each.
NGINX_DATES = {"time_local": APACHE_DATE, "time_iso8601": ISO8601, "msec": EPOCH}
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
NGINX_ESCAPES = {"default": "backslash", "json": "json", "none": None}


def upstream_seconds(value: str):
    """nginx's $upstream_response_time ("0.012, 0.003 : 0.001", "-" when no upstream answered):
    the sum of the times, in seconds, or None."""
    times = [t for t in re.split(r"[,:\s]+", value) if t and t != "-"]
    try:
        return str(sum(float(t) for t in times)) if times else None
    except ValueError:
        return None


@dataclass
class Piece:
    """One directive of a format string: what kind of value it writes (how it is matched), the
    field or extra name it fills (None: matched, not kept), and its rank for that field."""
    kind: str  # ip, digits, host, text, date, time_local, iso, epoch, strftime, request, path, query, port
    target: str | None
    rank: int = 0
    directive: str = ""
    regex: str | None = None  # strftime: the date's own regex
    date_format: str | None = None
    extra: str | None = None  # the name to keep the value under when the field goes to another


def _identifier(text: str) -> str:
    return re.sub(r"\W", "_", text.lower()).strip("_") or "value"


def _apache_piece(directive: str) -> Piece:
    """The Piece of one Apache directive (`%h`, `%>s`, `%{Referer}i`, `%{%Y-%m-%d}t`, ...), through
    apachelogs' table. Raises FormatError for a directive it does not know."""
    try:
        groups, regex = format2regex(directive)
    except ApacheFormatError as e:
        raise FormatError("--log-format-apache: %s" % e) from None
    name = groups[0][0]
    if isinstance(name, tuple) and name[0].endswith("request_time_fields"):
        return _apache_date(directive, groups, regex)
    if isinstance(name, str):
        plain = re.sub(r"^(original|final)_", "", name)  # the < and > modifiers
        field, rank = APACHE_FIELDS.get(name if name.endswith("status") else plain, (None, 0))
        extra = _identifier(plain)
    else:
        plain = ""
        field, rank = APACHE_FIELDS.get((re.sub(r"^(original|final)_", "", name[0]), name[1].lower()), (None, 0))
        extra = _identifier(APACHE_EXTRA_PREFIX.get(name[0], name[0] + "_") + name[1])
    kind = ("ip" if plain in _IP_NAMES else "digits" if field == "status" else
            "host" if plain in ("virtual_host", "server_name") else "request" if plain == "request_line" else
            "query" if plain == "request_query" else "path" if plain == "request_uri" else
            "port" if plain == "server_port" else "text")
    if kind == "request":
        field = "request"
    return Piece(kind, field, rank, directive, extra=extra)


def _apache_date(directive, groups, regex) -> Piece:
    param = directive[directive.find("{") + 1:directive.rfind("}")] if "{" in directive else ""
    param = re.sub(r"^(begin|end)(:|$)", "", param)
    if param == "":
        return Piece("date", "date", 0, directive, date_format=APACHE_DATE)
    units = {"sec": EPOCH, "msec": EPOCH_MS, "usec": EPOCH_US}
    if param in units:
        return Piece("epoch", "date", 1, directive, date_format=units[param])
    if param in ("msec_frac", "usec_frac"):
        return Piece("digits", None, 0, directive, extra=param)
    if param == "%z":
        return Piece("text", "timezone", 0, directive)
    # A strftime layout: apachelogs' regex for it, its groups made non-capturing (one date).
    return Piece("strftime", "date", 0, directive, regex=re.sub(r"\((?!\?)", "(?:", regex), date_format=param)


def _nginx_piece(variable: str) -> Piece:
    if variable in NGINX_DATES:
        kind = {"time_local": "time_local", "time_iso8601": "iso", "msec": "epoch"}[variable]
        return Piece(kind, "date", 0, "$" + variable, date_format=NGINX_DATES[variable], extra=variable)
    if variable == "request":
        return Piece("request", "request", 0, "$request", extra="request")
    field, rank = NGINX_FIELDS.get(variable, (None, 0))
    kind = ("ip" if field == "ip" else "digits" if field == "status" else
            "host" if variable in ("host", "server_name") else
            "times" if variable.startswith("upstream_") and variable.endswith("_time") else "text")
    return Piece(kind, field, rank, "$" + variable, extra=variable)


def _assign(items):
    """Which piece keeps each field: the lowest rank (then the first); the others keep their extra
    name (or nothing when another piece has it). Pieces are changed in place."""
    best: dict = {}
    for item in items:
        if isinstance(item, Piece) and item.target is not None:
            held = best.get(item.target)
            if held is None or item.rank < held.rank:
                best[item.target] = item
    for item in items:
        if isinstance(item, Piece) and item.target is not None and best[item.target] is not item:
            item.target = None
    path = best.get("path")
    request = best.get("request")
    query = best.get("query_string")
    if query is not None and (request is not None or (path is not None and path.directive == "$request_uri")):
        query.target = None  # the path holds the query string already
    if request is not None and path is not None:
        path.target = None  # %r (or $request) gives method and path
    if request is not None and best.get("method") is not None:
        best["method"].target = None
    taken = set(FIELDS) | {"forwarded_for"}
    for item in items:
        if isinstance(item, Piece):
            if item.target is not None:
                taken.add(item.target)
            elif item.extra is not None and item.extra not in taken and item.kind != "request":
                taken.add(item.extra)
                item.target = item.extra
            if item.kind == "request" and item.target is not None:
                item.target = "request"


def _named(name, regex, core=False):
    """`regex` as the group `name` (none when name is None; with `core`, only the fields')."""
    return "(?P<%s>%s)" % (name, regex) if name and (not core or name in FIELDS) else regex


def _compile(items, plain: bool, core=False) -> str:
    """The regex of a list of literal strings and Pieces (`plain`: for lines without a backslash;
    `core`: with only the fields' groups, to compare with the family's regexes)."""
    quoted_text = family.QUOTED_PLAIN if plain else family.QUOTED
    out = []
    n = len(items)
    for i, item in enumerate(items):
        if isinstance(item, str):
            text = item
            if i + 1 < n and isinstance(items[i + 1], Piece) and items[i + 1].kind == "port" and text.endswith(":"):
                text = text[:-1]  # host:port, the port optional (formats/apache.py's HOST_PREFIX)
            out.append(_literal_run(text, i == 0, i == n - 1))
            continue
        before = items[i - 1] if i > 0 and isinstance(items[i - 1], str) else ""
        after = items[i + 1] if i + 1 < n and isinstance(items[i + 1], str) else None
        quoted = before.endswith('"') and (after or "").startswith('"')
        following = after[0] if after else None
        glued = after is None and i + 1 < n
        out.append(_piece_regex(item, quoted, following, glued, quoted_text, plain, items[i + 1:], core))
    return "".join(out)


def _free_text(p: Piece) -> bool:
    """A piece whose value is free text that may hold spaces: a request or response header, an
    environment variable or a cookie (Apache's %{...}i/o/e/C/n, nginx's $http_*, $sent_http_*,
    $cookie_*, $arg_*)."""
    d = p.directive
    return p.kind == "text" and (d[-2:] in ("}i", "}o", "}e", "}C", "}n")
                                 or d.startswith(("$http_", "$sent_http_", "$cookie_", "$arg_")))


def _literal_run(text, first, last):
    parts = [p for p in re.split(r"(\s+)", text) if p]
    out = []
    for k, part in enumerate(parts):
        if part.isspace():
            out.append(r"\s+")
        elif part == "-" and (k > 0 or not first) and (k < len(parts) - 1 or not last):
            out.append(r"\S+")  # a placeholder token, as nginx's main writes for Apache's %l
        else:
            out.append(re.escape(part))
    return "".join(out)


def _piece_regex(p: Piece, quoted, following, glued, quoted_text, plain, rest, core) -> str:
    name = p.target

    def _group(name, regex):
        return _named(name, regex, core)

    if p.kind == "request":
        path = family.REQUEST_PATH_PLAIN if plain else family.REQUEST_PATH
        if quoted and not _status_follows(rest):
            # The path ends before the last token that ends with the closing quote.
            path = path.replace(r'\S+"\s+\d', r'\S+"(?:\s|$)')
        if not quoted:
            path = r"\S+"
        method, target = ("method", "path") if name else (None, None)
        return _group(method, r"\S+") + r"\s+" + _group(target, path) + r"\s+\S+"
    if p.kind == "date":
        return family.DATE if name else r"\[[^\]]*\]"
    if p.kind == "time_local":
        if following == "]":
            return _group(name and "date", r"[^\]\s]*") + r"\s+" + _group(name and "timezone", r"[^\]]*")
        return _group(name and "date", r"\S+") + r"\s+" + _group(name and "timezone", r"\S+")
    if p.kind == "strftime":
        return _group(name, p.regex)
    if p.kind == "port":
        return r"(?::\d+)?"
    if p.kind == "query":
        return r"(?:\?" + _group(name, r'[^\s"]*') + ")?"
    if quoted:
        return _group(name, quoted_text)
    if p.kind == "ip":
        regex = CLIENT_ADDRESS
    elif p.kind == "digits":
        regex = r"\d+"
    elif p.kind == "host":
        regex = "(?:%s)" % HOST_NAME if not name or (core and name not in FIELDS) else HOST_NAME
    elif p.kind == "epoch":
        regex = r"\d+(?:\.\d+)?"
    elif p.kind == "times":  # nginx's upstream times: "0.012, 0.003 : 0.001", "-"
        regex = r"[-\d.]+(?:\s*[,:]\s*[-\d.]+)*"
    elif p.kind == "path" and glued:
        regex = r'[^\s?"]*'
    elif glued:
        regex = r"\S*?"
    elif _free_text(p) and not rest:
        regex = ".+"  # a header written without quotes holds spaces (a user agent): last, to the line's end
    elif _free_text(p) and following is not None and not following.isspace():
        regex = "[^%s]+" % re.escape(following)  # else to the separator that follows it
    elif following is not None and not following.isspace():
        regex = r"[^\s%s]*" % re.escape(following)
    else:
        regex = r"\S+"
    return _group(name, regex)


def _status_follows(rest) -> bool:
    """Whether the closing quote of %r is followed by spaces and the status (as in the family's
    layouts, whose request regex looks ahead for it)."""
    if len(rest) < 2 or not isinstance(rest[0], str) or rest[0].strip() != '"':
        return False
    return isinstance(rest[1], Piece) and rest[1].kind == "digits" and rest[1].target == "status"


def _tokenize_apache(fmt: str):
    items, text = [], ""
    for m in DIRECTIVE_RGX.finditer(fmt):
        if m.group("literal") is not None:
            if m.group("literal") == "%":
                raise FormatError("--log-format-apache: a lone %% at column %d (write %%%% for a %%)" % (m.start() + 1))
            text += m.group("literal")
            continue
        if m.group("directive") == "%":
            text += "%"
            continue
        if text:
            items.append(text)
            text = ""
        items.append(_apache_piece(m.group(0)))
    if text:
        items.append(text)
    return items


def _tokenize_nginx(fmt: str):
    items, pos = [], 0
    for m in _VARIABLE.finditer(fmt):
        if m.start() > pos:
            items.append(fmt[pos:m.start()])
        items.append(_nginx_piece(m.group(1) or m.group(2)))
        pos = m.end()
    if pos < len(fmt):
        items.append(fmt[pos:])
    return items


def _check(items, option):
    fields = {p.target for p in items if isinstance(p, Piece) and p.target}
    if "request" in fields:
        fields |= {"method", "path"}
    missing = [what for what, need in (("the client address", "ip"), ("the date", "date"),
                                       ("the requested path", "path"), ("the status", "status"))
               if need not in fields]
    if missing:
        raise FormatError("%s: the format gives no %s: each line needs them to become a hit"
                          % (option, ", no ".join(missing)))


def _to_format(name, items, unescape, description) -> Format:
    for i, item in enumerate(items):
        if isinstance(item, Piece) and item.kind == "port" and not (i > 0 and str(items[i - 1]).endswith(":")):
            item.kind = "text"  # a port alone, not the optional one of host:port
    _assign(items)
    _check(items, "--" + name)
    date = next(p for p in items if isinstance(p, Piece) and p.target == "date")
    regex, plain, core = _compile(items, False), _compile(items, True), _compile(items, False, core=True)
    converters = {}
    for p in items:
        if isinstance(p, Piece) and p.directive == "$upstream_response_time" and p.target == "generation_time_secs":
            converters["generation_time_secs"] = upstream_seconds
    scanner = None
    for fmt in family.FORMATS:  # one of the family's layouts: its C scanner
        if fmt.scanner and core == fmt.regex and not converters:
            scanner = fmt.scanner
    return Format(name, regex, date.date_format, description=description, detectable=False,
                  plain_regex=plain, scanner=scanner, converters=converters, unescape=unescape)


def apache_format(fmt: str) -> Format:
    """The Format of an Apache LogFormat string (as written in the config, without the config's
    own quoting). Raises FormatError for an unknown or malformed directive, or a format that
    gives no client address, date, path or status."""
    items = _tokenize_apache(fmt)
    if not any(isinstance(p, Piece) for p in items):
        raise FormatError("--log-format-apache: no %-directive in %r" % fmt)
    return _to_format(APACHE_NAME, items, "backslash", "Apache LogFormat %s" % fmt)


def nginx_format(fmt: str, escape: str = "default") -> Format:
    """The Format of an nginx log_format string (its quoted parts joined) written with
    `escape` (default, json or none). A JSON-shaped string becomes a JSON format. Raises
    FormatError for an unknown escape, a JSON template that is not JSON, or a format that gives
    no client address, date, path or status."""
    if escape not in NGINX_ESCAPES:
        raise FormatError("--log-format-nginx: escape=%s is not one of default, json, none" % escape)
    if fmt.strip().startswith("{"):
        return _nginx_json(fmt)
    items = _tokenize_nginx(fmt)
    if not any(isinstance(p, Piece) for p in items):
        raise FormatError("--log-format-nginx: no $variable in %r" % fmt)
    return _to_format(NGINX_NAME, items, NGINX_ESCAPES[escape], "nginx log_format %s" % fmt)


# A JSON-shaped log_format: '{"ip":"$remote_addr","time":"$time_iso8601","bytes":$bytes_sent}'.
_PLACEHOLDER = "\x00%s\x00"


def _nginx_json(fmt: str) -> Format:
    quoted = _VARIABLE.sub(lambda m: _PLACEHOLDER % (m.group(1) or m.group(2)), fmt)
    # A variable written without quotes (a number) becomes a string to find its key.
    quoted = re.sub(r'(?<=[:\[,])(\s*)(\x00\w+\x00)', r'\1"\2"', quoted)
    try:
        template = orjson.loads(quoted.replace("\x00", "\\u0000"))
    except ValueError as e:
        raise FormatError("--log-format-nginx: the JSON-shaped format is not JSON: %s" % e) from None
    paths: dict = {}

    def walk(obj, path):
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, path + (k,))
        elif isinstance(obj, str):
            m = re.fullmatch(r"\x00(\w+)\x00", obj)
            if m:
                paths.setdefault(m.group(1), ".".join(path))
    walk(template, ())
    items = [_nginx_piece(v) for v in paths]
    _assign(items)
    _check(items, "--log-format-nginx")
    json_map: dict = {}
    date_format = ISO8601
    for p in items:
        if p.target is None or p.target not in FIELDS and p.target not in ("request", "forwarded_for"):
            continue
        key = paths[p.directive[1:]]
        if p.target == "request":
            json_map["method"] = Key(key, convert=RequestPart(0))
            json_map["path"] = Key(key, convert=RequestPart(1))
        elif p.kind == "time_local":
            json_map["date"] = Key(key, convert=_time_local_date)
            json_map["timezone"] = Key(key, convert=_time_local_zone)
            date_format = APACHE_DATE
        elif p.target == "date":
            json_map["date"] = key
            date_format = p.date_format
        elif p.directive == "$upstream_response_time":
            json_map[p.target] = Key(key, convert=_upstream_seconds)
        else:
            json_map[p.target] = key
    return Format(NGINX_NAME, None, date_format, description="nginx log_format (JSON) %s" % fmt,
                  detectable=False, json_map=json_map, json_repair=TemplateJson(fmt))


_JSON_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")


class TemplateJson:
    """A line of a JSON-shaped nginx log_format made JSON again where nginx wrote an unquoted
    variable's value that is not JSON: nginx substitutes values into the template as they are,
    so `"urt":$upstream_response_time` gives `"urt":-` without an upstream and `"urt":0.010,
    0.002` after a retry (ngx_http_upstream_module; likewise `$upstream_status`). The template
    is matched as written (its literal text exactly, a quoted variable as JSON string content,
    an unquoted one as any text up to the next literal), and each unquoted value that is not a
    JSON number, true, false or null is quoted. `repair(line)` -> the JSON text, or None when
    the line is not of the template. Pickles (it travels with the format to the workers)."""

    def __init__(self, template: str):
        parts, self.unquoted = [], []
        in_string, escaped, pos, group = False, False, 0, 0
        for m in _VARIABLE.finditer(template):
            for ch in template[pos:m.start()]:  # where the literal text leaves us: in a string or not
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = in_string
                elif ch == '"':
                    in_string = not in_string
            parts.append(re.escape(template[pos:m.start()]))
            parts.append(r'((?:[^"\\]|\\.)*?)' if in_string else "(.*?)")
            group += 1
            if not in_string:
                self.unquoted.append(group)
            pos = m.end()
        parts.append(re.escape(template[pos:]))
        self.regex = re.compile("".join(parts), re.S)

    def __call__(self, line: str):
        m = self.regex.fullmatch(line.rstrip("\r\n"))
        if m is None:
            return None
        out, pos = [], 0
        for g in self.unquoted:
            value = m.group(g)
            if _JSON_SCALAR.fullmatch(value):
                continue
            out += [line[pos:m.start(g)], '"', value, '"']
            pos = m.end(g)
        return "".join(out) + line[pos:] if out else None


# The converters of a JSON format are module-level (never closures or lambdas): the format goes
# to the parsing workers with each chunk task, pickled.
class RequestPart:
    """One word of nginx's `$request` ("GET /path HTTP/1.1"): 0 the method, 1 the path; None
    when the value has no such word or is not a string."""

    def __init__(self, index: int):
        self.index = index

    def __call__(self, value):
        words = value.split(" ") if value.__class__ is str else []
        return words[self.index] if len(words) > self.index else None

    def __eq__(self, other):
        return isinstance(other, RequestPart) and other.index == self.index

    def __hash__(self):
        return hash((RequestPart, self.index))


def _time_local_date(value):
    """`$time_local` ("01/Mar/2026:10:00:00 +0100") without its offset."""
    return value.partition(" ")[0]


def _time_local_zone(value):
    """The offset of `$time_local`, or None."""
    return value.partition(" ")[2] or None


def _upstream_seconds(value):
    """`$upstream_response_time` (a number, or nginx's list of them) in seconds."""
    return upstream_seconds(str(value))


# Server config files --------------------------------------------------------------------------
_APACHE_LOGFORMAT = re.compile(r'^\s*LogFormat\s+"((?:[^"\\]|\\.)*)"(?:\s+(\S+))?', re.M | re.I)
_NGINX_LOG_FORMAT = re.compile(r"(?<![\w$])log_format\s+(\w+)\s+((?:escape=\w+\s+)?)((?:'(?:[^'\\]|\\.)*'\s*|"
                               r'"(?:[^"\\]|\\.)*"\s*|[^\s;\'"]+\s*)+);', re.S)


def formats_in_config(text: str) -> dict:
    """The named formats of an Apache or nginx config file: name -> ("apache", format) or
    ("nginx", format, escape). Apache's `LogFormat "..." nickname` (a LogFormat without a
    nickname is "default"), nginx's `log_format name [escape=...] '...' '...';` (parts joined,
    quotes and backslash-quote read as nginx's config parser reads them)."""
    found: dict = {}
    for m in _APACHE_LOGFORMAT.finditer(text):
        found[m.group(2) or "default"] = ("apache", m.group(1).replace('\\"', '"'))
    for m in _NGINX_LOG_FORMAT.finditer(text):
        escape = m.group(2).strip().partition("=")[2] or "default"
        parts = re.findall(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"|([^\s'\"]+)", m.group(3))
        joined = "".join(re.sub(r"\\(['\"\\])", r"\1", a or b or c) for a, b, c in parts)
        found[m.group(1)] = ("nginx", joined, escape)
    return found


def format_from_file(path: str, ref: str | None) -> Format:
    """The Format named `ref` in a server config file (`--log-format-file PATH --log-format-ref
    NAME`); without `ref`, the file's only format. Raises FormatError naming what to fix."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        raise FormatError("--log-format-file %s: %s" % (path, e.strerror)) from None
    found = formats_in_config(text)
    if not found:
        raise FormatError("--log-format-file %s: no LogFormat (Apache) or log_format (nginx) line in it" % path)
    if ref is None:
        if len(found) > 1:
            raise FormatError("--log-format-file %s defines %s: say which with --log-format-ref"
                              % (path, ", ".join(sorted(found))))
        ref = next(iter(found))
    if ref not in found:
        raise FormatError("--log-format-ref %s: %s defines no such format (it has: %s)"
                          % (ref, path, ", ".join(sorted(found))))
    spec = found[ref]
    return apache_format(spec[1]) if spec[0] == "apache" else nginx_format(spec[1], spec[2])
