"""Checkpoints: for each input file and destination, the position up to which it is imported.

A file is identified by a fingerprint of its first bytes (read through decompression), not by
its name, so a file that grew continues where it stopped and a rotated file (access.log →
access.log.1 → access.log.2.gz) is recognised under its new name. A file shorter than
FINGERPRINT_BYTES is identified by its whole content so far (and matched again by that prefix
once it has grown); one shorter than MIN_FINGERPRINT_BYTES is not identified at all.

The state of one destination (tracker URL + site options) is one versioned JSON file, written
atomically (temp file, fsync, rename, fsync of the directory), so it survives kill -9 at any
moment. A lock file keeps two imports into the same destination from running at once.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass

import orjson

from .config import Config
from .errors import UsageError
from .redaction import redact

VERSION = 1
FINGERPRINT_BYTES = 1024
MIN_FINGERPRINT_BYTES = 64


def default_state_dir() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "log-importer")


@dataclass
class FileIdentity:
    fingerprint: str
    length: int  # bytes hashed: FINGERPRINT_BYTES, or the whole (short) file

    @classmethod
    def of(cls, head: bytes) -> "FileIdentity | None":
        """The identity of a file whose first bytes are `head` (None: too short to tell)."""
        head = head[:FINGERPRINT_BYTES]
        if len(head) < MIN_FINGERPRINT_BYTES:
            return None
        return cls(hashlib.sha256(head).hexdigest(), len(head))

    def matches(self, head: bytes) -> bool:
        return len(head) >= self.length and hashlib.sha256(head[:self.length]).hexdigest() == self.fingerprint


def destination_of(config: Config) -> dict:
    """What makes two runs import into the same place."""
    return {
        "tracker": redact(config.tracker_url),  # no URL password in the state file
        "idsite": config.idsite,
        "idsite_fallback": config.idsite_fallback,
        "add_sites_new_hosts": config.add_sites_new_hosts,
        "replay_tracking": config.replay_tracking,
    }


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


class CheckpointStore:
    def __init__(self, state_dir: str, destination: dict):
        self.state_dir = state_dir
        self.destination = destination
        key = hashlib.sha256(json.dumps(destination, sort_keys=True).encode()).hexdigest()[:20]
        self.path = os.path.join(state_dir, "%s.json" % key)
        self.entries: list[dict] = []
        self._lock_fd = None

    def open(self, lock=True):
        """Create the directory, take the lock (for a run that writes), read the state."""
        if lock:
            try:
                os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
                fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as e:
                raise UsageError("cannot use the state directory %s: %s (see --state-dir)"
                                 % (self.state_dir, e.strerror)) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise UsageError("another import into the same destination is running (lock %s.lock)"
                                 % self.path) from None
            self._lock_fd = fd
        try:
            with open(self.path, encoding="utf8") as f:
                data = json.load(f)
        except FileNotFoundError:
            data = None
        except (OSError, ValueError) as e:
            raise UsageError("cannot read the import state %s: %s; move it away to start afresh"
                             % (self.path, e)) from None
        if data is not None:
            if not isinstance(data, dict) or data.get("version") != VERSION:
                raise UsageError("the import state %s has an unknown version; move it away to start afresh" % self.path)
            self.entries = [e for e in data.get("files", []) if isinstance(e, dict) and "fingerprint" in e]
        return self

    def close(self):
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def find(self, head: bytes) -> dict | None:
        """The entry of the file whose first bytes are `head`, if it was seen before."""
        best = None
        for entry in self.entries:
            ident = FileIdentity(entry["fingerprint"], entry.get("fp_len", FINGERPRINT_BYTES))
            if ident.matches(head) and (best is None or ident.length > best.get("fp_len", 0)):
                best = entry
        return best

    def record(self, entry: dict | None, identity: FileIdentity, name: str, offset: int, lines: int) -> dict:
        """Create or move an entry (the file may have a new name or a longer fingerprint)."""
        if entry is None:
            entry = {"first_imported": _now()}
            self.entries.append(entry)
        if entry.get("offset") != offset:
            entry["updated"] = _now()
        entry.update(fingerprint=identity.fingerprint, fp_len=identity.length, name=name,
                     offset=offset, lines=lines)
        return entry

    def save(self, sync=True):
        """Replace the state file atomically. A rename alone survives kill -9 (the kernel keeps
        the data); `sync` also makes it survive a power cut (fsync of the file and directory)."""
        data = {"version": VERSION, "destination": self.destination, "files": self.entries}
        tmp = "%s.tmp.%d" % (self.path, os.getpid())
        with open(tmp, "wb") as f:  # orjson: this runs after every confirmed batch
            f.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, self.path)
        if sync:
            dir_fd = os.open(self.state_dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
