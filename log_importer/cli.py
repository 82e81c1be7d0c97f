"""The command line: arguments → a typed Config → run(config). Nothing else happens here."""
from __future__ import annotations

import argparse
import difflib
import logging
import os
import re
import sys

import formats

from . import __version__, bots, proxies, timebounds
from .config import DOWNLOAD_EXTENSIONS, Config
from .credentials import token_and_password
from .errors import EXIT_SIGINT, UsageError, UserError
from .option_errors import did_you_mean, explain
from .redaction import RedactingFilter, redact, register, register_url

DESCRIPTION = """\
Import web-server access logs into Matomo through its Tracking HTTP API.
A drop-in replacement for Matomo's import_logs.py: same options, same data in Matomo.

FILE is a log file, a glob (expanded and sorted), - for standard input, or a .gz, .bz2, .xz or
.zst file (recognised by content). By default the import keeps clean reports: it skips static
files, bots, HTTP errors and redirects (see the --enable-* options)."""

_DEFAULT_CONFIG_FILE = "~/.config/log-importer/config.toml"

EPILOG = """\
exit status: 0 success; 1 the import started but stopped (Matomo kept failing or refused a batch);
2 bad options or inputs, or Matomo unreachable or misconfigured (nothing was sent); 130/143
stopped by SIGINT/SIGTERM (positions saved: run the same command again to continue)."""


DEFAULT_TRACKER_PATH = "/piwik.php"  # as import_logs.py; a --url ending in /matomo.php gives /matomo.php


def _pairs(value: str, split_commas=True):
    items = value.split(",") if split_commas else [value]
    out = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError("expected KEY=VALUE, got %r" % item)
        out[key.strip()] = val.strip() if split_commas else val
    return out


def _pair_list(value):
    return _pairs(value)


def _regex_pair(value):
    return _pairs(value, split_commas=False)


def _positive(value):
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1, got %d" % n)
    return n


def _non_negative_int(value):
    n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError("must not be negative, got %d" % n)
    return n


def _dimension_pairs(value):
    pairs = _pairs(value)
    for group, ident in pairs.items():
        if not ident.isdigit() or int(ident) < 1:
            raise argparse.ArgumentTypeError("expected GROUP=ID with a custom dimension ID (a positive "
                                             "number), got %s=%s" % (group, ident))
    return {g: int(i) for g, i in pairs.items()}


AUTO = "auto"


def _recorders(value):
    """--recorders: a whole number >= 1, or auto. Raises ValueError otherwise (argparse's
    "invalid _recorders value", which option_errors completes with what was expected)."""
    if value.strip().lower() == AUTO:
        return AUTO
    return _positive(int(value))


