"""Import positions of one run: where each input resumes, and saving how far it is imported.

Resume: an input starts after what earlier runs into the same destination imported (found by its
first bytes in the CheckpointStore). State: during the run, each file's committed position (from
the Acknowledger) is written back after every confirmed batch, and at the end.
"""
from __future__ import annotations

import logging
import threading
import time

from .checkpoint import CheckpointStore, FileIdentity, default_state_dir, destination_of
from .config import Config
from .stats import Stats

log = logging.getLogger("log_importer")


class SameContent(Exception):
    """An input whose first bytes are those of another input of the same run (the message names it)."""


class Positions:
    """The checkpoint store of this run's destination and what each input of the run maps to.

    `store` is None when nothing is remembered (no --url, or a dry run with --reimport).
    """

    def __init__(self, config: Config, stats: Stats):
        self.config = config
        self.stats = stats
        self.store: CheckpointStore | None = None
        self.file_state: dict = {}  # file index -> {"identity", "entry"} of its checkpoint
        self.acks = None  # the run's Acknowledger, once sending is set up: the committed positions
        self._lock = threading.Lock()
        self._last_saved = None
        self._last_sync = 0.0

    def open(self):
        """Open the store and take its lock (a dry run reads without locking). Raises UsageError."""
        c = self.config
        if c.url and not (c.dry_run and c.reimport):
            self.store = CheckpointStore(c.state_dir or default_state_dir(), destination_of(c)).open(
                lock=not c.dry_run)
        return self

    @property
    def store_path(self) -> str | None:
        """The destination's state file (None when positions are not remembered)."""
        return self.store.path if self.store is not None else None

    # Resume ----------------------------------------------------------------------------
    def start_of(self, file_index: int, source, head: bytes) -> tuple:
        """(offset, lines) where input `file_index` starts: after what an earlier run imported.

        `head` is the input's first block. Raises SameContent for an input that starts like
        another input of this run.
        """
        if source.is_stdin:
            return (0, 0)
        identity = FileIdentity.of(head)
        # Copies are recognised with or without a store (a dry run counts a copy once, as the
        # import does).
        entry = self.store.find(head) if identity is not None and self.store is not None else None
        for other, st in self.file_state.items():
            if identity is not None and (st["identity"] == identity or (entry is not None and st["entry"] is entry)):
                raise SameContent(self.stats.files[other])
        self.file_state[file_index] = {"identity": identity, "entry": entry}
        if self.store is None:
            return (0, 0)
        if identity is None:
            log.info("%s is too short to be recognised later: it is not remembered", source.display_name)
            return (0, 0)
        if entry is None or self.config.reimport:
            return (0, 0)
        start = (int(entry.get("offset", 0)), int(entry.get("lines", 0)))
        if start[1]:
            when = str(entry.get("updated") or entry.get("first_imported") or "")[:10]
            self.stats.resumed.append((source.display_name, start[1], when))
        return start

    # State -----------------------------------------------------------------------------
    def save(self, final=False):
        """Write every file's committed position, atomically, when it moved (any thread).

        Called after every confirmed batch, so a run killed with SIGKILL resends at most the
        batches in flight; fsync'ed every checkpoint_interval seconds and at the end.
        """
        if self.store is None or self.config.dry_run or self.acks is None:
            return
        acks = self.acks
        with self._lock:
            positions = {fi: acks.committed(fi) for fi, st in list(self.file_state.items())
                         if st["identity"] is not None}
            sync = final or time.monotonic() - self._last_sync >= self.config.checkpoint_interval
            if positions == self._last_saved and not final:
                return
            for fi, (offset, lines) in positions.items():
                st = self.file_state[fi]
                if offset == 0 and st["entry"] is None:
                    continue
                st["entry"] = self.store.record(st["entry"], st["identity"], self.stats.files[fi], offset, lines)
            try:
                self.store.save(sync=sync)
            except OSError as e:
                log.error("cannot save the import state in %s: %s", self.store.state_dir, e.strerror)
                return
            self._last_saved = positions
            if sync:
                self._last_sync = time.monotonic()

    def close(self):
        """Release the store's lock."""
        if self.store is not None:
            self.store.close()
