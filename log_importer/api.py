"""The HTTP client and the few Reporting API calls the importer makes.

The token travels in POST bodies only, never in a URL, a log line or an error message.
"""
from __future__ import annotations

import time

import httpx
import orjson

from . import __version__
from .config import Config
from .errors import ConfigError
from .responses import RETRY, backoff_delay, classify_exception

USER_AGENT = "Matomo/LogImport log-importer/%s" % __version__


class ApiError(Exception):
    """Matomo answered {"result": "error", "message": ...}."""


def make_client(config: Config) -> httpx.Client:
    auth = None
    if config.auth_user is not None:
        auth = httpx.BasicAuth(config.auth_user, config.auth_password or "")
    limits = httpx.Limits(max_connections=config.recorders + 4, max_keepalive_connections=config.recorders + 4)
    return httpx.Client(
        auth=auth, verify=not config.accept_invalid_ssl_certificate, limits=limits,
        timeout=httpx.Timeout(config.request_timeout), headers={"User-Agent": USER_AGENT},
        follow_redirects=True)


def with_suffix(url: str, suffix: str | None, query: str = "") -> str:
    parts = [p for p in (query, (suffix or "").lstrip("?&")) if p]
    return url + ("?" + "&".join(parts) if parts else "")


def hide(text: str, *secrets) -> str:
    """The text with every secret replaced (too short a "secret" would mangle the words)."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "<hidden>")
    return text


class MatomoApi:
    def __init__(self, config: Config, client: httpx.Client, token: str | None = None,
                 sleep=time.sleep):
        self.config = config
        self.client = client
        self.token = token
        self.url = with_suffix(config.api_endpoint, config.request_suffix)
        self.sleep = sleep

    def call(self, method: str, _token: str | None = None, **params):
        """POST a Reporting API call; return its decoded JSON. Raises ApiError or ConfigError."""
        data = {"module": "API", "format": "json", "method": method, "filter_limit": "-1"}
        token = self.token if _token is None else _token
        if token:
            data["token_auth"] = token
        for key, value in params.items():
            if isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    data["%s[%d]" % (key, i)] = str(v)
            else:
                data[key] = str(value)
        attempts = max(1, self.config.retry_max_attempts)
        for attempt in range(1, attempts + 1):
            try:
                response = self.client.post(self.url, data=data)
            except httpx.HTTPError as e:
                outcome = classify_exception(e, "it")
                problem = "the Matomo API at %s: %s" % (self.config.api_endpoint, outcome.message)
                if isinstance(e, httpx.TimeoutException):
                    problem += " (--request-timeout=%g s)" % self.config.request_timeout
                if outcome.kind != RETRY or attempt == attempts:
                    raise ConfigError(hide(problem + " (check --url / --api-url)", token, self.config.password))
                self.sleep(backoff_delay(attempt, self.config.retry_delay))
                continue
            if response.status_code >= 500 and attempt < attempts:
                self.sleep(backoff_delay(attempt, self.config.retry_delay))
                continue
            return self._decode(method, response, token)

    def _decode(self, method, response, token):
        body = response.content
        try:
            result = orjson.loads(body)
        except orjson.JSONDecodeError:
            kind = response.headers.get("content-type", "?").split(";")[0]
            raise ConfigError(
                "the Matomo API at %s answered HTTP %d with %s, not JSON, to %s: check --url / --api-url "
                "(and --auth-user if Matomo is behind HTTP basic auth)"
                % (self.config.api_endpoint, response.status_code, kind, method)) from None
        if isinstance(result, dict) and result.get("result") == "error":
            message = hide(str(result.get("message", "")), token, self.config.password)
            if response.status_code == 401:
                raise ConfigError("Matomo refused the token for %s: %s (check --token-auth)" % (method, message))
            raise ApiError(message)
        if response.status_code >= 400:
            raise ConfigError("the Matomo API answered HTTP %d to %s: check --url / --api-url"
                              % (response.status_code, method))
        return result


def obtain_token(config: Config, api: MatomoApi) -> str:
    """The token_auth to use: --token-auth, or one created from --login/--password."""
    if config.token_auth:
        return config.token_auth
    if config.login and config.password:
        try:
            result = api.call("UsersManager.createAppSpecificTokenAuth", _token="",
                              userLogin=config.login, passwordConfirmation=config.password,
                              description="Log importer", expireHours="48")
        except ApiError as e:
            raise ConfigError("cannot get a token for --login %s: %s" % (config.login, e)) from None
        if isinstance(result, dict) and isinstance(result.get("value"), str) and result["value"]:
            return result["value"]
        raise ConfigError("Matomo did not return a token for --login %s" % config.login)
    from .matomo_config import token_from_config
    return token_from_config(config)
