"""The per-chunk stage: bytes of whole lines → parsed, classified, built and serialised hits.

`process_chunk` is a pure function of a `ChunkTask` and the options: it runs in worker processes
(or inline). It returns counters and, for each sender partition, the hits' JSON request objects
joined into one bytes object with their end positions, line start offsets and line indexes, so
that the parent moves bytes, not Python objects.
"""
from __future__ import annotations

import re
import zlib
from array import array
from itertools import accumulate
from socket import AF_INET, inet_pton
from dataclasses import dataclass, field

import orjson

from formats import FIELDS, DateConverter, Format
from formats.addresses import client_ip, normal_host, url_host
from formats.base import MEMO_ENTRIES, split_ascii_lines

from . import classify as C
from . import invalid_lines as why
from . import timebounds
from .config import Config
from .proxies import FORWARDED_FOR, ForwardedFor, parse_networks
from .sources import ascii_compatible
from .classify import IS_DOWNLOAD
from .tracking import host_key, replay_args, request_builder, visitor_key

NO_HOST_KEY = "no-hostname-found-in-log"
BOM = "\ufeff"  # a byte order mark, as decoded
REPLAY_KEY_PREFIX = "#"  # site keys for --replay-tracking: "#<idsite>"
MAX_INVALID_SAMPLES = 200
# Numbers a log may hold that cannot be sent as they are: a length of 2^63 bytes or more is no
# length (Matomo's bigint columns are signed 64-bit, and JSON encoders stop at 64 bits), and a
# generation time above 16,777,215 ms Matomo ignores (plugins/PagePerformance/Columns/Base.php).
MAX_LENGTH = (1 << 63) - 1
MAX_GENERATION_MS = 16_777_215
_UNSET = object()


def date_converter(fmt: Format, config: Config) -> DateConverter:
    """The `cdt` of a date of `fmt` as the import sends it: --add-to-date, --log-timezone."""
    return DateConverter(fmt.date_format, config.add_to_date, timebounds.zone(config.log_timezone))


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
    """Whole lines of one input: `data` from byte `start` of the (decompressed) file. A task of
    lines picked out of the file (`at` is not None: where an earlier run left lines done, or
    hits to read again) gives each line's start offset (`at`) and the number of lines before it
    in the file (`numbers`), and `span`: the (end offset, lines before it) of the part of the
    file it accounts for, or None for hits read again before where the file resumes."""
    file_index: int
    seq: int
    start: int  # byte offset of data in the (decompressed) file
    data: bytes
    fmt: Format
    sites: SiteMap
    partitions: int
    max_valid: int | None = None  # --debug-request-limit: stop after this many parsed lines
    at: array | None = None
    numbers: array | None = None
    span: tuple | None = None


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
    invalid_samples: list = field(default_factory=list)  # (line index, reason, text), with --debug
    invalid_reasons: dict = field(default_factory=dict)  # reason -> [count, first line index, its text, detail]
    undecodable: int = 0  # lines with bytes that are not valid in --encoding (kept)
    undecodable_samples: list = field(default_factory=list)  # (line index, text with \xNN) for --debug
    limit_reached: bool = False
    bots: dict = field(default_factory=dict)  # (bot name, category) -> hits of bots (skipped, or imported)
    # (offset, line index, site key) of the hits whose site key resolved to no site
    no_site: list = field(default_factory=list)
    # a task of picked lines (ChunkTask.at): its line indexes are the file's, and `span` its ChunkTask's
    picked: bool = False
    span: tuple | None = None
    reread_done: list = field(default_factory=list)  # hits read again: offsets of the lines that are not hits now


