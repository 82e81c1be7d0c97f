"""The summary printed at the end of a run (and on interruption): the contract's section 5."""
from __future__ import annotations

import datetime as dt

from . import classify as C
from .config import Config
from .stats import Stats

REASON_LABELS = [
    (C.INVALID, "invalid log lines"),
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


def _n(value) -> str:
    return "{:,}".format(value)


def render(stats: Stats, config: Config, interrupted: str | None = None, state_path: str | None = None) -> str:
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
        out += ["    INTERRUPTED: %s" % interrupted, ""]
    for name, lines, when in stats.resumed:
        out.append("    %s: skipped %s lines already imported%s (use --reimport to import them again)"
                   % (name, _n(lines), " on " + when if when else ""))
    if stats.resumed:
        out.append("")
    out.append("    %s lines parsed from %d input(s)" % (_n(s.lines_read), len(s.files)))
    if dry:
        out.append("    %s requests would be imported" % _n(s.hits_built))
    else:
        out.append("    %s requests imported successfully" % _n(s.tracked))
        if s.rejected:
            out.append("    %s requests refused by Matomo as invalid" % _n(s.rejected))
        if s.unconfirmed:
            out.append("    %s requests answered but neither tracked nor refused" % _n(s.unconfirmed))
        not_confirmed = s.hits_built - s.hits_sent
        if not_confirmed > 0:
            out.append("    %s requests not confirmed by Matomo (run the same command again to send them)"
                       % _n(not_confirmed))
    out.append("    %s requests were downloads" % _n(s.downloads))
    ignored = s.total_skipped + s.lines_skipped_option
    out.append("    %s requests ignored:" % _n(ignored))
    for reason, label in REASON_LABELS:
        out.append("        %s %s" % (_n(s.skipped[reason]), label))
    if s.lines_skipped_option:
        out.append("        %s lines skipped with --skip" % _n(s.lines_skipped_option))
    if s.comment_lines:
        out.append("    %s W3C header lines read" % _n(s.comment_lines))
    if s.stdin_used:
        out.append("    standard input cannot be resumed: its position is not remembered")
    if state_path:
        out.append("    import positions saved in %s" % state_path)
    out += ["", "Website import summary", "----------------------", ""]
    created = dict((idsite, host) for host, idsite in s.sites_created)
    sites = sorted((x for x in s.sites_used if x != "dry-run"), key=str)
    if dry and not sites and s.hits_built:
        out.append("    %s requests would be imported (sites are not looked up in a dry run)" % _n(s.hits_built))
    else:
        out.append("    %s requests imported to %d sites" % (_n(s.hits_built if dry else s.tracked), len(sites)))
        out.append("        %d sites already existed" % len([x for x in sites if x not in created]))
        out.append("        %d sites were created:" % len(s.sites_created))
        for host, idsite in s.sites_created:
            out.append("            %s (ID: %s)" % (host, idsite))
    out.append("    %d distinct hostnames did not match any existing site:" % len(s.hosts_no_site))
    for host in sorted(s.hosts_no_site):
        out.append("            %s" % host)
    if s.hosts_no_site:
        out += ["        TIPs:",
                "         - if one of these hosts is an alias host for one of the websites in Matomo,",
                "           add this host as an \"Alias URL\" in Settings > Websites.",
                "         - use --add-sites-new-hosts to create one website for each of these hosts,",
                "         - or --idsite-fallback to record these lines in a given site,",
                "         - or --idsite to record every line in one site."]
    speed = (s.hits_built if dry else s.tracked) / elapsed
    out += ["", "Performance summary", "-------------------", "",
            "    Total time: %.1f seconds" % s.elapsed,
            "    Lines parsed per second: %s" % _n(int(s.lines_read / elapsed)),
            "    Requests %s per second: %s" % ("processed" if dry else "imported", _n(int(speed)))]
    if not dry:
        out.append("    %s tracking requests sent, %s retries" % (_n(s.requests), _n(s.retries)))
    if s.pace is not None and s.pace[0]:
        _, final, low, high = s.pace
        out.append("    Concurrent requests (--recorders auto): %d at the end, %d to %d during the run"
                   % (final, low, high))
    if s.dates and not dry and s.tracked:
        days = sorted(s.dates)
        span = days[0] if len(days) == 1 else "%s to %s" % (days[0], days[-1])
        out += ["", "Processing your log data", "------------------------", "",
                "    Hits were imported for past dates (%s, %d day(s)). Matomo must re-archive the" % (span, len(days)),
                "    reports of those dates: run",
                "      ./console core:archive --force-all-websites --url='%s'" % (config.api_url or config.url),
                "    (Matomo invalidates the reports of the imported dates by itself when browser",
                "    archiving is on or core:archive runs from cron)."]
    return "\n".join(out) + "\n"


def summary_data(stats: Stats, config: Config, code: int, error: str | None, signal_name: str | None,
                 state_path: str | None) -> dict:
    """The final counters, for --summary-json (cron monitoring)."""
    s = stats
    return {
        "exit_code": code, "dry_run": config.dry_run, "error": error, "signal": signal_name,
        "finished": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "seconds": round(s.elapsed, 3), "inputs": s.files, "lines_read": s.lines_read,
        "lines_already_imported": sum(n for _, n, _ in s.resumed),
        "lines_skipped_option": s.lines_skipped_option, "hits_built": s.hits_built,
        "hits_sent": s.hits_sent, "tracked": s.tracked, "rejected": s.rejected,
        "unconfirmed": s.unconfirmed, "not_confirmed": s.hits_built - s.hits_sent,
        "downloads": s.downloads, "skipped": s.skipped, "requests": s.requests, "retries": s.retries,
        "sites": sorted(str(x) for x in s.sites_used), "sites_created": s.sites_created,
        "hosts_without_site": sorted(s.hosts_no_site), "dates": sorted(s.dates),
        "rejected_lines": [{"file": f, "line": n} for f, n in s.rejected_lines[:10000]],
        "input_errors": s.input_errors, "state_file": state_path,
        "concurrent_requests": (None if s.pace is None else
                                dict(zip(("auto", "at_end", "lowest", "highest"), s.pace))),
    }
