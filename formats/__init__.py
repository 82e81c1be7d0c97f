"""The format registry and automatic detection.

Adding a format means adding a declaration (with sample lines) to one of the family modules:
`apache` (the Apache/NCSA family and its relatives), `balancers` (ELB/ALB, HAProxy, Squid), `cdn`
(Bunny, Google Cloud Storage), `w3c` (header-driven: IIS, CloudFront, ...), `jsonlogs` (nginx,
Traefik, Caddy, Cloudflare, Akamai JSON logs). Any of them may come behind a syslog prefix
(`syslog`).
"""
from __future__ import annotations

import dataclasses
import re
import shlex

from .addresses import normal_host
from .apache import FORMATS as _APACHE
from .balancers import FORMATS as _BALANCERS
from .base import APACHE_DATE, FIELDS, DateConverter, Format, FormatError
from .cdn import FORMATS as _CDN
from .jsonlogs import FORMATS as _JSON
from .w3c import FORMATS as _W3C
from .w3c import FIELDS_PREFIX, fields_lines, read_header
from . import syslog

REGISTRY: dict[str, Format] = {f.name: f for f in _APACHE + _BALANCERS + _CDN + _W3C + _JSON}
W3C_FORMATS = _W3C  # in the order detection tries them: the last (w3c_extended) takes any header

DETECT_SAMPLE_LINES = 50

__all__ = ["REGISTRY", "FIELDS", "Format", "FormatError", "DateConverter", "detect", "resolve", "names",
           "unread_characters", "for_new_header", "fields_lines"]


def names():
    return sorted(REGISTRY)


def _header_format(lines, w3c_fields=None, name=None, options=None):
    """The W3C format of a file from the #Fields: line among its first lines (or `w3c_fields`),
    or None when there is none. Without `name`, the first W3C format that claims the header."""
    fields_line, header = read_header(lines)
    fields_line = w3c_fields or fields_line
    if fields_line is None:
        return None
    if name is None:
        names_in_header = fields_line.replace("#Fields:", " ").split()
        name = next(f.name for f in W3C_FORMATS if f.claims(names_in_header, header) or f.name == "w3c_extended")
    return REGISTRY[name].for_header(fields_line, **(options or {}))


def behind_syslog(fmt: Format) -> Format:
    """The same format for lines behind a syslog prefix (formats/syslog.py)."""
    return dataclasses.replace(fmt, name=syslog.SYSLOG_NAME_PREFIX + fmt.name, syslog=True, detectable=False)


def detect(lines, w3c_options=None):
    """The best format for these first lines of a file, or None: `detect_plain`'s, or, where most
    lines have a syslog prefix and the format of what follows it reads more of them, that format
    behind the prefix."""
    fmt = detect_plain(lines, w3c_options)
    stripped = [found[0] for found in map(syslog.strip, lines) if found is not None]
    if len(stripped) * 2 <= len([ln for ln in lines if ln.strip()]):
        return fmt
    inner = detect_plain(stripped, w3c_options)
    if inner is None or (fmt is not None and _reads(fmt, lines) >= _reads(inner, stripped)):
        return fmt
    return behind_syslog(inner)


def _reads(fmt, lines) -> int:
    """How many of the lines the format reads."""
    if fmt.regex is None and fmt.json_map is None:
        return 0
    decoder = fmt.compile()
    return sum(decoder.extract(ln) is not None for ln in lines[:DETECT_SAMPLE_LINES])


def detect_plain(lines, w3c_options=None):
    """The best format for these first lines of a file, or None.

    W3C files are recognised by a #Fields: header, wherever it is among the lines (a file may
    start mid-log, and a restarted server writes its header again). Otherwise each sample line
    votes for the detectable format that reads the most fields from it, preferring one that reads
    the whole line (a combined line with an unquoted user agent is not `common` with its end
    unread); the format with the most votes wins. Formats declared `detectable=False` are never
    chosen here.
    """
    lines = [ln[:-1] if ln[-1:] == "\r" else ln for ln in lines if ln.strip()]
    fmt = _header_format(lines, options=w3c_options)
    if fmt is not None:
        return fmt
    candidates = [(f, f.compile()) for f in REGISTRY.values() if f.detectable and not f.header_driven]
    votes: dict[str, int] = {}
    fields: dict[str, int] = {}
    for line in [ln for ln in lines if not ln.startswith("#")][:DETECT_SAMPLE_LINES]:
        best, best_score = None, (False, 0)
        for fmt, decoder in candidates:
            n = decoder.score(line)
            if n:
                score = (unread_characters(decoder, line) == 0, n)
                if score > best_score:
                    best, best_score = fmt, score
        if best is not None:
            votes[best.name] = votes.get(best.name, 0) + 1
            fields[best.name] = best_score
    if not votes:
        return None
    winner = max(votes, key=lambda n: (votes[n], fields[n]))
    return REGISTRY[winner]


