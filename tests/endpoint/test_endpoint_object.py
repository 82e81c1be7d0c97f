"""The Python API: start/stop, context manager, temporary and persistent databases."""
from __future__ import annotations

import os

import httpx
import pytest

from log_importer.endpoint import Endpoint, EndpointError

from .calls import TOKEN, bulk, hit


def test_context_manager_and_temporary_db():
    with Endpoint(sites={1: "https://www.example.com"}) as ep:
        assert ep.url.startswith("http://127.0.0.1:") and ep.port > 0
        assert len(ep.token) == 32  # generated
        path = ep._temp_db
        assert os.path.exists(path)
        with httpx.Client(base_url=ep.url) as c:
            assert bulk(c, [hit()], token=ep.token).json()["tracked"] == 1
    assert not os.path.exists(path)
    assert not os.path.exists(path + "-wal")


def test_a_db_file_is_kept_and_reused(tmp_path):
    db = str(tmp_path / "t.sqlite3")
    with Endpoint(db=db, token=TOKEN, sites={1: "https://www.example.com"},
                  users={"admin": "secret"}) as ep:
        with httpx.Client(base_url=ep.url) as c:
            bulk(c, [hit(cip="1.1.1.1", cdt="2026-03-01 10:00:00")])
            r = c.post("/index.php", data={
                "module": "API", "method": "SitesManager.addSite", "format": "json",
                "token_auth": TOKEN, "siteName": "b", "urls": "https://b.example"})
            assert r.json() == {"value": 2}
            app_token = c.post("/index.php", data={
                "module": "API", "method": "UsersManager.createAppSpecificTokenAuth",
                "format": "json", "userLogin": "admin", "passwordConfirmation": "secret",
                "description": "x"}).json()["value"]
    assert os.path.exists(db)
    with Endpoint(db=db, token=TOKEN) as ep:
        assert set(ep.sites) == {1, 2}
        assert ep.received() == []  # received() is per run
        with httpx.Client(base_url=ep.url) as c:
            # The visit goes on across restarts.
            bulk(c, [hit(cip="1.1.1.1", cdt="2026-03-01 10:10:00")], token=app_token)
        s = ep.report()["sites"]["1"]
        assert s["visits"] == 1 and s["actions"] == 2


def test_port_in_use_is_a_clear_error():
    with Endpoint() as first:
        with pytest.raises(EndpointError, match="cannot listen"):
            Endpoint(port=first.port).start()


def test_sites_with_alias_urls():
    with Endpoint(sites={3: ["https://a.example", "http://alias.example/"]}) as ep:
        assert ep.sites[3].main_url == "https://a.example"
        assert ep.sites[3].aliases == ["http://alias.example"]


def test_stop_closes_keep_alive_connections():
    ep = Endpoint().start()
    c = httpx.Client(base_url=ep.url)
    assert c.get("/").status_code == 200
    ep.stop()
    with pytest.raises(httpx.TransportError):
        c.get("/")
    c.close()