class ChunkProcessor:
    """Per-process state: compiled parsers, memo tables and the classifier, built once."""

    def __init__(self, config: Config):
        self.config = config
        self.classifier = C.Classifier(config)
        self.build = request_builder(config, self.classifier.bots)
        self._parsers: dict = {}
        self._hosts: dict = {}
        self._site_keys: dict = {}  # host -> its site key (tracking.host_key)
        self._url_texts: dict = {}  # path, query string or referrer -> what is sent (url_text)
        self._raw_paths: dict = {}  # logged path -> (path, query string, path_info)
        self._partitions: dict = {}  # partitions -> {visitor key: its partition}
        self._client_ips: set = set()  # client addresses seen that are IPs, as they are
        self._client_ip_forms: dict = {}  # other client addresses -> the IP in them, or None
        try:
            self.ascii_compatible = ascii_compatible(config.encoding)
        except LookupError:
            self.ascii_compatible = False
        extra = []
        for g in (list(config.page_cvar_groups) + list(config.visit_cvar_groups)
                  + list(config.visit_dimension_groups) + list(config.action_dimension_groups)):
            if g not in extra:
                extra.append(g)
        self.forwarded_for = None  # --client-ip-from-forwarded-for: the client from the format's X-Forwarded-For
        if config.client_ip_from_forwarded_for:
            self.forwarded_for = ForwardedFor(parse_networks(config.trusted_proxies))
            if FORWARDED_FOR not in extra:
                extra.append(FORWARDED_FOR)
        self.extra_groups = tuple(extra)
        self._tracker_files = ((config.replay_tracking_expected_tracker_file.lower(),)
                               if config.replay_tracking_expected_tracker_file else ("piwik.php", "matomo.php"))

    def parser_for(self, fmt: Format):
        key = (fmt.name, fmt.regex, fmt.plain_regex, fmt.date_format)
        found = self._parsers.get(key)
        if found is None:
            parser = fmt.compile(self.extra_groups, self.config.ignore_groups)
            found = (parser, date_converter(fmt, self.config))
            self._parsers[key] = found
        return found

    def _client_ip(self, address: str):
        """The IP of a logged client address, or None when it is not one (formats.addresses's
        rule), memoised. Called for an address not in self._client_ips (the IPs seen, as they
        are): once per new visitor, so the common case, an IPv4 address, is checked first, by
        inet_pton, in C."""
        ips, forms = self._client_ips, self._client_ip_forms
        if len(ips) > MEMO_ENTRIES:
            ips.clear()
            forms.clear()
        try:
            inet_pton(AF_INET, address)
        except (OSError, ValueError):
            pass
        else:
            ips.add(address)
            return address
        if address in forms:
            return forms[address]
        found = forms[address] = client_ip(address)
        if found == address:
            ips.add(address)
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
        """One chunk through the phases, in order: decode → parse and normalise → classify →
        route to a site → build and serialise → partition by visitor.

        The middle phases run line by line in one stream (`tracked_hits` hands `serialised` only
        the lines to track), so a line costs no more than one pass; decoding and partitioning
        work on the whole chunk at once.
        """
        res = ChunkResult(task.file_index, task.seq, task.start, task.start)
        counts = dict.fromkeys(C.SKIP_REASONS, 0)
        counts["comment"] = 0
        self.classifier.bots.hits.clear()  # the classifier counts this chunk's bots by name
        lines = self.decode(task.data, file_start=task.start == 0)
        hits = self.tracked_hits(task, lines, res, counts)
        bodies, line_idx, visitors, marks = self.serialised(task, hits, lines, res, counts)
        n = res.lines
        # Byte offsets: line i starts after the lengths of the lines before it and their newlines.
        before = list(accumulate(map(len, lines.raw[:n]), initial=0))
        base = task.start
        res.end = base + (before[n] + n if res.limit_reached else len(task.data))
        if res.need_keys:
            return res
        res.counts = {k: v for k, v in counts.items() if v}
        res.bots = self.classifier.bots.take_hits()
        res.parts, res.firsts = partition(bodies, line_idx, visitors, marks, task.partitions, base, before,
                                          self._partitions.setdefault(task.partitions, {}), task.at, task.numbers)
        if res.no_site:  # (line index, key) so far: their offsets
            at = task.at
            res.no_site = [(base + before[i] + i if at is None else at[i], i, key) for i, key in res.no_site]
        if task.at is not None:
            picked(task, res, line_idx)
        for firsts in res.firsts:
            for _, idsite, bucket in firsts:
                res.sites_used.add(idsite)
                res.dates.add(bucket[:10])
        return res

    # Decode ----------------------------------------------------------------------------
    def decode(self, data: bytes, file_start: bool = False) -> "Lines":
        """The chunk's lines as text (--encoding), without their line ends; at the start of a
        file (`file_start`), without a byte order mark (U+FEFF, which Windows editors and IIS
        tools write first: it is not part of the first line).

        An ASCII chunk is decoded at once (character offsets are byte offsets); otherwise line
        by line. A line with bytes that are not valid in --encoding keeps them as lone surrogates
        (Python's "surrogateescape": byte 0xE9 becomes U+DCE9) and its index is in
        `undecodable`: the normalise phase makes its fields readable (`readable_fields`).
        """
        undecodable = []
        if self.ascii_compatible and data.isascii():
            raw = split_ascii_lines(data)
            texts = raw
        else:
            raw = data.split(b"\n")
            encoding = self.config.encoding
            texts = []
            for i, line in enumerate(raw):
                try:
                    texts.append(line.decode(encoding))
                except UnicodeDecodeError:
                    texts.append(line.decode(encoding, "surrogateescape"))
                    undecodable.append(i)
        if raw and not raw[-1]:
            raw.pop()
            if texts is not raw:
                texts.pop()
        if b"\r" in data:
            texts = [t[:-1] if t and t[-1] == "\r" else t for t in texts]
        if file_start and texts and texts[0][:1] == BOM:
            texts = [texts[0][1:]] + texts[1:]  # a copy: `raw` keeps the line's bytes (offsets)
        return Lines(texts, raw, frozenset(undecodable) if undecodable else None)

    # Parse, normalise, classify --------------------------------------------------------
    def tracked_hits(self, task: ChunkTask, lines: "Lines", res: ChunkResult, counts: dict):
        """Parse each line, normalise what classification reads (the contract's section 2), and
        classify it (section 3). Yields the lines to track, as (line index, the parser's field
        tuple, host, cdt, path, query string, user agent, classify.IS_* flags); counts the others
        by reason (invalid ones with a sample for --debug). Sets res.lines (fewer when
        --debug-request-limit stops the chunk: then res.limit_reached)."""
        c = self.config
        parser, dates = self.parser_for(task.fmt)
        extract = parser.extract
        convert = dates.convert
        date_memo = dates.memo
        classify = self.classifier.classify
        path_info = self.classifier.path_info
        path_cache = self.classifier._paths
        hosts = self._hosts
        raw_paths = self._raw_paths
        lower_path = c.force_lowercase_path
        log_hostname = c.log_hostname
        header = task.fmt.header_prefix
        plain = len(parser.fields) == len(FIELDS)
        max_valid = task.max_valid
        invalid = self._invalid_counter(res, counts)
        valid = 0
        last_tz, memo = _UNSET, None
        res.lines = len(lines.raw)
        undecodable = lines.undecodable
        if undecodable is not None:
            self._note_undecodable(lines, res)
        for i, line in enumerate(lines.texts):
            f = extract(line)
            if f is None:
                if header is not None and line.startswith(header):
                    counts["comment"] += 1
                elif line.strip():
                    invalid(i, why.NOT_MATCHED, line)
                else:
                    invalid(i, why.EMPTY, line)
                continue
            if max_valid is not None:
                valid += 1
                if valid > max_valid:
                    res.limit_reached = True
                    res.lines = i
                    return
            if undecodable is not None and i in undecodable:
                f = readable_fields(f, parser.fields)
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
                invalid(i, why.BAD_TIMEZONE if date is not None and tz and convert(date, None) is not None
                        else why.BAD_DATE, line, (date, tz, dates.date_format))
                continue
            if path is None or status is None or ip is None:
                invalid(i, why.MISSING_FIELDS, line)
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
                h = hosts.get(host, _UNSET)
                if h is _UNSET:  # memoised, None too (a logged "-" is no host)
                    if len(hosts) > MEMO_ENTRIES:
                        hosts.clear()
                    h = hosts[host] = normal_host(host)
                host = h
            elif path[:1] != "/":
                host, path = url_host(path)
            if ua is None:
                ua = ""
            elif ua[:1] == '"':
                ua = ua[1:-1]
            reason, flags = classify(pinfo, host, status, ua, cdt)
            if reason is not None:
                counts[reason] += 1
                continue
            yield i, f, host, cdt, path, qs, ua, flags

    def _invalid_counter(self, res: ChunkResult, counts: dict):
        """invalid(line index, reason, text, detail=None): count an invalid line under its reason
        (invalid_lines.REASONS), keeping the first of each reason (for the summary) and, with
        --debug, a sample of every one."""
        samples = res.invalid_samples
        reasons = res.invalid_reasons
        debug = self.config.debug > 0

        def invalid(i, reason, text, detail=None):
            counts[C.INVALID] += 1
            found = reasons.get(reason)
            if found is None:
                reasons[reason] = [1, i, shown(text[:300]), detail]
            else:
                found[0] += 1
            if debug and len(samples) < MAX_INVALID_SAMPLES:
                samples.append((i, reason, shown(text[:300])))
        return invalid

    def _note_undecodable(self, lines: "Lines", res: ChunkResult):
        """Count the chunk's lines with undecodable bytes; keep where they are for --debug."""
        res.undecodable = len(lines.undecodable)
        if self.config.debug:
            res.undecodable_samples = [(i, shown(lines.texts[i][:300]))
                                       for i in sorted(lines.undecodable)[:MAX_INVALID_SAMPLES]]

    # Route, build, serialise -----------------------------------------------------------
    def serialised(self, task: ChunkTask, hits, lines: "Lines", res: ChunkResult, counts: dict):
        """Route each hit of `hits` (from tracked_hits) to its Matomo site, normalise the fields
        only tracked hits need, build its tracking request (tracking.request_builder) and
        serialise it (JSON). Returns ([JSON bytes], [line index], [visitor key]) in log order.

        A hit whose client address is not an IP is counted (classify.NO_CLIENT_IP), never sent:
        checked here, for the hits classification kept, so that only they pay for it.

        A hit whose site key (host, or "#idsite" with --replay-tracking) the task's SiteMap does
        not know yet puts the key in res.need_keys: the chunk is then only read through, to
        collect every such key, and done again once they are resolved.
        """
        c = self.config
        build = self.build
        dumps = orjson.dumps
        parser, _ = self.parser_for(task.fmt)
        plain = len(parser.fields) == len(FIELDS)
        replay = c.replay_tracking
        page_groups = [(parser.fields.index(g), name) for g, name in c.page_cvar_groups.items()]
        visit_groups = [(parser.fields.index(g), name) for g, name in c.visit_cvar_groups.items()]
        dimension_groups = [(parser.fields.index(g), "dimension%d" % ident) for g, ident in
                            list(c.visit_dimension_groups.items()) + list(c.action_dimension_groups.items())]
        sites = task.sites
        fixed = sites.static or sites.resolve_all
        by_key = sites.by_key
        need = set()
        no_site = res.no_site_keys
        invalid = self._invalid_counter(res, counts)
        client_ips = self._client_ips
        forwarded_for = self.forwarded_for
        xff_at = parser.fields.index(FORWARDED_FOR) if forwarded_for is not None else None
        site_keys = self._site_keys
        if len(site_keys) > MEMO_ENTRIES:
            site_keys.clear()
        url_texts = self._url_texts  # path, query string or referrer -> its url_text
        if len(url_texts) > MEMO_ENTRIES:
            url_texts.clear()
        bodies, line_idx, visitors = [], [], []
        marks = []  # per hit: (idsite, its UTC ten-minute bucket), for ChunkResult.firsts
        hit_count = downloads = 0
        for i, f, host, cdt, path, qs, ua, flags in hits:
            # Route: the hit's site.
            rargs = None
            if replay:
                rargs, key = self._replay_target(path, qs)
                if rargs is None:
                    invalid(i, key, lines.texts[i])
                    continue
            elif host is None:
                key = NO_HOST_KEY
            else:
                key = site_keys.get(host)
                if key is None:
                    key = site_keys[host] = host_key(host)
            ip = f[0]
            if xff_at is not None:  # --client-ip-from-forwarded-for: the visitor behind the proxies
                ip = forwarded_for.client(f[xff_at], ip)
            if ip not in client_ips:  # the client address must be an IP (memoised per address)
                ip = self._client_ip(ip)
                if ip is None:
                    counts[C.NO_CLIENT_IP] += 1
                    continue
            if fixed is not None:
                site = fixed
            else:
                site = by_key.get(key, need)
                if site is need:
                    need.add(key)
                    continue
                if site is None:
                    counts[C.NO_SITE] += 1
                    no_site.add(key)
                    res.no_site.append((i, key))
                    continue
            if need:
                continue  # this chunk goes back for site resolution; don't build
            # Build: the fields only a tracked hit needs, then its request, serialised.
            (_, _, _, _, _, method, _, _, status, length, ref, _, userid,
             gms, gus, gs, ec, ea, en) = f if plain else f[:19]
            if ref is None or ref == "-":
                ref = ""
            elif ref[:1] == '"':
                ref = ref[1:-1]
                if ref == "-":
                    ref = ""
            # The URL's text (url_text), memoised: a dict lookup per field for the usual hit.
            sent = url_texts.get(path)
            if sent is None:
                sent = url_texts[path] = url_text(path)
            path = sent
            if qs:
                sent = url_texts.get(qs)
                if sent is None:
                    sent = url_texts[qs] = url_text(qs)
                qs = sent
            if ref:
                sent = url_texts.get(ref)
                if sent is None:
                    sent = url_texts[ref] = url_text(ref)
                ref = sent
            try:
                length = int(length) if length else 0
                if length > MAX_LENGTH:
                    length = 0
            except (ValueError, OverflowError):
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
                if gen > MAX_GENERATION_MS:  # inf too; NaN is never > 0, so never sent
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
            dims = ()
            if dimension_groups:
                dims = tuple((name, f[j]) for j, name in dimension_groups if f[j] is not None and f[j] != "-")
            try:
                bodies.append(dumps(build(ip, host, cdt, method, path, qs, status, length, ref, ua, userid, gen,
                                          ec, ea, en, flags, pcv, vcv, dims, rargs, site.idsite,
                                          (site.scheme + "://" + host) if host is not None else site.main_url)))
            except (TypeError, ValueError, OverflowError) as e:  # one odd value must not stop the run
                invalid(i, why.UNSENDABLE, lines.texts[i], str(e))
                continue
            line_idx.append(i)
            visitors.append(visitor_key(rargs, ip) if replay else ip)
            hit_count += 1
            if flags & IS_DOWNLOAD:
                downloads += 1
            marks.append((site.idsite, cdt[:15]))
        if need:
            res.need_keys = need
        res.hits = hit_count
        res.downloads = downloads
        return bodies, line_idx, visitors, marks

    def _replay_target(self, path: str, qs: str):
        """--replay-tracking: (the logged request's tracking parameters, its site key "#idsite"),
        or (None, why the line cannot be replayed)."""
        c = self.config
        if not qs or not path.lower().endswith(self._tracker_files):
            return None, why.NOT_TRACKER
        rargs = replay_args(qs, c.add_to_date)
        idsite = rargs.get("idsite")
        if idsite.__class__ is not str or not (idsite.isascii() and idsite.isdigit()) or idsite.strip("0") == "":
            return None, why.NO_IDSITE  # none, or one no site can have (abc, -1, 1.5, a[]): never a site
        return rargs, REPLAY_KEY_PREFIX + str(rargs["idsite"])


