"""The summary printed at the end of a run (and on interruption): the contract's section 5, as
one account whose numbers add up.

Every line read is accounted for once: a hit to import, a request ignored for one reason, a line
skipped with --skip, a W3C header line. Every hit to import is imported, refused by Matomo,
answered but neither, or not confirmed (still pending). A line that ends with a colon is
followed by its parts, indented, and they add up to it (a list of the bots skipped most adds up
to at most its line). The run's time is split into reading and parsing, waiting for Matomo and
idle (waiting for standard input), and one line names the bottleneck. Advice is given where it
applies: `core:archive` only for a real Matomo (the embedded endpoint names itself), how to
continue only after a stop.

`summary_data` gives the same account for --summary-json; its fields are documented, with
SCHEMA_VERSION, in the README ("--summary-json").
"""
from __future__ import annotations

import datetime as dt

from . import classify as C
from . import invalid_lines
from .bots import Bot
from .chunks import NO_HOST_KEY, REPLAY_KEY_PREFIX
from .config import Config
from .positions import MAX_NO_SITE_PENDING
from .progress import size_text
from .stats import Stats

SCHEMA_VERSION = 1  # of --summary-json: a field's meaning never changes within a version

REASON_LABELS = [
    (C.INVALID, "invalid log lines"),
    (C.NO_CLIENT_IP, "requests whose client address is not an IP (-, unix: sockets, host names)"),
    (C.FILTERED, "filtered log lines (--include-host, --exclude-host, --exclude-older-than, --exclude-newer-than)"),
    (C.HTTP_ERROR, "HTTP errors"),
    (C.HTTP_REDIRECT, "HTTP redirects"),
    (C.STATIC, "requests to static resources (css, js, images, ico, ttf...)"),
    (C.BOT, "requests done by bots, search engines..."),
    (C.DOWNLOAD_NOT_LISTED, "requests to file downloads that did not match any --download-extensions"),
    (C.EXCLUDED_PATH, "requests excluded by --exclude-path / --include-path"),
    (C.NO_SITE, "requests that did not match any known site"),
    (C.HOSTNAME_MISMATCH, "requests that did not match any --hostname"),
]

TOP_BOTS = 10
MATOMO_BOUND = 0.5  # share of the time spent waiting for Matomo above which it is the bottleneck


def _n(value) -> str:
    return "{:,}".format(value)


def _top_bots(stats: Stats) -> list[str]:
    """The bots seen most, by name: where the "requests done by bots" count comes from (the
    bots imported, with --enable-bots)."""
    top = stats.bot_hits.most_common(TOP_BOTS)
    width = len(_n(top[0][1])) if top else 0
    return ["%*s %s" % (width, _n(hits), Bot(*bot).label()) for bot, hits in top]


def bots_imported(stats: Stats, config: Config) -> int:
    """With --enable-bots, the hits to import that are bots' (else 0: bots are skipped)."""
    return sum(stats.bot_hits.values()) if config.enable_bots else 0


def _with_parts(line: str, parts: list, indent: str) -> list[str]:
    """`line`, and its parts below it, indented: the line ends with a colon only when parts follow."""
    if not parts:
        return [line]
    return [line + ":"] + [indent + p for p in parts]


def answered_neither(stats: Stats) -> int:
    """Hits in requests Matomo answered that it neither tracked nor refused (a lock wait timeout
    drops a hit so: behaviour spec 1.2)."""
    return stats.hits_sent - stats.tracked - stats.rejected


def not_confirmed(stats: Stats, config: Config) -> int:
    """Hits built that Matomo did not answer for (0 in a dry run): they stay pending."""
    return 0 if config.dry_run else stats.hits_built - stats.hits_sent


