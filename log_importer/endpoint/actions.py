"""What one tracking request records: its action type and the cleaned values Matomo stores.

Priority when several apply (core/Tracker/Action.php): download > outlink > event > content >
site search > pageview. A goal conversion (`idgoal` > 0) or an ecommerce request (`idgoal=0`)
records no action. Only pageviews, downloads, outlinks, site searches and events count in a
visit's actions (plugins/CoreHome/Columns/VisitTotalActions.php).

`record()` returns an action as a list in `ACTION_FIELDS` order; `pack()` turns it into the tail of
a `request` row (`STORED_FIELDS`: the columns every action fills, and the others as one JSON
`details` value, which SQLite's json_extract reads back in the `action` view).
"""
from __future__ import annotations

from urllib.parse import unquote_plus

import orjson

from .referrers import CAMPAIGN_PARAMETERS
from .sites import Site, looks_like_url

PAGEVIEW = "pageview"
DOWNLOAD = "download"
OUTLINK = "outlink"
EVENT = "event"
SITE_SEARCH = "site_search"
CONTENT = "content"
GOAL = "goal"
ECOMMERCE = "ecommerce"  # an order (log_conversion idgoal 0)
CART = "cart"            # a cart update (log_conversion idgoal -1, an abandoned cart if no order)
ACTION_TYPES = (PAGEVIEW, DOWNLOAD, OUTLINK, EVENT, SITE_SEARCH, CONTENT, GOAL, ECOMMERCE, CART)
COUNTED = frozenset((PAGEVIEW, DOWNLOAD, OUTLINK, EVENT, SITE_SEARCH))

PAGE_MAXIMUM_LENGTH = 1024
REFERRER_MAXIMUM_LENGTH = 1500
PERFORMANCE_PARAMS = ("pf_net", "pf_srv", "pf_tfr", "pf_dm1", "pf_dm2", "pf_onl")
_PERFORMANCE = frozenset(PERFORMANCE_PARAMS)
PERFORMANCE_MAXIMUM = 16777215      # MEDIUMINT UNSIGNED (PagePerformance/Columns/Base.php)
GENERATION_TIME_MAXIMUM = 3600000   # ms (core/Tracker/Request.php getPageGenerationTime)
SEARCH_CATEGORY_MAXIMUM = 200       # bytes (plugins/Actions/Actions/ActionSiteSearch.php)
CUSTOM_VARIABLE_SLOTS = 5           # CustomVariables' default installed slots
CUSTOM_VARIABLE_MAXIMUM = 200       # chars (CustomVariables.php)
DIMENSION_MAXIMUM = 250             # chars (CustomDimensionsRequestProcessor.php)
ITEM_CATEGORIES = 5                 # GoalManager::MAXIMUM_PRODUCT_CATEGORIES

# The tail of a `request` row: what one request recorded (None where it does not apply). The
# last one, `details`, holds the DETAIL_FIELDS an action has, as JSON.
STORED_FIELDS = ("type", "counted", "url", "name", "urlref", "idgoal", "ec_id", "revenue",
                 "custom_variables", "performance", "details")
(F_TYPE, F_COUNTED, F_URL, F_NAME, F_URLREF, F_IDGOAL, F_EC_ID, F_REVENUE, F_CUSTOM_VARIABLES,
 F_PERFORMANCE, F_DETAILS) = range(len(STORED_FIELDS))
DETAIL_FIELDS = (
    "pv_id", "gt_ms", "search_cat", "search_count", "event_category", "event_action",
    "event_name", "event_value", "content_name", "content_piece", "content_target",
    "content_interaction", "items", "subtotal", "tax", "shipping", "discount", "dimensions")
ACTION_FIELDS = STORED_FIELDS[:-1] + DETAIL_FIELDS
NO_ACTION = (None,) * len(STORED_FIELDS)


def detail(a: list, name: str, value) -> None:
    """Set one of the DETAIL_FIELDS of the action `a` (None leaves it out)."""
    if value is not None:
        d = a[F_DETAILS]
        if d is None:
            a[F_DETAILS] = {name: value}
        else:
            d[name] = value


