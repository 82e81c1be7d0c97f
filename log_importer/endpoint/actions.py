"""What one tracking request records: its action type and the cleaned values Matomo stores.

Priority when several apply (core/Tracker/Action.php): download > outlink > event > content >
site search > pageview. A goal conversion (`idgoal` > 0) or an ecommerce request (`idgoal=0`)
records no action. Only pageviews, downloads, outlinks, site searches and events count in a
visit's actions (plugins/CoreHome/Columns/VisitTotalActions.php).
"""
from __future__ import annotations

from urllib.parse import unquote_plus

from .sites import Site, looks_like_url

PAGEVIEW = "pageview"
DOWNLOAD = "download"
OUTLINK = "outlink"
EVENT = "event"
SITE_SEARCH = "site_search"
CONTENT = "content"
GOAL = "goal"
ECOMMERCE = "ecommerce"
ACTION_TYPES = (PAGEVIEW, DOWNLOAD, OUTLINK, EVENT, SITE_SEARCH, CONTENT, GOAL, ECOMMERCE)
COUNTED = frozenset((PAGEVIEW, DOWNLOAD, OUTLINK, EVENT, SITE_SEARCH))

PAGE_MAXIMUM_LENGTH = 1024
REFERRER_MAXIMUM_LENGTH = 1500
PERFORMANCE_PARAMS = ("pf_net", "pf_srv", "pf_tfr", "pf_dm1", "pf_dm2", "pf_onl")


class InvalidRequest(Exception):
    """Matomo's InvalidRequestParameterException / UnexpectedWebsiteFoundException: a 400, or
    an invalid index in a bulk request."""


class FatalRequest(Exception):
    """Any other exception in Matomo: the whole bulk request is rolled back and answered 500."""


def as_int(value, default: int) -> int:
    """Common::getRequestVar(..., 'int'): a type mismatch silently gives the default."""
    t = type(value)
    if t is int:
        return value
    if t is str:
        s = value.strip()
        if s and (s.isdigit() or (s[0] in "+-" and s[1:].isdigit())):
            return int(s)
        return default
    if t is float and value.is_integer():
        return int(value)
    if t is bool:
        return int(value)
    return default


def as_str(value) -> str:
    if value is None:
        return ""
    if type(value) is str:
        return value
    if value is True:
        return "1"
    if value is False:
        return ""
    return str(value)


def cleanup(value: str, limit: int = PAGE_MAXIMUM_LENGTH) -> str:
    """PageUrl::cleanupString: trim, drop \\n \\r \\0, cut at `limit` bytes."""
    s = value.strip()
    if "\n" in s or "\r" in s or "\0" in s:
        s = s.replace("\n", "").replace("\r", "").replace("\0", "")
    if len(s) > limit // 4:
        b = s.encode("utf-8", "surrogatepass")
        if len(b) > limit:
            s = b[:limit].decode("utf-8", "ignore")
    return s


def click_url(value) -> str | None:
    """A download or outlink URL: cleaned, query parameters kept."""
    s = cleanup(as_str(value))
    return s or None


def page_url(site: Site, value) -> tuple:
    """(url, search keyword, search category, search url) of a page URL for `site`, memoised
    per site.

    Drops the URL unless it looks like one, removes the excluded query parameters and the
    fragment (unless the site keeps fragments), and detects a site search from the site's
    keyword parameters when site search is on; the search url is the url without the keyword
    and category parameters (what a site search action stores).
    """
    raw = as_str(value)
    cache = site.url_cache
    found = cache.get(raw)
    if found is not None:
        return found
    found = _page_url(site, raw)
    if len(cache) > 20_000:
        cache.clear()
    cache[raw] = found
    return found


def _page_url(site: Site, raw: str):
    url = cleanup(raw)
    if not url or not looks_like_url(url):
        return (None, None, None, None)
    if not site.keep_url_fragment and "#" in url:
        url = url.partition("#")[0]
    if "?" not in url:
        return (url, None, None, url)
    base, _, query = url.partition("?")
    fragment = ""
    if "#" in query:
        query, _, fragment = query.partition("#")
        fragment = "#" + fragment
    kept = []
    plain = []
    keyword = category = None
    excluded = site.excluded_query
    searching = site.sitesearch
    for pair in query.split("&"):
        if not pair:
            continue
        name = unquote_plus(pair.partition("=")[0], errors="replace").lower()
        if name in excluded:
            continue
        plain.append(pair)
        if searching:
            if keyword is None and name in site.search_keywords:
                v = unquote_plus(pair.partition("=")[2], errors="replace").strip()
                if v:
                    keyword = v.lower()
                    continue
            if category is None and name in site.search_categories:
                v = unquote_plus(pair.partition("=")[2], errors="replace").strip()
                if v:
                    category = v
                    continue
        kept.append(pair)
    url = base + ("?" + "&".join(plain) if plain else "") + fragment
    if keyword is None:
        return (url, None, None, url)
    return (url, keyword, category, base + ("?" + "&".join(kept) if kept else "") + fragment)


def check_performance(p: dict) -> None:
    """Negative `pf_*` values other than -1 are invalid (PagePerformance/Columns/Base.php)."""
    for name in PERFORMANCE_PARAMS:
        if name in p:
            v = as_int(p[name], -1)
            if v < -1:
                raise InvalidRequest("Value for %s can't be negative." % name)


def _blank_event_part(p: dict, name: str) -> None:
    if not as_str(p.get(name)).strip():
        raise InvalidRequest("Param `%s` must not be empty or filled with whitespaces" % name)


def describe(p: dict, site: Site) -> tuple[str, str | None, str | None]:
    """(type, url, name) of the action a non-goal request records, or raise InvalidRequest.

    `name` is the page title, the site-search keyword, "category / action[ / name]" of an event,
    or the content name.
    """
    download = p.get("download")
    if download not in (None, ""):
        return DOWNLOAD, click_url(download), None
    link = p.get("link")
    if link not in (None, ""):
        return OUTLINK, click_url(link), None
    e_c = as_str(p.get("e_c"))
    e_a = as_str(p.get("e_a"))
    if e_c and e_a:
        _blank_event_part(p, "e_c")
        _blank_event_part(p, "e_a")
        parts = [e_c.strip(), e_a.strip()]
        e_n = as_str(p.get("e_n")).strip()
        if e_n:
            parts.append(e_n)
        return EVENT, page_url(site, p.get("url"))[0], " / ".join(parts)
    c_n = as_str(p.get("c_n"))
    if c_n not in ("", "0"):
        if not c_n.strip():
            raise InvalidRequest("Param `c_n` must not be empty or filled with whitespaces")
        return CONTENT, page_url(site, p.get("url"))[0], c_n.strip()
    url, keyword, _category, search_url = page_url(site, p.get("url"))
    search = as_str(p.get("search")).strip()
    if search:
        return SITE_SEARCH, url, search.lower()
    if keyword:
        return SITE_SEARCH, search_url, keyword
    if as_int(p.get("ca"), 0):
        raise FatalRequest("Request was meant to be tracked as a custom action, but no custom "
                           "action matched this request.")
    title = as_str(p.get("action_name")).strip() or None
    return PAGEVIEW, url, title
