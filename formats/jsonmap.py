"""The JSON map decoder: one JSON object per line, read into the FIELDS tuple through a map.

A JSON format declares `json_map`: for each field of the vocabulary, the key that holds it (a
string: "status"), a key path into nested objects ("request.headers.User-Agent"), or a `Key`
with several paths (the first one present wins) and a converter. The line is decoded with orjson,
so key order, spacing, extra keys and escaped characters do not matter. Every value handed on has
the type the chunk stage expects: text fields are str (numbers are written out, objects and arrays
become None), numeric fields (length, generation times, an epoch date) are int, float or str.

nginx writes `\\xHH` escapes into JSON strings (log_format's default `escape=default`, for `"`,
`\\` and bytes below 32 or above 126), which JSON does not allow: a line that does not decode and
holds `\\x` is decoded again with each run of escapes read as UTF-8 (or, for bytes that are not
UTF-8, as Latin-1, as import_logs.py reads them).
"""
from __future__ import annotations

import re
from operator import itemgetter

import orjson

from .base import FIELDS

# Fields that stay numbers (or text the chunk stage turns into numbers); all others are text.
NUMERIC = frozenset(["length", "generation_time_milli", "generation_time_micro", "generation_time_secs",
                     "date"])


class Key:
    """Where a JSON format reads one field: key paths ("a.b.c") tried in order, the first that is
    present and not null wins; `convert` (optional) turns the value found into the field's value."""

    def __init__(self, *paths, convert=None):
        if not paths:
            raise ValueError("Key needs at least one key path")
        self.paths = tuple(tuple(p.split(".")) for p in paths)
        self.convert = convert

    def __repr__(self):
        return "Key(%s)" % ", ".join(repr(".".join(p)) for p in self.paths)


def _value(obj, key):
    """The value of `key` in obj (walking nested objects), converted; None when absent."""
    for path in key.paths:
        value = obj
        for name in path:
            value = value.get(name) if value.__class__ is dict else None
        if value is not None:
            return value if key.convert is None else key.convert(value)
    return None


# Converters for declarations (a text field needs none to turn a number into text: a status
# logged as 200 or as "200" is "200").
def first(value):
    """The first element of an array (Caddy logs each header as an array of values)."""
    if value.__class__ is list:
        return value[0] if value else None
    return value


def without_port(host):
    """A Host header without its port: "example.com:8443" -> "example.com", "[::1]:80" -> "[::1]"."""
    if host.__class__ is not str:
        return host
    if host[:1] == "[":
        return host.partition("]")[0] + "]"
    name, sep, port = host.rpartition(":")
    return name if sep and port.isdigit() and ":" not in name else host


def empty_is_none(value):
    """An empty string means the field is absent (Caddy's user_id)."""
    return value if value != "" else None


def as_text(value):
    """A text field's value: text, or a number written out (a status logged as 200 or "200");
    None for anything else (an object, an array, a bool)."""
    if value.__class__ is str or value is None:
        return value
    return str(value) if value.__class__ is int or value.__class__ is float else None


def as_number(value):
    """A numeric field's value: an int, a float or text (the chunk stage reads it); else None."""
    return value if value.__class__ in _NUMBER_TYPES else None


_TEXT_TYPES = frozenset([str, type(None)])
_NUMBER_TYPES = frozenset([str, int, float, type(None)])


def _builder(keys, numeric):
    """A function obj -> tuple of the values of the `keys` that need more than one top-level
    lookup (a path, alternatives, a converter), each of the type its field expects. Generated once
    per decoder: one expression per field, no loop."""
    env = {"_value": _value, "as_text": as_text, "as_number": as_number}
    parts = []
    for i, (key, is_numeric) in enumerate(zip(keys, numeric)):
        path = key.paths[0]
        if len(key.paths) == 1 and len(path) == 1:
            env["c%d" % i] = key.convert
            raw = "(None if (v%d := g(%r)) is None else c%d(v%d))" % (i, path[0], i, i)
        else:
            env["k%d" % i] = key
            raw = "_value(o, k%d)" % i
        parts.append("%s(%s)" % ("as_number" if is_numeric else "as_text", raw))
    source = "def build(o):\n    g = o.get\n    return (%s)\n" % "".join(p + ", " for p in parts)
    exec(compile(source, "<json map>", "exec"), env)
    return env["build"]


