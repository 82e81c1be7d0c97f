"""Classification: which hits are tracked, and why the others are skipped.

The rules and their order of precedence are the contract's section 3; which user agents are
bots is bots.py's. `Classifier.classify` is a pure function of the hit's fields and the options,
so it runs in worker processes.
"""
from __future__ import annotations

import fnmatch

from formats.base import MEMO_ENTRIES

from .bots import BotClassifier, BotOptions
from .config import DOWNLOAD_EXTENSIONS, STATIC_EXTENSIONS, STATIC_FILES, Config

# Skip reasons: the counter names shown in the summary, in the contract's order.
INVALID = "invalid"
NO_CLIENT_IP = "no_client_ip"  # the client address is not an IP (-, unix:, a host name): never sent as cip
DOWNLOAD_NOT_LISTED = "download_not_listed"
HOSTNAME_MISMATCH = "hostname_mismatch"
HTTP_ERROR = "http_error"
HTTP_REDIRECT = "http_redirect"
EXCLUDED_PATH = "excluded_path"
STATIC = "static"
BOT = "bot"
FILTERED = "filtered"
NO_SITE = "no_site"

SKIP_REASONS = (INVALID, NO_CLIENT_IP, DOWNLOAD_NOT_LISTED, HOSTNAME_MISMATCH, HTTP_ERROR, HTTP_REDIRECT,
                EXCLUDED_PATH, STATIC, BOT, FILTERED, NO_SITE)

# Flags of a tracked hit (bit field, cheap to carry).
IS_DOWNLOAD = 1
IS_ERROR = 2
IS_REDIRECT = 4
IS_BOT = 8


class Classifier:
    def __init__(self, config: Config):
        self.config = config
        self.bots = BotClassifier(BotOptions.of(config))
        self.download_extensions = config.download_extensions
        self.hostnames = list(config.hostnames)
        self.exclude_paths = list(config.exclude_paths)
        self.include_paths = list(config.include_paths)
        self.include_hosts = set(config.include_hosts)
        self.exclude_hosts = set(config.exclude_hosts)
        self.older = config.exclude_older_than
        self.newer = config.exclude_newer_than
        self._host_ok: dict[str | None, bool] = {}
        self._paths: dict = {}
        self.classify = self._classifier()

    def _hostname_matches(self, host):
        ok = self._host_ok.get(host)
        if ok is None:
            ok = host is None or any(fnmatch.fnmatchcase(host, p) for p in self.hostnames)
            if len(self._host_ok) > MEMO_ENTRIES:
                self._host_ok.clear()
            self._host_ok[host] = ok
        return ok

    def path_info(self, path):
        """What the path alone decides, memoised per distinct path: (download, static, excluded).

        download: 0 none, 1 a tracked download extension, 2 a known download extension that
        --download-extensions left out.
        """
        cache = self._paths
        info = cache.get(path)
        if info is None:
            ext = path.rpartition(".")[2].lower()
            if ext in self.download_extensions:
                download = 1
            elif ext in DOWNLOAD_EXTENSIONS:
                download = 2
            else:
                download = 0
            static = ext in STATIC_EXTENSIONS or path.rpartition("/")[2] in STATIC_FILES
            excluded = False
            if self.exclude_paths or self.include_paths:
                excluded = (any(fnmatch.fnmatchcase(path, p) for p in self.exclude_paths)
                            or bool(self.include_paths)
                            and not any(fnmatch.fnmatchcase(path, p) for p in self.include_paths))
            info = (download, static, excluded)
            if len(cache) > MEMO_ENTRIES:
                cache.clear()
            cache[path] = info
        return info

    def _classifier(self):
        """classify(path_info, host, status, user_agent, cdt): (reason, 0) for a skipped hit or
        (None, flags) for a tracked one.

        `path_info` is `self.path_info(path)`; `cdt` is the hit's UTC date as
        "YYYY-MM-DD HH:MM:SS" (these compare as strings). A closure over the options, read
        once: it runs for every line.
        """
        c = self.config
        hostnames, hostname_matches = self.hostnames, self._hostname_matches
        replay, errors, redirects = c.replay_tracking, c.enable_http_errors, c.enable_http_redirects
        static_ok, bots_ok = c.enable_static, c.enable_bots
        bot_memo, decide, bot_hits = self.bots.memo, self.bots.decide, self.bots.hits
        include_hosts, exclude_hosts = self.include_hosts, self.exclude_hosts
        older, newer = self.older, self.newer

        def classify(path_info, host, status, user_agent, cdt):
            download, static, excluded = path_info
            if download == 2:
                return DOWNLOAD_NOT_LISTED, 0
            flags = download  # IS_DOWNLOAD == 1
            if hostnames and not hostname_matches(host):
                return HOSTNAME_MISMATCH, 0
            s0 = status[:1]
            if s0 == "4" or s0 == "5":
                if replay:
                    pass
                elif errors:
                    flags |= IS_ERROR
                else:
                    return HTTP_ERROR, 0
            elif s0 == "3" and status != "304":
                if redirects:
                    flags |= IS_REDIRECT
                else:
                    return HTTP_REDIRECT, 0
            if excluded:
                return EXCLUDED_PATH, 0
            if static:
                if static_ok:
                    flags |= IS_DOWNLOAD
                else:
                    return STATIC, 0
            bot = bot_memo.get(user_agent)
            if bot is None:
                bot = decide(user_agent)
            if bot:
                if not bots_ok:
                    bot_hits[bot] = bot_hits.get(bot, 0) + 1  # for the summary's top bots
                    return BOT, 0
                flags |= IS_BOT
            if host is not None and (exclude_hosts or include_hosts):
                if host in exclude_hosts:
                    return FILTERED, 0
                if include_hosts and host not in include_hosts:
                    return FILTERED, 0
            if older is not None and cdt < older:
                return FILTERED, 0
            if newer is not None and cdt > newer:
                return FILTERED, 0
            if bot:  # --enable-bots: imported, counted by name too
                bot_hits[bot] = bot_hits.get(bot, 0) + 1
            return None, flags

        return classify
