"""The per-chunk stage: bytes of whole lines → parsed, classified, built and serialised hits.

`process_chunk` is a pure function of a `ChunkTask` and the options: it runs in worker processes
(or inline). It returns counters and, for each sender partition, the hits' JSON request objects
joined into one bytes object with their end positions, line start offsets and line indexes, so
that the parent moves bytes, not Python objects.
"""
from __future__ import annotations

import zlib
from array import array
from itertools import accumulate
from dataclasses import dataclass, field

import orjson

from formats import FIELDS, DateConverter, Format
from formats.base import MEMO_ENTRIES, split_ascii_lines

from . import classify as C
from .config import Config
from .tracking import replay_args, request_builder, visitor_key

NO_HOST_KEY = "no-hostname-found-in-log"
REPLAY_KEY_PREFIX = "#"  # site keys for --replay-tracking: "#<idsite>"
MAX_INVALID_SAMPLES = 200
_UNSET = object()


@dataclass
class Site:
    idsite: object
    main_url: str  # without trailing slash
    scheme: str = ""

    def __post_init__(self):
        self.scheme = self.scheme or self.main_url.partition("://")[0] or "http"


@dataclass
class SiteMap:
    """What a worker knows of sites: one static site, or sites by key (host or "#idsite")."""
    static: Site | None = None
    by_key: dict = field(default_factory=dict)  # key -> Site or None (no site)
    resolve_all: Site | None = None  # dry run without --idsite: every key resolves to this


@dataclass
class ChunkTask:
    file_index: int
    seq: int
    start: int  # byte offset of data in the (decompressed) file
    data: bytes
    fmt: Format
    sites: SiteMap
    partitions: int
    max_valid: int | None = None  # --debug-request-limit: stop after this many parsed lines


@dataclass
class ChunkResult:
    file_index: int
    seq: int
    start: int
    end: int
    lines: int = 0
    counts: dict = field(default_factory=dict)
    hits: int = 0
    downloads: int = 0
    parts: list = field(default_factory=list)  # per partition: (data, ends, offsets, line_idx) or None
    need_keys: set | None = None
    no_site_keys: set = field(default_factory=set)
    sites_used: set = field(default_factory=set)
    dates: set = field(default_factory=set)
    # per partition: [(hit index, idsite, UTC ten-minute bucket "YYYY-MM-DD HH:M")], the first
    # hit of each site and bucket in that partition (the first batches of a day: site_days.py)
    firsts: list = field(default_factory=list)
    invalid_samples: list = field(default_factory=list)  # (line index, reason, text)
    limit_reached: bool = False


