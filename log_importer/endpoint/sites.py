"""Sites: the in-memory view of the `site` table, and Matomo's URL rules for them.

Site URLs are stored as Matomo's `SitesManager.addSite` stores them (trimmed, trailing '/'
removed, `http://` added when there is no scheme). `ids_for_url` follows
`SitesManager.getSitesIdFromSiteUrl`: the given URL plus its http/https, with/without `www.`
variants, compared (case-insensitively, like MySQL's default collation) against main and alias
URLs; a path must match exactly.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .timestamps import LocalDays, zone

DEFAULT_SEARCH_KEYWORD_PARAMETERS = "q,query,s,search,searchword,k,keyword"
# config/global.ini.php url_query_parameter_to_exclude_from_url
EXCLUDED_QUERY_PARAMETERS = (
    "gclid,fbclid,msclkid,twclid,wbraid,gbraid,yclid,fb_xd_fragment,fb_comment_id,phpsessid,"
    "jsessionid,sessionid,aspsessionid,doing_wp_cron,sid,pk_vid")
CURRENCY_NAMES = {"USD": "US Dollar", "EUR": "Euro", "GBP": "British Pound", "JPY": "Japanese Yen",
                  "CHF": "Swiss Franc", "CAD": "Canadian Dollar", "AUD": "Australian Dollar"}

_LOOKS_LIKE_URL = re.compile(r"^(([a-zA-Z][a-zA-Z0-9+.-]*)?:)?//(.+)$", re.S)


def looks_like_url(url: str) -> bool:
    """Matomo's UrlHelper::isLookLikeUrl: `scheme://…` or `//…`, and not javascript:/data:."""
    m = _LOOKS_LIKE_URL.match(url)
    if not m:
        return False
    scheme = (m.group(2) or "").lower()
    return scheme not in ("javascript", "vbscript", "data")


def normalise_site_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if url and "://" not in url:
        url = "http://" + url
    return url


def url_variants(url: str) -> list[str]:
    """The URLs getSitesIdFromSiteUrl compares against the site URLs."""
    url = url.strip().rstrip("/")
    rest = url.replace("www.", "").replace("http://", "").replace("https://", "")
    return [url, "http://" + rest, "http://www." + rest, "https://" + rest, "https://www." + rest]


def host_of(url: str) -> str:
    rest = url.partition("://")[2] if "://" in url else url.lstrip("/")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = host.rpartition("@")[2].lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.partition(":")[0]


def strip_www(host: str) -> str:
    return host[4:] if host.startswith("www.") else host


@dataclass
class Site:
    idsite: int
    name: str
    main_url: str
    aliases: list[str] = field(default_factory=list)  # other URLs than main_url
    ts_created: str = "2020-01-01 00:00:00"
    ecommerce: int = 0
    sitesearch: int = 1
    sitesearch_keyword_parameters: str = ""
    sitesearch_category_parameters: str = ""
    timezone: str = "UTC"
    currency: str = "USD"
    exclude_unknown_urls: int = 0
    excluded_ips: str = ""
    excluded_parameters: str = ""
    excluded_user_agents: str = ""
    excluded_referrers: str = ""
    group: str = ""
    type: str = "website"
    keep_url_fragment: int = 0
    creator_login: str = "anonymous"
    goals: set[int] = field(default_factory=set)
    dimensions: dict[int, str] = field(default_factory=dict)  # custom dimension id -> scope
    # Derived, rebuilt by `refresh()`.
    url_cache: dict = field(default_factory=dict, repr=False)
    search_keywords: tuple = field(default=(), repr=False)
    search_categories: tuple = field(default=(), repr=False)
    excluded_query: frozenset = field(default=frozenset(), repr=False)
    hosts: frozenset = field(default=frozenset(), repr=False)
    days: LocalDays = field(default=None, repr=False)  # Unix time -> the site's local day

    def __post_init__(self):
        self.refresh()

    def refresh(self):
        self.url_cache = {}
        kw = self.sitesearch_keyword_parameters or DEFAULT_SEARCH_KEYWORD_PARAMETERS
        self.search_keywords = tuple(k.strip().lower() for k in kw.split(",") if k.strip())
        self.search_categories = tuple(
            k.strip().lower() for k in self.sitesearch_category_parameters.split(",") if k.strip())
        excluded = EXCLUDED_QUERY_PARAMETERS + "," + self.excluded_parameters
        self.excluded_query = frozenset(p.strip().lower() for p in excluded.split(",") if p.strip())
        self.hosts = frozenset(strip_www(host_of(u)) for u in self.all_urls() if u)
        self.days = LocalDays(zone(self.timezone) or zone("UTC"))

    def all_urls(self) -> list[str]:
        urls = [self.main_url] if self.main_url else []
        return urls + [u for u in self.aliases if u and u != self.main_url]

    def row(self, superuser: bool) -> dict:
        """The `site` row as SitesManager.getSiteFromId returns it (numbers as strings, like pdo)."""
        row = {
            "idsite": str(self.idsite), "name": self.name, "main_url": self.main_url,
            "ts_created": self.ts_created, "ecommerce": str(self.ecommerce),
            "sitesearch": str(self.sitesearch),
            "sitesearch_keyword_parameters": self.sitesearch_keyword_parameters,
            "sitesearch_category_parameters": self.sitesearch_category_parameters,
            "timezone": self.timezone, "currency": self.currency,
            "exclude_unknown_urls": str(self.exclude_unknown_urls),
            "excluded_ips": self.excluded_ips, "excluded_parameters": self.excluded_parameters,
            "excluded_user_agents": self.excluded_user_agents,
            "excluded_referrers": self.excluded_referrers, "group": self.group, "type": self.type,
            "keep_url_fragment": str(self.keep_url_fragment),
        }
        if superuser:
            row["creator_login"] = self.creator_login
        row["timezone_name"] = self.timezone
        row["currency_name"] = CURRENCY_NAMES.get(self.currency, self.currency)
        return row


def ids_for_url(sites, url: str) -> list[int]:
    """Ids of the sites whose main or alias URL equals one of the variants of `url`."""
    wanted = {v.lower() for v in url_variants(url)}
    return sorted(s.idsite for s in sites if any(u.lower() in wanted for u in s.all_urls()))