class Lines:
    """A chunk's lines: `texts` decoded, without "\\r", and `raw` as read (their lengths are the
    lines' byte lengths, for offsets); `undecodable`: the indexes of the lines with bytes that
    are not valid in --encoding (None: there is none)."""
    __slots__ = ("texts", "raw", "undecodable")

    def __init__(self, texts: list, raw: list, undecodable=None):
        self.texts = texts
        self.raw = raw
        self.undecodable = undecodable


# URL text and undecodable bytes -----------------------------------------------------------
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # a byte kept by "surrogateescape"
URL_FIELDS = frozenset(["path", "query_string", "referrer"])
# What is percent-encoded in a URL's path, query string and referrer: the characters a browser
# never sends as they are there (the WHATWG URL Standard's percent-encode sets for paths and
# queries both hold them: C0 controls, space, ", #, <, >, DEL) and the bytes that are not valid in
# --encoding (kept as lone surrogates), each as its byte. Other text, non-ASCII letters included,
# is sent as logged, as import_logs.py sends it; a "%" is never encoded (it starts an escape).
_URL_ESCAPED = re.compile('[\x00-\x20"#<>\x7f\udc80-\udcff]')


def _percent(m):
    code = ord(m.group())
    return "%%%02X" % (code - 0xDC00 if code >= 0xDC00 else code)


