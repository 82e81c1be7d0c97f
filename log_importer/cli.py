"""The command line: arguments → a typed Config → run(config). Nothing else happens here."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import re
import sys

import formats

from . import __version__
from .config import DOWNLOAD_EXTENSIONS, Config
from .errors import EXIT_SIGINT, UsageError, UserError

DESCRIPTION = """\
Import web-server access logs into Matomo through its Tracking HTTP API.
A drop-in replacement for Matomo's import_logs.py: same options, same data in Matomo.

FILE is a log file, a glob (expanded and sorted), - for standard input, or a .gz, .bz2, .xz or
.zst file (recognised by content). By default the import keeps clean reports: it skips static
files, bots, HTTP errors and redirects (see the --enable-* options)."""

EPILOG = """\
exit status: 0 success; 1 the import started but stopped (Matomo kept failing or refused a batch);
2 bad options or inputs, or Matomo unreachable or misconfigured (nothing was sent); 130/143
stopped by SIGINT/SIGTERM (positions saved: run the same command again to continue)."""


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


def _utc_date(value: str) -> str:
    """'YYYY-MM-DD hh:mm:ss +hhmm' → UTC 'YYYY-MM-DD hh:mm:ss'."""
    m = re.fullmatch(r"\s*(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\s+([-+]\d{4})\s*", value)
    if not m:
        raise argparse.ArgumentTypeError(
            "invalid date %r: expected 'YYYY-MM-DD hh:mm:ss +hhmm' (the timezone offset is required)" % value)
    try:
        d = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
    except ValueError as e:
        raise argparse.ArgumentTypeError("invalid date %r: %s" % (value, e)) from None
    tz = int(m.group(2))
    sign = -1 if tz < 0 else 1
    d -= sign * dt.timedelta(hours=abs(tz) // 100, minutes=abs(tz) % 100)
    return d.strftime("%Y-%m-%d %H:%M:%S")


def _positive(value):
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1, got %d" % n)
    return n


AUTO = "auto"


def _recorders(value):
    """--recorders: a whole number >= 1, or auto."""
    if value.strip().lower() == AUTO:
        return AUTO
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number or auto, got %r" % value) from None
    return _positive(n)


def _non_negative_float(value):
    n = float(value)
    if n < 0:
        raise argparse.ArgumentTypeError("must not be negative, got %s" % value)
    return n


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, "%s: error: %s\n" % (self.prog, message))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="log-importer", usage="%(prog)s [options] FILE [FILE ...]", description=DESCRIPTION,
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", metavar="FILE", help="log files, globs, or - for standard input")
    p.add_argument("--version", action="version", version="log-importer " + __version__)

    g = p.add_argument_group("connection and authentication")
    g.add_argument("--url", help="your Matomo URL, e.g. https://matomo.example.org (required unless --dry-run); "
                   "http:// is added when no scheme is given")
    g.add_argument("--api-url", help="URL for the Reporting API calls when it differs from --url")
    g.add_argument("--tracker-endpoint-path", default="/piwik.php", help="tracker path (default: %(default)s)")
    g.add_argument("--token-auth", help="a token_auth with write or admin access to the sites (super user for "
                   "--add-sites-new-hosts); with a super-user token Matomo tells which lines it refused")
    g.add_argument("--login", help="Matomo login: a token is created with --password")
    g.add_argument("--password", help="password of --login")
    g.add_argument("--config", dest="config_file",
                   help="path of Matomo's config/config.ini.php: get a token through the local PHP installation "
                   "when neither --token-auth nor --login is given")
    g.add_argument("--auth-user", help="HTTP basic auth user")
    g.add_argument("--auth-password", help="HTTP basic auth password")
    g.add_argument("--accept-invalid-ssl-certificate", action="store_true",
                   help="do not verify Matomo's TLS certificate")
    g.add_argument("--request-suffix", help="extra query text appended to every tracker and API request URL")
    g.add_argument("--request-timeout", type=_non_negative_float, default=300.0,
                   help="seconds to wait for an answer from Matomo (default: %(default)s)")
    g.add_argument("--retry-max-attempts", type=_positive, default=3,
                   help="attempts per request before giving up (default: %(default)s)")
    g.add_argument("--retry-delay", type=_non_negative_float, default=10.0,
                   help="seconds before the first retry; doubles each time, with jitter; a Retry-After "
                   "header wins (default: %(default)s)")

    g = p.add_argument_group("sites")
    g.add_argument("--idsite", type=int, help="track every hit in this site (no lookup by host)")
    g.add_argument("--idsite-fallback", type=int, help="site for hosts that match no Matomo site")
    g.add_argument("--add-sites-new-hosts", action="store_true",
                   help="create a Matomo site for each host that matches none")
    g.add_argument("--hostname", dest="hostnames", action="append", default=[], metavar="PATTERN",
                   help="import only hits whose host matches this fnmatch pattern (e.g. *example.com); repeatable")
    g.add_argument("--include-host", dest="include_hosts", action="append", default=[], metavar="HOST",
                   help="import only hits for this exact host; repeatable")
    g.add_argument("--exclude-host", dest="exclude_hosts", action="append", default=[], metavar="HOST",
                   help="skip hits for this exact host; repeatable")
    g.add_argument("--log-hostname", help="the host of every hit, for formats without one")

    g = p.add_argument_group("log formats")
    g.add_argument("--log-format-name", metavar="NAME",
                   help="the log format (default: detected): %s" % ", ".join(formats.names()))
    g.add_argument("--log-format-regex", metavar="REGEX",
                   help="a regex with named groups (ip, date, timezone, path, query_string, status, length, "
                   "referrer, user_agent, host, userid, method, generation_time_milli/_micro/_secs, "
                   "event_category/_action/_name); overrides --log-format-name")
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
                   help="encoding of the logs (default: %(default)s); undecodable lines count as invalid")
    g.add_argument("--dump-log-regex", action="store_true", help="print the format and its regex, then exit")

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
                   metavar="TEXT", help="treat user agents containing TEXT (any case) as bots; repeatable")
    g.add_argument("--download-extensions", metavar="LIST",
                   help="comma list of extensions tracked as downloads, replacing the default list; "
                   "other known download extensions are then skipped")
    g.add_argument("--add-download-extensions", metavar="LIST", help="comma list added to the download extensions")
    g.add_argument("--exclude-older-than", type=_utc_date, metavar="'YYYY-MM-DD hh:mm:ss +hhmm'",
                   help="skip hits older than this date (exclusive)")
    g.add_argument("--exclude-newer-than", type=_utc_date, metavar="'YYYY-MM-DD hh:mm:ss +hhmm'",
                   help="skip hits newer than this date (exclusive)")
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
    g.add_argument("--replay-tracking", action="store_true",
                   help="replay the piwik.php / matomo.php requests found in the logs (sent with rec=0)")
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
                   help="where import positions are kept, per file and destination, so that a later run "
                   "imports only what is new (default: $XDG_STATE_HOME/log-importer or "
                   "~/.local/state/log-importer)")
    g.add_argument("--reimport", action="store_true",
                   help="import from the start of every file, ignoring the positions of earlier runs")
    g.add_argument("--summary-json", metavar="FILE", help="write the final counters as JSON (for monitoring)")
    g.add_argument("--invalid-lines-file", metavar="FILE",
                   help="append the log lines of the hits Matomo refused to FILE")
    g.add_argument("--bulk-without-transactions", action="store_true",
                   help="Matomo runs bulk requests without transactions ([Tracker] "
                   "bulk_requests_use_transaction=0): after a 500, resend only the hits it did not track")
    g.add_argument("--show-progress", action="store_true", default=None,
                   help="show the progress bar even when stderr is not a terminal")
    g.add_argument("--show-progress-delay", type=_non_negative_float, default=1.0,
                   help="seconds between progress updates (default: %(default)s)")
    g.add_argument("--output", metavar="FILE", help="write all output (summary, messages) to FILE")
    g.add_argument("--skip", type=int, default=0, metavar="N", help="skip the first N lines")
    g.add_argument("--debug", "-d", action="count", default=0,
                   help="debug output, with the file and line of each invalid line; repeatable")
    g.add_argument("--debug-tracker", action="store_true", help="add debug=1 to tracker requests and print "
                   "their answers (needs [Tracker] debug_on_demand=1 in Matomo)")
    g.add_argument("--debug-request-limit", type=_positive, metavar="N", help="stop after N parsed lines")
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


def config_from_args(argv=None) -> Config:
    a = build_parser().parse_args(argv)
    if not a.files:
        raise UsageError("no log file given (use - for standard input)")
    url = a.url
    if not url and not (a.dry_run or a.dump_log_regex):
        raise UsageError("--url is required (or use --dry-run)")
    if url and not url.startswith(("http://", "https://")):
        url = "http://" + url
    api_url = a.api_url
    if api_url and not api_url.startswith(("http://", "https://")):
        api_url = "http://" + api_url
    if a.tracker_endpoint_path and not a.tracker_endpoint_path.startswith("/"):
        a.tracker_endpoint_path = "/" + a.tracker_endpoint_path
    if a.log_format_name and a.log_format_name not in formats.REGISTRY and not a.log_format_regex:
        raise UsageError("unknown --log-format-name %r (known: %s)" % (a.log_format_name, ", ".join(formats.names())))
    if a.login and not a.password:
        raise UsageError("--login needs --password")
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
    return Config(
        files=a.files, url=url, api_url=api_url, tracker_endpoint_path=a.tracker_endpoint_path,
        token_auth=a.token_auth, login=a.login, password=a.password, config_file=a.config_file,
        auth_user=a.auth_user, auth_password=a.auth_password,
        accept_invalid_ssl_certificate=a.accept_invalid_ssl_certificate, request_suffix=a.request_suffix,
        request_timeout=a.request_timeout, retry_max_attempts=a.retry_max_attempts, retry_delay=a.retry_delay,
        idsite=a.idsite, idsite_fallback=a.idsite_fallback, add_sites_new_hosts=a.add_sites_new_hosts,
        hostnames=a.hostnames, include_hosts=[h.lower() for h in a.include_hosts],
        exclude_hosts=[h.lower() for h in a.exclude_hosts], log_hostname=a.log_hostname,
        log_format_name=a.log_format_name, log_format_regex=a.log_format_regex, log_date_format=a.log_date_format,
        w3c_fields=a.w3c_fields, w3c_map_fields=_merge(a.w3c_map_fields),
        w3c_field_regexes=_merge(a.w3c_field_regexes), w3c_time_taken_millisecs=a.w3c_time_taken_millisecs,
        ignore_groups=[g.strip() for g in (a.ignore_groups or "").split(",") if g.strip()],
        encoding=a.encoding, dump_log_regex=a.dump_log_regex,
        enable_static=a.enable_static, enable_bots=a.enable_bots, enable_http_errors=a.enable_http_errors,
        enable_http_redirects=a.enable_http_redirects, enable_reverse_dns=a.enable_reverse_dns,
        strip_query_string=a.strip_query_string, query_string_delimiter=a.query_string_delimiter,
        exclude_paths=exclude_paths, include_paths=include_paths, useragent_excludes=a.useragent_excludes,
        download_extensions=downloads,
        exclude_older_than=a.exclude_older_than, exclude_newer_than=a.exclude_newer_than,
        add_to_date=a.add_to_date, force_lowercase_path=a.force_lowercase_path,
        title_category_delimiter=a.title_category_delimiter,
        track_http_method=bool(a.track_http_method) and a.track_http_method not in ("0", "false", "False"),
        visit_cvar_groups=_merge(a.visit_cvar_groups), page_cvar_groups=_merge(a.page_cvar_groups),
        replay_tracking=a.replay_tracking,
        replay_tracking_expected_tracker_file=a.replay_tracking_expected_tracker_file,
        recorders=a.max_recorders if a.recorders == AUTO else a.recorders, auto_recorders=a.recorders == AUTO,
        recorder_max_payload_size=a.recorder_max_payload_size,
        bulk_tracking=not a.disable_bulk_tracking, workers=a.workers, dry_run=a.dry_run,
        show_progress=a.show_progress, show_progress_delay=a.show_progress_delay, output=a.output,
        skip=max(0, a.skip), debug=a.debug, debug_tracker=a.debug_tracker,
        debug_request_limit=a.debug_request_limit, state_dir=a.state_dir, reimport=a.reimport,
        summary_json=a.summary_json, invalid_lines_file=a.invalid_lines_file,
        bulk_without_transactions=a.bulk_without_transactions,
    )


def _check_encoding(name):
    import codecs
    try:
        codecs.lookup(name)
    except LookupError:
        raise UsageError("unknown --encoding %r" % name) from None


def setup_logging(config: Config, stream):
    logger = logging.getLogger("log_importer")
    logger.handlers[:] = []
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("log-importer: %(levelname)s: %(message)s"))
    logger.addHandler(handler)
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
            code = run(config, out, err)
        except UserError as e:
            err.write("log-importer: error: %s\n" % e)
            code = e.exit_code
        except KeyboardInterrupt:
            err.write("log-importer: interrupted\n")
            code = EXIT_SIGINT
    finally:
        if opened is not None:
            opened.close()
    return code
