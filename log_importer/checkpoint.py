"""Checkpoints: for each input file and Matomo install, how far the file is imported.

A file is identified by a fingerprint of its first bytes (read through decompression), not by
its name, so a file that grew continues where it stopped and a rotated file (access.log →
access.log.1 → access.log.2.gz) is recognised under its new name. A file shorter than
FINGERPRINT_BYTES is identified by its whole content so far (and matched again by that prefix
once it has grown); one shorter than MIN_FINGERPRINT_BYTES is not identified at all.

The state of one Matomo install (`install_key`: its URL however it is written, not the site
options, which change only what is skipped) is one versioned JSON file, written atomically
(temp file, fsync, rename, fsync of the directory), so it survives kill -9 at any moment. Its
entry for a file (VERSION 2; a VERSION 1 state, one file per tracker URL and site options, is
read and merged into it):

    {"fingerprint", "fp_len", "name", "first_imported", "updated",
     "offset": byte offset, "lines": lines before it: every line before is done (confirmed by
               Matomo, skipped or invalid), except the hits listed in "no_site",
     "done": [packed offsets, ...]: start offsets of lines done out of order: hits Matomo
             confirmed past "offset" (other senders' hits confirmed while an earlier one was
             not), and hits of "no_site" imported since (pruned as "offset" moves on),
     "no_site": [{"key": site key, "offsets": packed, "lines": packed}, ...]: hits before
             "offset" whose site could not be resolved (a host, "#idsite" for a replayed request,
             or no host), with the lines before each: a later run that resolves the key imports
             them}

`packed` lists are ascending integers written as [first, difference, difference, ...].

Runs that write take the lock file `<state>.lock` with POSIX record locks: byte 0 while the
state is read or replaced (a few milliseconds), and one byte per input file (from its
fingerprint) for the whole run, so that two runs never import the same file into the same
Matomo at once, while runs on other files (other sites' logs) go on side by side; each replaces
only its own files' entries.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import glob
import hashlib
import ipaddress
import json
import os
import re
import socket
from dataclasses import dataclass
from itertools import accumulate
from operator import sub
from urllib.parse import urlsplit

import orjson

from .errors import UsageError
from .redaction import redact

VERSION = 2
FINGERPRINT_BYTES = 1024
MIN_FINGERPRINT_BYTES = 64
# Tracker paths of one Matomo (the endpoint files of its root; /js/ is its proxied tracker).
TRACKER_FILES = ("piwik.php", "matomo.php", "js/index.php", "js/tracker.php", "js")
DEFAULT_PORTS = {"http": 80, "https": 443}
_SLASHES = re.compile("/{2,}")


def default_state_dir() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "log-importer")


def install_key(url: str) -> str:
    """The Matomo install a tracker (or Matomo) URL points at, however the URL is written: its
    host in lowercase with the port unless it is its scheme's default, and its path in lowercase
    without the tracker file (TRACKER_FILES) and trailing slashes. The scheme, user info and
    query are left out: `http://Matomo.Example.org:80/piwik.php`, `https://matomo.example.org/`
    and `matomo.example.org/matomo.php` are all `matomo.example.org`; a Matomo under a path keeps
    it (`example.org/analytics`). A host name and an address it resolves to (`localhost`,
    `127.0.0.1`) are two keys that `same_install` recognises as one."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    host = (parts.hostname or "").lower().rstrip(".")  # matomo.example.org. is the same name
    if ":" in host:
        host = "[%s]" % host
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and port != DEFAULT_PORTS.get(parts.scheme.lower()):
        host += ":%d" % port
    path = _SLASHES.sub("/", parts.path.lower()).rstrip("/")
    for name in TRACKER_FILES:
        if path.endswith("/" + name):
            path = path[:-len(name) - 1].rstrip("/")
            break
    return host + path


