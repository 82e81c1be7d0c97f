"""The client address behind proxies: --client-ip-from-forwarded-for and --trusted-proxy.

The standard rule (as nginx's real_ip_recursive and Apache's mod_remoteip apply it): walk the
X-Forwarded-For list from the right, skipping the hops that are private, loopback or link-local
addresses or --trusted-proxy addresses; the first other address is the client. When every hop is
skipped, the leftmost one is the client (a visitor on the proxies' own network). A field that is
`-`, empty, or whose hop being read is not an IP address (a host name, `unknown`, garbage) gives
the connection address back: what cannot be read cannot be trusted.
"""
from __future__ import annotations

import ipaddress

from formats.base import MEMO_ENTRIES

FORWARDED_FOR = "forwarded_for"  # the formats' name for an X-Forwarded-For field

# Private (RFC 1918, RFC 4193), shared (RFC 6598: carrier-grade NAT), loopback and link-local
# networks: never a visitor's public address. (Python's is_private also counts the documentation
# ranges, which are public addresses in every test log.)
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "::1/128", "fc00::/7", "fe80::/10"))


def parse_networks(values) -> tuple:
    """--trusted-proxy values (addresses or CIDR networks) as ip_network objects. ValueError with
    the value for one that is neither."""
    out = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError("%r is not an IP address or network (such as 10.0.0.5 or 10.0.0.0/8)" % value) from None
    return tuple(out)


def _address(hop: str):
    """The IP of one hop ("198.51.100.7", "198.51.100.7:5678", "[2001:db8::1]:443", '"..."'), or None."""
    hop = hop.strip().strip('"')
    if hop.startswith("["):
        hop = hop[1:].partition("]")[0]
    elif hop.count(":") == 1:
        hop = hop.partition(":")[0]
    try:
        ip = ipaddress.ip_address(hop)
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip


class ForwardedFor:
    """`client(field, connection_ip)`: the visitor's address from an X-Forwarded-For value (text,
    or None when the line has none), memoised per distinct value."""

    def __init__(self, trusted=()):
        self.skipped = PRIVATE_NETWORKS + tuple(trusted)
        self._memo: dict = {}

    def _skip(self, ip) -> bool:
        return any(ip.version == n.version and ip in n for n in self.skipped)

    def from_field(self, value: str):
        """The client's address in one X-Forwarded-For value, or None (fall back)."""
        hops = [h for h in value.replace(" ", ",").split(",") if h.strip()]
        last = None
        for hop in reversed(hops):
            ip = _address(hop)
            if ip is None:
                return None
            if not self._skip(ip):
                return str(ip)
            last = ip
        return str(last) if last is not None else None

    def client(self, value, connection_ip):
        if not value or value == "-":
            return connection_ip
        found = self._memo.get(value)
        if found is None:
            if len(self._memo) > MEMO_ENTRIES:
                self._memo.clear()
            found = self._memo[value] = self.from_field(value) or ""
        return found or connection_ip
