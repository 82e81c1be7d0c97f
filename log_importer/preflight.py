"""Pre-flight: before the first hit, Matomo answers, takes the token, and its tracker answers bulk JSON.

Any failure here is a ConfigError (exit 2, one line that says what to fix): nothing was sent.
In order: the API is reachable (else "cannot reach"), it is a Matomo (API.getMatomoVersion
answers {"value": "5.1.2"}; an HTML page or another JSON is "not a Matomo API"), the token is
accepted (a 401, JSON or Matomo 5's HTML page, is a token problem, never a URL problem), and the
tracker answers an empty bulk request with Matomo's bulk JSON (404: the tracker path is wrong;
400 with Matomo's text: BulkTracking is disabled; HTML: not a Matomo tracker). Which sites the
token may write to is checked next, by sites.SiteResolver.start.

A connection that cannot be opened fails at once and says what was tried (api.py); a wait of
more than 2 s says what it waits for (waiting.py). The embedded endpoint names itself in its
Server header (EMBEDDED_SERVER, log_importer/endpoint/server.py): the summary then gives no
advice that only a real Matomo needs (core:archive).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import orjson

from .api import ApiError, MatomoApi, RedirectError, make_client, obtain_token, post, ssl_context, with_suffix
from .config import Config
from .errors import ConfigError
from .redaction import register
from .responses import GIF_PREFIX, OK, RETRY, classify_bulk, unreachable
from .waiting import Wait

log = logging.getLogger("log_importer")
MATOMO_TEXT = b"This resource is part of Matomo"
EMBEDDED_SERVER = "MatomoCompatibleEndpoint/"  # the embedded endpoint's Server header
_VERSION = re.compile(r"\d+\.\d+")


@dataclass
class Connection:
    """What the run talks to Matomo with: the shared keep-alive client, the API, the token."""
    client: httpx.Client
    api: MatomoApi
    token: str | None
    ssl_context: object = None
    tracker_url: str | None = None  # after the redirects the pre-flight request followed

    @property
    def embedded(self) -> bool:
        """The destination is log-importer's embedded endpoint, not a Matomo."""
        return self.api.server.startswith(EMBEDDED_SERVER)

    def close(self):
        self.client.close()


def connect(config: Config) -> Connection:
    """Open the client, obtain the token (--token-auth, --login or --config) and check Matomo.

    Raises ConfigError (the client is closed then).
    """
    register(config.token_auth, config.password, config.auth_password)
    context = ssl_context(config)
    client = make_client(config, context)
    try:
        api = MatomoApi(config, client)
        token = obtain_token(config, api)
        register(token)
        api.token = token
        tracker_url = check_matomo(config, api, client, token)
    except BaseException:
        client.close()
        raise
    return Connection(client, api, token, context, tracker_url)