class ChunkProcessor:
    """Per-process state: compiled parsers, memo tables and the classifier, built once."""

    def __init__(self, config: Config):
        self.config = config
        self.classifier = C.Classifier(config)
        self.build = request_builder(config)
        self._parsers: dict = {}
        self._hosts: dict = {}
        self._raw_paths: dict = {}  # logged path -> (path, query string, path_info)
        try:
            self.ascii_compatible = b'az AZ 09 []"\n'.decode(config.encoding) == 'az AZ 09 []"\n'
        except (UnicodeDecodeError, LookupError):
            self.ascii_compatible = False
        extra = []
        for g in list(config.page_cvar_groups) + list(config.visit_cvar_groups):
            if g not in extra:
                extra.append(g)
        self.extra_groups = tuple(extra)

    def parser_for(self, fmt: Format):
        key = (fmt.name, fmt.regex, fmt.plain_regex, fmt.date_format)
        found = self._parsers.get(key)
        if found is None:
            parser = fmt.compile(self.extra_groups, self.config.ignore_groups)
            found = (parser, DateConverter(fmt.date_format, self.config.add_to_date))
            self._parsers[key] = found
        return found

    def _split_path(self, raw):
        c = self.config
        path = raw.lower() if c.force_lowercase_path else raw
        path, _, qs = path.partition(c.query_string_delimiter)
        entry = (path, qs, self.classifier.path_info(path))
        if len(self._raw_paths) > MEMO_ENTRIES:
            self._raw_paths.clear()
        self._raw_paths[raw] = entry
        return entry

    def process(self, task: ChunkTask) -> ChunkResult:
        c = self.config
        parser, dates = self.parser_for(task.fmt)
        extract = parser.extract
        convert = dates.convert
        date_memo = dates.memo
        classify = self.classifier.classify
        build = self.build
        dumps = orjson.dumps
        crc32 = zlib.crc32
        encoding = c.encoding
        lower_path = c.force_lowercase_path
        log_hostname = c.log_hostname
        replay = c.replay_tracking
        tracker_files = ([c.replay_tracking_expected_tracker_file.lower()]
                         if c.replay_tracking_expected_tracker_file else ["piwik.php", "matomo.php"])
        page_groups = [(parser.fields.index(g), name) for g, name in c.page_cvar_groups.items()]
        visit_groups = [(parser.fields.index(g), name) for g, name in c.visit_cvar_groups.items()]
        header_driven = task.fmt.header_driven
        sites = task.sites
        static = sites.static
        by_key = sites.by_key
        resolve_all = sites.resolve_all
        nparts = task.partitions
        debug = c.debug > 0
        max_valid = task.max_valid

        res = ChunkResult(task.file_index, task.seq, task.start, task.start)
        counts = dict.fromkeys(C.SKIP_REASONS, 0)
        counts["comment"] = 0
        out = [[] for _ in range(nparts)]
        ends = [array("I") for _ in range(nparts)]
        line_idx = [array("I") for _ in range(nparts)]
        sizes = [0] * nparts
        need = set()
        no_site = res.no_site_keys
        firsts = {}  # (partition, idsite, bucket) -> index of its first hit in the partition
        samples = res.invalid_samples
        hits = downloads = valid = 0
        last_tz, memo = _UNSET, None

        def invalid(i, reason, text):
            counts[C.INVALID] += 1
            if debug and len(samples) < MAX_INVALID_SAMPLES:
                samples.append((i, reason, text[:300]))

        data = task.data
        if self.ascii_compatible and data.isascii():
            # One decode for the whole chunk; character offsets are byte offsets.
            lines = split_ascii_lines(data)
            ascii_only = True
        else:
            lines = data.split(b"\n")
            ascii_only = False
        if lines and not lines[-1]:
            lines.pop()
        path_info = self.classifier.path_info
        path_cache = self.classifier._paths
        hosts = self._hosts
        raw_paths = self._raw_paths
        plain = len(parser.fields) == len(FIELDS)
        crlf = b"\r" in data
        n = len(lines)
        for i, line in enumerate(lines):
            if not ascii_only:
                try:
                    line = line.decode(encoding)
                except UnicodeDecodeError:
                    invalid(i, "undecodable bytes for --encoding=%s" % encoding, line.decode("latin-1"))
                    continue
            if crlf and line[-1:] == "\r":
                line = line[:-1]
            f = extract(line)
            if f is None:
                if header_driven and line[:1] == "#":
                    counts["comment"] += 1
                elif line.strip():
                    invalid(i, "line did not match the format", line)
                else:
                    invalid(i, "empty line", line)
                continue
            if max_valid is not None:
                valid += 1
                if valid > max_valid:
                    res.limit_reached = True
                    n = i
                    break
            (ip, host, date, time, tz, method, path, qs, status, length, ref, ua, userid,
             gms, gus, gs, ec, ea, en) = f if plain else f[:19]
            if time is not None and date is not None:
                date = date + " " + time
            if tz != last_tz:
                last_tz = tz
                memo = date_memo(tz)
            cdt = memo.get(date)
            if cdt is None and date is not None:
                cdt = convert(date, tz)
            if cdt is None:
                invalid(i, "invalid date or timezone", line)
                continue
            if path is None or status is None or ip is None:
                invalid(i, "line has no path, status or client IP", line)
                continue
            if qs is None:  # the query string is in the path: split it, once per distinct path
                entry = raw_paths.get(path)
                if entry is None:
                    entry = self._split_path(path)
                path, qs, pinfo = entry
            else:
                if lower_path:
                    path = path.lower()
                if qs == "-":
                    qs = ""
                pinfo = path_cache.get(path)
                if pinfo is None:
                    pinfo = path_info(path)
            if log_hostname:
                host = log_hostname
            elif host is not None:
                h = hosts.get(host)
                if h is None:
                    if len(hosts) > MEMO_ENTRIES:
                        hosts.clear()
                    h = hosts[host] = _normal_host(host)
                host = h
            elif path[:1] != "/":
                host = _url_host(path)
            if ua is None:
                ua = ""
            elif ua[:1] == '"':
                ua = ua[1:-1]
            reason, flags = classify(pinfo, host, status, ua, cdt)
            if reason is not None:
                counts[reason] += 1
                continue
            rargs = None
            if replay:
                lp = path.lower()
                if not qs or not any(lp.endswith(t) for t in tracker_files):
                    invalid(i, "no query string, or the path is not a tracker request", line)
                    continue
                rargs = replay_args(qs, c.add_to_date)
                if "idsite" not in rargs:
                    invalid(i, "replayed request has no idsite", line)
                    continue
                key = REPLAY_KEY_PREFIX + str(rargs["idsite"])
            else:
                key = host or NO_HOST_KEY
            if static is not None:
                site = static
            elif resolve_all is not None:
                site = resolve_all
            else:
                site = by_key.get(key, need)
                if site is need:
                    need.add(key)
                    continue
                if site is None:
                    counts[C.NO_SITE] += 1
                    no_site.add(key)
                    continue
            if need:
                continue  # this chunk goes back for site resolution; don't build
            if ref is None or ref == "-":
                ref = ""
            elif ref[:1] == '"':
                ref = ref[1:-1]
                if ref == "-":
                    ref = ""
            try:
                length = int(length) if length else 0
            except ValueError:
                length = 0
            gen = 0.0
            if gms is not None or gus is not None or gs is not None:
                try:
                    if gms is not None:
                        gen = float(gms)
                    elif gus is not None:
                        gen = float(gus) / 1000
                    else:
                        gen = float(gs) * 1000
                except ValueError:
                    gen = 0.0
            if userid == "-":
                userid = None
            if en == "-":
                en = None
            pcv = vcv = ()
            if page_groups:
                pcv = tuple((name, f[j]) for j, name in page_groups if f[j] is not None and f[j] != "-")
            if visit_groups:
                vcv = tuple((name, f[j]) for j, name in visit_groups if f[j] is not None and f[j] != "-")
            body = dumps(build(ip, host, cdt, method, path, qs, status, length, ref, ua, userid, gen,
                               ec, ea, en, flags, pcv, vcv, rargs, site.idsite,
                               (site.scheme + "://" + host) if host is not None else site.main_url))
            p = crc32((visitor_key(rargs, ip) if replay else ip).encode()) % nparts if nparts > 1 else 0
            out[p].append(body)
            sizes[p] += len(body) + 1
            ends[p].append(sizes[p])
            line_idx[p].append(i)
            hits += 1
            if flags & C.IS_DOWNLOAD:
                downloads += 1
            first = (p, site.idsite, cdt[:15])
            if first not in firsts:
                firsts[first] = len(line_idx[p]) - 1
        # Byte offsets, computed once for the lines that became hits: line i starts after the
        # lengths of the lines before it and their newlines.
        before = list(accumulate(map(len, lines[:n]), initial=0))
        base = task.start
        offsets = [array("Q", [base + before[i] + i for i in line_idx[p]]) for p in range(nparts)]
        res.end = base + (before[n] + n if res.limit_reached else len(data))
        res.lines = n
        if need:
            res.need_keys = need
            return res
        counts = {k: v for k, v in counts.items() if v}
        res.counts = counts
        res.hits = hits
        res.downloads = downloads
        res.parts = [(b",".join(out[p]) + b",", ends[p], offsets[p], line_idx[p]) if out[p] else None
                     for p in range(nparts)]
        res.firsts = [[] for _ in range(nparts)]
        for (p, idsite, bucket), index in firsts.items():  # in hit order within each partition
            res.firsts[p].append((index, idsite, bucket))
            res.sites_used.add(idsite)
            res.dates.add(bucket[:10])
        return res


def _normal_host(host):
    if host[:1] == '"':
        host = host[1:-1]
    return host.lower().strip(".")


def _url_host(path):
    """The host of an absolute URL in the request line (proxy logs), else None."""
    scheme, sep, rest = path.partition("://")
    if not sep or "/" in scheme:
        return None
    host = rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
    if host.startswith("["):
        return host[1:].partition("]")[0].lower() or None
    return host.partition(":")[0].lower() or None


# Worker-process entry points (multiprocessing needs module-level functions).
_processor: ChunkProcessor | None = None


def init_worker(config: Config):
    global _processor
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides how to stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # and ends its workers with SIGTERM
    try:  # Linux: die with the parent, even when it is killed with SIGKILL
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    _processor = ChunkProcessor(config)


def run_task(task: ChunkTask) -> ChunkResult:
    return _processor.process(task)
