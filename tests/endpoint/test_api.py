"""Reporting API calls a log importer makes (behaviour spec §3)."""
from __future__ import annotations

from .calls import TOKEN, WRITE_TOKEN, api, bulk, hit

VIEW_ERROR = ("You can't access this resource as it requires view access for at least one "
              "website.")
SUPERUSER_ERROR = "You can't access this resource as it requires a 'superuser' access."


def test_get_matomo_version(client):
    r = api(client, "API.getMatomoVersion")
    assert r.status_code == 200 and r.json() == {"value": "5.2.0-b5"}
    assert r.headers["content-type"].startswith("application/json")
    assert api(client, "API.getPiwikVersion", http="GET").json() == {"value": "5.2.0-b5"}
    assert api(client, "API.getMatomoVersion", token=WRITE_TOKEN).status_code == 200


def test_anonymous_gets_401(client):
    r = api(client, "API.getMatomoVersion", token=None)
    assert r.status_code == 401
    assert r.json() == {"result": "error", "message": VIEW_ERROR}


def test_a_wrong_token_gets_401(client):
    # In a POST body: Matomo 5.1's HTML error page, even with format=json (behaviour spec 7.1).
    r = api(client, "API.getMatomoVersion", token="f" * 32)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("text/html")
    assert "<title>Matomo &rsaquo; Error</title>" in r.text
    assert "Unable to authenticate with the provided token. It is either invalid or expired." in r.text
    r = api(client, "API.getMatomoVersion", token="f" * 32, http="GET")
    assert r.status_code == 401
    assert "required to be sent as a POST parameter" in r.json()["message"]


def test_the_root_path_and_the_token_in_the_query_of_a_post(client):
    r = client.post("/?token_auth=" + TOKEN, data={"module": "API", "format": "json",
                                                   "method": "API.getMatomoVersion"})
    assert r.json() == {"value": "5.2.0-b5"}


def test_default_format_is_xml(client):
    r = client.get("/index.php", params={"module": "API", "method": "API.getMatomoVersion",
                                         "token_auth": TOKEN})
    assert r.headers["content-type"].startswith("text/xml")
    assert "<result>5.2.0-b5</result>" in r.text


