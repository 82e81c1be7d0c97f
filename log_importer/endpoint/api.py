"""The Reporting API (`index.php?module=API&method=...`): the calls a log importer makes, and the
report methods of reporting.py.

Shapes follow behaviour spec section 3: errors are `{"result":"error","message":...}` with
HTTP 401 for access errors (and for a token_auth that is not known) and 200 otherwise; scalars
are `{"value":...}`; site rows carry their numbers as strings (like Matomo on pdo_mysql), so
`getSitesIdFromSiteUrl` answers `[{"idsite":"3"}]`, while `addSite` answers `{"value":3}`.
"""
from __future__ import annotations

import datetime as dt
import re
import time
from xml.sax.saxutils import escape, quoteattr

import orjson

from .auth import new_token
from .querystring import as_list
from .reporting import ReportError, Reports, last_visits
from .timestamps import zone
from .sites import Site, ids_for_url, looks_like_url, normalise_site_url
from .tracking import Reply

MATOMO_VERSION = "5.2.0-b5"
PERIODS = ("day", "week", "month", "year", "range")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


# What Matomo 5.1.2 answers to a wrong or expired token_auth sent in a POST body, even with
# format=json (behaviour spec, section 7.1): HTTP 401 and its HTML error page.
BAD_TOKEN_PAGE = (
    b"<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Matomo &rsaquo; Error</title>\n"
    b"</head>\n<body>\n<div id=\"contentsimple\">\n<h2>Error</h2>\n<p>Unable to authenticate with the "
    b"provided token. It is either invalid or expired.</p>\n</div>\n</body>\n</html>\n")


class ApiError(Exception):
    def __init__(self, message: str, status: int = 200):
        super().__init__(message)
        self.message = message
        self.status = status


def no_access(message: str) -> ApiError:
    return ApiError(message, 401)


def _required(params: dict, name: str):
    value = params.get(name)
    if value is None or value == "":
        raise ApiError("Please specify a value for '%s'." % name)
    return value


def _flag(params: dict, name: str, default: int) -> int:
    v = params.get(name)
    if v in (None, ""):
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