def url_text(text: str) -> str:
    """A path, query string or referrer as sent in the tracking request: see _URL_ESCAPED
    (`/sp ace` -> `/sp%20ace`, `/nul\\x00` -> `/nul%00`, the byte 0xE9 kept as U+DCE9 -> `%E9`)."""
    return _URL_ESCAPED.sub(_percent, text) if _URL_ESCAPED.search(text) else text


def readable_fields(fields: tuple, names: tuple) -> tuple:
    """The fields of a line with undecodable bytes, made valid text: in the path, the query
    string and the referrer each such byte is percent-encoded ("%E9", `url_text`), as a browser
    sends it (RFC 3986, section 2.1); in every other field it becomes U+FFFD, the replacement
    character. So the JSON sent is valid UTF-8 (Matomo's json_decode refuses lone surrogates)."""
    return tuple(v if v is None or not _ESCAPED_BYTE.search(v)
                 else url_text(v) if name in URL_FIELDS else _ESCAPED_BYTE.sub("\ufffd", v)
                 for v, name in zip(fields, names))


def shown(text: str) -> str:
    """Text for a message: an undecodable byte is shown as \\xNN."""
    if not _ESCAPED_BYTE.search(text):
        return text
    return _ESCAPED_BYTE.sub(lambda m: "\\x%02x" % (ord(m.group()) - 0xDC00), text)


