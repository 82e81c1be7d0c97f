"""Sites: which Matomo site each hit goes to, resolved in the parent and handed to workers.

--idsite: one site (its main URL from SitesManager.getSiteFromId). Otherwise by host: a hit's
host is first normalised (`tracking.host_key`: lowercase, no port, no `www.`), then looked up,
once per host: --site-map patterns first, then SitesManager.getSitesIdFromSiteUrl (which tries
the http/https and www variants itself), then --idsite-fallback, then --add-sites-new-hosts
(at most --max-new-sites in a run). A hit without a host (NO_HOST_KEY) goes to
--idsite-fallback or to no site: it is never looked up, and never makes a new site
(import_logs.py created one named "no-hostname-found-in-log"). --replay-tracking: the idsite of each replayed request,
among the sites the token may write to. A dry run asks no server: every hit resolves to a
placeholder site.

Before the first hit, `start()` asks Matomo which sites the token may write to
(SitesManager.getSitesIdWithAdminAccess and getSitesIdWithWriteAccess, plugins/SitesManager/API.php)
and whether it is a super user's (UsersManager.hasSuperUserAccess): a site named by --idsite,
--idsite-fallback or --site-map that is missing or only viewable stops the run there (exit 2),
as does --add-sites-new-hosts without a super-user token. A host found in Matomo on a site the
token cannot write to is skipped with a warning (Matomo would refuse each of its hits).

Never the same site twice: hosts are normalised before lookup and creation, a created site is
remembered for the run, later runs find it by its URL, and concurrent importers on one machine
create sites one at a time under a lock file (in the default state directory); when importers
on several machines race anyway, each uses the lowest id Matomo has for the host afterwards.
"""
from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import hashlib
import logging
import os

from .api import ApiError, MatomoApi
from .checkpoint import default_state_dir
from .chunks import NO_HOST_KEY, REPLAY_KEY_PREFIX, Site, SiteMap
from .config import Config
from .errors import ConfigError, UsageError
from .stats import Stats
from .tracking import host_key

log = logging.getLogger("log_importer")

DRY_RUN_URL = "http://dry-run.invalid"