class ReportingApi:
    def __init__(self, endpoint):
        self.ep = endpoint
        self.methods = {
            "API.getMatomoVersion": self.get_version,
            "API.getPiwikVersion": self.get_version,
            "SitesManager.getSiteFromId": self.get_site_from_id,
            "SitesManager.getSitesIdFromSiteUrl": self.get_sites_id_from_site_url,
            "SitesManager.getAllSites": self.get_all_sites,
            "SitesManager.getSitesIdWithAdminAccess": self.get_sites_id_with_admin_access,
            "SitesManager.getSitesIdWithWriteAccess": self.get_sites_id_with_write_access,
            "UsersManager.hasSuperUserAccess": self.has_super_user_access,
            "SitesManager.addSite": self.add_site,
            "UsersManager.createAppSpecificTokenAuth": self.create_app_specific_token_auth,
            "CoreAdminHome.invalidateArchivedReports": self.invalidate_archived_reports,
            "Live.getLastVisitsDetails": self.live,
        }
        self.reports = Reports(endpoint)
        for name in self.reports.methods:
            self.methods[name] = self.report

    def handle(self, params: dict, token_in_post: bool) -> Reply:
        fmt = str(params.get("format") or "xml").lower()
        try:
            if fmt not in ("json", "xml"):
                fmt = "json"
                raise ApiError("Renderer format '%s' not valid. Try any of the following instead: "
                               "json, xml." % params.get("format"))
            token = params.get("token_auth") or ""
            access = self.ep.tokens.access(token)
            if access is None:
                if token_in_post:  # Matomo 5.1: an HTML error page, whatever the format
                    return Reply(401, {"Content-Type": "text/html; charset=utf-8"}, BAD_TOKEN_PAGE)
                raise no_access("Unable to authenticate with the provided token. It is either "
                                "invalid, expired or is required to be sent as a POST parameter.")
            method = str(params.get("method") or "")
            if not method:
                raise ApiError("Please specify a value for 'method'.")
            func = self.methods.get(method)
            if func is None:
                module, _, name = method.partition(".")
                if module not in {m.partition(".")[0] for m in self.methods}:
                    raise ApiError("The plugin %s is not enabled. You can activate the plugin on "
                                   "Settings > Plugins page in Matomo." % module)
                raise ApiError("The method '%s' does not exist or is not available in the "
                               "module '\\Piwik\\Plugins\\%s\\API'." % (name, module))
            with self.ep.lock:
                self.ep.flush()
                params = dict(params, method=method)
                try:
                    result = func(params, access)
                except ReportError as e:
                    raise ApiError(str(e)) from None
            return render(fmt, 200, result)
        except ApiError as e:
            return render(fmt, e.status, {"result": "error",
                                          "message": e.message.replace("\n", " ")}, error=True)

    # Methods ---------------------------------------------------------------------------------
    def get_version(self, params, access):
        if access.kind == "anonymous":
            raise no_access("You can't access this resource as it requires view access for at "
                            "least one website.")
        return MATOMO_VERSION

    def _site_id(self, params, name="idSite") -> int:
        raw = _required(params, name)
        try:
            return int(str(raw).strip())
        except ValueError:
            raise ApiError("The parameter '%s' must be an integer, got '%s'." % (name, raw))

    def _viewable_site(self, params, access):
        idsite = self._site_id(params)
        site = self.ep.sites.get(idsite)
        if site is None or not access.can_view(idsite):
            if access.superuser and site is None:
                raise ApiError("An unexpected website was found in the request: website id was "
                               "set to '%d' ." % idsite)
            raise no_access("You can't access this resource as it requires 'view' access for the "
                            "website id = %d." % idsite)
        return site

    def report(self, params, access):
        """A report method of reporting.Reports for one site."""
        site = self._viewable_site(params, access)
        return self.reports.run(params["method"], site, params, int(time.time()))

    def live(self, params, access):
        return last_visits(self.ep, self._viewable_site(params, access), params,
                           int(time.time()))

    def get_site_from_id(self, params, access):
        idsite = self._site_id(params)
        site = self.ep.sites.get(idsite)
        if not access.superuser and (site is None or not access.can_view(idsite)):
            raise no_access("You can't access this resource as it requires 'view' access for the "
                            "website id = %d." % idsite)
        if site is None:
            raise ApiError("An unexpected website was found in the request: website id was set "
                           "to '%d' ." % idsite)
        return site.row(access.superuser)

    def get_sites_id_from_site_url(self, params, access):
        url = str(_required(params, "url"))
        sites = [s for s in self.ep.sites.values() if access.can_view(s.idsite)]
        return [{"idsite": str(i)} for i in ids_for_url(sites, url)]

    def get_all_sites(self, params, access):
        if not access.superuser:
            raise no_access("You can't access this resource as it requires a 'superuser' access.")
        rows = [s.row(True) for _, s in sorted(self.ep.sites.items())]
        limit = _flag(params, "filter_limit", -1)
        offset = _flag(params, "filter_offset", 0)
        if limit >= 0 or offset > 0:
            rows = rows[offset:]
            return rows[:limit] if limit >= 0 else rows
        return {r["idsite"]: r for r in rows}

    def get_sites_id_with_admin_access(self, params, access):
        """Admin sites; a super user's are all sites (core/Access.php getSitesIdWithAdminAccess)."""
        return sorted(self.ep.sites) if access.superuser else []

    def get_sites_id_with_write_access(self, params, access):
        """Sites with the 'write' role only (a super user's list is empty, as in Matomo)."""
        return sorted(i for i in self.ep.sites if access.kind == "write" and access.can_write(i))

    def has_super_user_access(self, params, access):
        return access.superuser

    def add_site(self, params, access):
        if not access.superuser:
            raise no_access("You can't access this resource as it requires a 'superuser' access.")
        name = str(_required(params, "siteName")).strip()
        if not name:
            raise ApiError("The website name can't be empty.")
        urls = []
        for u in as_list(params.get("urls")):
            u = normalise_site_url(str(u))
            if not u:
                continue
            if not looks_like_url(u):
                raise ApiError("The url '%s' is not a valid URL." % u)
            if u not in urls:
                urls.append(u)
        site_type = str(params.get("type") or "website")
        if not urls and site_type == "website":
            raise ApiError("You must specify at least one URL for the site.")
        timezone = str(params.get("timezone") or "UTC")
        if zone(timezone) is None:
            raise ApiError("The timezone \"%s\" is not valid. Please enter a valid timezone."
                           % timezone)
        currency = str(params.get("currency") or "USD")
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ApiError("The currency \"%s\" is not valid. Please enter a valid currency symbol "
                           "(eg. '$', '£' or '€')." % currency)
        start = str(params.get("startDate") or "")
        if start:
            if not _DATE.match(start):
                raise ApiError("Date format must be: YYYY-MM-DD, or 'today' or 'yesterday' or any "
                               "keyword supported by the strtotime function "
                               "(see http://php.net/strtotime for more information): %s" % start)
            ts_created = start + " 00:00:00"
        else:
            ts_created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())

        def text(name):
            v = params.get(name)
            return ",".join(str(x) for x in as_list(v)) if v not in (None, "") else ""

        return self.ep.add_site(Site(
            idsite=0, name=name, main_url=urls[0] if urls else "", aliases=urls[1:],
            ts_created=ts_created, ecommerce=_flag(params, "ecommerce", 0),
            sitesearch=_flag(params, "siteSearch", 1),
            sitesearch_keyword_parameters=text("searchKeywordParameters"),
            sitesearch_category_parameters=text("searchCategoryParameters"),
            timezone=timezone, currency=currency,
            exclude_unknown_urls=_flag(params, "excludeUnknownUrls", 0),
            excluded_ips=text("excludedIps"), excluded_parameters=text("excludedQueryParameters"),
            excluded_user_agents=text("excludedUserAgents"),
            excluded_referrers=text("excludedReferrers"), group=str(params.get("group") or ""),
            type=site_type, keep_url_fragment=_flag(params, "keepURLFragments", 0),
            creator_login=access.login))

    def create_app_specific_token_auth(self, params, access):
        login = str(_required(params, "userLogin"))
        password = str(_required(params, "passwordConfirmation"))
        description = str(_required(params, "description"))
        if len(description) > 100:
            raise ApiError("The description must not be longer than 100 characters.")
        if not self.ep.tokens.check_password(login, password):
            raise ApiError("The current password you entered is not correct.")
        expires = None
        if params.get("expireHours") not in (None, "", "0", 0):
            try:
                expires = int(time.time() + float(params["expireHours"]) * 3600)
            except (TypeError, ValueError):
                raise ApiError("The value for 'expireHours' must be a number.")
        elif params.get("expireDate"):
            try:
                d = dt.datetime.fromisoformat(str(params["expireDate"]))
            except ValueError:
                raise ApiError("The expiration date '%s' is not valid." % params["expireDate"])
            if d.tzinfo is None:
                d = d.replace(tzinfo=dt.timezone.utc)
            expires = int(d.timestamp())
        token = new_token()
        self.ep.tokens.add_user_token(token, login, expires)
        self.ep.store.save_token(token, login, description, expires)
        return token

    def invalidate_archived_reports(self, params, access):
        raw = params.get("idSites")
        raw = ",".join(str(x) for x in as_list(raw)) if raw not in (None, "") else ""
        if not raw.strip():
            raise ApiError("Specify a value for &idSites= as a comma separated list of website "
                           "IDs, for which your token_auth has 'admin' permission")
        if raw.strip() == "all":
            ids = sorted(i for i in self.ep.sites if access.superuser)
        else:
            ids = []
            for part in raw.split(","):
                part = part.strip()
                if part:
                    try:
                        ids.append(int(part))
                    except ValueError:
                        raise ApiError("The parameter 'idSites' must be a list of integers, "
                                       "got '%s'." % raw)
        for i in ids or [0]:
            if not access.superuser:
                raise no_access("You can't access this resource as it requires 'admin' access "
                                "for the website id = %d." % i)
        dates = params.get("dates")
        dates = ",".join(str(x) for x in as_list(dates)) if dates not in (None, "") else ""
        if not dates:
            raise ApiError("Please specify a value for 'dates'.")
        period = str(params.get("period") or "")
        if period and period not in PERIODS:
            raise ApiError("The period '%s' is not supported. Try any of the following instead: "
                           "%s" % (period, ", ".join(PERIODS)))
        valid, invalid = [], []
        today = dt.datetime.now(dt.timezone.utc).date()
        for d in dates.split(","):
            d = d.strip()
            if d == "today":
                d = today.isoformat()
            elif d == "yesterday":
                d = (today - dt.timedelta(days=1)).isoformat()
            elif _DATE.match(d):
                try:
                    dt.date.fromisoformat(d)
                except ValueError:
                    invalid.append(d)
                    continue
            else:
                invalid.append(d)
                continue
            if d not in valid:
                valid.append(d)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        self.ep.store.save_invalidations([(i, d, period or "day", stamp) for i in ids for d in valid])
        out = []
        if valid:
            out.append("Success. The following dates were invalidated successfully: "
                       + ", ".join(valid))
        if invalid:
            out.append("Warning: some of the Dates to invalidate were invalid: '%s'. Matomo simply "
                       "ignored those and proceeded with the others." % ", ".join(invalid))
        return out


