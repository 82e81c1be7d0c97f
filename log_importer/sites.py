"""Sites: which Matomo site each hit goes to, resolved in the parent and handed to workers.

--idsite: one site (its main URL from SitesManager.getSiteFromId). Otherwise by host through
SitesManager.getSitesIdFromSiteUrl, cached per host, then --idsite-fallback, then
--add-sites-new-hosts. --replay-tracking: the idsite of each replayed request, among all sites.
A dry run asks no server: every hit resolves to a placeholder site.
"""
from __future__ import annotations

import logging

from .api import ApiError, MatomoApi
from .chunks import REPLAY_KEY_PREFIX, Site, SiteMap
from .config import Config
from .errors import ConfigError
from .stats import Stats

log = logging.getLogger("log_importer")

DRY_RUN_URL = "http://dry-run.invalid"


def _int_id(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


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

    def start(self):
        """Fetch what is needed before the first hit (raises ConfigError: nothing sent yet)."""
        c = self.config
        if c.idsite is not None:
            url = self.main_url(c.idsite, "--idsite")
            self._static = Site(c.idsite, url)
        elif self.api is None:
            self._resolve_all = Site("dry-run", DRY_RUN_URL)
        elif c.replay_tracking:
            try:
                sites = self.api.call("SitesManager.getAllSites")
            except ApiError as e:
                raise ConfigError("cannot list the sites for --replay-tracking: %s" % e) from None
            rows = sites.values() if isinstance(sites, dict) else sites
            for row in rows:
                idsite = _int_id(row.get("idsite"))
                if idsite is not None:
                    main = str(row.get("main_url") or DRY_RUN_URL).rstrip("/")
                    self._main_urls[idsite] = main
                    self._timezones[idsite] = row.get("timezone")
                    self._by_key[REPLAY_KEY_PREFIX + str(idsite)] = Site(idsite, main)
        elif c.idsite_fallback is not None:
            self.main_url(c.idsite_fallback, "--idsite-fallback")

    def site_map(self) -> SiteMap:
        return SiteMap(self._static, dict(self._by_key), self._resolve_all)

    def main_url(self, idsite, option="site"):
        found = self._main_urls.get(idsite)
        if found is not None:
            return found
        if self.api is None:
            url = DRY_RUN_URL
        else:
            try:
                site = self.api.call("SitesManager.getSiteFromId", idSite=idsite)
            except ApiError as e:
                raise ConfigError("%s %s: %s" % (option, idsite, e)) from None
            if not isinstance(site, dict) or not site.get("main_url"):
                raise ConfigError("%s %s: Matomo returned no main URL for this site" % (option, idsite))
            url = str(site["main_url"]).rstrip("/")
            self._timezones[idsite] = site.get("timezone")
        self._main_urls[idsite] = url
        return url

    def timezone(self, idsite) -> str | None:
        """The site's Matomo time zone name, when Matomo gave it (None: unknown, e.g. a site
        created by --add-sites-new-hosts, which gets Matomo's default)."""
        return self._timezones.get(idsite)

    def resolve(self, keys):
        """Resolve site keys (hosts, or "#idsite" with --replay-tracking) not resolved yet."""
        for key in sorted(keys):
            if key in self._by_key:
                continue
            if key.startswith(REPLAY_KEY_PREFIX):
                site = None  # not among getAllSites
            else:
                site = self._resolve_host(key)
            self._by_key[key] = site
            if site is None:
                self.stats.hosts_no_site.add(key)
            log.debug("site for %s: %s", key, site.idsite if site else "none")

    def _resolve_host(self, host) -> Site | None:
        c = self.config
        try:
            rows = self.api.call("SitesManager.getSitesIdFromSiteUrl", url=host)
        except ApiError as e:
            raise ConfigError("cannot look up the site of host %s: %s" % (host, e)) from None
        if isinstance(rows, list) and rows:
            first = rows[0]
            idsite = _int_id(first.get("idsite") if isinstance(first, dict) else first)
            if idsite is not None:
                return Site(idsite, self.main_url(idsite))
        if c.idsite_fallback is not None:
            return Site(c.idsite_fallback, self.main_url(c.idsite_fallback, "--idsite-fallback"))
        if c.add_sites_new_hosts:
            main = "http://" + host
            try:
                result = self.api.call("SitesManager.addSite", siteName=host, urls=[main])
            except ApiError as e:
                log.error("could not create a Matomo site for host %s: %s", host, e)
                return None
            idsite = _int_id(result.get("value") if isinstance(result, dict) else None)
            if idsite is None:
                log.error("could not create a Matomo site for host %s: unexpected answer", host)
                return None
            self.stats.sites_created.append((host, idsite))
            self._main_urls[idsite] = main
            return Site(idsite, main)
        return None