def _non_negative_float(value):
    n = float(value)
    if n < 0:
        raise argparse.ArgumentTypeError("must not be negative, got %s" % value)
    return n


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """argparse's error, completed with what was expected and a suggestion (option_errors)."""
        self.print_usage(sys.stderr)
        self.exit(2, "%s: error: %s\n" % (self.prog, explain(message, self._option_string_actions)))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="log-importer", usage="%(prog)s [options] FILE [FILE ...]", description=DESCRIPTION,
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", metavar="FILE", help="log files, globs, or - for standard input")
    p.add_argument("--version", action="version", version="log-importer " + __version__)

    g = p.add_argument_group("connection and authentication")
    g.add_argument("--url", help="your Matomo URL, e.g. https://matomo.example.org (required unless --dry-run); "
                   "http:// is added when no scheme is given; a URL ending in /matomo.php or /piwik.php (the "
                   "tracker URL of Matomo's JavaScript snippet) is taken as its folder")
    g.add_argument("--api-url", help="URL for the Reporting API calls when it differs from --url")
    g.add_argument("--tracker-endpoint-path", default=DEFAULT_TRACKER_PATH, help="tracker path (default: %(default)s)")
    g.add_argument("--token-auth", help="a token_auth with write or admin access to the sites (super user for "
                   "--add-sites-new-hosts); with a super-user token Matomo tells which lines it refused. "
                   "Visible in the process list: prefer --token-auth-file or MATOMO_TOKEN_AUTH")
    g.add_argument("--token-auth-file", metavar="FILE",
                   help="read the token_auth from FILE (refused when others may read it: chmod 600)")
    g.add_argument("--login", help="Matomo login: a token is created with --password (or MATOMO_PASSWORD)")
    g.add_argument("--password", help="password of --login; prefer the MATOMO_PASSWORD environment variable")
    g.add_argument("--config", dest="matomo_config", metavar="CONFIG_FILE",
                   help="path of Matomo's config/config.ini.php: get a token through the local PHP installation "
                   "when no token, MATOMO_TOKEN_AUTH or --login is given")
    g.add_argument("--php-binary", default="php", metavar="PHP",
                   help="with --config: the PHP binary that runs Matomo's updatetoken.php (default: %(default)s)")
    g.add_argument("--enable-testmode", action="store_true",
                   help="with --config: get the token of Matomo's test environment (updatetoken.php --testmode)")
    g.add_argument("--config-file", metavar="FILE",
                   help="a TOML or INI file holding any of these options (default: %s, when it exists); the "
                   "command line wins" % _DEFAULT_CONFIG_FILE)
    g.add_argument("--auth-user", help="HTTP basic auth user")
    g.add_argument("--auth-password", help="HTTP basic auth password")
    g.add_argument("--accept-invalid-ssl-certificate", action="store_true",
                   help="do not verify Matomo's TLS certificate")
    g.add_argument("--ca-bundle", metavar="FILE",
                   help="PEM file of the certificate authorities to trust for Matomo's TLS certificate "
                   "(instead of the system's)")
    g.add_argument("--client-cert", metavar="FILE",
                   help="PEM client certificate for TLS client authentication (with its key, or see --client-key)")
    g.add_argument("--client-key", metavar="FILE", help="PEM private key of --client-cert")
    g.add_argument("--request-suffix", help="extra query text appended to every tracker and API request URL")
    g.add_argument("--request-timeout", type=_non_negative_float, default=300.0,
                   help="seconds to wait for an answer from Matomo (default: %(default)s)")
    g.add_argument("--connect-timeout", type=_non_negative_float, default=5.0, metavar="SECONDS",
                   help="seconds to open a connection to Matomo; before Matomo has answered once, a "
                   "connection that cannot be opened stops the run at once (default: %(default)s)")
    g.add_argument("--retry-max-attempts", type=_positive, default=3,
                   help="attempts per request before giving up (default: %(default)s)")
    g.add_argument("--retry-delay", type=_non_negative_float, default=10.0,
                   help="seconds before the first retry; doubles each time, with jitter; a Retry-After "
                   "header wins (default: %(default)s)")

    g = p.add_argument_group("sites")
    g.add_argument("--idsite", type=int, help="track every hit in this site (no lookup by host)")
    g.add_argument("--idsite-fallback", type=int, help="site for hosts that match no Matomo site")
    g.add_argument("--add-sites-new-hosts", action="store_true",
                   help="create a Matomo site for each host that matches none (never twice: hosts are "
                   "compared without www. and port)")
    g.add_argument("--max-new-sites", type=_non_negative_int, default=50, metavar="N",
                   help="with --add-sites-new-hosts: create at most N sites in a run; hits of further new "
                   "hosts are skipped as matching no site (default: %(default)s)")
    g.add_argument("--site-map", metavar="FILE",
                   help="lines 'host-pattern idsite' (fnmatch patterns, # comments): the first pattern that "
                   "matches a hit's host gives its site, before any lookup in Matomo")
    g.add_argument("--hostname", dest="hostnames", action="append", default=[], metavar="PATTERN",
                   help="import only hits whose host matches this fnmatch pattern (e.g. *example.com); repeatable")
    g.add_argument("--include-host", dest="include_hosts", action="append", default=[], metavar="HOST",
                   help="import only hits for this exact host; repeatable")
    g.add_argument("--exclude-host", dest="exclude_hosts", action="append", default=[], metavar="HOST",
                   help="skip hits for this exact host; repeatable")
    g.add_argument("--log-hostname", help="the host of every hit, for formats without one")

    g = p.add_argument_group("log formats")
    g.add_argument("--log-format-name", metavar="NAME",
                   help="the log format (default: detected from the first lines; %s only by name): %s; "
                   "syslog+NAME for lines behind a syslog prefix"
                   % (", ".join(n for n in formats.names() if not formats.REGISTRY[n].detectable),
                      ", ".join(formats.names())))
    g.add_argument("--log-format-regex", metavar="REGEX",
                   help="a regex with named groups (ip, date, timezone, path, query_string, status, length, "
                   "referrer, user_agent, host, userid, method, generation_time_milli/_micro/_secs, "
                   "event_category/_action/_name; other groups are read by --regex-group-to-*-cvar or "
                   "-dimension, else ignored; a misspelt field such as referer is refused); overrides "
                   "--log-format-name")
    g.add_argument("--log-format-apache", metavar="FORMAT",
                   help="an Apache LogFormat string, as in your config, e.g. '%%h %%l %%u %%t \"%%r\" %%>s %%b "
                   "\"%%{Referer}i\" \"%%{User-Agent}i\" %%D'; overrides --log-format-name")
    g.add_argument("--log-format-nginx", metavar="FORMAT",
                   help="an nginx log_format string, e.g. '$remote_addr - $remote_user [$time_local] \"$request\" "
                   "$status $body_bytes_sent'; start it with escape=json or escape=none when the log_format "
                   "has that; a JSON-shaped format is read as JSON")
    g.add_argument("--log-format-file", metavar="PATH",
                   help="read the format from an Apache (LogFormat) or nginx (log_format) config file")
    g.add_argument("--log-format-ref", metavar="NAME",
                   help="with --log-format-file: the name of the format in that file (e.g. combined, main)")
    g.add_argument("--log-timezone", metavar="ZONE",
                   help="the time zone of logs written without a UTC offset (an IANA name such as "
                   "Europe/Paris; daylight saving time is followed); W3C/IIS dates are UTC unless this is given")
    g.add_argument("--log-date-format", help="strptime format of the date group (default: %%d/%%b/%%Y:%%H:%%M:%%S)")
    g.add_argument("--w3c-fields", help="the '#Fields: ...' line for W3C files that lack one")
    g.add_argument("--w3c-map-field", dest="w3c_map_fields", type=_pair_list, action="append", default=[],
                   metavar="KEY=VAL", help="read the custom W3C field KEY as the standard field VAL; repeatable")
    g.add_argument("--w3c-field-regex", dest="w3c_field_regexes", type=_regex_pair, action="append", default=[],
                   metavar="KEY=REGEX", help="regex (with a named group) for the W3C field KEY; repeatable")
    g.add_argument("--w3c-time-taken-millisecs", action="store_true",
                   help="read W3C time-taken as milliseconds (IIS does; the iis format always does)")
    g.add_argument("--ignore-groups", help="comma list of regex groups to ignore (e.g. userid)")
    g.add_argument("--encoding", default="utf8",
                   help="encoding of the logs, one that writes ASCII as it is (default: %(default)s; latin-1, "
                   "cp1252...: a UTF-16 file must be converted first); a line with bytes that are not valid "
                   "in it is kept: those bytes are percent-encoded in URLs and become U+FFFD elsewhere")
    g.add_argument("--dump-log-regex", action="store_true",
                   help="print the format and how it is read (its regex, JSON map or W3C regex), then exit")
    g.add_argument("--test-format", metavar="FILE",
                   help="print the format of FILE (given with the options above, or detected) and the fields "
                   "it reads from the first lines, as a table with the cdt (UTC) each date gives, then exit; "
                   "nothing is sent")

    g = p.add_argument_group("what is tracked")
    g.add_argument("--enable-static", action="store_true", help="track static files (as downloads)")
    g.add_argument("--enable-bots", action="store_true",
                   help="track bots, with a visit custom variable Bot (or Not-Bot) = user agent")
    g.add_argument("--enable-http-errors", action="store_true", help="track HTTP errors (4xx, 5xx)")
    g.add_argument("--enable-http-redirects", action="store_true", help="track HTTP redirects (3xx but 304)")
    g.add_argument("--enable-reverse-dns", action="store_true", help="let Matomo resolve visitor IPs (slow)")
    g.add_argument("--strip-query-string", action="store_true", help="drop the query string from URLs")
    g.add_argument("--query-string-delimiter", default="?", help="(default: %(default)s)")
    g.add_argument("--exclude-path", dest="exclude_paths", action="append", default=[], metavar="PATTERN",
                   help="skip paths matching this fnmatch pattern (e.g. */admin/*); repeatable")
    g.add_argument("--exclude-path-from", metavar="FILE", help="file of --exclude-path patterns, one a line")
    g.add_argument("--include-path", dest="include_paths", action="append", default=[], metavar="PATTERN",
                   help="import only paths matching one of these patterns; repeatable")
    g.add_argument("--include-path-from", metavar="FILE", help="file of --include-path patterns, one a line")
    g.add_argument("--useragent-exclude", dest="useragent_excludes", action="append", default=[],
                   metavar="TEXT", help="treat user agents containing TEXT (any case; a plain substring, "
                   "without wildcards) as bots; repeatable")
    g.add_argument("--useragent-exclude-regex", dest="useragent_exclude_regexes", action="append", default=[],
                   metavar="REGEX", help="treat user agents in which this regular expression is found (any "
                   "case) as bots; repeatable")
    g.add_argument("--bot-list", dest="bot_lists", action="append", default=[], metavar="FILE",
                   help="more bot patterns, one a line: a substring, or re: and a regular expression, "
                   "optionally followed by ' | NAME | CATEGORY'; a line starting with ! is a --not-bot "
                   "pattern; repeatable")
    g.add_argument("--not-bot", dest="not_bots", action="append", default=[], metavar="PATTERN",
                   help="never treat user agents containing PATTERN (or matching re:REGEX) as bots, "
                   "whichever list names them; repeatable")
    g.add_argument("--bots-as-matomo", action="store_true",
                   help="recognise bots by Matomo's own rule only (Device Detector's bots.yml): HTTP "
                   "libraries, headless browsers and the importer's own list become visits, as Matomo "
                   "counts them")
    g.add_argument("--bot-dimension", type=_positive, metavar="ID",
                   help="with --enable-bots: send each bot's name and category (e.g. 'GPTBot (AI Data "
                   "Scraper)') to this visit custom dimension")
    g.add_argument("--download-extensions", metavar="LIST",
                   help="comma list of extensions tracked as downloads, replacing the default list; "
                   "other known download extensions are then skipped")
    g.add_argument("--add-download-extensions", metavar="LIST", help="comma list added to the download extensions")
    g.add_argument("--exclude-older-than", metavar="DATE",
                   help="skip hits older than this date (exclusive): 'YYYY-MM-DD hh:mm:ss +hhmm', a date "
                   "without offset (in --log-timezone, else UTC), today, yesterday, or an age: 2d, 12h, 30min")
    g.add_argument("--exclude-newer-than", metavar="DATE",
                   help="skip hits newer than this date (exclusive); the same forms")
    g.add_argument("--add-to-date", type=int, default=0, metavar="SECONDS", help="seconds added to every date")
    g.add_argument("--force-lowercase-path", action="store_true", help="lowercase URL paths")
    g.add_argument("--title-category-delimiter", default="/",
                   help="Matomo's action_title_category_delimiter, for error and redirect titles "
                        "(default: %(default)s)")
    g.add_argument("--track-http-method", nargs="?", const="1", default=None, metavar="1",
                   help="track the HTTP method as the page custom variable HTTP-method")
    g.add_argument("--regex-group-to-visit-cvar", dest="visit_cvar_groups", type=_pair_list, action="append",
                   default=[], metavar="GROUP=NAME", help="track a regex group as a visit custom variable; repeatable")
    g.add_argument("--regex-group-to-page-cvar", dest="page_cvar_groups", type=_pair_list, action="append",
                   default=[], metavar="GROUP=NAME", help="track a regex group as a page custom variable; repeatable")
    g.add_argument("--regex-group-to-visit-dimension", dest="visit_dimension_groups", type=_dimension_pairs,
                   action="append", default=[], metavar="GROUP=ID",
                   help="send a regex group as the visit-scope custom dimension ID (dimensionID); repeatable")
    g.add_argument("--regex-group-to-action-dimension", dest="action_dimension_groups", type=_dimension_pairs,
                   action="append", default=[], metavar="GROUP=ID",
                   help="send a regex group as the action-scope custom dimension ID (dimensionID); repeatable")
    g.add_argument("--client-ip-from-forwarded-for", action="store_true",
                   help="take the visitor's IP from the format's X-Forwarded-For field: the last address, "
                   "walking from the right, that is not private or a --trusted-proxy (a '-' or unreadable "
                   "field keeps the connection address)")
    g.add_argument("--trusted-proxy", dest="trusted_proxies", action="append", default=[], metavar="ADDRESS",
                   help="with --client-ip-from-forwarded-for: a proxy address or CIDR network skipped in "
                   "X-Forwarded-For like private addresses; repeatable")
    g.add_argument("--replay-tracking", action="store_true",
                   help="replay the piwik.php / matomo.php requests found in the logs, each with its own "
                   "parameters (rec included)")
    g.add_argument("--replay-tracking-expected-tracker-file", metavar="NAME",
                   help="with --replay-tracking: the tracker file name to expect instead of piwik.php/matomo.php")

    g = p.add_argument_group("running")
    g.add_argument("--recorders", type=_recorders, default=AUTO, metavar="N|auto",
                   help="concurrent bulk requests to Matomo; each visitor's hits go through one "
                   "sender, in order; auto: follow Matomo's pace (latency and errors), from 1 up to "
                   "--max-recorders (default: %(default)s)")
    g.add_argument("--max-recorders", type=_positive, default=8, metavar="N",
                   help="the most concurrent requests --recorders auto may use (default: %(default)s)")
    g.add_argument("--recorder-max-payload-size", type=_positive, default=200,
                   help="hits per bulk request (default: %(default)s)")
    g.add_argument("--disable-bulk-tracking", action="store_true", help="send one request per hit")
    g.add_argument("--workers", type=_positive, default=None,
                   help="parsing processes (default: one per available core)")
    g.add_argument("--dry-run", action="store_true", help="parse, classify and count; send nothing (no server needed)")
    g.add_argument("--state-dir", metavar="DIR",
                   help="where import positions are kept, per file and Matomo, so that a later run "
                   "imports only what is new (default: $XDG_STATE_HOME/log-importer or "
                   "~/.local/state/log-importer)")
    g.add_argument("--last-line-complete", action="store_true",
                   help="the files are complete: import a plain file's last line even without its line end (by "
                   "default it is left for the next run, since the web server may be writing it)")
    g.add_argument("--reimport", action="store_true",
                   help="import from the start of every file, ignoring the positions of earlier runs")
    g.add_argument("--summary-json", metavar="FILE",
                   help="write the final counters as JSON, for monitoring (schema: README, --summary-json); "
                   "checked for writability before the run")
    g.add_argument("--invalid-lines-file", metavar="FILE",
                   help="append the log lines of the hits Matomo refused to FILE (checked for writability "
                   "before the run)")
    g.add_argument("--bulk-without-transactions", action="store_true",
                   help="Matomo runs bulk requests without transactions ([Tracker] "
                   "bulk_requests_use_transaction=0): after a 500, resend only the hits it did not track")
    g.add_argument("--idle-flush", type=_non_negative_float, default=1.0, metavar="SECONDS",
                   help="when standard input has brought nothing new for SECONDS (a pipe from a live "
                   "server), send the hits already read (default: %(default)s)")
    g.add_argument("--show-progress", action="store_true", default=None,
                   help="show progress even when stderr is not a terminal: a plain line every "
                   "--show-progress-delay seconds (on a terminal: a bar)")
    g.add_argument("--show-progress-delay", type=_non_negative_float, default=1.0,
                   help="seconds between progress updates (default: %(default)s)")
    g.add_argument("--output", metavar="FILE", help="write all output (summary, messages) to FILE")
    g.add_argument("--skip", type=_non_negative_int, default=0, metavar="N", help="skip the first N lines")
    g.add_argument("--debug", "-d", action="count", default=0,
                   help="debug output, with the file and line of each invalid line; repeatable")
    g.add_argument("--debug-tracker", action="store_true", help="add debug=1 to tracker requests and print "
                   "their answers (needs [Tracker] debug_on_demand=1 in Matomo)")
    g.add_argument("--debug-request-limit", type=_positive, metavar="N", help="stop after N parsed lines")
    g.add_argument("--debug-force-one-hit-every-Ns", dest="force_one_hit_interval", type=_non_negative_float,
                   metavar="N", help="send one hit per request (as --disable-bulk-tracking), each sender waiting "
                   "N seconds before each")
    return p


