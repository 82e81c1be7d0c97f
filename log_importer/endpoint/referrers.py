"""Where a visit came from: Matomo's referrer detection, campaigns included.

Follows plugins/Referrers/Columns/Base.php (getReferrerInformation, detectReferrerCampaign,
detectReferrerDirectEntry) and config/global.ini.php `campaign_var_name` /
`campaign_keyword_var_name`:
  1. a campaign: `_rcn` (and `_rck`), else the first non-empty campaign-name parameter of the page
     URL's query (then of its #fragment); its keyword is the first non-empty keyword parameter,
     else the referrer's host; name and keyword are lowercased;
  2. a direct entry: no referrer, a referrer on one of the site's hosts, or on the page's own host;
  3. a search engine or a social network, by the referrer's host (a short list of the largest,
     where Matomo reads matomo-org/searchengine-and-social-list);
  4. otherwise a website, named by the referrer's host.
The campaign parameters are also stripped from stored page URLs (core/Tracker/PageUrl.php
getQueryParametersToExclude), see actions.page_url.
"""
from __future__ import annotations

import re
from urllib.parse import unquote_plus

from .sites import host_of, strip_www

DIRECT = 1
SEARCH_ENGINE = 2
WEBSITE = 3
CAMPAIGN = 6
SOCIAL = 7

# Referrers.getReferrerType's labels and segment values, by type.
TYPE_LABELS = {DIRECT: "Direct Entry", SEARCH_ENGINE: "Search Engines", WEBSITE: "Websites",
               CAMPAIGN: "Campaigns", SOCIAL: "Social Networks"}
TYPE_NAMES = {DIRECT: "direct", SEARCH_ENGINE: "search", WEBSITE: "website",
              CAMPAIGN: "campaign", SOCIAL: "social"}

CAMPAIGN_NAME_PARAMETERS = ("pk_cpn", "pk_campaign", "piwik_campaign", "mtm_campaign",
                            "matomo_campaign", "utm_campaign", "utm_source", "utm_medium")
CAMPAIGN_KEYWORD_PARAMETERS = ("pk_kwd", "pk_keyword", "piwik_kwd", "mtm_kwd", "mtm_keyword",
                               "matomo_kwd", "utm_term")
CAMPAIGN_PARAMETERS = frozenset(CAMPAIGN_NAME_PARAMETERS + CAMPAIGN_KEYWORD_PARAMETERS)

# host (without www.) or host suffix -> (name, keyword parameters)
SEARCH_ENGINES = {
    "google": ("Google", ("q",)), "bing.com": ("Bing", ("q",)),
    "duckduckgo.com": ("DuckDuckGo", ("q",)), "search.yahoo.com": ("Yahoo!", ("p",)),
    "yandex": ("Yandex", ("text",)), "baidu.com": ("Baidu", ("wd", "word")),
    "ecosia.org": ("Ecosia", ("q",)), "qwant.com": ("Qwant", ("q",)),
    "startpage.com": ("StartPage", ("query", "q")), "search.brave.com": ("Brave", ("q",)),
    "search.naver.com": ("Naver", ("query",)), "seznam.cz": ("Seznam", ("q",)),
}
SOCIAL_NETWORKS = {
    "facebook.com": "Facebook", "m.facebook.com": "Facebook", "l.facebook.com": "Facebook",
    "fb.me": "Facebook", "twitter.com": "Twitter", "t.co": "Twitter", "x.com": "Twitter",
    "linkedin.com": "LinkedIn", "lnkd.in": "LinkedIn", "reddit.com": "reddit",
    "old.reddit.com": "reddit", "instagram.com": "Instagram", "l.instagram.com": "Instagram",
    "youtube.com": "YouTube", "m.youtube.com": "YouTube", "pinterest.com": "Pinterest",
    "news.ycombinator.com": "Hacker News", "vk.com": "Vkontakte", "tiktok.com": "TikTok",
    "mastodon.social": "Mastodon", "bsky.app": "Bluesky", "tumblr.com": "Tumblr",
    "xing.com": "XING", "github.com": "GitHub",
}
_CAMPAIGN_PREFIX = re.compile(r"[?&#](?:pk_|piwik_|mtm_|matomo_|utm_)", re.I)


def may_name_a_campaign(url: str) -> bool:
    """A quick test: can `url` carry campaign parameters at all?"""
    return _CAMPAIGN_PREFIX.search(url) is not None