def unread_characters(decoder, line: str) -> int:
    """How many characters (trailing spaces aside) after the format's match the line has, or -1
    when the format does not match it. Decoders without a regex (JSON) read whole lines."""
    regex = getattr(decoder, "regex", None)
    if regex is None:
        return -1 if decoder.extract(line) is None else 0
    m = regex.match(line)
    return -1 if m is None else max(0, len(line.rstrip()) - m.end())


def by_name_with_host(lines) -> list[str]:
    """The formats chosen by name only (detectable=False) that give a host and read most of these
    first lines whole: ovh's lines are combined lines too, which detection reads without the host
    (the ident field holds it), so a file without a host may need --log-format-name ovh."""
    sample = [ln.rstrip("\r") for ln in lines if ln.strip() and not ln.startswith("#")][:DETECT_SAMPLE_LINES]
    found = []
    for fmt in REGISTRY.values():
        if fmt.detectable or fmt.regex is None or fmt.header_driven:
            continue
        decoder = fmt.compile()
        if "host" not in decoder.present or not sample:
            continue
        with_host = [ln for ln in sample if unread_characters(decoder, ln) == 0
                     and normal_host(decoder.as_dict(ln).get("host") or "-") is not None]
        if len(with_host) * 2 > len(sample):  # not a combined line's "-" ident read as a host
            found.append(fmt.name)
    return found


def user_format(config):
    """The format the user wrote (--log-format-apache, --log-format-nginx, --log-format-file with
    --log-format-ref), or None. Raises FormatError with what to fix."""
    from . import logformat
    if config.log_format_apache:
        return logformat.apache_format(config.log_format_apache)
    if config.log_format_nginx:
        text = config.log_format_nginx
        escape = "default"
        m = re.match(r"\s*escape=(\w+)\s+", text)
        if m:
            escape, text = m.group(1), text[m.end():]
        return logformat.nginx_format(text, escape)
    if config.log_format_file:
        return logformat.format_from_file(config.log_format_file, config.log_format_ref)
    return None


def _w3c_options(config) -> dict:
    return dict(time_taken_millisecs=config.w3c_time_taken_millisecs, map_fields=config.w3c_map_fields,
                field_regexes=config.w3c_field_regexes)


def for_new_header(config, fmt, names):
    """The format of the lines after a new #Fields: line (its field `names`) in a file read with
    the W3C format `fmt`: the same kind of W3C log, its regex built from that line with the same
    --w3c-* options, the same date format. Raises FormatError (formats/w3c.py's for_header)."""
    built = REGISTRY[fmt.name].for_header(FIELDS_PREFIX + " " + " ".join(names), **_w3c_options(config))
    return dataclasses.replace(built, date_format=fmt.date_format)


def resolve(config, head_lines, source_name="the input"):
    """The Format to parse one file with, from the options and the file's first lines.

    Raises FormatError with a message that says what to do.
    """
    w3c_options = _w3c_options(config)
    if config.log_format_regex:
        if "(?P<" not in config.log_format_regex:
            raise FormatError("--log-format-regex needs named groups, such as (?P<ip>\\S+)")
        return Format("custom", config.log_format_regex, config.log_date_format or APACHE_DATE,
                      detectable=False)
    fmt = user_format(config)
    if fmt is not None:
        return fmt
    if config.log_format_name and config.log_format_name.startswith(syslog.SYSLOG_NAME_PREFIX):
        inner = dataclasses.replace(config, log_format_name=config.log_format_name[len(syslog.SYSLOG_NAME_PREFIX):])
        stripped = [found[0] if found else ln for ln, found in zip(head_lines, map(syslog.strip, head_lines))]
        return behind_syslog(resolve(inner, stripped, source_name))
    if config.log_format_name:
        fmt = REGISTRY.get(config.log_format_name)
        if fmt is None:
            raise FormatError("unknown log format %r (known: %s)" % (config.log_format_name, ", ".join(names())))
        if fmt.header_driven:
            built = _header_format(head_lines, config.w3c_fields, fmt.name, w3c_options)
            if built is None:
                raise FormatError("%s has no '#Fields:' line: give one with --w3c-fields" % source_name)
            fmt = built
        if config.log_date_format:
            fmt = dataclasses.replace(fmt, date_format=config.log_date_format, detectable=False)
        return fmt
    if config.w3c_fields:
        return _header_format(head_lines, config.w3c_fields, None, w3c_options)
    fmt = detect(head_lines, w3c_options)
    if fmt is None:
        raise FormatError("cannot detect the log format of %s from its first lines: give it with "
                          "--log-format-name (one of: %s), --log-format-apache/--log-format-nginx (your "
                          "server's format string) or --log-format-regex%s"
                          % (source_name, ", ".join(names()), "".join("\n" + t for t in _why_none(head_lines))))
    return fmt


