"""The HTTP client and the few Reporting API calls the importer makes.

The token travels in POST bodies only, never in a URL, a log line or an error message
(redaction.py). Redirects are followed by `post`, keeping the method and the body (http → https
on a Matomo behind a redirecting web server; httpx, like browsers, would turn a 301/302 POST into
a GET without the body); a redirect from https to http is refused, as it would send the token in
clear. TLS: the system's certificate authorities (httpx's), or --ca-bundle, or none with
--accept-invalid-ssl-certificate; --client-cert/--client-key for client authentication.

Connections get --connect-timeout (short) to open and --request-timeout to be answered. Until
Matomo has answered once, a connection that cannot be opened (refused, unknown host, no answer
within --connect-timeout, TLS refused) is a configuration problem: the run stops at once and
says what was tried (responses.unreachable); afterwards it is an outage, retried with backoff.
"""
from __future__ import annotations

import logging
import ssl
import time
from urllib.parse import urljoin, urlsplit

import httpx
import orjson

from . import __version__
from .config import Config
from .errors import ConfigError, UsageError
from .redaction import redact
from .responses import RETRY, backoff_delay, classify_exception, unreachable
from .waiting import Wait

log = logging.getLogger("log_importer")

USER_AGENT = "Matomo/LogImport log-importer/%s" % __version__
MAX_REDIRECTS = 5
# Matomo 5's answer to a wrong or expired token_auth sent in a POST body: HTTP 401 and an HTML
# error page, even with format=json (behaviour spec, section 7.1).
BAD_TOKEN_TEXT = b"Unable to authenticate with the provided token"


class ApiError(Exception):
    """Matomo answered {"result": "error", "message": ...}."""


class RedirectError(httpx.HTTPError):
    """A redirect that is not followed (too many, or from https to http)."""


def ssl_context(config: Config) -> ssl.SSLContext:
    """The TLS context of every connection to Matomo (API and tracker). Raises UsageError for an
    unusable --ca-bundle, --client-cert or --client-key."""
    try:
        if config.accept_invalid_ssl_certificate:
            context = httpx.create_ssl_context(verify=False)
        elif config.ca_bundle:
            context = ssl.create_default_context(cafile=config.ca_bundle)
        else:
            context = httpx.create_ssl_context()
    except (ssl.SSLError, OSError) as e:
        raise UsageError("--ca-bundle %s: not a PEM file of certificates (%s)" % (config.ca_bundle, e)) from None
    if config.client_cert:
        try:
            context.load_cert_chain(config.client_cert, config.client_key)
        except (ssl.SSLError, OSError) as e:
            raise UsageError("--client-cert %s%s: cannot load the certificate and its key (%s)"
                             % (config.client_cert, " --client-key %s" % config.client_key
                                if config.client_key else "", e)) from None
    return context