def query_parameters(query: str) -> dict[str, str]:
    """Parameter names (as sent) to their decoded values; the first occurrence wins."""
    out: dict[str, str] = {}
    for pair in query.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            name = unquote_plus(name, errors="replace")
            if name not in out:
                out[name] = unquote_plus(value, errors="replace")
    return out


def _campaign_in(text: str) -> tuple[str, str] | None:
    if not any(p in text for p in CAMPAIGN_PARAMETERS):
        return None
    params = query_parameters(text)
    for p in CAMPAIGN_NAME_PARAMETERS:
        name = params.get(p, "").strip()
        if name:
            break
    else:
        return None
    keyword = ""
    for p in CAMPAIGN_KEYWORD_PARAMETERS:
        if params.get(p, "").strip():
            keyword = params[p].strip()
            break
    return name, keyword


def campaign_of(url: str, rcn, rck) -> tuple[str, str] | None:
    """(name, keyword) of the campaign a request names, before lowercasing, or None.

    `_rcn`/`_rck` win (detectReferrerCampaignFromTrackerParams); else the page URL's query, then
    its fragment (detectReferrerCampaignFromLandingUrl).
    """
    if rcn:
        name = unquote_plus(str(rcn), errors="replace").strip()
        if name:
            return name, unquote_plus(str(rck or ""), errors="replace").strip()
    if not url or ("?" not in url and "#" not in url):
        return None
    rest, _, fragment = url.partition("#")
    query = rest.partition("?")[2]
    return (query and _campaign_in(query)) or (fragment and _campaign_in(fragment)) or None


def _search_engine(host: str, query: str) -> tuple[str, str] | None:
    h = strip_www(host)
    for key, (name, params) in SEARCH_ENGINES.items():
        if h == key or h.endswith("." + key) or (key == "google" and ".google." in "." + h + ".")\
                or (key == "yandex" and ".yandex." in "." + h + "."):
            values = query_parameters(query) if query else {}
            for p in params:
                if values.get(p, "").strip():
                    return name, values[p].strip().lower()
            return name, ""
    return None


def _social(host: str) -> str | None:
    h = strip_www(host)
    name = SOCIAL_NETWORKS.get(h)
    if name is None and "." in h:
        name = SOCIAL_NETWORKS.get(h.partition(".")[2])
    return name


def referrer_of(site, url: str | None, urlref: str | None, rcn=None, rck=None,
                visit=None) -> tuple[int, str, str, str]:
    """(type, name, keyword, referrer url) of a request, as Matomo stores them in log_visit.

    `visit` is the visitor's ongoing visit, whose campaign keyword is kept when the request names
    the same campaign without a keyword (Base.php detectReferrerCampaign, matomo#9299).
    """
    ref = urlref or ""
    if ref and "://" not in ref[:20] and not ref.startswith("//"):
        ref = ""  # UrlHelper::isLookLikeUrl
    ref_host = host_of(ref) if ref else ""
    campaign = campaign_of(url or "", rcn, rck)
    if campaign is not None:
        name, keyword = campaign[0].lower()[:255], campaign[1].lower()[:255]
        if not keyword:
            if (visit is not None and visit.referer_type == CAMPAIGN
                    and (visit.referer_name or "").lower() == name):
                keyword = visit.referer_keyword or ""
            else:
                keyword = ref_host
        return CAMPAIGN, name, keyword, ref
    if not ref_host:
        return (DIRECT, "", "", ref)
    h = strip_www(ref_host)
    if h in site.hosts or (url and strip_www(host_of(url)) == h):
        return DIRECT, "", "", ref
    query = ref.partition("?")[2].partition("#")[0]
    engine = _search_engine(ref_host, query)
    if engine is not None:
        return SEARCH_ENGINE, engine[0], engine[1], ref
    social = _social(ref_host)
    if social is not None:
        return SOCIAL, social, "", ref
    return WEBSITE, ref_host[:255], "", ref


def campaign_changed(visit, info: tuple) -> bool:
    """Matomo's create_new_visit_when_campaign_changes (plugins/Referrers/Columns/Campaign.php
    shouldForceNewVisit): the request names a campaign whose type, name or keyword differ from
    the visit's (compared lowercased)."""
    return info[0] == CAMPAIGN and (
        visit.referer_type != CAMPAIGN
        or (visit.referer_name or "").lower() != info[1]
        or (visit.referer_keyword or "").lower() != info[2])