# Rendering -----------------------------------------------------------------------------------
def render(fmt: str, status: int, result, error: bool = False) -> Reply:
    if fmt == "xml":
        return Reply(status, {"Content-Type": "text/xml; charset=utf-8"},
                     render_xml(result, error).encode())
    if result is None:
        data = {"result": "success", "message": "ok"}
    elif isinstance(result, (str, int, float, bool)):
        data = {"value": result}
    else:
        data = result
    return Reply(status, {"Content-Type": "application/json; charset=utf-8"}, orjson.dumps(data))


def render_xml(result, error: bool = False) -> str:
    head = '<?xml version="1.0" encoding="utf-8" ?>\n'
    if error:
        return head + "<result>\n\t<error message=%s />\n</result>" % quoteattr(result["message"])
    if result is None:
        return head + "<result>\n\t<success message=\"ok\" />\n</result>"
    if isinstance(result, (str, int, float, bool)):
        return head + "<result>%s</result>" % escape(str(result))

    def node(value, indent):
        if isinstance(value, dict):
            return "".join("\n%s<%s>%s</%s>" % (indent, _tag(k), node(v, indent + "\t"), _tag(k))
                           for k, v in value.items()) + "\n" + indent[:-1]
        if isinstance(value, list):
            return "".join("\n%s<row>%s</row>" % (indent, node(v, indent + "\t"))
                           for v in value) + "\n" + indent[:-1]
        return escape(str(value))

    return head + "<result>%s</result>" % node(result, "\t")


def _tag(key) -> str:
    key = str(key)
    return key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key) else "row"