def is_detected(config) -> bool:
    """Whether the options leave the format to detection."""
    return not (config.log_format_regex or config.log_format_name or config.w3c_fields or config.log_format_apache
                or config.log_format_nginx or config.log_format_file)


def detection_candidates():
    """The formats detection chooses from (not the W3C ones, which their header names)."""
    return [f for f in REGISTRY.values() if f.detectable and not f.header_driven]


def _why_none(lines):
    """For a file no format reads: its first unread line, the nearest format, the column, a caret."""
    from .explain import explain_line
    for number, line in enumerate(lines, 1):
        if line.strip() and not line.startswith("#"):
            return explain_line(detection_candidates(), line.rstrip("\r"), number)
    return ["the file's first lines are empty or comments"]


def explain_detection(lines, winner):
    """--debug: which format detection chose, on which lines, and why the others lost."""
    from .explain import detection_report
    if winner is not None and (winner.header_driven or winner.syslog):
        return ["detection: %s (%s)" % (winner.name, "its #Fields: header" if winner.header_driven
                                        else "most lines behind a syslog prefix")]
    return detection_report(detection_candidates(), [ln.rstrip("\r") for ln in lines], winner)


def describe(fmt) -> list[str]:
    """What --dump-log-regex prints for any kind of format: its regex, its JSON map, the W3C
    regex its header built, the syslog prefix in front."""
    out = ["format: %s" % fmt.name]
    if fmt.json_map is None:
        out.append("regex: %s" % fmt.regex)
    else:
        out.append("json map (field: key paths):")
        for field, key in fmt.json_map.items():
            paths = [key] if isinstance(key, str) else [".".join(p) for p in key.paths]
            out.append("  %s: %s%s" % (field, " or ".join(paths),
                                        " (converted)" if not isinstance(key, str) and key.convert else ""))
        if fmt.signature:
            out.append("detected by the keys: %s" % ", ".join(fmt.signature))
    if fmt.syslog:
        out.append("syslog prefix: %s" % syslog.PREFIX.pattern)
    out.append("date format: %s" % fmt.date_format)
    if fmt.description:
        out.append("description: %s" % fmt.description)
    out += reuse(fmt)
    return out


def reuse(fmt) -> list[str]:
    """How to give `fmt` again (--dump-log-regex): the options that read the same fields, the date
    format included, and what its name does that a --log-format-regex does not."""
    if fmt.json_map is not None or fmt.syslog:
        why = "a JSON format has no regex" if fmt.json_map is not None else "behind a syslog prefix"
        return ["to use it again: --log-format-name %s (%s)" % (fmt.name, why)]
    out = ["to use it again: --log-format-regex %s --log-date-format %s"
           % (shlex.quote(fmt.regex), shlex.quote(fmt.date_format))]
    extra = []
    if fmt.unescape:
        extra.append("decodes the escapes the server writes (%s)" % fmt.unescape)
    if fmt.converters or fmt.defaults:
        extra.append("converts or completes the fields %s" % ", ".join(sorted(set(fmt.converters) | set(fmt.defaults))))
    if fmt.header_prefix:
        extra.append("counts lines starting with %r as header lines, not invalid ones" % fmt.header_prefix)
    if extra and fmt.name in REGISTRY:
        out.append("  (--log-format-name %s also %s)" % (fmt.name, "; ".join(extra)))
    return out