def _lines_section(s: Stats, config: Config) -> list[str]:
    """The account of every line read."""
    dry = config.dry_run
    hits = "%s requests %s" % (_n(s.hits_built), "would be imported" if dry else "to import")
    if s.downloads:
        hits += ", %s of them downloads" % _n(s.downloads)
    bots = bots_imported(s, config)
    if bots:
        hits += ", %s of them bots" % _n(bots)
    sent = []
    if not dry:
        sent.append("%s requests imported successfully" % _n(s.tracked))
        if s.rejected:
            sent.append("%s requests refused by Matomo as invalid" % _n(s.rejected))
        neither = answered_neither(s)
        if neither:
            sent.append("%s requests answered but neither tracked nor refused" % _n(neither))
        pending = not_confirmed(s, config)
        if pending:
            sent.append("%s requests not confirmed by Matomo (they stay pending: see below)" % _n(pending))
    ignored = []
    for reason, label in REASON_LABELS:
        line = "%s %s" % (_n(s.skipped[reason]), label)
        if reason == C.BOT and s.bot_hits and not config.enable_bots:
            top = _top_bots(s)
            ignored += _with_parts(line + "; the %d bots skipped most (of %d seen)" % (len(top), len(s.bot_hits)),
                                   top, "    ")
        else:
            ignored.append(line)
    parts = _with_parts(hits, sent, "    ")
    parts += _with_parts("%s requests ignored" % _n(s.total_skipped), ignored, "    ")
    if s.lines_skipped_option:
        parts.append("%s lines skipped with --skip" % _n(s.lines_skipped_option))
    if s.comment_lines:
        parts.append("%s W3C header lines" % _n(s.comment_lines))
    return _with_parts("%s lines parsed from %d input(s)" % (_n(s.lines_read), len(s.files)), parts, "    ")


def _where_it_stopped(s: Stats) -> str:
    if s.bytes_total:
        return "%.0f%% of the input was parsed (%s of %s)" % (
            100.0 * min(s.bytes_done, s.bytes_total) / s.bytes_total, size_text(s.bytes_done), size_text(s.bytes_total))
    return "%s of input were parsed" % size_text(s.bytes_done)


def _website_section(s: Stats, config: Config) -> list[str]:
    out = []
    created = s.sites_created
    sites = sorted((x for x in s.sites_used if x != "dry-run"), key=str)
    if config.dry_run and not sites and s.hits_built:
        out.append("%s requests would be imported (sites are not looked up in a dry run)" % _n(s.hits_built))
    else:
        created_ids = {str(idsite) for _, idsite in created}
        out.append("%s requests %s to %d sites" % (_n(s.hits_built if config.dry_run else s.tracked),
                                                   "would be imported" if config.dry_run else "imported",
                                                   len(sites)))
        out.append("%d sites already existed" % len([x for x in sites if str(x) not in created_ids]))
        out += _with_parts("%d sites were created" % len(created),
                           ["%s (ID: %s)" % (host, idsite) for host, idsite in created], "    ")
    return out + _no_site_lines(s, config)


def _no_site_lines(s: Stats, config: Config) -> list[str]:
    """The hits that matched no site, by what their site key is: a host (with the ways to give it
    a site that the options do not use yet), no host in the log, or a replayed request's idsite."""
    hosts = sorted(k for k in s.hosts_no_site if k != NO_HOST_KEY and not k.startswith(REPLAY_KEY_PREFIX))
    out = _with_parts("%d distinct hostnames did not match any existing site" % len(hosts), hosts, "    ")
    if hosts:
        out += ["TIPs:",
                " - if one of these hosts is an alias host for one of the websites in Matomo,",
                "   add this host as an \"Alias URL\" in Settings > Websites."]
        if config.add_sites_new_hosts:
            out.append(" - --add-sites-new-hosts created no site for them: --max-new-sites=%d was reached, "
                       "or Matomo refused (see the messages above)," % config.max_new_sites)
        else:
            out.append(" - use --add-sites-new-hosts to create one website for each of these hosts,")
        out += [" - or --idsite-fallback to record these lines in a given site,",
                " - or --idsite to record every line in one site;"]
        if s.no_site_kept:
            out.append("   then run the same command again: it imports the requests kept pending, and nothing twice.")
    if NO_HOST_KEY in s.hosts_no_site:
        out.append("hits without a host in the log (an empty or '-' virtual host) matched no site: "
                   "--idsite-fallback or --log-hostname gives them one")
    ids = sorted(k[len(REPLAY_KEY_PREFIX):] for k in s.hosts_no_site if k.startswith(REPLAY_KEY_PREFIX))
    if ids:
        out += ["%d replayed idsite values are not sites this token may write to: %s" % (len(ids), " ".join(ids)),
                "    (check the idsite in the logged requests, and that the token has write access to "
                "those sites)"]
    return out