def pack(a: list) -> tuple:
    """The `request` row tail of the action `a`: its JSON values serialised."""
    if a[F_DETAILS] is not None:
        a[F_DETAILS] = orjson.dumps(a[F_DETAILS]).decode()
    if a[F_PERFORMANCE] is not None:
        a[F_PERFORMANCE] = orjson.dumps(a[F_PERFORMANCE]).decode()
    return tuple(a)


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


def as_float(value, default: float | None) -> float | None:
    """A float parameter: a number or numeric string, else `default` (Common::getRequestVar)."""
    t = type(value)
    if t is float or t is int:
        return float(value)
    if t is str:
        try:
            f = float(value.strip())
        except ValueError:
            return default
        return f if f == f and f not in (float("inf"), float("-inf")) else default
    return default


def page_url(site: Site, value, charset: str | None = None) -> tuple:
    """(url, search keyword, search category, search url) of a page URL for `site`, memoised
    per site.

    Drops the URL unless it looks like one, removes the excluded query parameters (Matomo's
    url_query_parameter_to_exclude_from_url, the site's own, and the campaign parameters:
    core/Tracker/PageUrl.php getQueryParametersToExclude) and the fragment (unless the site keeps
    fragments), and detects a site search from the site's keyword parameters when site search is
    on; the search url is the url without the keyword and category parameters (what a site
    search action stores). `charset` (the `cs` parameter) decodes the keyword and category when
    the page is not UTF-8 (PageUrl::reencodeParameters).
    """
    raw = as_str(value)
    if charset:
        return _page_url(site, raw, charset)
    cache = site.url_cache
    found = cache.get(raw)
    if found is not None:
        return found
    found = _page_url(site, raw, None)
    if len(cache) > 20_000:
        cache.clear()
    cache[raw] = found
    return found


def _decode(value: str, charset: str | None) -> str:
    if charset:
        try:
            return unquote_plus(value, encoding=charset, errors="strict")
        except (LookupError, UnicodeDecodeError):
            pass
    return unquote_plus(value, errors="replace")


def _page_url(site: Site, raw: str, charset: str | None):
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
        if name in excluded or name in CAMPAIGN_PARAMETERS:
            continue
        plain.append(pair)
        if searching:
            if keyword is None and name in site.search_keywords:
                v = _decode(pair.partition("=")[2], charset).strip()
                if v:
                    keyword = v.lower()
                    continue
            if category is None and name in site.search_categories:
                v = _decode(pair.partition("=")[2], charset).strip()
                if v:
                    category = v
                    continue
        kept.append(pair)
    url = base + ("?" + "&".join(plain) if plain else "") + fragment
    if keyword is None:
        return (url, None, None, url)
    return (url, keyword, category, base + ("?" + "&".join(kept) if kept else "") + fragment)


def action_name(value) -> str | None:
    """A page title as Matomo stores it: split on the category delimiter "/", each part trimmed,
    empty parts dropped, joined again ("Help / Feedback" -> "Help/Feedback"), then cleaned
    (core/Tracker/ActionPageview.php cleanupActionName, Action::setActionName)."""
    s = as_str(value)
    if not s:
        return None
    if "/" in s:
        s = "/".join(part.strip() for part in s.split("/") if part.strip())
    s = cleanup(s)
    return s or None


def _truncate_bytes(s: str, limit: int) -> str:
    b = s.encode("utf-8", "surrogatepass")
    return s if len(b) <= limit else b[:limit].decode("utf-8", "ignore")


def _search_count(value) -> int | None:
    """`search_count` when it is a number >= 0 (ActionSiteSearch::isValidSearchCount)."""
    if value is None or value == "":
        return None
    n = as_int(value, -1)
    return n if n >= 0 else None


_JSON_MEMO: dict = {}


def _json(value):
    """A parameter of Matomo's type 'json': a JSON string decoded (memoised), or the nested
    value a bulk request carried as it is (core/Common.php getRequestVar). None when invalid."""
    if type(value) is not str:
        return value
    found = _JSON_MEMO.get(value, _JSON_MEMO)
    if found is not _JSON_MEMO:
        return found
    try:
        found = orjson.loads(value)
    except orjson.JSONDecodeError:
        found = None
    if len(_JSON_MEMO) > 10_000:
        _JSON_MEMO.clear()
    _JSON_MEMO[value] = found
    return found


def _scalar(v) -> str | None:
    t = type(v)
    if t is str:
        return v
    if t is int or t is float:
        return str(v)
    return None


