"""Import positions of one run: where each input resumes, and saving how far it is imported.

Resume: an input starts after what earlier runs into the same Matomo imported (found by its
first bytes in the CheckpointStore), leaves out the lines done out of order past that point
(hits other senders had confirmed), and reads again the hits that matched no site before it
whose site is known now (`Resume`). State: during the run, each file's committed position (from
the Acknowledger), the hits confirmed past it and the hits that matched no site are written back
after every confirmed batch, and at the end.
"""
from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_left

import orjson

from .checkpoint import (FINGERPRINT_BYTES, CheckpointStore, FileIdentity, default_state_dir, install_key, packed,
                         unpacked)
from .config import Config
from .errors import UsageError
from .sources import Source
from .stats import Stats

log = logging.getLogger("log_importer")

MAX_NO_SITE_PENDING = 100_000  # hits that matched no site kept pending in one Matomo's state


class SameContent(Exception):
    """An input whose first bytes are those of another input of the same run (the message names it)."""


class Resume:
    """Where one input resumes, and what the state keeps of it during the run.

    For tasks.py: `start` (offset, lines before it): read from there; `skip`: ascending start
    offsets of lines past `start` that are done (confirmed out of order by an earlier run): not
    read again; `waiting`: site key -> [(offset, lines before it)] of hits before `start` that
    matched no site; `reread`, once `choose()` is told which keys resolve now: those hits to
    read again, ascending. `remembered`: False for an input whose position is not kept (too short
    to be recognised, or no state).
    """

    def __init__(self, identity: FileIdentity | None, entry: dict | None, remembered: bool):
        self.identity = identity
        self.entry = entry
        self.remembered = remembered
        self.start = (0, 0)
        self.skip: list = []
        self.waiting: dict = {}
        self.reread: list = []
        self._reread_at: set = set()
        # State kept during the run (under Positions' lock).
        self.done: list = []          # [(first, last, packed)]: offsets >= start done (pruned below committed)
        self.done_before: list = []   # packed offsets < start done in this run (re-read hits)
        self._done_before: set = set()
        self.groups: list = []        # packed {"key", "offsets", "lines"} of the hits that matched no site
        self._no_site: dict = {}      # offset -> (lines, key) of those hits (for the final compaction)
        self.held = False             # none of its lines could be read: its position stays at `start`
        self.unremembered: list = []  # offsets of confirmed hits of an input that is not remembered

    def load(self, entry: dict, reimport: bool):
        """Read an earlier run's entry (raises ValueError for one this code did not write)."""
        if reimport:
            return
        self.start = (int(entry.get("offset", 0)), int(entry.get("lines", 0)))
        done = set()
        for value in entry.get("done", ()):
            done.update(unpacked(value))
        for group in entry.get("no_site", ()):
            key = group["key"]
            if not isinstance(key, str):
                raise ValueError("a site key is not a string")
            for offset, lines in zip(unpacked(group["offsets"]), unpacked(group["lines"])):
                if offset < self.start[0] and offset not in done:
                    self._no_site[offset] = (lines, key)
        for offset, (lines, key) in sorted(self._no_site.items()):
            self.waiting.setdefault(key, []).append((offset, lines))
        self.groups = [_group(key, hits) for key, hits in self.waiting.items()]
        self.skip = sorted(o for o in done if o >= self.start[0])
        if self.skip:
            self.done.append((self.skip[0], self.skip[-1], packed(self.skip)))

    def choose(self, keys: set):
        """Read again the waiting hits whose site key is in `keys` (they resolve now)."""
        self.reread = sorted(hit for key in keys for hit in self.waiting.get(key, ()))
        self._reread_at = {offset for offset, _ in self.reread}

    @property
    def waiting_hits(self) -> int:
        return sum(len(hits) for hits in self.waiting.values())

    # During the run (Positions holds its lock) --------------------------------------------
    def confirmed(self, offsets):
        """Matomo confirmed the hits at these (ascending) offsets."""
        if not self.remembered:
            self.unremembered.append(offsets)
            return
        k = bisect_left(offsets, self.start[0])
        if k:
            self._done(offsets[:k])
        if k < len(offsets):
            self.done.append((offsets[k], offsets[-1], packed(offsets[k:])))

    def _done(self, offsets):
        """Hits read again are done (confirmed, or not hits any more under this run's options)."""
        self.done_before.append(packed(offsets))
        self._done_before.update(offsets)

    def no_site(self, hits: list, stats: Stats, room: int) -> int:
        """This run found no site for `hits` [(offset, lines, key)]: keep at most `room` of
        the new ones pending (those read again stay pending anyway); returns how many new ones
        were kept."""
        fresh = [h for h in hits if h[0] not in self._reread_at]
        kept = fresh[:max(0, room)]
        stats.no_site_not_kept += len(fresh) - len(kept)
        keep = [h for h in hits if h[0] in self._reread_at] + kept
        stats.no_site_kept += len(keep)
        by_key: dict = {}
        for offset, lines, key in sorted(keep):
            by_key.setdefault(key, []).append((offset, lines))
            self._no_site[offset] = (lines, key)
        self.groups += [_group(key, found) for key, found in by_key.items()]
        return len(kept)

    def reread_done(self, offsets):
        """Lines read again that are not hits any more (skipped under this run's options)."""
        if offsets:
            self._done(offsets)

    def state(self, committed: int, final: bool) -> tuple:
        """(done, no_site) of the entry, for a committed offset `committed`; `final`: the run's
        last save, which compacts them (one group per key, the hits done left out)."""
        self.done = [d for d in self.done if d[1] >= committed]
        if final:
            hits = {o: v for o, v in self._no_site.items() if o < committed and o not in self._done_before}
            by_key: dict = {}
            for offset, (lines, key) in sorted(hits.items()):
                by_key.setdefault(key, []).append((offset, lines))
            self.groups = [_group(key, found) for key, found in by_key.items()]
            self.done_before, self._done_before = [], set()
        return [d[2] for d in self.done] + self.done_before, self.groups


