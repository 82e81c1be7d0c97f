"""Query strings and form bodies read the way PHP's `parse_str` reads them.

Matomo sees its parameters through PHP, so `a=1&a=2` keeps the last value and
`urls[0]=x&urls[1]=y` (or `urls[]=x`) becomes a nested value. Values stay strings.
"""
from __future__ import annotations

from urllib.parse import unquote_plus


def parse_query(qs: str) -> dict:
    """Parse `qs` (without the leading '?') into a dict, last value wins, `name[key]` nests."""
    out: dict = {}
    if not qs:
        return out
    for pair in qs.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        name = unquote_plus(name, errors="replace")
        value = unquote_plus(value, errors="replace")
        if not name:
            continue
        bracket = name.find("[")
        if bracket > 0 and name.endswith("]"):
            base, sub = name[:bracket], name[bracket + 1:-1]
            holder = out.get(base)
            if not isinstance(holder, dict):
                holder = {}
                out[base] = holder
            if sub == "":
                sub = str(len(holder))
            holder[sub] = value
        else:
            out[name] = value
    return out


def as_list(value) -> list:
    """A parameter that may be given once or as `name[]=...`: always a list of its values."""
    if value is None:
        return []
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]