def check_matomo(config: Config, api: MatomoApi, client: httpx.Client, token: str | None) -> str:
    """The API answers as a Matomo and takes the token (API.getMatomoVersion); with bulk tracking,
    the tracker answers Matomo's bulk JSON to an empty bulk request (plugins/BulkTracking).
    Returns the tracker URL (without its query) once redirects are followed."""
    c = config
    try:
        version = api.call("API.getMatomoVersion")
    except ApiError as e:
        raise ConfigError("the Matomo API at %s answered an error to API.getMatomoVersion: %s"
                          % (c.api_endpoint, e)) from None
    value = version.get("value") if isinstance(version, dict) else None
    if not isinstance(value, str) or not _VERSION.match(value):
        raise ConfigError("%s is not a Matomo API: API.getMatomoVersion answered %s: check --url / --api-url"
                          % (c.api_endpoint, orjson.dumps(version)[:80].decode("utf-8", "replace")))
    log.debug("Matomo version: %s", value)
    if not c.bulk_tracking:
        return check_single_tracker(c, client)
    url = with_suffix(c.tracker_url, c.request_suffix, "queuedtracking=0")
    body = b'{"requests":[],"token_auth":' + orjson.dumps(token) + b"}"
    attempts = max(1, c.retry_max_attempts)
    for attempt in range(1, attempts + 1):
        try:
            with Wait("the tracker at %s to answer an empty bulk request (%g s to connect, then up to "
                      "--request-timeout=%g s)" % (c.tracker_url, c.connect_timeout, c.request_timeout)):
                r, final = post(client, url, content=body, headers={"Content-Type": "application/json"})
        except httpx.ConnectTimeout as e:
            raise _unreachable_tracker(c, url, e) from None
        except httpx.TimeoutException:
            raise ConfigError("the tracker at %s did not answer within --request-timeout=%g s"
                              % (c.tracker_url, c.request_timeout)) from None
        except RedirectError as e:
            raise ConfigError("the tracker at %s: %s" % (c.tracker_url, e)) from None
        except httpx.HTTPError as e:
            raise _unreachable_tracker(c, url, e) from None
        outcome = classify_bulk(r.status_code, r.headers, r.content, 0)
        if outcome.kind != RETRY or attempt == attempts:
            break
        # A passing failure (5xx, 429, 408) is retried as the batches' are, not taken for a wrong setting.
        api.pause(attempt, attempts, outcome.message, "the check before sending", outcome.retry_after)
    if outcome.kind == OK:
        if final != url:
            log.info("the tracker at %s redirects to %s: sending there", c.tracker_url, final.partition("?")[0])
        return final.partition("?")[0]
    if r.status_code == 404:
        raise ConfigError("the tracker %s does not exist (HTTP 404): check --url and "
                          "--tracker-endpoint-path" % c.tracker_url)
    if r.status_code == 400 and MATOMO_TEXT in r.content:
        raise ConfigError("the tracker at %s answered a bulk request like a single one (HTTP 400): the "
                          "BulkTracking plugin is disabled; activate it, or use --disable-bulk-tracking"
                          % c.tracker_url)
    if r.status_code == 200 and r.content.startswith(GIF_PREFIX):
        raise ConfigError("the tracker at %s answered a GIF to a bulk request: QueuedTracking ignores "
                          "queuedtracking=0, or BulkTracking is disabled" % c.tracker_url)
    if r.status_code == 200 and b"<html" in r.content[:2000].lower():
        raise ConfigError("%s answered an HTML page, not Matomo's tracker: check --tracker-endpoint-path "
                          "(matomo.php or piwik.php)" % c.tracker_url)
    raise ConfigError("the tracker at %s is not usable: %s" % (c.tracker_url, outcome.message))


def check_single_tracker(config: Config, client: httpx.Client) -> str:
    """--disable-bulk-tracking: a GET without parameters gets Matomo's "This resource is part of
    Matomo" text (core/Tracker/Response.php, monitoring use). Returns the tracker URL."""
    c = config
    try:
        with Wait("the tracker at %s to answer (%g s to connect, then up to --request-timeout=%g s)"
                  % (c.tracker_url, c.connect_timeout, c.request_timeout)):
            r = client.get(with_suffix(c.tracker_url, c.request_suffix), follow_redirects=True)
    except httpx.HTTPError as e:
        raise _unreachable_tracker(c, c.tracker_url, e) from None
    if r.status_code == 404:
        raise ConfigError("the tracker %s does not exist (HTTP 404): check --url and "
                          "--tracker-endpoint-path" % c.tracker_url)
    if MATOMO_TEXT not in r.content:
        raise ConfigError("%s did not answer like Matomo's tracker (HTTP %d): check --tracker-endpoint-path "
                          "(matomo.php or piwik.php)" % (c.tracker_url, r.status_code))
    final = str(r.url).partition("?")[0]
    if urlsplit(c.tracker_url).scheme == "https" and not final.startswith("https:"):
        raise ConfigError("the tracker at %s redirects to %s: refusing to send the token in clear"
                          % (c.tracker_url, final))
    return final


def _unreachable_tracker(config: Config, url: str, exc: Exception) -> ConfigError:
    """The tracker could not be reached (the API could): what was tried, in one line."""
    tried = unreachable(url, exc, config.connect_timeout) or str(exc) or type(exc).__name__
    return ConfigError("cannot reach the tracker at %s: %s (check --url and --tracker-endpoint-path)"
                       % (config.tracker_url, tried))
