"""The JSON map decoder: one JSON object per line, read into the FIELDS tuple through a map.

A JSON format declares `json_map`: for each field of the vocabulary, the key that holds it (a
string: "status"), a key path into nested objects ("request.headers.User-Agent"), or a `Key`
with several paths (the first one present wins) and a converter. The line is read as JSON, so key
order, spacing, extra keys and escaped characters do not matter: by formats/_scan.c's JsonScanner,
which builds only the values the map names, and for every line it is not sure of by orjson (the
whole object decoded; LOG_IMPORTER_NO_SCANNER=1 decodes every line so). Both give the same values.
Every value handed on has the type the chunk stage expects: text fields are str (numbers are
written out, objects and arrays become None), numeric fields (length, generation times, an epoch
date) are int, float or str.

nginx writes `\\xHH` escapes into JSON strings (log_format's default `escape=default`, for `"`,
`\\` and bytes below 32 or above 126), which JSON does not allow: a line that does not decode and
holds `\\x` is decoded again with each run of escapes read as UTF-8 (or, for bytes that are not
UTF-8, as Latin-1, as import_logs.py reads them).
"""
from __future__ import annotations

import re
from operator import itemgetter

import orjson

from . import base
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


# Converters formats/_scan.c's JsonScanner applies itself (the values it is sure of; it hands the
# others to the Python function): their codes there.
FIRST, EMPTY_IS_NONE, FLOOR, BY_MILLION, BY_THOUSANDTH = 1, 2, 3, 4, 5


def in_scanner(code):
    """Marks a converter that formats/_scan.c also applies, as `code` (FIRST, ...), to the values
    it is sure to convert the same; tests/test_scan.py compares the two on every kind of value."""
    def mark(convert):
        convert.scanner_code = code
        return convert
    return mark


@in_scanner(FIRST)
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


@in_scanner(EMPTY_IS_NONE)
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


_NUMBER_TYPES = frozenset([str, int, float])


def pick_in_python(obj, keys, numeric):
    """For each key (None: no key), obj's value of the type its field expects (as_number where
    numeric[i], else as_text). formats/_scan.c's pick() does the same in C."""
    get = obj.get
    return tuple(None if key is None else (as_number if kind else as_text)(get(key))
                 for key, kind in zip(keys, numeric))


def _builder(keys, numeric):
    """A function obj -> tuple of the values of the `keys` that need more than one top-level
    lookup (a path, alternatives, a converter), each of the type its field expects. Generated once
    per decoder: each nested object on the way is looked up once, then one expression per field."""
    env = {"as_text": as_text, "as_number": as_number, "_EMPTY": {}}
    lines = ["def build(o):"]
    parents = {(): "o"}  # path of a nested object -> the name of the variable that holds it

    def holder(parent):
        if parent not in parents:
            up = holder(parent[:-1])
            name = parents[parent] = "d%d" % len(parents)
            lines.append("    %s = %s.get(%r)" % (name, up, parent[-1]))
            lines.append("    %s = %s if %s.__class__ is dict else _EMPTY" % (name, name, name))
        return parents[parent]

    parts = []
    for i, (key, is_numeric) in enumerate(zip(keys, numeric)):
        raw = "None"
        for j, path in enumerate(reversed(key.paths)):  # the first path present wins
            get = "%s.get(%r)" % (holder(path[:-1]), path[-1])
            raw = get if j == 0 else "(v%d if (v%d := %s) is not None else %s)" % (i, i, get, raw)
        if key.convert is not None:
            env["c%d" % i] = key.convert
            raw = "(None if (w%d := %s) is None else c%d(w%d))" % (i, raw, i, i)
        parts.append("%s(%s)" % ("as_number" if is_numeric else "as_text", raw))
    lines.append("    return (%s)" % "".join(p + ", " for p in parts))
    exec(compile("\n".join(lines) + "\n", "<json map>", "exec"), env)
    return env["build"]


