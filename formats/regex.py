"""The regex decoder (and its C scanners): a regex with named groups, read into the FIELDS tuple.

Used by every format that is not JSON: the Apache family and the other line formats directly,
the W3C formats through the regex their header builds. Where a format names a C scanner
(`Format.scanner`, formats/_scan.c) and no extra or ignored group changes the tuple's layout,
the scanner does the regex's work and hands the lines it does not answer for to the regex.
"""
from __future__ import annotations

import re
from operator import itemgetter

from . import base
from .base import FIELDS, FormatError, finisher
from .escapes import fields_unescaper


class RegexDecoder:
    """`extract(line)` gives a tuple of FIELDS (+ extra groups) or None.

    `regex` must match from the line's start (re.match: what follows the match is ignored, so
    extra trailing fields never stop a line). Group names outside the vocabulary are allowed
    (they can be asked for as `extra_groups`). Raises FormatError for a regex that does not
    compile, or a `plain_regex` with other groups. `unescape` names the escapes to decode in the
    fields of lines that hold a backslash (formats/escapes.py); the C scanner then leaves such
    lines to the regex.
    """

    def __init__(self, name, regex, extra_groups=(), ignore_groups=(), plain_regex=None,
                 scanner=None, converters=None, defaults=None, unescape=None):
        self.name = name
        try:
            self.regex = re.compile(regex)
        except re.error as e:
            raise FormatError("invalid regex for format %s: %s" % (name, e)) from None
        plain = re.compile(plain_regex) if plain_regex else None
        if plain is not None and plain.groupindex != self.regex.groupindex:
            raise FormatError("the plain regex of format %s has other groups" % name)
        index = self.regex.groupindex
        ignored = set(ignore_groups)
        self.fields = FIELDS + tuple(extra_groups)
        pad = self.regex.groups  # index of the None appended to m.groups()
        positions = [index[n] - 1 if n in index and n not in ignored else pad for n in self.fields]
        defaults = {n: v for n, v in (defaults or {}).items() if n not in ignored}
        self.present = frozenset([n for n in self.fields if n in index and n not in ignored]
                                 + [n for n in defaults if n in self.fields])
        getter = itemgetter(*positions)
        match = self.regex.match
        none = (None,)
        if plain is not None:
            escaped_match, plain_match = match, plain.match

            def match(line):
                return (escaped_match if "\\" in line else plain_match)(line)

        def extract(line):
            m = match(line)
            if m is None:
                return None
            return getter(m.groups() + none)

        if unescape is not None:
            decode_escapes, read = fields_unescaper(unescape), extract

            def extract(line):
                values = read(line)
                if values is None or "\\" not in line:
                    return values
                return decode_escapes(values)

        self.scanned = False
        make = {"apache": base.Scanner, "tokens": base.TokenScanner}.get(scanner[0]) if scanner else None
        if make is not None and self.fields == FIELDS and not ignored:
            options = {"escapes": True} if unescape is not None else {}
            extract = make(*scanner[1:], fallback=extract, **options).extract
            self.scanned = True
        finish = finisher(self.fields, converters or {}, defaults)
        if finish is not None:
            decode = extract

            def extract(line):
                values = decode(line)
                return None if values is None else finish(values)
        self.extract = extract
        self.group_count = len(self.present)

    def has_group(self, name) -> bool:
        """Whether lines can give the group `name` (for --regex-group-to-*-cvar)."""
        return name in self.regex.groupindex

    def score(self, line) -> int:
        """For detection: 0 if the line does not match, else the number of named groups (as
        import_logs.py counts them: icecast2's session_time makes it beat plain combined)."""
        return len(self.regex.groupindex) if self.extract(line) is not None else 0

    def as_dict(self, line):
        values = self.extract(line)
        if values is None:
            return None
        return {n: v for n, v in zip(self.fields, values) if n in self.present}
