"""Task making: the inputs, in order, cut into ChunkTasks for the chunk stage.

Per input: read its first block, resolve its format once (formats.resolve; a W3C file again at
each #Fields: line that changes its layout: W3cLayouts), find where it resumes (Positions.start_of),
then hand on its blocks of whole lines past that point and past --skip, each with its format.
"""
from __future__ import annotations

import itertools
import logging
import re
from array import array

import formats

from . import chunks
from .config import Config
from .errors import UsageError, UserError
from .positions import Positions, SameContent
from .sources import IDLE, Source, SourceError, encoding_hint, head_lines
from .stats import MATOMO, Stats

log = logging.getLogger("log_importer")


class TaskMaker:
    """`tasks(partitions)` yields the ChunkTasks of every input, in file order.

    `acks` (an Acknowledger) hears where each input starts and which lines --skip dropped, so a
    file's committed position moves over them; `resolver` (a SiteResolver) gives each task the
    sites known so far; `stop` (a threading.Event) ends a wait for standard input.
    """

    def __init__(self, config: Config, files: list, stats: Stats, positions: Positions, acks, resolver,
                 stop=None):
        self.config = config
        self.stop = stop  # threading.Event: the run stops reading (see Source)
        self.files = files
        self.stats = stats
        self.positions = positions
        self.acks = acks
        self.resolver = resolver
        self._sources_done_bytes = 0
        self._current_source: Source | None = None
        self._read_at: dict = {}  # (file index, seq) -> input bytes read once the task's block was read
        self._consumed = 0  # input bytes of the chunks handed on (see consumed)

    def format_for(self, source: Source, first_block: bytes, file_index: int):
        """The format of one input, from its first block and the options. Raises FormatError or
        UsageError (a format without a host, with neither --idsite nor --log-hostname)."""
        c = self.config
        head = head_lines(first_block, c.encoding)
        try:
            fmt = formats.resolve(c, head, source.display_name)
        except formats.FormatError as e:
            hint = encoding_hint(first_block)
            if hint is None:
                raise
            raise formats.FormatError("%s: %s" % (source.display_name, hint)) from e
        detected = formats.is_detected(c)
        self.stats.file_formats[file_index] = (fmt.name, detected)
        _warn_unread(source.display_name, fmt, head, c)
        if c.debug and detected:
            for text in formats.explain_detection(head, fmt):
                log.debug("%s: %s", source.display_name, text)
        parser = fmt.compile()
        if (c.idsite is None and not c.replay_tracking and not c.log_hostname and not c.dry_run
                and "host" not in parser.present):
            with_host = formats.by_name_with_host(head) if detected else []
            if with_host:  # ovh: its lines read as combined lines, the host unread
                raise UsageError("the log format of %s was detected as %s, which has no host, but %s reads its "
                                 "lines with their host: give --log-format-name %s (or the Matomo site with "
                                 "--idsite)" % (source.display_name, fmt.name, " and ".join(with_host),
                                                with_host[0]))
            raise UsageError("the log format of %s (%s) has no host: give the Matomo site with --idsite "
                             "(or a host with --log-hostname)" % (source.display_name, fmt.name))
        if c.client_ip_from_forwarded_for and not parser.has_group("forwarded_for"):
            raise UsageError("--client-ip-from-forwarded-for: the log format of %s (%s) has no X-Forwarded-For "
                             "field (Apache: %%{X-Forwarded-For}i, nginx: $http_x_forwarded_for, W3C: "
                             "X-Forwarded-For)" % (source.display_name, fmt.name))
        for group in list(c.page_cvar_groups) + list(c.visit_cvar_groups):
            if not parser.has_group(group):
                log.warning("the format %s has no group %r (for --regex-group-to-*-cvar)", fmt.name, group)
        if c.log_format_regex and c.debug:
            read = set(formats.FIELDS) | set(c.page_cvar_groups) | set(c.visit_cvar_groups) | set(
                c.visit_dimension_groups) | set(c.action_dimension_groups) | set(c.ignore_groups)
            unread = [g for g in re.compile(fmt.regex).groupindex if g not in read]
            if unread:
                log.debug("--log-format-regex: the groups %s are not fields and no option reads them: ignored "
                          "(--regex-group-to-*-cvar or -dimension would send them)", ", ".join(unread))
        log.debug("format of %s: %s", source.display_name, fmt.name)
        forwarded = forwarded_for_option(fmt, head)
        if forwarded:
            self.stats.forwarded_for[source.display_name] = forwarded
        return fmt

    def tasks(self, partitions: int):
        """Yield the ChunkTasks of every input, in order, and IDLE while standard input has
        nothing new (the pump then sends what it holds, and notices a signal)."""
        c = self.config
        to_skip = c.skip
        for fi, name in enumerate(self.files):
            source = Source(name, stop=self.stop, last_line_complete=c.last_line_complete)
            self._current_source = source
            whole = False  # read to its end, or skipped whole (a copy, an empty input)
            try:
                blocks = _guard(source.blocks(c.chunk_bytes), source, self.stats)
                first = None
                for offset, data in blocks:  # the first lines, to resolve the format
                    if data is IDLE:
                        yield IDLE
                        continue
                    first = (offset, data) if first is None else (first[0], first[1] + data)
                    if first[1].strip() or len(first[1]) >= c.chunk_bytes:
                        break
                if first is None or not first[1].strip():
                    whole = first is not None or not (self.stop is not None and self.stop.is_set())
                    continue
                fmt = self.format_for(source, first[1], fi)
                try:
                    resume = self.positions.start_of(fi, source, first[1])
                except SameContent as same:
                    log.warning("%s starts like %s (a copy?): it is not imported twice", source.display_name, same)
                    whole = True
                    continue
                if resume.waiting:  # hits that matched no site before: read again those that do now
                    keys = self._with_site(set(resume.waiting))
                    if keys is None:
                        return
                    resume.choose(keys)
                self.positions.resumed(fi, source)
                start = resume.start
                self.acks.start_file(fi, *start)
                picker = Picker(resume)
                skipped_here = 0
                seq = 0
                layouts = W3cLayouts(c, fmt, first[1]) if fmt.header_driven and not c.w3c_fields else None
                wanted = picker.first_wanted(start[0])
                if layouts is None and source.seekable and wanted > first[0] + len(first[1]):
                    source.seek(wanted)  # straight to the first line wanted
                for offset, block in itertools.chain([first], blocks):
                    if block is IDLE:
                        yield IDLE
                        continue
                    # A W3C file whose #Fields: header changes: each part with its own layout.
                    parts = layouts.parts(offset, block) if layouts is not None else ((offset, block, fmt),)
                    for offset, data, part_fmt in parts:
                        pieces = []
                        if picker.reread and offset < start[0]:  # hits that matched no site before
                            pieces.append((picker.reread_in(offset, data), part_fmt))
                        if offset + len(data) <= start[0]:
                            data = b""  # imported by an earlier run
                        elif offset < start[0]:
                            data, offset = data[start[0] - offset:], start[0]
                        if to_skip and data:
                            data, offset, skipped = skip_lines(data, offset, to_skip)
                            to_skip -= skipped
                            skipped_here += skipped
                            self.stats.lines_read += skipped
                            self.stats.lines_skipped_option += skipped
                            # skipped lines count like filtered ones: lines are numbered past them
                            self.acks.chunk_consumed(fi, offset, start[1] + skipped_here)
                        if picker.skip and data:  # lines done out of order by an earlier run: left out
                            lines, data, offset = picker.past(offset, data, start[1] + skipped_here)
                            pieces.append((lines, part_fmt))
                        if data:
                            pieces.append(((offset, data, None, None, None), part_fmt))
                        for (at_offset, task_data, at, numbers, span), piece_fmt in pieces:
                            if task_data is None:
                                continue
                            self._read_at[fi, seq] = self._sources_done_bytes + source.position
                            yield chunks.ChunkTask(fi, seq, at_offset, task_data, piece_fmt, self.resolver.site_map(),
                                                   partitions, at=at, numbers=numbers, span=span)
                            seq += 1
                if source.unfinished:
                    self.stats.unfinished_lines.append(source.display_name)
                whole = not (self.stop is not None and self.stop.is_set())  # a stop ends stdin early
            finally:
                # An input closed early (a signal, a fatal answer) counts as far as it was read:
                # the progress shows the true position.
                position = source.position
                self._current_source = None
                self._sources_done_bytes += max(source.size or 0, position) if whole else position
                source.close()

    def _with_site(self, keys: set) -> set | None:
        """The site keys among `keys` that resolve to a site now (looked up in Matomo); None
        when a lookup failed (the run is aborted)."""
        try:
            with self.stats.timing(MATOMO):
                return self.resolver.with_site(keys)
        except UserError as e:  # the API failed mid-run: hits may have been sent
            self.acks.abort(str(e))
            return None

    def consumed(self, file_index: int, seq: int):
        """The chunk (file_index, seq) was handed on: its input bytes count as done."""
        self._consumed = max(self._consumed, self._read_at.pop((file_index, seq), 0))

    def bytes_done(self) -> int:
        """Input bytes whose lines were handed on to the senders (a few chunks behind what was
        read): where the import stands. Compressed bytes for compressed files."""
        return self._consumed

    def bytes_read(self) -> int:
        """Input bytes read so far, over all inputs (compressed bytes for compressed files).
        Safe from another thread (the progress display)."""
        current = self._current_source
        return self._sources_done_bytes + (current.position if current is not None else 0)