def _ms(value: float) -> str:
    return ("%.2f" if value < 1 else "%.1f" if value < 10 else "%.0f") % value


def bottleneck(s: Stats, config: Config) -> tuple[str, str]:
    """(what held the run back: "matomo", "reading" or "idle"; one line that says it)."""
    reading, matomo, idle = s.time_split()
    total = max(s.elapsed, 1e-9)
    lines_per_s = _n(int(s.lines_read / total))
    processes = "%d parsing process%s" % (s.workers, "" if s.workers == 1 else "es")
    cores = s.cores
    more_workers = ("more --workers may help: this machine has %d cores" % cores if s.workers < cores
                    else "this machine's %d cores were the limit" % cores)
    if config.dry_run:
        return "reading", ("reading and parsing the logs took the whole run (a dry run sends nothing): %s lines/s "
                           "with %s; %s" % (lines_per_s, processes, more_workers))
    if idle >= reading and idle >= matomo and idle > 0:
        return "idle", ("standard input brought nothing new for %.0f%% of the time: the import kept up with the "
                        "log as it was written" % (100 * idle / total))
    if matomo >= MATOMO_BOUND * total or matomo > reading:
        share = 100 * matomo / total
        if not s.hits_sent:
            return "matomo", ("%.0f%% of the time was spent waiting for Matomo's answers to the checks and site "
                              "lookups, before any hit was confirmed" % share)
        per_hit = 1000.0 * s.answer_seconds / s.hits_sent
        per_request = 1000.0 * s.answer_seconds / max(1, s.attempts)
        advice = ("; more --recorders may help if its server has idle CPU (%d now)" % s.recorders
                  if s.destination != "embedded" else "")
        return "matomo", ("Matomo answered in %s ms per hit on average (%s ms per request of up to %d hits): "
                          "%.0f%% of the time was spent waiting for it%s"
                          % (_ms(per_hit), _ms(per_request), config.recorder_max_payload_size, share, advice))
    return "reading", ("reading and parsing the logs took %.0f%% of the time (%s lines/s with %s): Matomo "
                       "waited for the importer; %s" % (100 * reading / total, lines_per_s, processes, more_workers))


def _time_section(s: Stats, config: Config) -> list[str]:
    """Total time and its parts. The seconds shown are rounded so that they add up to the total
    shown (to 0.01 s under 10 s, else 0.1 s); the shares are those of the unrounded times (as the
    bottleneck line gives them)."""
    elapsed = max(s.elapsed, 1e-9)
    digits = 2 if s.elapsed < 10 else 1
    total = round(s.elapsed, digits)
    reading, matomo, idle = s.time_split()
    shares = [100.0 * x / elapsed for x in (reading, matomo, idle)]
    shown_matomo = not config.dry_run
    shown_idle = s.stdin_used or idle > 0
    matomo = round(matomo, digits) if shown_matomo else 0.0
    idle = round(idle, digits) if shown_idle else 0.0
    reading = round(total - matomo - idle, digits)  # the parts shown add up to the total shown
    parts = ["reading and parsing the logs: %.*f s (%.0f%%)" % (digits, reading, shares[0])]
    if shown_matomo:
        parts.append("waiting for Matomo: %.*f s (%.0f%%)" % (digits, matomo, shares[1]))
    if shown_idle:
        parts.append("idle, waiting for standard input: %.*f s (%.0f%%)" % (digits, idle, shares[2]))
    return ["Total time: %.*f seconds" % (digits, total)] + ["    " + p for p in parts]