def picked(task: ChunkTask, res: ChunkResult, line_idx: list):
    """A task of picked lines (ChunkTask.at): its result's line indexes become the file's (the
    parts' were made so by `partition`), its end is its span's, and for hits read again, the
    lines that are not hits now (nor hits without a site) are noted as done."""
    numbers = task.numbers
    res.picked = True
    if task.span is None:
        still = set(line_idx)
        still.update(i for _, i, _ in res.no_site)
        res.reread_done = [task.at[i] for i in range(res.lines) if i not in still]
    res.no_site = [(offset, numbers[i], key) for offset, i, key in res.no_site]
    res.invalid_reasons = {r: [v[0], numbers[v[1]]] + v[2:] for r, v in res.invalid_reasons.items()}
    res.invalid_samples = [(numbers[i], *rest) for i, *rest in res.invalid_samples]
    res.undecodable_samples = [(numbers[i], text) for i, text in res.undecodable_samples]
    if res.limit_reached:  # --debug-request-limit: up to the first line not read
        res.span = (task.at[res.lines], numbers[res.lines]) if task.span is not None else None
    else:
        res.span = task.span


# Partition ---------------------------------------------------------------------------------
def partition(bodies: list, line_idx: list, visitors: list, marks: list, nparts: int, base: int,
              before: list, memo: dict, at=None, numbers=None) -> tuple[list, list]:
    """Split a chunk's serialised hits by visitor: every hit of a visitor key goes to partition
    crc32(key) % nparts (one sender each), in log order. Line i of the chunk starts at byte
    base + before[i] + i of the file (`before`: the lengths of the lines before it, summed), or
    at[i] for a task of picked lines, whose line indexes are then the file's (`numbers`);
    `memo` keeps each visitor's partition; `marks` holds each hit's (idsite, UTC ten-minute
    bucket).

    Returns (per partition, None or (the JSON objects joined, each followed by a comma; the
    running total of their lengths, without the commas; their lines' start offsets; their line
    indexes in the chunk); per partition, [(hit index in the partition, idsite, bucket)] of the
    first hit of each site and bucket there, in hit order: ChunkResult.firsts).
    """
    if nparts == 1:
        chosen = [range(len(bodies))]
    else:
        chosen = [[] for _ in range(nparts)]
        crc32 = zlib.crc32
        for k, visitor in enumerate(visitors):
            p = memo.get(visitor)
            if p is None:
                if len(memo) > MEMO_ENTRIES:
                    memo.clear()
                p = memo[visitor] = crc32(visitor.encode()) % nparts
            chosen[p].append(k)
    parts, firsts = [], []
    for ks in chosen:
        seen: dict = {}
        for j, k in enumerate(ks):
            mark = marks[k]
            if mark not in seen:
                seen[mark] = j
        firsts.append([(j, idsite, bucket) for (idsite, bucket), j in seen.items()])
        if not ks:
            parts.append(None)
            continue
        group = bodies if nparts == 1 else [bodies[k] for k in ks]
        idx = line_idx if nparts == 1 else [line_idx[k] for k in ks]
        if at is None:
            offsets, idx = array("Q", [base + before[i] + i for i in idx]), array("I", idx)
        else:
            offsets, idx = array("Q", [at[i] for i in idx]), array("I", [numbers[i] for i in idx])
        parts.append((b",".join(group) + b",", array("I", accumulate(map(len, group))), offsets, idx))
    return parts, firsts


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