_NGINX_ESCAPES = re.compile(r"\\\\|((?:\\x[0-9A-Fa-f]{2})+)")


def _as_json_text(match):
    run = match.group(1)
    if run is None:  # an escaped backslash: keep it (the x after it is not an escape)
        return match.group(0)
    data = bytes.fromhex(run.replace("\\x", ""))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return orjson.dumps(text).decode()[1:-1]


def decode_json(line):
    """The JSON object of a line (nginx's \\xHH escapes read), or None when it is not one."""
    try:
        obj = orjson.loads(line)
    except ValueError:  # orjson.JSONDecodeError, and text that is not UTF-8
        if "\\x" not in line:
            return None
        try:
            obj = orjson.loads(_NGINX_ESCAPES.sub(_as_json_text, line))
        except ValueError:
            return None
    return obj if obj.__class__ is dict else None


class JsonMapDecoder:
    """`extract(line)` gives a tuple of FIELDS (+ extra groups) or None for a line that is not a
    JSON object. Extra groups (--regex-group-to-*-cvar) are read from top-level keys of the same
    name; ignored groups (--ignore-groups) stay None. `signature`: keys that must all be present
    for detection to say a line is of this format (`score`); extract() does not require them."""

    def __init__(self, name, json_map, signature=(), extra_groups=(), ignore_groups=()):
        self.name = name
        self.scanned = False
        self.signature = tuple(signature)
        self.fields = FIELDS + tuple(extra_groups)
        ignored = set(ignore_groups)
        keys = []
        for n in self.fields:
            key = json_map.get(n, n if n in extra_groups else None)
            if n in ignored:
                key = None
            keys.append(Key(key) if isinstance(key, str) else key)
        self.present = frozenset(n for n, k in zip(self.fields, keys) if k is not None)
        self.group_count = len(self.present)
        # Most fields are one top-level key: those are looked up by map() in C, and their types
        # checked at once; the others (paths, converters) by a generated function. The tuple is
        # then put in FIELDS order by an itemgetter.
        numeric = [n in NUMERIC for n in self.fields]
        plain = [i for i, k in enumerate(keys) if k is not None and k.convert is None
                 and len(k.paths) == 1 and len(k.paths[0]) == 1]
        text_pos = [i for i in plain if not numeric[i]]
        number_pos = [i for i in plain if numeric[i]]
        other_pos = [i for i, k in enumerate(keys) if k is not None and i not in plain]
        text_keys = tuple(keys[i].paths[0][0] for i in text_pos)
        number_keys = tuple(keys[i].paths[0][0] for i in number_pos)
        build = _builder([keys[i] for i in other_pos], [numeric[i] for i in other_pos])
        order = text_pos + number_pos + other_pos
        pad = len(order)  # the None appended after the values: fields without a key
        arrange = itemgetter(*[order.index(i) if i in order else pad for i in range(len(self.fields))])
        text_types, number_types, loads = _TEXT_TYPES.issuperset, _NUMBER_TYPES.issuperset, orjson.loads
        none = (None,)

        def extract(line):
            try:
                obj = loads(line)
            except ValueError:  # orjson.JSONDecodeError, and text that is not UTF-8
                obj = decode_json(line) if "\\x" in line else None
            if obj.__class__ is not dict:
                return None
            get = obj.get
            texts = tuple(map(get, text_keys))
            if not text_types(map(type, texts)):
                texts = tuple(map(as_text, texts))
            numbers = tuple(map(get, number_keys))
            if not number_types(map(type, numbers)):
                numbers = tuple(map(as_number, numbers))
            try:
                others = build(obj)
            except (TypeError, ValueError, AttributeError):  # a converter refused the value
                return None
            return arrange(texts + numbers + others + none)
        self.extract = extract

    def has_group(self, name) -> bool:
        """Any top-level key can be asked for (--regex-group-to-*-cvar): lines decide."""
        return True

    def score(self, line) -> int:
        """For detection: the number of fields read from the line when it holds every key of the
        signature, else 0."""
        obj = decode_json(line)
        if obj is None or any(k not in obj for k in self.signature):
            return 0
        values = self.extract(line)
        return 0 if values is None else sum(v is not None for v in values)

    def as_dict(self, line):
        values = self.extract(line)
        if values is None:
            return None
        return {n: v for n, v in zip(self.fields, values) if n in self.present}