def _read_patterns(path, option):
    try:
        with open(path, encoding="utf8") as f:
            return [line.strip() for line in f if line.strip()]
    except OSError as e:
        raise UsageError("%s %s: %s" % (option, path, e.strerror)) from None


def _merge(dicts):
    out = {}
    for d in dicts:
        out.update(d)
    return out


def _parse(argv):
    """The parsed arguments: --config-file's options (or the default file's), each replaced by the
    command line's when it gives that option (a list too: the command line's --exclude-path
    replaces the file's list, it does not add to it). `a.config_file` is the file read, or None."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--config-file")
    path = pre.parse_known_args(argv)[0].config_file
    if path is None:
        from .config_file import default_path
        path = default_path() if os.path.exists(default_path()) else None
    a = parser.parse_args(argv)
    a.config_file = path
    if path:
        from .config_file import arguments
        from_file, files = arguments(path, parser._option_string_actions)
        given = _given(argv)
        for dest, value in vars(parser.parse_args(from_file)).items():
            if dest not in given and dest not in ("files", "config_file"):
                setattr(a, dest, value)
        if not a.files:
            a.files = files
    return a


def _given(argv) -> set:
    """The options (their dests) that the command line gives, whatever their values."""
    parser = build_parser()
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_known_args(argv)[0]))


def _readable(path, option):
    if path and not os.access(path, os.R_OK):
        raise UsageError("%s %s: %s" % (option, path, "no such file" if not os.path.exists(path)
                                        else "not readable by this user"))


TRACKER_FILES = ("matomo.php", "piwik.php")


def _matomo_root(url: str, a) -> str:
    """--url as Matomo's root: a URL given with its tracker or API file (the tracker URL of
    Matomo's JavaScript snippet, `https://host/matomo.php`) is taken as the folder it is in, and
    its tracker file as --tracker-endpoint-path unless that is given."""
    base, _, last = url.rstrip("/").rpartition("/")
    name = last.lower()
    if name not in TRACKER_FILES + ("index.php",) or base.endswith(":/"):
        return url
    if name in TRACKER_FILES and a.tracker_endpoint_path == DEFAULT_TRACKER_PATH:
        a.tracker_endpoint_path = "/" + last
    return base


def config_from_args(argv=None) -> Config:
    a = _parse(argv)
    if a.test_format and not a.files:
        a.files = [a.test_format]
    if not a.files:
        raise UsageError("no log file given (use - for standard input)")
    url = a.url
    if not url and not (a.dry_run or a.dump_log_regex or a.test_format):
        raise UsageError("--url is required (or use --dry-run)")
    if url and not url.startswith(("http://", "https://")):
        url = "http://" + url
    if url:
        url = _matomo_root(url, a)
    api_url = a.api_url
    if api_url and not api_url.startswith(("http://", "https://")):
        api_url = "http://" + api_url
    if a.tracker_endpoint_path and not a.tracker_endpoint_path.startswith("/"):
        a.tracker_endpoint_path = "/" + a.tracker_endpoint_path
    if (a.log_format_name and a.log_format_name.removeprefix("syslog+") not in formats.REGISTRY
            and not a.log_format_regex):
        raise UsageError("unknown --log-format-name %r%s; known: %s" % (
            a.log_format_name, did_you_mean(a.log_format_name, formats.names(), 2), ", ".join(formats.names())))
    token, password = token_and_password(a.token_auth, a.token_auth_file, a.login, a.password)
    register(token, password, a.auth_password)
    register_url(url)
    register_url(api_url)
    for text, option in ((a.request_suffix, "--request-suffix"), (url, "--url"), (api_url, "--api-url")):
        if text and "token_auth" in text.lower():
            raise UsageError("%s must not hold token_auth: the token never travels in a URL (use "
                             "--token-auth-file or MATOMO_TOKEN_AUTH)" % option)
    for path, option in ((a.ca_bundle, "--ca-bundle"), (a.client_cert, "--client-cert"),
                         (a.client_key, "--client-key")):
        _readable(path, option)
    if a.client_key and not a.client_cert:
        raise UsageError("--client-key needs --client-cert")
    site_map = []
    if a.site_map:
        from .sites import read_site_map
        site_map = read_site_map(a.site_map)
    downloads = DOWNLOAD_EXTENSIONS
    if a.download_extensions:
        downloads = frozenset(e.strip().lower() for e in a.download_extensions.split(",") if e.strip())
    if a.add_download_extensions:
        downloads = downloads | {e.strip().lower() for e in a.add_download_extensions.split(",") if e.strip()}
    exclude_paths = list(a.exclude_paths)
    include_paths = list(a.include_paths)
    if a.exclude_path_from:
        exclude_paths += _read_patterns(a.exclude_path_from, "--exclude-path-from")
    if a.include_path_from:
        include_paths += _read_patterns(a.include_path_from, "--include-path-from")
    if a.query_string_delimiter == "":
        raise UsageError("--query-string-delimiter must not be empty")
    if a.bot_dimension is not None and not a.enable_bots:
        raise UsageError("--bot-dimension needs --enable-bots (without it, bots are not sent)")
    try:
        timebounds.zone(a.log_timezone)
    except ValueError as e:
        raise UsageError("--log-timezone: %s" % e) from None
    bounds = []
    for value, option in ((a.exclude_older_than, "--exclude-older-than"),
                          (a.exclude_newer_than, "--exclude-newer-than")):
        try:
            bounds.append(timebounds.utc_bound(value, a.log_timezone) if value else None)
        except ValueError as e:
            raise UsageError("%s: %s" % (option, e)) from None
    ignore_groups = [g.strip() for g in (a.ignore_groups or "").split(",") if g.strip()]
    visit_cvar_groups, page_cvar_groups = _merge(a.visit_cvar_groups), _merge(a.page_cvar_groups)
    visit_dimension_groups = _merge(a.visit_dimension_groups)
    action_dimension_groups = _merge(a.action_dimension_groups)
    if a.log_format_regex:
        _check_regex_groups(a.log_format_regex, set(visit_cvar_groups) | set(page_cvar_groups)
                            | set(visit_dimension_groups) | set(action_dimension_groups) | set(ignore_groups)
                            | ({proxies.FORWARDED_FOR} if a.client_ip_from_forwarded_for else set()))
    config = Config(
        files=a.files, url=url, api_url=api_url, tracker_endpoint_path=a.tracker_endpoint_path,
        token_auth=token, login=a.login, password=password, config_file=a.matomo_config,
        php_binary=a.php_binary, enable_testmode=a.enable_testmode,
        auth_user=a.auth_user, auth_password=a.auth_password,
        accept_invalid_ssl_certificate=a.accept_invalid_ssl_certificate, ca_bundle=a.ca_bundle,
        client_cert=a.client_cert, client_key=a.client_key, request_suffix=a.request_suffix,
        request_timeout=a.request_timeout, connect_timeout=a.connect_timeout,
        retry_max_attempts=a.retry_max_attempts, retry_delay=a.retry_delay,
        idsite=a.idsite, idsite_fallback=a.idsite_fallback, add_sites_new_hosts=a.add_sites_new_hosts,
        max_new_sites=a.max_new_sites, site_map=site_map,
        hostnames=a.hostnames, include_hosts=[h.lower() for h in a.include_hosts],
        exclude_hosts=[h.lower() for h in a.exclude_hosts], log_hostname=a.log_hostname,
        log_format_name=a.log_format_name, log_format_regex=a.log_format_regex, log_date_format=a.log_date_format,
        log_format_apache=a.log_format_apache, log_format_nginx=a.log_format_nginx,
        log_format_file=a.log_format_file, log_format_ref=a.log_format_ref,
        w3c_fields=a.w3c_fields, w3c_map_fields=_merge(a.w3c_map_fields),
        w3c_field_regexes=_merge(a.w3c_field_regexes), w3c_time_taken_millisecs=a.w3c_time_taken_millisecs,
        ignore_groups=ignore_groups,
        encoding=a.encoding, dump_log_regex=a.dump_log_regex, test_format=a.test_format,
        enable_static=a.enable_static, enable_bots=a.enable_bots, enable_http_errors=a.enable_http_errors,
        enable_http_redirects=a.enable_http_redirects, enable_reverse_dns=a.enable_reverse_dns,
        strip_query_string=a.strip_query_string, query_string_delimiter=a.query_string_delimiter,
        exclude_paths=exclude_paths, include_paths=include_paths, useragent_excludes=a.useragent_excludes,
        useragent_exclude_regexes=a.useragent_exclude_regexes, bot_lists=a.bot_lists, not_bots=a.not_bots,
        bots_as_matomo=a.bots_as_matomo, bot_dimension=a.bot_dimension,
        download_extensions=downloads,
        exclude_older_than=bounds[0], exclude_newer_than=bounds[1], log_timezone=a.log_timezone,
        add_to_date=a.add_to_date, force_lowercase_path=a.force_lowercase_path,
        title_category_delimiter=a.title_category_delimiter,
        track_http_method=bool(a.track_http_method) and a.track_http_method not in ("0", "false", "False"),
        visit_cvar_groups=visit_cvar_groups, page_cvar_groups=page_cvar_groups,
        visit_dimension_groups=visit_dimension_groups, action_dimension_groups=action_dimension_groups,
        replay_tracking=a.replay_tracking,
        client_ip_from_forwarded_for=a.client_ip_from_forwarded_for, trusted_proxies=a.trusted_proxies,
        replay_tracking_expected_tracker_file=a.replay_tracking_expected_tracker_file,
        recorders=a.max_recorders if a.recorders == AUTO else a.recorders, auto_recorders=a.recorders == AUTO,
        recorder_max_payload_size=a.recorder_max_payload_size,
        bulk_tracking=not (a.disable_bulk_tracking or a.force_one_hit_interval is not None),
        force_one_hit_interval=a.force_one_hit_interval, workers=a.workers, dry_run=a.dry_run,
        show_progress=a.show_progress, show_progress_delay=a.show_progress_delay, output=a.output,
        skip=a.skip, debug=a.debug, debug_tracker=a.debug_tracker,
        debug_request_limit=a.debug_request_limit, state_dir=a.state_dir, reimport=a.reimport,
        summary_json=a.summary_json, invalid_lines_file=a.invalid_lines_file,
        bulk_without_transactions=a.bulk_without_transactions, idle_flush=a.idle_flush,
        last_line_complete=a.last_line_complete,
        command=tuple(sys.argv[1:] if argv is None else (str(x) for x in argv)),
        options_file=a.config_file,
    )
    if a.trusted_proxies and not a.client_ip_from_forwarded_for:
        raise UsageError("--trusted-proxy needs --client-ip-from-forwarded-for")
    try:
        proxies.parse_networks(a.trusted_proxies)
    except ValueError as e:
        raise UsageError("--trusted-proxy: %s" % e) from None
    if a.log_format_ref and not a.log_format_file:
        raise UsageError("--log-format-ref needs --log-format-file")
    given = [o for o, v in (("--log-format-regex", a.log_format_regex), ("--log-format-apache", a.log_format_apache),
                            ("--log-format-nginx", a.log_format_nginx), ("--log-format-file", a.log_format_file))
             if v]
    if len(given) > 1:
        raise UsageError("%s: give one format only" % " and ".join(given))
    try:
        formats.user_format(config)  # a format that cannot be read stops here, before anything is sent
    except formats.FormatError as e:
        raise UsageError(str(e)) from None
    bots.prepare(config)  # bad bot patterns stop here; the rules are built before the workers fork
    return config


def _check_regex_groups(regex: str, used: set):
    """Refuse a --log-format-regex group that looks like a misspelt field (`referer` for
    `referrer`: difflib's ratio of 0.8 or more to one of formats.FIELDS) and that no option
    reads: its values would be silently unread. Any other group is accepted, as import_logs.py
    accepts it: read by --regex-group-to-*-cvar/-dimension when asked, else ignored (--debug
    says so)."""
    try:
        names = list(re.compile(regex).groupindex)
    except re.error:
        return  # formats.resolve says what is wrong with it
    for name in names:
        if name in formats.FIELDS or name in used:
            continue
        close = difflib.get_close_matches(name, formats.FIELDS, n=1, cutoff=0.8)
        if close:
            raise UsageError("--log-format-regex: the group (?P<%s>...) is not a field the importer reads (did you "
                             "mean %s?); the fields are %s (a group of your own: read it with "
                             "--regex-group-to-visit-cvar or --regex-group-to-page-cvar, or name it in "
                             "--ignore-groups)" % (name, close[0], ", ".join(formats.FIELDS)))


def warn_about_options(config: Config):
    """Options that are valid but probably not what the user meant: a warning each."""
    for text in config.useragent_excludes:
        if "*" in text or "?" in text:
            logging.getLogger("log_importer").warning(
                "--useragent-exclude %r: the value is a plain substring (any case), not a pattern: "
                "* and ? match only themselves", text)
    for option, patterns in (("--include-path", config.include_paths), ("--exclude-path", config.exclude_paths)):
        for pattern in patterns:
            if not pattern.startswith(("/", "*", "?", "[", "http://", "https://")):
                logging.getLogger("log_importer").warning(
                    "%s %r: logged paths start with / (/docs/page), so this pattern matches none of them: did "
                    "you mean %r?", option, pattern, "/" + pattern)


def _check_encoding(name):
    import codecs
    import encodings.aliases
    from .sources import ascii_compatible
    try:
        codecs.lookup(name)
    except LookupError:
        known = set(encodings.aliases.aliases) | set(encodings.aliases.aliases.values())
        hint = did_you_mean(name.lower().replace("-", "_"), sorted(known), 2)
        raise UsageError("unknown --encoding %r%s" % (name, hint)) from None
    if not ascii_compatible(name):
        raise UsageError("--encoding %s: logs are read as lines of bytes ending in \\n, with ASCII as it is, which "
                         "%s does not write: convert the file first (iconv -f %s -t UTF-8), or give an encoding "
                         "such as utf8, latin-1 or cp1252" % (name, name, name.upper()))


def setup_logging(config: Config, stream):
    logger = logging.getLogger("log_importer")
    logger.handlers[:] = []
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("log-importer: %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    # On the logger: every handler (the progress bar's too) gets the records redacted.
    logger.filters[:] = [RedactingFilter()]
    logger.setLevel(logging.DEBUG if config.debug else logging.INFO)
    logger.propagate = False
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def main(argv=None) -> int:
    from .run import run
    err = sys.stderr
    out = sys.stdout
    opened = None
    try:
        try:
            config = config_from_args(argv)
            _check_encoding(config.encoding)
            if config.output:
                try:
                    opened = out = err = open(config.output, "a", encoding="utf8")
                except OSError as e:
                    raise UsageError("--output %s: %s" % (config.output, e.strerror)) from None
            setup_logging(config, err)
            warn_about_options(config)
            code = run(config, out, err)
        except UserError as e:
            err.write("log-importer: error: %s\n" % redact(e))
            code = e.exit_code
        except KeyboardInterrupt:
            err.write("log-importer: interrupted\n")
            code = EXIT_SIGINT
    finally:
        if opened is not None:
            opened.close()
    return code
