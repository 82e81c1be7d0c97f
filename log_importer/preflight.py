"""Pre-flight: before the first hit, Matomo answers, takes the token, and its tracker answers bulk JSON.

Any failure here is a ConfigError (exit 2, one line that says what to fix): nothing was sent.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
import orjson

from .api import MatomoApi, make_client, obtain_token, with_suffix
from .config import Config
from .errors import ConfigError
from .responses import OK, classify_bulk

log = logging.getLogger("log_importer")


@dataclass
class Connection:
    """What the run talks to Matomo with: the shared keep-alive client, the API, the token."""
    client: httpx.Client
    api: MatomoApi
    token: str | None

    def close(self):
        self.client.close()


def connect(config: Config) -> Connection:
    """Open the client, obtain the token (--token-auth, --login or --config) and check Matomo.

    Raises ConfigError (the client is closed then).
    """
    client = make_client(config)
    try:
        api = MatomoApi(config, client)
        token = obtain_token(config, api)
        api.token = token
        check_matomo(config, api, client, token)
    except BaseException:
        client.close()
        raise
    return Connection(client, api, token)


def check_matomo(config: Config, api: MatomoApi, client: httpx.Client, token: str | None):
    """The API answers and takes the token (API.getMatomoVersion); with bulk tracking, the tracker
    answers Matomo's bulk JSON to an empty bulk request (plugins/BulkTracking)."""
    c = config
    version = api.call("API.getMatomoVersion")
    log.debug("Matomo version: %s", version.get("value") if isinstance(version, dict) else version)
    if not c.bulk_tracking:
        return
    url = with_suffix(c.tracker_url, c.request_suffix, "queuedtracking=0")
    body = b'{"requests":[],"token_auth":' + orjson.dumps(token) + b"}"
    try:
        r = client.post(url, content=body, headers={"Content-Type": "application/json"})
    except httpx.TimeoutException:
        raise ConfigError("the tracker at %s did not answer within --request-timeout=%g s"
                          % (c.tracker_url, c.request_timeout)) from None
    except httpx.HTTPError as e:
        raise ConfigError("cannot reach the tracker at %s: %s (check --url and --tracker-endpoint-path)"
                          % (c.tracker_url, e)) from None
    outcome = classify_bulk(r.status_code, r.headers, r.content, 0)
    if outcome.kind != OK:
        if r.status_code == 404:
            raise ConfigError("the tracker %s does not exist (HTTP 404): check --url and "
                              "--tracker-endpoint-path" % c.tracker_url)
        raise ConfigError("the tracker at %s is not usable: %s" % (c.tracker_url, outcome.message))
