"""The escapes servers write into log fields, read back into the original text.

- `backslash`: Apache's (ap_escape_logitem in server/util.c: `\\"`, `\\\\`, `\\b \\n \\r \\t \\v`,
  and `\\xHH` for other control bytes and every byte above 126) and nginx's `escape=default` (`\\xHH`
  for `"`, `\\`, bytes below 32 and above 126). Both are read by the same rule, so a combined line
  written by either server reads the same.
- `json`: nginx's `escape=json` in a line that is not itself JSON (`\\"`, `\\\\`, `\\n`, `\\uXXXX`, ...).

Runs of `\\xHH` are bytes: they are decoded as UTF-8, and a byte that is not UTF-8 as Latin-1 (as
import_logs.py and the nginx JSON reader do), so `caf\\xc3\\xa9` and `caf\\xe9` both read `café`.
"""
from __future__ import annotations

import codecs
import re


def _latin1_fallback(error):
    return error.object[error.start:error.end].decode("latin-1"), error.end


codecs.register_error("log_importer_latin1", _latin1_fallback)

_BACKSLASH = re.compile(rb"\\(x[0-9A-Fa-f]{2}|.)", re.S)
_SIMPLE = {b"b": b"\b", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v", b"f": b"\f"}
_JSON = re.compile(rb"\\(u[0-9A-Fa-f]{4}|.)", re.S)
_JSON_SIMPLE = {**_SIMPLE, b"/": b"/"}


def _byte(match):
    code = match.group(1)
    if code[:1] == b"x" and len(code) == 3:
        return bytes.fromhex(code[1:].decode())
    return _SIMPLE.get(code, code)


def _json_char(match):
    code = match.group(1)
    if code[:1] == b"u" and len(code) == 5:
        return chr(int(code[1:], 16)).encode("utf-8", "surrogatepass")
    return _JSON_SIMPLE.get(code, code)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "log_importer_latin1")


def backslash(text: str) -> str:
    """Apache's and nginx's (escape=default) escapes decoded: `\\"q\\"` -> `"q"`, `\\x22` -> `"`,
    `caf\\xc3\\xa9` -> `café`, `\\\\` -> `\\`. Text without a backslash is returned as it is."""
    if "\\" not in text:
        return text
    return _text(_BACKSLASH.sub(_byte, text.encode("utf-8", "surrogateescape")))


def json(text: str) -> str:
    """nginx's escape=json decoded: `\\"` -> `"`, `\\u00e9` -> `é`, `\\n` -> newline."""
    if "\\" not in text:
        return text
    return _text(_JSON.sub(_json_char, text.encode("utf-8", "surrogateescape")))


RULES = {"backslash": backslash, "json": json}


def fields_unescaper(rule: str):
    """A function that decodes `rule`'s escapes in every text value of a decoded tuple; it is
    applied only to lines that hold a backslash. KeyError for an unknown rule."""
    decode = RULES[rule]

    def unescape(values):
        return tuple(decode(v) if v.__class__ is str and "\\" in v else v for v in values)
    return unescape