def _warn_unread(name: str, fmt, head: list, config: Config):
    """Warn, once per file, when the format reads only the start of most of the first lines (a
    combined log read as `common` loses every referrer and user agent): detected or given by
    name or format string. Not for a format whose vendor layout has more fields after the ones it
    reads (`Format.trailing_fields`: S3, ELB, HAProxy, Squid), W3C and JSON formats (they read
    whole lines), nor a --log-format-regex (as in import_logs.py, it may read a line's start)."""
    if fmt.trailing_fields or fmt.header_driven or fmt.regex is None or config.log_format_regex:
        return
    parser = fmt.compile()
    sample = [(number, text.rstrip()) for number, text in enumerate(head, 1)
              if text.strip() and not text.startswith("#")][:formats.DETECT_SAMPLE_LINES]
    unread = []
    for number, text in sample:
        n = formats.unread_characters(parser, text)
        if n > 0:
            unread.append((number, text, n))
    if len(unread) * 2 <= len(sample):  # a few odd lines (trailing junk) say nothing of the format
        return
    number, text, n = unread[0]
    more = ", and on %d more of the first %d lines" % (len(unread) - 1, len(sample)) if len(unread) > 1 else ""
    if formats.is_detected(config):
        log.warning("%s: the format %s, detected from the first lines, reads only the start of them: on line %d, "
                    "%d characters after the match were ignored (%r)%s; if they hold fields (an unquoted user "
                    "agent?), give the format with --log-format-name or --log-format-regex",
                    name, fmt.name, number, n, text[-n:].strip()[:80], more)
        return
    given = "given with --log-format-name" if config.log_format_name else "the format string given"
    whole = formats.detect(head)
    better = ""
    if whole is not None and whole.name != fmt.name and all(
            formats.unread_characters(whole.compile(), t) == 0 for _, t, _ in unread):
        better = "; detection reads them whole as %s (leave the format to detection, or give --log-format-name " \
                 "%s)" % (whole.name, whole.name)
    log.warning("%s: the format %s (%s) reads only the start of its lines: on line %d, %d characters after the "
                "match were ignored (%r)%s: their fields are not imported%s",
                name, fmt.name, given, number, n, text[-n:].strip()[:80], more, better)