def custom_variables(value) -> dict | None:
    """`_cvar` / `cvar` as CustomVariables keeps them: {"slot": [name, value]} for slots
    1..5 with exactly two string or numeric elements, trimmed and cut to 200 characters; other
    entries are dropped silently (CustomVariables/Tracker/CustomVariablesRequestProcessor.php)."""
    if value is None or value == "":
        return None
    data = _json(value)
    if isinstance(data, list):
        data = {str(i): v for i, v in enumerate(data)}
    if not isinstance(data, dict):
        return None
    out = {}
    for slot, pair in data.items():
        n = as_int(slot, 0)
        if not 1 <= n <= CUSTOM_VARIABLE_SLOTS or not isinstance(pair, list) or len(pair) != 2:
            continue
        name, val = _scalar(pair[0]), _scalar(pair[1])
        if name is None or val is None:
            continue
        out[str(n)] = [name.strip()[:CUSTOM_VARIABLE_MAXIMUM], val.strip()[:CUSTOM_VARIABLE_MAXIMUM]]
    return out or None


_CVAR_MEMO: dict = {}


def custom_variables_json(value) -> str | None:
    """custom_variables(value) as a JSON string, memoised for string values."""
    if type(value) is str:
        found = _CVAR_MEMO.get(value, _CVAR_MEMO)
        if found is _CVAR_MEMO:
            cv = custom_variables(value)
            found = orjson.dumps(cv).decode() if cv else None
            if len(_CVAR_MEMO) > 10_000:
                _CVAR_MEMO.clear()
            _CVAR_MEMO[value] = found
        return found
    cv = custom_variables(value)
    return orjson.dumps(cv).decode() if cv else None


def dimensions(p: dict, site: Site, scope: str) -> dict | None:
    """The site's custom dimensions of `scope` ("visit" or "action") that the request sets:
    {"id": value} with values trimmed and cut to 250 characters; an empty string clears a visit
    dimension (stored as None). Dimensions the site has not configured are ignored
    (CustomDimensions/Tracker/CustomDimensionsRequestProcessor.php)."""
    out = None
    for ident, dim_scope in site.dimensions.items():
        if dim_scope != scope:
            continue
        v = p.get("dimension%d" % ident)
        if v is None:
            continue
        v = as_str(v).strip()[:DIMENSION_MAXIMUM]
        if not v and scope == "action":
            continue
        if out is None:
            out = {}
        out[str(ident)] = v or None
    return out


def performance(p: dict) -> dict | None:
    """The page performance timings (ms) a request carries: `pf_*` from 0 to 16777215; -1 and
    non-integers are ignored, other negative values are invalid (PagePerformance/Columns/Base.php
    onNewAction)."""
    out = None
    for name in PERFORMANCE_PARAMS:
        if name in p:
            v = as_int(p[name], -1)
            if 0 <= v <= PERFORMANCE_MAXIMUM:
                if out is None:
                    out = {}
                out[name] = v
            elif v < -1:
                raise InvalidRequest("Value for %s can't be negative." % name)
    return out


def ecommerce_items(value):
    """`ec_items` as GoalManager keeps them: [[sku, name, category, price, quantity], ...];
    items without a SKU are skipped, a price is kept when numeric (rounded to 2 places), a
    quantity is an int when numeric, else 1; a category may be a list of up to 5. Invalid JSON
    gives no items (the order is still recorded); a JSON scalar gives False: Matomo then records
    no conversion (core/Tracker/GoalManager.php getEcommerceItemsFromRequest)."""
    if value is None or value == "":
        return []
    data = _json(value)
    if data is None:
        return []
    if isinstance(data, dict):
        data = list(data.values())
    if not isinstance(data, list):
        return False
    items = []
    for item in data:
        if isinstance(item, dict):
            item = list(item.values())
        if not isinstance(item, list) or not item:
            continue
        sku = _scalar(item[0])
        if not sku or not sku.strip():
            continue
        name = _scalar(item[1]) if len(item) > 1 else ""
        category = item[2] if len(item) > 2 else ""
        if isinstance(category, list):
            category = [c for c in (_scalar(x) for x in category[:ITEM_CATEGORIES]) if c]
        else:
            category = _scalar(category) or ""
        price = as_float(item[3], None) if len(item) > 3 else None
        price = round(price, 2) if price is not None else 0.0
        qty = as_float(item[4], None) if len(item) > 4 else None
        qty = int(qty) if qty is not None else 1
        items.append([sku.strip(), (name or "").strip(), category, price, qty])
    return items