def render(stats: Stats, config: Config, interrupted: str | None = None, state_path: str | None = None,
           to_continue: list | None = None) -> str:
    """The summary's text. `interrupted`: why the run stopped early; `state_path`: where
    positions were saved; `to_continue`: the lines of the "How to continue" section."""
    s = stats
    dry = config.dry_run
    elapsed = max(s.elapsed, 1e-9)
    out = []
    if s.rejected_lines:
        shown = ", ".join("%s:%d" % w for w in s.rejected_lines[:50])
        more = len(s.rejected_lines) - 50
        out += ["Hits Matomo refused", "-------------------", "",
                "    " + shown + (" and %s more" % _n(more) if more > 0 else ""), ""]
    out += ["Logs import summary" + (" (dry run: nothing was sent)" if dry else ""),
            "-------------------", ""]
    if interrupted:
        out += ["    INTERRUPTED: %s; %s" % (interrupted, _where_it_stopped(s)), ""]
    for name, lines, when in stats.resumed:
        out.append("    %s: skipped %s lines already imported%s (use --reimport to import them again)"
                   % (name, _n(lines), " on " + when if when else ""))
    if s.no_site_reread:
        out.append("    %s requests that matched no site in earlier runs were read again: their site is known now"
                   % _n(s.no_site_reread))
    if s.no_site_waiting:
        out.append("    %s requests that matched no site in earlier runs still have none: they stay pending"
                   % _n(s.no_site_waiting))
    if stats.resumed or s.no_site_reread or s.no_site_waiting:
        out.append("")
    out += ["    " + line for line in _lines_section(s, config)]
    bots = bots_imported(s, config)
    if bots:
        top = _top_bots(s)
        out += ["    " + line for line in _with_parts(
            "%s of the requests to import are bots (--enable-bots: sent with bots=1); the %d bots seen most (of %d)"
            % (_n(bots), len(top), len(s.bot_hits)), top, "    ")]
    if config.options_file:
        out.append("    options read from the config file %s; those given on the command line replace its own"
                   % config.options_file)
    if s.skipped[C.NO_CLIENT_IP] and s.forwarded_for:
        out += ["    TIP: a hit without a client IP is not sent (Matomo would merge such hits into one",
                "         visitor, 0.0.0.0); the client's address may be in a forwarded-for field:"]
        for name, option in sorted(s.forwarded_for.items()):
            out.append("          - %s: %s" % (name, option))
    if s.lines_undecodable:
        out.append("    %s lines with undecodable bytes for --encoding=%s: kept (%%XX in URLs, U+FFFD elsewhere; "
                   "--debug shows where)" % (_n(s.lines_undecodable), config.encoding))
    if s.no_site_kept:
        out.append("    the %s requests that did not match any known site are kept pending in the import state: once "
                   "their site exists (see below), the same command imports exactly them"
                   % _n(s.no_site_kept) if s.no_site_kept == s.skipped[C.NO_SITE] else
                   "    %s of the requests that did not match any known site are kept pending in the import state: "
                   "once their site exists (see below), the same command imports exactly them"
                   % _n(s.no_site_kept))
    if s.no_site_not_kept:
        out.append("    %s requests that did not match any known site were not kept: the import state keeps at most "
                   "%s; once their site exists, import them with --reimport and --include-host HOST (their hosts "
                   "only)" % (_n(s.no_site_not_kept), _n(MAX_NO_SITE_PENDING)))
    for name in s.unfinished_lines:
        out.append("    %s: its last line has no line end yet (the web server may be writing it): it is left for the "
                   "next run (--last-line-complete imports it now)" % name)
    if s.stdin_used:
        out.append("    standard input cannot be resumed: its position is not remembered")
    if state_path:
        held = [s.files[fi] for fi in sorted(s.held_inputs)]
        out.append("    import positions saved in %s%s" % (state_path, "" if not held else
                   " (not that of %s: none of its lines could be read)" % ", ".join(held)))
    out += invalid_lines.render_section(s)
    out += ["", "Website import summary", "----------------------", ""]
    out += ["    " + line for line in _website_section(s, config)]
    speed = (s.hits_built if dry else s.tracked) / elapsed
    out += ["", "Performance summary", "-------------------", ""]
    out += ["    " + line for line in _time_section(s, config)]
    out += ["    Lines parsed per second: %s" % _n(int(s.lines_read / elapsed)),
            "    Requests %s per second: %s" % ("processed" if dry else "imported", _n(int(speed)))]
    if not dry:
        out.append("    %s tracking requests sent, %s retries" % (_n(s.requests), _n(s.retries)))
    out.append("    Bottleneck: %s" % bottleneck(s, config)[1])
    if s.pace is not None and s.pace[0]:
        _, final, low, high = s.pace
        out.append("    Concurrent requests (--recorders auto): %d at the end, %d to %d during the run"
                   % (final, low, high))
    if s.dates and s.destination == "matomo" and s.tracked:
        days = sorted(s.dates)
        span = days[0] if len(days) == 1 else "%s to %s" % (days[0], days[-1])
        out += ["", "Processing your log data", "------------------------", "",
                "    Hits were imported for past dates (%s, %d day(s)). Matomo must re-archive the" % (span, len(days)),
                "    reports of those dates: run",
                "      ./console core:archive --force-all-websites --url='%s'" % (config.api_url or config.url),
                "    (Matomo invalidates the reports of the imported dates by itself when browser",
                "    archiving is on or core:archive runs from cron)."]
    if to_continue:
        out += ["", "How to continue", "---------------", ""] + ["    " + line for line in to_continue]
    return "\n".join(out) + "\n"