def _group(key: str, hits: list) -> orjson.Fragment:
    """The state's record of hits [(offset, lines)] (ascending) that matched no site `key`."""
    offsets = [o for o, _ in hits]
    lines = [n for _, n in hits]
    return orjson.Fragment(orjson.dumps({"key": key, "offsets": packed(offsets), "lines": packed(lines)}))


class Positions:
    """The checkpoint store of this run's Matomo and what each input of the run maps to.

    `store` is None when nothing is remembered (no --url, or a dry run with --reimport).
    """

    def __init__(self, config: Config, stats: Stats):
        self.config = config
        self.stats = stats
        self.store: CheckpointStore | None = None
        self.file_state: dict = {}  # file index -> its Resume
        self.acks = None  # the run's Acknowledger, once sending is set up: the committed positions
        self._lock = threading.Lock()
        self._last_saved = None
        self._last_sync = 0.0
        self._changed = False  # a Resume changed since the last save (hits that matched no site)
        self._unsaved = 0  # hits confirmed since the last save that succeeded
        self._save_failed = False
        self._no_site_pending = 0  # hits that matched no site, kept in the state

    def open(self, files=(), tracker_url: str | None = None):
        """Open the store of the Matomo that `tracker_url` (where the pre-flight found the
        tracker, else --url's) points at, claim the inputs (a dry run reads without claiming)
        and read the state. Raises UsageError (another run imports one of the inputs into the
        same Matomo, or the state cannot be used)."""
        c = self.config
        if not c.url or (c.dry_run and c.reimport):
            return self
        url = tracker_url or c.tracker_url
        store = self.store = CheckpointStore(c.state_dir or default_state_dir(), install_key(url), url)
        store.open(lock=not c.dry_run)
        for name in files:
            if name == "-":
                continue
            source = Source(name)
            try:
                identity = FileIdentity.of(source.head(FINGERPRINT_BYTES))
            finally:
                source.close()
            if identity is not None and not store.claim(identity):
                raise UsageError("another import of %s into the same Matomo (%s) is running: run this one once it "
                                 "has finished (lock %s.lock)" % (name, store.install, store.path))
        store.load()
        if store.alias is not None:
            log.info("positions of the Matomo at %s are used: %s is the same Matomo", store.alias, store.install)
        self._no_site_pending = sum(len(g.get("offsets") or ()) for e in store.entries
                                    for g in e.get("no_site", ()) if isinstance(g, dict))
        return self

    @property
    def store_path(self) -> str | None:
        """The destination's state file (None when positions are not remembered)."""
        return self.store.path if self.store is not None else None

    # Resume ----------------------------------------------------------------------------
    def start_of(self, file_index: int, source, head: bytes) -> Resume:
        """Where input `file_index` resumes: after what an earlier run imported.

        `head` is the input's first block. Raises SameContent for an input that starts like
        another input of this run, UsageError for a state entry this code cannot read.
        """
        if source.is_stdin:
            return Resume(None, None, False)
        identity = FileIdentity.of(head)
        # Copies are recognised with or without a store (a dry run counts a copy once, as the
        # import does).
        entry = self.store.find(head) if identity is not None and self.store is not None else None
        for other, st in self.file_state.items():
            if identity is not None and (st.identity == identity or (entry is not None and st.entry is entry)):
                raise SameContent(self.stats.files[other])
        resume = Resume(identity, entry, self.store is not None and identity is not None)
        if entry is not None or identity is None or self.store is None or self.config.reimport:
            pass
        elif (other := self.store.elsewhere(head)) is not None:
            key, seen = other
            log.warning("%s was imported into the Matomo at %s (%s lines, on %s); it is imported into the one at %s "
                        "now. If both are the same Matomo, stop this run (Ctrl-C) and give --url as before: "
                        "otherwise its hits are stored twice", source.display_name, key,
                        "{:,}".format(int(seen.get("lines", 0))),
                        str(seen.get("updated") or seen.get("first_imported") or "?")[:10], self.store.install)
        if self.store is not None and identity is None:
            log.info("%s is too short to be recognised later: it is not remembered", source.display_name)
        if entry is not None and resume.remembered:
            try:
                resume.load(entry, self.config.reimport)
            except (ValueError, TypeError, KeyError) as e:
                raise UsageError("cannot read the import state %s (the entry of %s: %s); move it away to start "
                                 "afresh" % (self.store.path, source.display_name, e)) from None
        with self._lock:
            self.file_state[file_index] = resume
        return resume

    def resumed(self, file_index: int, source):
        """Say (in the summary) what input `file_index` skips, once its Resume has chosen."""
        resume = self.file_state.get(file_index)
        if resume is None or resume.entry is None or self.config.reimport:
            return
        waiting = resume.waiting_hits
        lines = resume.start[1] - waiting + len(resume.skip)
        if lines or waiting:
            entry = resume.entry
            when = str(entry.get("updated") or entry.get("first_imported") or "")[:10]
            self.stats.resumed.append((source.display_name, lines, when))
        if waiting:
            self.stats.no_site_reread += len(resume.reread)
            self.stats.no_site_waiting += waiting - len(resume.reread)

    def note_chunk(self, result, line_base: int):
        """A chunk's result was handed on (main thread): keep its hits that matched no site
        pending (ChunkResult.no_site; `line_base`: the file's lines before the chunk), and
        note the lines read again that are done."""
        resume = self.file_state.get(result.file_index)
        if resume is None or not resume.remembered or self.store is None or self.config.dry_run:
            return
        if result.no_site or result.reread_done:
            with self._lock:
                if result.no_site:
                    room = MAX_NO_SITE_PENDING - self._no_site_pending
                    hits = [(offset, line_base + i, key) for offset, i, key in result.no_site]
                    self._no_site_pending += resume.no_site(hits, self.stats, room)
                resume.reread_done(result.reread_done)
                self._changed = True

    # State -----------------------------------------------------------------------------
    def save(self, final=False):
        """Write every file's committed position, the hits confirmed past it and the hits that
        matched no site, atomically, when they changed (any thread).

        Called after every confirmed batch, so a run killed with SIGKILL resends at most the
        batches in flight; fsync'ed every checkpoint_interval seconds and at the end.
        """
        if self.store is None or self.config.dry_run or self.acks is None:
            return
        with self._lock:
            committed, confirmed = self.acks.progress()
            for segments in confirmed:
                for fi, offsets, _, _ in segments:
                    resume = self.file_state.get(fi)
                    if resume is not None:
                        resume.confirmed(offsets)
                        self._unsaved += len(offsets)
            mine = {fi: st.start if st.held else committed.get(fi, (0, 0))
                    for fi, st in self.file_state.items() if st.remembered}
            sync = final or time.monotonic() - self._last_sync >= self.config.checkpoint_interval
            if mine == self._last_saved and not (final or confirmed or self._changed):
                return
            owned = []
            for fi, (offset, lines) in mine.items():
                resume = self.file_state[fi]
                done, no_site = resume.state(offset, final)
                if offset == 0 and resume.entry is None and not (done or no_site):
                    continue
                resume.entry = self.store.record(resume.entry, resume.identity, self.stats.files[fi], offset, lines,
                                                 done, no_site)
                owned.append(resume.entry)
            try:
                self.store.save(owned, sync=sync)
            except OSError as e:
                log.error("cannot save the import state in %s: %s", self.store.state_dir, e.strerror)
                self._save_failed = True
                return
            self._save_failed = False
            self._unsaved = 0
            self._changed = False
            self._last_saved = mine
            if sync:
                self._last_sync = time.monotonic()

    def hold(self, file_index: int):
        """Keep input `file_index` where this run started it (none of its lines could be read:
        a run with the right format reads them again). The next save writes it."""
        with self._lock:
            resume = self.file_state.get(file_index)
            if resume is not None:
                resume.held = True
                self._changed = True

    def not_remembered(self) -> int:
        """Hits Matomo confirmed that the next run may send again: those past the committed
        position of an input that is not remembered, and, when the state could not be saved,
        those confirmed since it last was."""
        with self._lock:
            n = self._unsaved if self._save_failed else 0
            if self.acks is None:
                return n
            for fi, resume in self.file_state.items():
                if resume.unremembered:
                    low = self.acks.committed(fi)[0]
                    n += sum(len(o) - bisect_left(o, low) for o in resume.unremembered)
            return n

    def close(self):
        """Release the store's locks."""
        if self.store is not None:
            self.store.close()