def _blank_event_part(p: dict, name: str) -> None:
    if not as_str(p.get(name)).strip():
        raise InvalidRequest("Param `%s` must not be empty or filled with whitespaces" % name)


def record(p: dict, site: Site) -> list:
    """The action a non-goal request records, as a list in STORED_FIELDS order (urlref, custom
    variables and dimensions are left for the caller). Raise InvalidRequest or FatalRequest as
    Matomo does.

    `name` is the page title, the site-search keyword, "category / action[ / name]" of an event,
    or the content name.
    """
    a = list(NO_ACTION)
    perf = performance(p) if not _PERFORMANCE.isdisjoint(p) else None
    download = p.get("download")
    if download not in (None, ""):
        a[F_TYPE], a[F_URL] = DOWNLOAD, click_url(download)
        return a
    link = p.get("link")
    if link not in (None, ""):
        a[F_TYPE], a[F_URL] = OUTLINK, click_url(link)
        return a
    e_c = as_str(p.get("e_c"))
    e_a = as_str(p.get("e_a"))
    if e_c and e_a:
        _blank_event_part(p, "e_c")
        _blank_event_part(p, "e_a")
        parts = [e_c.strip(), e_a.strip()]
        e_n = as_str(p.get("e_n")).strip()
        if e_n:
            parts.append(e_n)
        a[F_TYPE], a[F_URL], a[F_NAME] = EVENT, page_url(site, p.get("url"))[0], " / ".join(parts)
        a[F_DETAILS] = {"event_category": parts[0], "event_action": parts[1]}
        detail(a, "event_name", e_n or None)
        if "e_v" in p and p["e_v"] not in (None, ""):
            detail(a, "event_value", as_float(p["e_v"], 0.0))  # non-numeric becomes 0
        return a
    c_n = as_str(p.get("c_n"))
    if c_n not in ("", "0"):
        if not c_n.strip():
            raise InvalidRequest("Param `c_n` must not be empty or filled with whitespaces")
        a[F_TYPE], a[F_URL], a[F_NAME] = CONTENT, page_url(site, p.get("url"))[0], c_n.strip()
        a[F_DETAILS] = {"content_name": c_n.strip()}
        for name, param in (("content_piece", "c_p"), ("content_target", "c_t"),
                            ("content_interaction", "c_i")):
            detail(a, name, as_str(p.get(param)).strip() or None)
        return a
    cs = as_str(p.get("cs")).strip()
    url, keyword, category, search_url = page_url(
        site, p.get("url"), cs if cs and cs.lower().replace("_", "-") not in ("utf-8", "utf8")
        else None)
    search = as_str(p.get("search")).strip()
    if search and site.sitesearch:
        a[F_TYPE], a[F_URL], a[F_NAME] = SITE_SEARCH, url, search.lower()
        category = as_str(p.get("search_cat")).strip()
    elif keyword:
        a[F_TYPE], a[F_URL], a[F_NAME] = SITE_SEARCH, search_url, keyword
    if a[F_TYPE] is not None:
        if category:
            detail(a, "search_cat", _truncate_bytes(category, SEARCH_CATEGORY_MAXIMUM))
        detail(a, "search_count", _search_count(p.get("search_count")))
        return a
    if as_int(p.get("ca"), 0):
        raise FatalRequest("Request was meant to be tracked as a custom action, but no custom "
                           "action matched this request.")
    a[F_TYPE], a[F_URL], a[F_NAME] = PAGEVIEW, url, action_name(p.get("action_name"))
    a[F_PERFORMANCE] = perf
    if "gt_ms" in p:
        detail(a, "gt_ms", generation_time(p["gt_ms"]))
    return a


def generation_time(value) -> int | None:
    """`gt_ms` when it is a whole number of ms above 0 and under an hour
    (core/Tracker/Request.php getPageGenerationTime, Matomo 3; see the endpoint README)."""
    gt = as_int(value, -1)
    return gt if 0 < gt < GENERATION_TIME_MAXIMUM else None