def _int_id(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def read_site_map(path: str) -> list:
    """--site-map FILE: [(pattern, idsite)] from lines `host-pattern idsite`.

    Blank lines and `#` comments are ignored. Patterns are fnmatch patterns (`*.example.com`),
    compared, like hosts, in lowercase without `www.` and port. Raises UsageError naming the
    file and line of a malformed entry.
    """
    out = []
    try:
        with open(path, encoding="utf8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError("--site-map %s: %s" % (path, getattr(e, "strerror", None) or e)) from None
    for number, text in enumerate(lines, 1):
        text = text.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.split()
        if len(parts) != 2 or _int_id(parts[1]) is None or int(parts[1]) < 1:
            raise UsageError("--site-map %s line %d: expected 'host-pattern idsite', got %r"
                             % (path, number, text))
        out.append((host_key(parts[0]), int(parts[1])))
    return out


class SiteResolver:
    def __init__(self, config: Config, api: MatomoApi | None, stats: Stats):
        self.config = config
        self.api = api
        self.stats = stats
        self._static: Site | None = None
        self._by_key: dict = {}
        self._main_urls: dict = {}  # idsite -> main URL
        self._timezones: dict = {}  # idsite -> Matomo time zone name (getSiteFromId, getAllSites)
        self._resolve_all: Site | None = None
        self.writable: set | None = None  # ids of the sites the token may write to (None: dry run)
        self.superuser = False
        self._created = 0
        self._warned_limit = False

    def start(self):
        """Fetch and check what is needed before the first hit (raises ConfigError: nothing sent yet)."""
        c = self.config
        if self.api is None:
            if c.idsite is not None:
                self._static = Site(c.idsite, DRY_RUN_URL)
            else:
                self._resolve_all = Site("dry-run", DRY_RUN_URL)
            return
        self._check_access()
        if c.idsite is not None:
            self._static = Site(c.idsite, self.main_url(c.idsite, "--idsite"))
        elif c.replay_tracking:
            self._replay_sites()
        else:
            if c.idsite_fallback is not None:
                self.main_url(c.idsite_fallback, "--idsite-fallback")
            for _, idsite in c.site_map:
                self.main_url(idsite, "--site-map")

    def _check_access(self):
        c = self.config
        answer = self._call("UsersManager.hasSuperUserAccess")  # {"value": true}
        self.superuser = (answer.get("value") if isinstance(answer, dict) else answer) in (True, 1, "1", "true")
        ids = set()
        for method in ("SitesManager.getSitesIdWithAdminAccess", "SitesManager.getSitesIdWithWriteAccess"):
            rows = self._call(method)
            ids.update(i for i in (_int_id(r) for r in (rows if isinstance(rows, list) else [])) if i)
        self.writable = ids
        if c.add_sites_new_hosts and c.idsite is None and not self.superuser:
            raise ConfigError("--add-sites-new-hosts needs a super user's token: this token cannot create sites")
        if not ids and c.idsite is None and not (c.add_sites_new_hosts and self.superuser):
            raise ConfigError("the token has no write access to any site (a token with view access cannot "
                              "import): give a token of a user with write or admin access")

    def _call(self, method, **params):
        try:
            return self.api.call(method, **params)
        except ApiError as e:
            raise ConfigError("%s failed: %s" % (method, e)) from None

    def _replay_sites(self):
        if self.superuser:
            sites = self._call("SitesManager.getAllSites")
            rows = list(sites.values() if isinstance(sites, dict) else sites)
        else:
            rows = [self._call("SitesManager.getSiteFromId", idSite=i) for i in sorted(self.writable)]
        for row in rows:
            idsite = _int_id(row.get("idsite")) if isinstance(row, dict) else None
            if idsite is not None and idsite in self.writable:
                main = str(row.get("main_url") or DRY_RUN_URL).rstrip("/")
                self._main_urls[idsite] = main
                self._timezones[idsite] = row.get("timezone")
                self._by_key[REPLAY_KEY_PREFIX + str(idsite)] = Site(idsite, main)

    def site_map(self) -> SiteMap:
        return SiteMap(self._static, dict(self._by_key), self._resolve_all)

    def main_url(self, idsite, option="site"):
        """The main URL of a site the token may write to (raises ConfigError otherwise)."""
        found = self._main_urls.get(idsite)
        if found is not None:
            return found
        if not self.can_write(idsite):
            raise ConfigError(self._no_write_access(idsite, option))
        try:
            site = self.api.call("SitesManager.getSiteFromId", idSite=idsite)
        except ApiError as e:
            if self.superuser and idsite not in self.writable:  # "An unexpected website was found…"
                raise ConfigError("%s %s: site %s does not exist in Matomo" % (option, idsite, idsite)) from None
            raise ConfigError("%s %s: %s" % (option, idsite, e)) from None
        if not isinstance(site, dict) or not site.get("main_url"):
            raise ConfigError("%s %s: Matomo returned no main URL for this site" % (option, idsite))
        url = str(site["main_url"]).rstrip("/")
        self._main_urls[idsite] = url
        self._timezones[idsite] = site.get("timezone")
        return url

    def timezone(self, idsite) -> str | None:
        """The site's Matomo time zone name, when Matomo gave it (None: unknown, e.g. a site
        created by --add-sites-new-hosts, which gets Matomo's default)."""
        return self._timezones.get(idsite)

    def can_write(self, idsite) -> bool:
        """Whether the token may write to the site (a super user's: every site, also one created
        by another importer since the run started)."""
        return self.writable is None or self.superuser or idsite in self.writable

    def _no_write_access(self, idsite, option) -> str:
        if self.superuser:
            return "%s %s: site %s does not exist in Matomo" % (option, idsite, idsite)
        try:
            self.api.call("SitesManager.getSiteFromId", idSite=idsite)
        except (ApiError, ConfigError):
            return ("%s %s: site %s does not exist, or the token has no access to it" % (option, idsite, idsite))
        return ("%s %s: the token has only view access to site %s; importing needs write access"
                % (option, idsite, idsite))

    def with_site(self, keys) -> set:
        """The site keys among `keys` that have a site now (resolved first, as `resolve` does:
        looked up in Matomo, given --idsite-fallback's site, or created by --add-sites-new-hosts);
        with --idsite (or in a dry run), all of them."""
        if self._static is not None or self._resolve_all is not None:
            return set(keys)
        self.resolve(keys)
        return {key for key in keys if self._by_key.get(key) is not None}

    def resolve(self, keys):
        """Resolve site keys (normalised hosts, or "#idsite" with --replay-tracking) not resolved yet."""
        for key in sorted(keys):
            if key in self._by_key:
                continue
            if key.startswith(REPLAY_KEY_PREFIX):
                site = None  # not among the sites the token may write to
            elif key == NO_HOST_KEY:  # a hit without a host: never looked up, never a new site
                site = self._fallback()
            else:
                site = self._resolve_host(key)
            self._by_key[key] = site
            if site is None:
                self.stats.hosts_no_site.add(key)
            log.debug("site for %s: %s", key, site.idsite if site else "none")

    def _fallback(self) -> Site | None:
        """--idsite-fallback's site (its main URL is the hits' URL prefix), or None."""
        c = self.config
        if c.idsite_fallback is None:
            return None
        return Site(c.idsite_fallback, self.main_url(c.idsite_fallback, "--idsite-fallback"))

    def _resolve_host(self, key) -> Site | None:
        c = self.config
        for pattern, idsite in c.site_map:
            # the key has no `www.`: `*.example.com` maps www.example.com too, as --hostname does
            if fnmatch.fnmatchcase(key, pattern) or fnmatch.fnmatchcase("www." + key, pattern):
                return Site(idsite, self.main_url(idsite, "--site-map"))
        idsite = self._lookup(key)
        if idsite is not None:
            return Site(idsite, self.main_url(idsite))
        if c.idsite_fallback is not None:
            return self._fallback()
        if c.add_sites_new_hosts:
            return self._create(key)
        return None

    def _lookup(self, key, quiet=False):
        """The lowest id among the sites whose URLs match `key` that the token may write to."""
        try:
            rows = self.api.call("SitesManager.getSitesIdFromSiteUrl", url=key)
        except ApiError as e:
            raise ConfigError("cannot look up the site of host %s: %s" % (key, e)) from None
        ids = sorted({i for i in (_int_id(r.get("idsite") if isinstance(r, dict) else r)
                                  for r in (rows if isinstance(rows, list) else [])) if i is not None})
        usable = [i for i in ids if self.can_write(i)]
        if ids and not usable and not quiet:
            log.warning("host %s is Matomo site %s, which the token cannot write to: its hits are skipped",
                        key, ids[0])
        return usable[0] if usable else None

    def _create(self, key) -> Site | None:
        c = self.config
        if self._created >= c.max_new_sites:
            if not self._warned_limit:
                log.warning("--max-new-sites=%d reached: no site is created for host %s and later new hosts "
                            "(their hits are kept pending: raise --max-new-sites, or add the sites, and run again)",
                            c.max_new_sites, key)
                self._warned_limit = True
            return None
        main = "http://" + key
        with self._creation_lock():
            idsite = self._lookup(key, quiet=True)  # another importer may have created it meanwhile
            if idsite is not None:
                return Site(idsite, self.main_url(idsite))
            try:
                result = self.api.call("SitesManager.addSite", siteName=key, urls=[main])
            except ApiError as e:
                log.error("could not create a Matomo site for host %s: %s", key, e)
                return None
            idsite = _int_id(result.get("value") if isinstance(result, dict) else None)
            if idsite is None:
                log.error("could not create a Matomo site for host %s: unexpected answer", key)
                return None
            self._created += 1
            self.writable.add(idsite)
            first = self._lookup(key, quiet=True)
        if first is not None and first != idsite:
            log.warning("site %d for host %s was created by another importer at the same time as site %d: "
                        "using site %d (site %d has no hits and can be deleted)", first, key, idsite, first, idsite)
            idsite = first
        else:
            self.stats.sites_created.append((key, idsite))
            self._main_urls[idsite] = main
        return Site(idsite, self.main_url(idsite))

    @contextlib.contextmanager
    def _creation_lock(self):
        """One importer at a time creates sites in this Matomo (per user, on this machine)."""
        name = hashlib.sha256(self.config.api_endpoint.encode()).hexdigest()[:20]
        directory = default_state_dir()
        fd = None
        try:
            os.makedirs(directory, exist_ok=True)
            fd = os.open(os.path.join(directory, "sites-%s.lock" % name), os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:
            log.debug("no site-creation lock in %s: %s", directory, e)
        try:
            yield
        finally:
            if fd is not None:
                os.close(fd)