def untrusted_certificate(exc: BaseException) -> bool:
    """Whether a connection failed because Matomo's TLS certificate could not be verified."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def certificate_hint(config: Config) -> str:
    """What to do about a certificate that is not trusted (a private CA, a self-signed server)."""
    if config.ca_bundle:
        return ("no certificate authority of --ca-bundle %s signed it: give the one that did, or check "
                "--url / --api-url" % config.ca_bundle)
    return ("signed by a certificate authority this system does not trust, such as a private CA: give its "
            "certificate with --ca-bundle FILE (PEM), or check --url / --api-url")


def make_client(config: Config, context: ssl.SSLContext | None = None) -> httpx.Client:
    """The shared keep-alive httpx client (API calls; the tracker's proxied and redirected POSTs).
    Proxies come from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY)."""
    auth = None
    if config.auth_user is not None:
        auth = httpx.BasicAuth(config.auth_user, config.auth_password or "")
    limits = httpx.Limits(max_connections=config.recorders + 4, max_keepalive_connections=config.recorders + 4)
    return httpx.Client(
        auth=auth, verify=context or ssl_context(config), limits=limits,
        timeout=httpx.Timeout(config.request_timeout, connect=config.connect_timeout),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False)


def redirect_target(url: str, status: int, headers) -> str | None:
    """Where a 3xx answer sends a POST (None: not a redirect). Raises RedirectError for a
    redirect from https to http."""
    location = headers.get("location") if 300 <= status < 400 and status != 304 else None
    if not location:
        return None
    target = urljoin(url, location)
    if urlsplit(url).scheme == "https" and urlsplit(target).scheme != "https":
        raise RedirectError("refusing a redirect from https to %s (the token would travel in clear)"
                            % redact(target))
    return target


def post(client: httpx.Client, url: str, **kwargs) -> tuple[httpx.Response, str]:
    """POST, following redirects with the same method and body; (response, final URL)."""
    for _ in range(MAX_REDIRECTS + 1):
        response = client.post(url, **kwargs)
        target = redirect_target(url, response.status_code, response.headers)
        if target is None:
            return response, url
        response.close()
        url = target
    raise RedirectError("more than %d redirects from %s" % (MAX_REDIRECTS, redact(url)))


def with_suffix(url: str, suffix: str | None, query: str = "") -> str:
    parts = [p for p in (query, (suffix or "").lstrip("?&")) if p]
    return url + ("?" + "&".join(parts) if parts else "")


class MatomoApi:
    def __init__(self, config: Config, client: httpx.Client, token: str | None = None,
                 sleep=time.sleep):
        self.config = config
        self.client = client
        self.token = token
        self.url = with_suffix(config.api_endpoint, config.request_suffix)
        self.sleep = sleep
        self.answered = False  # Matomo has answered once: later connection failures are retried
        self.server = ""       # the Server header of the last answer

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
        c = self.config
        attempts = max(1, c.retry_max_attempts)
        wait = Wait("the Matomo API at %s to answer %s (%g s to connect, then up to --request-timeout=%g s)"
                    % (c.api_endpoint, method, c.connect_timeout, c.request_timeout))
        for attempt in range(1, attempts + 1):
            try:
                with wait:
                    response, final = post(self.client, self.url, data=data)
            except RedirectError as e:
                raise ConfigError("the Matomo API at %s: %s" % (c.api_endpoint, e)) from None
            except httpx.HTTPError as e:
                if untrusted_certificate(e):  # no retry can help: say which option can
                    raise ConfigError(redact("the Matomo API at %s: %s (%s)" % (
                        c.api_endpoint, classify_exception(e, "it").message, certificate_hint(c)),
                        token, c.password)) from None
                tried = None if self.answered else unreachable(self.url, e, c.connect_timeout)
                if tried is not None:  # nothing answered yet: a wrong --url, not an outage
                    raise ConfigError(redact("cannot reach the Matomo API at %s: %s; check --url / --api-url"
                                             % (c.api_endpoint, tried), token, c.password)) from None
                outcome = classify_exception(e, "it")
                problem = "the Matomo API at %s: %s" % (c.api_endpoint, outcome.message)
                if isinstance(e, httpx.TimeoutException):
                    problem += " (--request-timeout=%g s)" % c.request_timeout
                if outcome.kind != RETRY or attempt == attempts:
                    raise ConfigError(redact(problem + " (check --url / --api-url)", token, c.password))
                self.pause(attempt, attempts, problem, method)
                continue
            self.answered = True
            self.server = response.headers.get("server", "")
            if response.status_code >= 500 and attempt < attempts:
                self.pause(attempt, attempts, "the Matomo API at %s answered HTTP %d"
                            % (c.api_endpoint, response.status_code), method)
                continue
            if final != self.url:  # remember the redirect: later calls go straight there
                self.url = final
            return self._decode(method, response, token)

    def pause(self, attempt: int, attempts: int, problem: str, method: str, retry_after: float | None = None):
        """Wait before attempt `attempt` + 1 of `attempts` at `method` (an API method, or what
        else was asked of Matomo), saying why and for how long (--retry-delay's backoff, or the
        server's Retry-After)."""
        delay = backoff_delay(attempt, self.config.retry_delay, retry_after)
        log.warning("%s to %s; retrying in %.1f s (attempt %d of %d)",
                    redact(problem, self.token, self.config.password), method, delay, attempt + 1, attempts)
        self.sleep(delay)

    def _decode(self, method, response, token):
        body = response.content
        status = response.status_code
        if status == 401 and "basic" in response.headers.get("www-authenticate", "").lower():
            raise ConfigError("the web server in front of Matomo asks for HTTP basic auth (HTTP 401): "
                              "check --auth-user and --auth-password")
        try:
            result = orjson.loads(body)
        except orjson.JSONDecodeError:
            if status == 401 and BAD_TOKEN_TEXT in body:
                raise ConfigError("Matomo refused the token: it is invalid or expired (HTTP 401 \"Unable to "
                                  "authenticate with the provided token\"): check --token-auth") from None
            if status in (401, 403):
                raise ConfigError("Matomo refused the token (HTTP %d) for %s: check --token-auth, and "
                                  "--auth-user if Matomo is behind HTTP basic auth" % (status, method)) from None
            kind = response.headers.get("content-type", "?").split(";")[0]
            raise ConfigError(
                "%s is not a Matomo API: it answered HTTP %d with %s, not JSON, to %s: check --url / --api-url "
                "(and --auth-user if Matomo is behind HTTP basic auth)"
                % (self.config.api_endpoint, status, kind, method)) from None
        if isinstance(result, dict) and result.get("result") == "error":
            message = redact(str(result.get("message", "")), token, self.config.password)
            if status == 401 and "authenticate" in message:
                raise ConfigError("Matomo refused the token: it is invalid or expired (%s): check --token-auth"
                                  % message)
            if status == 401:
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
    with Wait("PHP to give a token_auth from --config %s" % config.config_file):
        return token_from_config(config)