class Picker:
    """The lines of one input that a Resume picks out (tasks of picked lines, ChunkTask.at):
    hits before where it resumes that are read again (`reread_in`), and past it the lines not
    done out of order (`past`). Each gives (first offset, data, at, numbers, span) for a task,
    data None when there is nothing to hand on."""

    def __init__(self, resume):
        self.reread = resume.reread
        self.skip = resume.skip
        self._r = 0  # next hit of `reread`
        self._s = 0  # next offset of `skip`
        self._lines = None  # lines before the next line looked at past the start

    def first_wanted(self, start: int) -> int:
        """The first offset this input must be read from, when it resumes at `start`."""
        return min(self.reread[0][0], start) if self.reread else start

    def reread_in(self, offset: int, data: bytes) -> tuple:
        """The hits to read again within `data` (at `offset`): a task without span."""
        end = offset + len(data)
        lines, at, numbers = [], array("Q"), array("Q")
        reread = self.reread
        while self._r < len(reread) and reread[self._r][0] < end:
            at_offset, number = reread[self._r]
            self._r += 1
            if at_offset < offset:
                continue  # not a line start of this input as read now: it stays pending
            rel = at_offset - offset
            nl = data.find(b"\n", rel)
            lines.append(data[rel:nl + 1] if nl >= 0 else data[rel:] + b"\n")
            at.append(at_offset)
            numbers.append(number)
        if not lines:
            return (offset, None, None, None, None)
        return (at[0], b"".join(lines), at, numbers, None)

    def past(self, offset: int, data: bytes, lines_before: int) -> tuple:
        """Leave out the lines of `data` (at `offset`, past the start) done out of order:
        (the task of the other lines up to the last line done, with its span; the rest of
        `data`; its offset). `lines_before`: the lines before `offset` when it is the first
        part past the start."""
        skip = self.skip
        n = lines_before if self._lines is None else self._lines
        lines, at, numbers = [], array("Q"), array("Q")
        pos, size = 0, len(data)
        while pos < size and self._s < len(skip):
            here = offset + pos
            nl = data.find(b"\n", pos)
            stop = nl + 1 if nl >= 0 else size
            while self._s < len(skip) and skip[self._s] < here:
                self._s += 1
            if self._s < len(skip) and skip[self._s] == here:
                self._s += 1  # done: left out
            else:
                lines.append(data[pos:stop] if nl >= 0 else data[pos:] + b"\n")
                at.append(here)
                numbers.append(n)
            n += 1
            pos = stop
        self._lines = n
        if self._s >= len(skip):
            self.skip = ()
        task = (at[0] if lines else offset + pos, b"".join(lines), at, numbers, (offset + pos, n))
        return task, data[pos:], offset + pos


