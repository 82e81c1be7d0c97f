"""What a logged client address or host may look like, in every format: one rule.

The formats read both with the regex pieces below (the C scanners with the same characters), and
the chunk stage says what is in them with the functions below, whatever the format:

- a **client address** is read as any token of CLIENT_CHARS: an IPv4 or IPv6 address, bracketed
  or not (`[2001:db8::1]`), with a port (`192.0.2.1:5678`, `[2001:db8::1]:443`) or an IPv6 zone
  (`fe80::1%eth0`), but also what servers write when there is no IP: `-`, `unix:`, a socket path
  (`unix:/run/php/php-fpm.sock`), a host name (Apache's `HostnameLookups On`). Such a line is a
  hit; `client_ip` gives the IP in it, without port and brackets, as Matomo's
  `IPUtils::sanitizeIp` reads them, or None (the hit is then counted as having no client IP:
  Matomo would record it as visitor 0.0.0.0).
- a **host** is read as HOST_NAME: a name or IPv4 address, or a bracketed IPv6 literal; `-` or
  nothing is logged when there is none. `normal_host` gives it as Matomo compares hosts
  (lowercase, without quotes and trailing dots), or None when what was logged is not a host
  (`-`, empty, `--`, a value with spaces): such a hit has no host, so it never makes a site and
  never gets a URL such as `http://-/path`.
"""
from __future__ import annotations

import re
from socket import AF_INET, AF_INET6, inet_pton

# The characters of a logged client address (see above); `*` as in import_logs.py's regexes.
CLIENT_CHARS = r"\w*.:/\[\]%-"
CLIENT_ADDRESS = "[" + CLIENT_CHARS + "]+"
# A logged host: a bracketed IPv6 literal, or a name (an IPv4 address, `-`, or nothing).
HOST_NAME = r"\[[\w:.%]*\]|[\w.-]*"

# What normal_host accepts once lowercased: a name of letters, digits, `-`, `_` and dots with at
# least one letter or digit, or a bracketed IPv6 literal; then an optional port.
_HOST = re.compile(r"(?:\[[0-9a-z:.%_]+\]|[\w.-]*[^\W_][\w.-]*)(?::\d*)?")


def is_ip(text: str) -> bool:
    """An IPv4 or IPv6 address (with an IPv6 zone, "fe80::1%eth0"). inet_pton, in C: the memo
    of client addresses misses once per new visitor, where ipaddress.ip_address cost ~4% of the
    chunk stage."""
    try:
        inet_pton(AF_INET, text)
        return True
    except (OSError, ValueError):
        pass
    try:
        inet_pton(AF_INET6, text.partition("%")[0] if "%" in text else text)
        return True
    except (OSError, ValueError):
        return False


def client_ip(address: str) -> str | None:
    """The IP in a logged client address, or None when there is none (`-`, `unix:`, a socket
    path, a host name, empty). "1.2.3.4:5678", "[2001:db8::1]:443" and "[2001:db8::1]" give the
    IP without the port and brackets; an unbracketed IPv6 address is read whole (its last group
    is not a port)."""
    if is_ip(address):
        return address
    host, sep, port = address.rpartition(":")
    if host.startswith("[") and host.endswith("]") and port.isdigit():
        host = host[1:-1]
    elif address.startswith("[") and address.endswith("]"):
        host = address[1:-1]
    elif not (sep and port.isdigit() and "." in host and ":" not in host):
        return None
    return host if host and is_ip(host) else None


def normal_host(host: str) -> str | None:
    """A logged host as Matomo compares hosts: lowercase, without quotes and trailing dots, its
    port kept; None when it is not a host (`-`, empty, a value with spaces or other characters
    no host name has)."""
    if host[:1] == '"':
        host = host[1:-1]
    host = host.lower().strip(".")
    return host if _HOST.fullmatch(host) else None


def url_host(url: str) -> tuple[str | None, str]:
    """(host, path) of an absolute URL in the request line (proxy logs: varnishncsa, Squid): the
    host by the same rule as normal_host, without the port (an IPv6 literal keeps its brackets),
    and the URL as it is. When what is logged as the host is not one (`http://-/a`), (None, the
    path after it): the hit has no host, and its URL is made from its site's. Not an absolute
    URL: (None, url)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "/" in scheme:
        return None, url
    authority, slash, path = rest.partition("/")
    authority, query, tail = authority.partition("?")
    host = authority.rpartition("@")[2]
    host = host.partition("]")[0] + "]" if host.startswith("[") else host.partition(":")[0]
    host = normal_host(host)
    if host is not None:
        return host, url
    return None, slash + path if slash else "/" + query + tail