def summary_data(stats: Stats, config: Config, code: int, error: str | None, signal_name: str | None,
                 state_path: str | None, continue_command: str | None = None) -> dict:
    """The final counters, for --summary-json (cron monitoring): SCHEMA_VERSION, README."""
    s = stats
    reading, matomo, idle = s.time_split()
    top_bots = [{"name": name, "category": category, "hits": hits}
                for (name, category), hits in s.bot_hits.most_common(TOP_BOTS)]
    return {
        "schema_version": SCHEMA_VERSION,
        "exit_code": code, "dry_run": config.dry_run, "error": error, "signal": signal_name,
        "finished": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "seconds": round(s.elapsed, 3),
        "time": {"reading": round(reading, 3), "waiting_for_matomo": round(matomo, 3), "idle": round(idle, 3)},
        "bottleneck": bottleneck(s, config)[0],
        "destination": s.destination,
        "inputs": s.files, "bytes_total": s.bytes_total, "bytes_done": s.bytes_done,
        "lines_read": s.lines_read,
        "lines_already_imported": sum(n for _, n, _ in s.resumed),
        "lines_skipped_option": s.lines_skipped_option, "comment_lines": s.comment_lines,
        "hits_built": s.hits_built,
        "hits_sent": s.hits_sent, "tracked": s.tracked, "rejected": s.rejected,
        "unconfirmed": answered_neither(s), "not_confirmed": not_confirmed(s, config),
        "may_be_sent_twice": s.may_be_sent_twice, "confirmed_ahead": s.confirmed_ahead,
        "unanswered_pending": s.unanswered_pending,
        "no_site_kept": s.no_site_kept, "no_site_not_kept": s.no_site_not_kept,
        "no_site_reread": s.no_site_reread, "no_site_waiting": s.no_site_waiting,
        "unfinished_lines": s.unfinished_lines,
        "downloads": s.downloads, "skipped": s.skipped, "requests": s.requests, "retries": s.retries,
        "lines_undecodable": s.lines_undecodable, "invalid_reasons": invalid_lines.summary_data(s),
        "sites": sorted(str(x) for x in s.sites_used if x != "dry-run"), "sites_created": s.sites_created,
        "hosts_without_site": sorted(k for k in s.hosts_no_site if k != NO_HOST_KEY
                                     and not k.startswith(REPLAY_KEY_PREFIX)),
        "hits_without_host_matched_no_site": NO_HOST_KEY in s.hosts_no_site,
        "replayed_idsites_without_site": sorted(k[len(REPLAY_KEY_PREFIX):] for k in s.hosts_no_site
                                                if k.startswith(REPLAY_KEY_PREFIX)),
        "dates": sorted(s.dates),
        "rejected_lines": [{"file": f, "line": n} for f, n in s.rejected_lines[:10000]],
        "input_errors": s.input_errors, "state_file": state_path, "config_file": config.options_file,
        "continue_command": continue_command,
        "top_bots_skipped": [] if config.enable_bots else top_bots,
        "bots_imported": bots_imported(s, config),
        "top_bots_imported": top_bots if config.enable_bots else [],
        "concurrent_requests": (None if s.pace is None else
                                dict(zip(("auto", "at_end", "lowest", "highest"), s.pace))),
    }