class W3cLayouts:
    """The layouts of one W3C file, block after block: IIS writes a new #Fields: header when its
    logging settings change, and the lines after it follow the new fields (in another order, or
    other fields). `parts(offset, block)` cuts a block at each #Fields: line that changes the
    layout and gives each part with the format of its lines (formats.for_new_header); the chunk
    stage reads each part with the format its task carries, blind to formats as ever.

    `first_block`: the file's first block, whose first #Fields: line gave the file's format. Raises
    FormatError for a header the format cannot read (as for the file's first header)."""

    def __init__(self, config: Config, fmt, first_block: bytes):
        self.config = config
        self.fmt = fmt
        found = formats.fields_lines(first_block)
        self.names = found[0][1] if found else None

    def parts(self, offset: int, block: bytes):
        start = 0
        for at, names in formats.fields_lines(block):
            if names == self.names or not names:
                continue
            if at > start:
                yield offset + start, block[start:at], self.fmt
            log.debug("a new #Fields: header at byte %d: %s", offset + at, " ".join(names))
            self.fmt, self.names, start = formats.for_new_header(self.config, self.fmt, names), names, at
        yield offset + start, block[start:] if start else block, self.fmt


def forwarded_for_option(fmt, head: list) -> str | None:
    """How to read the client address from the format's forwarded-for field, when it has one
    and does not read the client from it already (for the summary's tip on hits without a
    client IP): a W3C header field such as `X-Forwarded-For` or `cs(X-Forwarded-For)`, or a named
    group of a regex such as `forwarded_for`."""
    if fmt.header_driven:
        fields_line = next((ln for ln in head if ln.lstrip().startswith("#Fields:")), "")
        for name in fields_line.split()[1:]:
            if "forwarded-for" in name.lower():
                return "--w3c-map-field %s=c-ip" % name
        return None
    try:
        groups = re.compile(fmt.regex).groupindex if fmt.regex else {}
    except re.error:
        return None
    for name in groups:
        if "forwarded" in name.lower():
            return "(?P<ip>...) instead of (?P<%s>...) in --log-format-regex" % name
    return None


def _guard(blocks, source, stats):
    """The blocks of one input; a read error (a truncated archive) ends that input, not the run."""
    try:
        yield from blocks
    except SourceError as e:
        log.error("%s; the lines before were imported", e)
        stats.input_errors.append(str(e))


def skip_lines(data: bytes, offset: int, n: int):
    """Drop up to n whole lines from the front of a block: (rest, new offset, lines dropped)."""
    pos, dropped = 0, 0
    while dropped < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            if pos < len(data):
                dropped += 1
                pos = len(data)
            break
        pos = nl + 1
        dropped += 1
    return data[pos:], offset + pos, dropped
