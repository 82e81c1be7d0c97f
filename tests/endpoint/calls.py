"""What the endpoint tests share: the test setup's tokens and sites, and request builders."""
from __future__ import annotations

import orjson

TOKEN = "0123456789abcdef0123456789abcdef"
WRITE_TOKEN = "feedfacefeedfacefeedfacefeedface"
SITES = {1: ["https://www.example.com", "http://example.com"], 2: "https://shop.example.net"}


def bulk(client, requests, token=TOKEN, path="/matomo.php", **extra):
    """POST a bulk body like the importer does."""
    body = {"requests": requests, **extra}
    if token is not None:
        body["token_auth"] = token
    return client.post(path, content=orjson.dumps(body),
                       headers={"Content-Type": "application/json"})


def api(client, method, token=TOKEN, http="POST", **params):
    """Call the Reporting API with format=json; the token goes in the form body for POST."""
    params = {"module": "API", "method": method, "format": "json", **params}
    if token is not None:
        params["token_auth"] = token
    if http == "POST":
        return client.post("/index.php", data=params)
    return client.get("/index.php", params=params)


def hit(**params):
    """A valid pageview on site 1 with the given params on top."""
    p = {"idsite": 1, "rec": 1, "url": "https://www.example.com/page"}
    p.update(params)
    return {k: v for k, v in p.items() if v is not None}