def _addresses(host: str) -> set:
    """The addresses a host name resolves to (empty when it does not)."""
    try:
        return {info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return set()


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _port_and_path(key: str) -> tuple | None:
    try:
        parts = urlsplit("//" + key)
        return parts.port, parts.path
    except ValueError:
        return None


def same_install(a: str, b: str) -> bool:
    """Whether the install keys `a` and `b` (install_key) name one Matomo: they are equal, or
    they have the same port and path and one host is an IP address that the other host name
    resolves to (`localhost:8080` and `127.0.0.1:8080`). Two host names are never one install,
    even on one address: name-based virtual hosts may serve two Matomos from it."""
    if a == b:
        return True
    pa, pb = urlsplit("//" + a), urlsplit("//" + b)
    try:
        if (pa.port, pa.path) != (pb.port, pb.path) or not pa.hostname or not pb.hostname:
            return False
    except ValueError:
        return False
    ha, hb = pa.hostname, pb.hostname
    if _is_address(hb):
        ha, hb = hb, ha
    if not _is_address(ha) or _is_address(hb):
        return False  # two addresses, or two names
    return str(ipaddress.ip_address(ha)) in _addresses(hb)


def packed(values) -> orjson.Fragment:
    """Ascending integers as the JSON list [first, difference, ...], ready to be written."""
    if not len(values):
        return orjson.Fragment(b"[]")
    return orjson.Fragment(orjson.dumps([values[0], *map(sub, values[1:], values[:-1])]))


def unpacked(value) -> list:
    """The integers of a packed list (raises ValueError when it is not one)."""
    if not isinstance(value, list) or not all(isinstance(v, int) and v >= 0 for v in value[1:]):
        raise ValueError("not a packed list of offsets")
    return list(accumulate(value))


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


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _key_of(install: str) -> str:
    return hashlib.sha256(install.encode()).hexdigest()[:20]


class CheckpointStore:
    """The state of one Matomo install in `state_dir`: `entries` (one dict per file, see the
    module's docstring). `open()` reads it (and takes the lock file when the run writes);
    `claim()` reserves an input file for this run; `save(owned)` writes this run's entries back,
    keeping those other runs wrote meanwhile. Raises UsageError (a state that cannot be read or
    written there: the message names --state-dir or the file to move away)."""

    def __init__(self, state_dir: str, install: str, tracker: str | None = None):
        self.state_dir = state_dir
        self.install = install
        self.destination = {"matomo": install, "tracker": redact(tracker) if tracker else None}
        self.path = os.path.join(state_dir, "%s.json" % _key_of(install))
        self.entries: list[dict] = []
        self._lock_fd = None
        self._seen = None  # (inode, mtime_ns, size) of the state file as last read or written
        self._previous: dict = {}  # id(owned entry) -> fingerprints it had (a short file's grows)
        self.alias: str | None = None  # the key of the state used, when another spelling's (open())
        self._elsewhere: list | None = None  # (install key, entry) of the other installs' states

    def open(self, lock=True):
        """Open the lock file, for a run that writes the state (`lock`): the directory is
        created. Then claim() the inputs, and load() the state. When this install has no state
        yet but one of the same install under another key does (same_install: `localhost` for
        `127.0.0.1`), that state is used: `alias` is then its key."""
        if not os.path.exists(self.path):
            for path, data in self._other_states():
                other = (data.get("destination") or {}).get("matomo")
                if data.get("version") == VERSION and isinstance(other, str) and same_install(other, self.install):
                    self.path, self.alias = path, other
                    self.destination["matomo"] = other
                    break
        if lock:
            try:
                os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
                self._lock_fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as e:
                raise UsageError("cannot use the state directory %s: %s (see --state-dir)"
                                 % (self.state_dir, e.strerror)) from None
        return self

    def load(self):
        """Read the state (or, when this install has none yet, its VERSION 1 states)."""
        with self._locked(fcntl.LOCK_SH):
            data = self._read()
        self.entries = self._older_states() if data is None else data
        return self

    def _locked(self, how):
        store = self

        class Held:
            def __enter__(self):
                if store._lock_fd is not None:
                    fcntl.lockf(store._lock_fd, how, 1, 0)

            def __exit__(self, *exc):
                if store._lock_fd is not None:
                    fcntl.lockf(store._lock_fd, fcntl.LOCK_UN, 1, 0)
        return Held()

    def _read(self) -> list | None:
        """The entries of the state file (None: there is none yet)."""
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                data = orjson.loads(f.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise UsageError("cannot read the import state %s: %s; move it away to start afresh"
                             % (self.path, e)) from None
        self._seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        if not isinstance(data, dict) or data.get("version") not in (1, VERSION):
            raise UsageError("the import state %s has an unknown version; move it away to start afresh" % self.path)
        return [e for e in data.get("files", []) if isinstance(e, dict) and "fingerprint" in e]

    def _other_states(self):
        """(path, data) of the readable state files in the state directory besides this one."""
        for path in sorted(glob.glob(os.path.join(glob.escape(self.state_dir), "*.json"))):
            if path == self.path:
                continue
            try:
                with open(path, encoding="utf8") as f:
                    data = json.load(f)
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and isinstance(data.get("destination"), dict):
                yield path, data

    @staticmethod
    def _install_of(data: dict) -> str | None:
        """The install key of a state's data (a VERSION 1 state names the tracker URL)."""
        destination = data["destination"]
        if data.get("version") == VERSION:
            key = destination.get("matomo")
            return key if isinstance(key, str) else None
        tracker = destination.get("tracker")
        return install_key(tracker) if data.get("version") == 1 and isinstance(tracker, str) else None

    def _older_states(self) -> list:
        """The entries of VERSION 1 states of this install (one per tracker URL, as typed, and
        site options), merged: for a file in several, the furthest position."""
        found: dict = {}
        for path, data in self._other_states():
            key = self._install_of(data)
            if data.get("version") != 1 or key is None or not same_install(key, self.install):
                continue
            for entry in data.get("files", []):
                if isinstance(entry, dict) and "fingerprint" in entry:
                    key = (entry["fingerprint"], entry.get("fp_len"))
                    if key not in found or entry.get("offset", 0) > found[key].get("offset", 0):
                        found[key] = entry
        return list(found.values())

    def claim(self, identity: FileIdentity) -> bool:
        """Reserve the file of `identity` for this run (until close()); False when another run
        holds it. A run that does not write (no lock file) claims nothing."""
        if self._lock_fd is None:
            return True
        try:
            fcntl.lockf(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 1 + int(identity.fingerprint[:12], 16))
        except OSError:
            return False
        return True

    def close(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases every record lock this process holds on it
            self._lock_fd = None

    def find(self, head: bytes) -> dict | None:
        """The entry of the file whose first bytes are `head`, if it was seen before."""
        best = None
        for entry in self.entries:
            ident = FileIdentity(entry["fingerprint"], entry.get("fp_len", FINGERPRINT_BYTES))
            if ident.matches(head) and (best is None or ident.length > best.get("fp_len", 0)):
                best = entry
        return best

    def elsewhere(self, head: bytes) -> tuple | None:
        """(install key, entry) of the file whose first bytes are `head` in the state of
        another install that may be this Matomo under another host name (the same port and
        path: `matomo.example.org` and `analytics.example.org`), if there is one (the furthest
        imported). Another port or path is another server: a log imported into a staging
        Matomo and then into the production one is not announced."""
        if self._elsewhere is None:
            self._elsewhere = []
            mine = self.alias or self.install
            for _, data in self._other_states():
                key = self._install_of(data)
                if (key is not None and not same_install(key, mine)
                        and _port_and_path(key) == _port_and_path(mine) is not None):
                    self._elsewhere += [(key, e) for e in data.get("files", ())
                                        if isinstance(e, dict) and isinstance(e.get("fingerprint"), str)]
        best = None
        for key, entry in self._elsewhere:
            try:
                ident = FileIdentity(entry["fingerprint"], int(entry.get("fp_len", FINGERPRINT_BYTES)))
                lines = int(entry.get("lines", 0))
            except (TypeError, ValueError):
                continue
            if lines and ident.matches(head) and (best is None or lines > int(best[1].get("lines", 0))):
                best = (key, entry)
        return best

    def record(self, entry: dict | None, identity: FileIdentity, name: str, offset: int, lines: int,
               done: list, no_site: list) -> dict:
        """Create or move an entry (the file may have a new name or a longer fingerprint);
        `done` and `no_site` as in the module's docstring (Fragments or plain lists)."""
        if entry is None:
            entry = {"first_imported": _now()}
            self.entries.append(entry)
        if entry.get("offset") != offset:
            entry["updated"] = _now()
        self._previous.setdefault(id(entry), set()).add(entry.get("fingerprint"))
        entry.update(fingerprint=identity.fingerprint, fp_len=identity.length, name=name,
                     offset=offset, lines=lines)
        for field, value in (("done", done), ("no_site", no_site)):
            if value:
                entry[field] = value
            else:
                entry.pop(field, None)
        return entry

    def save(self, owned: list, sync=True):
        """Replace the state file atomically with `owned` (this run's entries) and the entries
        other runs wrote (read again when the file changed since this run last read or wrote
        it). A rename alone survives kill -9 (the kernel keeps the data); `sync` also makes it
        survive a power cut (fsync of the file and directory). Raises OSError."""
        with self._locked(fcntl.LOCK_EX):
            try:
                st = os.stat(self.path)
                seen = (st.st_ino, st.st_mtime_ns, st.st_size)
            except FileNotFoundError:
                seen = self._seen
            if seen != self._seen:
                mine = set()
                for entry in owned:
                    mine |= self._previous.get(id(entry), set()) | {entry.get("fingerprint")}
                others = [e for e in (self._read() or []) if e.get("fingerprint") not in mine]
                self.entries = others + owned
            data = {"version": VERSION, "destination": self.destination, "files": self.entries}
            tmp = "%s.tmp.%d" % (self.path, os.getpid())
            with open(tmp, "wb") as f:  # orjson: this runs after every confirmed batch
                f.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
                if sync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, self.path)
            st = os.stat(self.path)
            self._seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        if sync:
            dir_fd = os.open(self.state_dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