def scanner_plan(keys, numeric):
    """What formats/_scan.c's JsonScanner reads, from each field's Key (None: not read) and
    whether the field is numeric: (nodes, fields). Each distinct key path gets a slot; `nodes` is
    the tree of the paths' keys, node 0 the line's object, each node a tuple of (key, slot or -1,
    child node or -1); `fields` gives per field (its paths' slots in order, convert, numeric, the
    code of the converter in C or 0)."""
    slots = {}
    nodes = [{}]  # per node: key -> [slot, child]
    for key in keys:
        for path in key.paths if key is not None else ():
            if path in slots:
                continue
            node = 0
            for name in path[:-1]:
                entry = nodes[node].setdefault(name, [-1, -1])
                if entry[1] < 0:
                    entry[1] = len(nodes)
                    nodes.append({})
                node = entry[1]
            slots[path] = nodes[node].setdefault(path[-1], [-1, -1])[0] = len(slots)
    # as_text on a text field is what the scanner does to every text field's value anyway: no call.
    fields = tuple(((), None, False, 0) if key is None else
                   (tuple(slots[p] for p in key.paths),
                    None if key.convert is as_text and not is_numeric else key.convert, bool(is_numeric),
                    getattr(key.convert, "scanner_code", 0))
                   for key, is_numeric in zip(keys, numeric))
    return tuple(tuple((name, s, c) for name, (s, c) in node.items()) for node in nodes), fields


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


def _decode_escaped(line):
    """The JSON of a line that orjson refused, read again with nginx's \\xHH escapes decoded."""
    if "\\x" not in line:
        return None
    try:
        return orjson.loads(_NGINX_ESCAPES.sub(_as_json_text, line))
    except ValueError:
        return None


def decode_json(line):
    """The JSON object of a line (nginx's \\xHH escapes read), or None when it is not one."""
    try:
        obj = orjson.loads(line)
    except ValueError:  # orjson.JSONDecodeError, and text that is not UTF-8
        obj = _decode_escaped(line)
    return obj if obj.__class__ is dict else None


class JsonMapDecoder:
    """`extract(line)` gives a tuple of FIELDS (+ extra groups) or None for a line that is not a
    JSON object. Extra groups (--regex-group-to-*-cvar) are read from top-level keys of the same
    name; ignored groups (--ignore-groups) stay None. `repair(line)` (Format.json_repair): the
    line made JSON, tried on a line that is not. `signature`: keys that must all be present
    for detection to say a line is of this format (`score`); extract() does not require them."""

    def __init__(self, name, json_map, signature=(), extra_groups=(), ignore_groups=(), repair=None):
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
        # Most fields are one top-level key: pick() reads those in C, each of its field's type.
        # The others (paths, converters) come from a generated function and take their places
        # through an itemgetter.
        numeric = bytes(n in NUMERIC for n in self.fields)
        plain = [k is not None and k.convert is None and len(k.paths) == 1 and len(k.paths[0]) == 1
                 for k in keys]
        plain_keys = tuple(k.paths[0][0] if is_plain else None for k, is_plain in zip(keys, plain))
        other_pos = [i for i, k in enumerate(keys) if k is not None and not plain[i]]
        build = _builder([keys[i] for i in other_pos], [numeric[i] for i in other_pos]) if other_pos else None
        n = len(self.fields)
        arrange = itemgetter(*[n + other_pos.index(i) if i in other_pos else i for i in range(n)])
        pick = base.pick or pick_in_python
        loads = orjson.loads

        def extract(line):
            try:
                obj = loads(line)
            except ValueError:  # orjson.JSONDecodeError, and text that is not UTF-8
                obj = _decode_escaped(line)
                if obj is None and repair is not None:
                    repaired = repair(line)
                    obj = decode_json(repaired) if repaired is not None else None
            if obj.__class__ is not dict:
                return None
            values = pick(obj, plain_keys, numeric)
            if build is None:
                return values
            try:
                others = build(obj)
            except (TypeError, ValueError, AttributeError):  # a converter refused the value
                return None
            return arrange(values + others)
        self.extract = extract
        # The C scanner reads the same values without decoding the rest of the line; it hands
        # the lines it is not sure of to the orjson path above.
        if base.JsonScanner is not None:
            nodes, field_specs = scanner_plan(keys, numeric)
            try:
                self.extract = base.JsonScanner(nodes, field_specs, fallback=extract).extract
                self.scanned = True
            except ValueError:  # a map beyond the scanner's bounds (64 key paths): the orjson path reads it
                pass

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