def test_without_module_api_the_index_page_is_html(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "/report" in r.text


def test_unknown_method_and_module(client):
    r = api(client, "SitesManager.noSuchMethod")
    assert r.status_code == 200 and r.json()["result"] == "error"
    assert "noSuchMethod" in r.json()["message"]
    r = api(client, "Nope.thing")
    assert r.json()["result"] == "error" and "Nope" in r.json()["message"]
    r = api(client, "")
    assert r.json()["result"] == "error"


def test_get_site_from_id(client):
    r = api(client, "SitesManager.getSiteFromId", idSite=1)
    site = r.json()
    assert r.status_code == 200 and isinstance(site, dict)
    assert site["idsite"] == "1" and site["main_url"] == "https://www.example.com"
    assert site["timezone"] == "UTC" and site["creator_login"] == "anonymous"
    for key in ("name", "ts_created", "ecommerce", "sitesearch", "currency", "excluded_ips",
                "group", "type", "keep_url_fragment", "timezone_name", "currency_name"):
        assert key in site


def test_get_site_from_id_errors(client):
    r = api(client, "SitesManager.getSiteFromId", idSite=99)
    assert r.status_code == 200
    assert r.json() == {"result": "error", "message": "An unexpected website was found in the "
                        "request: website id was set to '99' ."}
    r = api(client, "SitesManager.getSiteFromId", token=WRITE_TOKEN, idSite=2)
    assert r.status_code == 401
    assert r.json()["message"] == ("You can't access this resource as it requires 'view' access "
                                   "for the website id = 2.")
    r = api(client, "SitesManager.getSiteFromId", token=WRITE_TOKEN, idSite=1)
    assert r.status_code == 200 and "creator_login" not in r.json()
    r = api(client, "SitesManager.getSiteFromId")
    assert r.json() == {"result": "error", "message": "Please specify a value for 'idSite'."}


def test_get_sites_id_from_site_url_variants(client):
    def ids(url, token=TOKEN):
        r = api(client, "SitesManager.getSitesIdFromSiteUrl", token=token, url=url)
        assert r.status_code == 200
        return r.json()

    assert ids("https://www.example.com") == [{"idsite": "1"}]
    assert ids("https://www.example.com/") == [{"idsite": "1"}]
    assert ids("http://www.example.com") == [{"idsite": "1"}]
    assert ids("https://example.com") == [{"idsite": "1"}]
    assert ids("http://example.com") == [{"idsite": "1"}]      # the alias URL
    assert ids("HTTPS://WWW.EXAMPLE.COM") == [{"idsite": "1"}]  # MySQL's collation
    assert ids("shop.example.net") == [{"idsite": "2"}]
    assert ids("https://www.example.com/blog") == []           # a path must match exactly
    assert ids("https://example.org") == []
    assert ids("https://shop.example.net", token=WRITE_TOKEN) == []  # not one of its sites
    assert ids("https://www.example.com", token=None) == []


def test_get_all_sites(client):
    r = api(client, "SitesManager.getAllSites")
    data = r.json()
    assert list(data) == ["1", "2"] and data["2"]["main_url"] == "https://shop.example.net"
    r = api(client, "SitesManager.getAllSites", filter_limit=1)
    assert isinstance(r.json(), list) and [s["idsite"] for s in r.json()] == ["1"]
    r = api(client, "SitesManager.getAllSites", token=WRITE_TOKEN)
    assert r.status_code == 401 and r.json()["message"] == SUPERUSER_ERROR


def test_add_site_and_track_it(ep, client):
    r = client.post("/index.php", data={
        "module": "API", "method": "SitesManager.addSite", "format": "json", "token_auth": TOKEN,
        "siteName": "blog", "urls[0]": "https://blog.example.org/", "urls[1]": "blog.example.org",
        "timezone": "Europe/Paris", "currency": "EUR", "startDate": "2026-01-01"})
    assert r.status_code == 200 and r.json() == {"value": 3}
    site = api(client, "SitesManager.getSiteFromId", idSite=3).json()
    assert site["main_url"] == "https://blog.example.org"
    assert site["ts_created"] == "2026-01-01 00:00:00" and site["currency_name"] == "Euro"
    assert api(client, "SitesManager.getSitesIdFromSiteUrl",
               url="http://blog.example.org").json() == [{"idsite": "3"}]
    assert bulk(client, [hit(idsite=3)]).json()["tracked"] == 1
    assert ep.report()["sites"]["3"]["pageviews"] == 1


def test_add_site_errors(client):
    r = api(client, "SitesManager.addSite", token=WRITE_TOKEN, siteName="x")
    assert r.status_code == 401 and r.json()["message"] == SUPERUSER_ERROR
    r = api(client, "SitesManager.addSite", siteName="  ")
    assert r.json() == {"result": "error", "message": "The website name can't be empty."}
    r = api(client, "SitesManager.addSite", siteName="x", urls="javascript://alert(1)")
    assert r.json()["result"] == "error"
    r = api(client, "SitesManager.addSite", siteName="x", timezone="Mars/Olympus")
    assert r.json()["result"] == "error"


def test_create_app_specific_token_auth(client):
    r = api(client, "UsersManager.createAppSpecificTokenAuth", token=None, userLogin="admin",
            passwordConfirmation="secret", description="Log importer", expireHours="48")
    token = r.json()["value"]
    assert r.status_code == 200 and len(token) == 32
    int(token, 16)
    # It is a super user token: invalid_indices appear, the Reporting API answers.
    assert bulk(client, [hit(idsite=99)], token=token).json()["invalid_indices"] == [0]
    assert api(client, "SitesManager.getAllSites", token=token).status_code == 200


def test_create_app_specific_token_auth_wrong_password(client):
    for login, password in (("admin", "nope"), ("nobody", "secret")):
        r = api(client, "UsersManager.createAppSpecificTokenAuth", token=None, userLogin=login,
                passwordConfirmation=password, description="x")
        assert r.status_code == 200
        assert r.json() == {"result": "error",
                            "message": "The current password you entered is not correct."}


def test_invalidate_archived_reports(ep, client):
    r = api(client, "CoreAdminHome.invalidateArchivedReports", idSites="1,2",
            dates="2026-03-01,2026-03-02", period="day")
    assert r.status_code == 200
    assert r.json() == ["Success. The following dates were invalidated successfully: "
                        "2026-03-01, 2026-03-02"]
    assert len(ep.store.invalidations()) == 4
    r = api(client, "CoreAdminHome.invalidateArchivedReports", idSites="all",
            dates="2026-03-01,01/03/2026")
    assert r.json() == [
        "Success. The following dates were invalidated successfully: 2026-03-01",
        "Warning: some of the Dates to invalidate were invalid: '01/03/2026'. Matomo simply "
        "ignored those and proceeded with the others."]


def test_invalidate_archived_reports_errors(client):
    r = api(client, "CoreAdminHome.invalidateArchivedReports", idSites="", dates="2026-03-01")
    assert r.json()["result"] == "error" and "Specify a value for &idSites=" in r.json()["message"]
    r = api(client, "CoreAdminHome.invalidateArchivedReports", idSites="1", dates="2026-03-01",
            period="fortnight")
    assert r.json()["result"] == "error"
    r = api(client, "CoreAdminHome.invalidateArchivedReports", token=WRITE_TOKEN, idSites="1",
            dates="2026-03-01")
    assert r.status_code == 401
