"""Which URLs and addresses a server may fetch on a client's behalf (docs/security.md,
"Fetching what a client names").

A server that fetches a URL a client names can be turned against the network it runs in
(server-side request forgery, OWASP "SSRF Prevention Cheat Sheet"): the metadata server at
169.254.169.254, services on loopback, the private network. So a user-supplied URL is fetched
only over `https`, from a host whose every resolved address is public (`is_public`), checked on
every redirect hop, and the connection goes to the address that was checked. Hosts the operator
names in `PAGESAGE_FETCH_ALLOW_HOSTS` (`host:port`, comma-separated) are admitted whatever their
address, over `http` too: loopback servers in tests, a private deployment's own stores.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from pagesage.errors import UrlNotAllowed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"https": 443, "http": 80}
NAT64 = ipaddress.ip_network("64:ff9b::/96")
"""The well-known NAT64 prefix (RFC 6052 §2.1): its addresses carry an IPv4 address in their
last 32 bits, which a NAT64 gateway connects to."""
MAX_URL_LENGTH = 2048


@dataclass(frozen=True)
class AllowList:
    """Hosts admitted whatever their address: (lower-case host name or address literal, port)."""

    hosts: frozenset[tuple[str, int]] = frozenset()

    @classmethod
    def parse(cls, text: str) -> AllowList:
        """`PAGESAGE_FETCH_ALLOW_HOSTS`: comma-separated `host:port` (`[::1]:8443` for IPv6);
        blanks ignored.

        Raises:
            ValueError: an entry without a port, or with a port outside 1-65535.
        """
        hosts = set()
        for entry in (e.strip() for e in text.split(",")):
            if not entry:
                continue
            parts = urlsplit(f"//{entry}")
            try:
                port = parts.port
            except ValueError:
                port = None
            if not parts.hostname or port is None or port == 0:
                raise ValueError(f"PAGESAGE_FETCH_ALLOW_HOSTS entry {entry!r} is not host:port")
            hosts.add((parts.hostname.lower(), port))
        return cls(frozenset(hosts))

    def admits(self, host: str, port: int) -> bool:
        return (host.lower(), port) in self.hosts


@dataclass(frozen=True)
class FetchTarget:
    """A URL that passed `check_url`: `scheme` (`https`, or `http` for an admitted host),
    `host` (lower case, IDNA-encoded; an IPv6 literal without brackets), `port`, `path` (with
    its query, `/` when empty), and `admitted` (the host is on the allow-list)."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    admitted: bool

    @property
    def literal(self) -> IPAddress | None:
        """The host as an address, when the URL names one."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


def check_url(url: str, allow: AllowList) -> FetchTarget:
    """The target of `url`, if a client may name it: `https` (or `http` to an admitted host),
    a host, no user name or password, a port in 1-65535, at most `MAX_URL_LENGTH` characters;
    an address literal must be public (`is_public`) unless admitted. Host names are checked
    when resolved (`check_addresses`).

    Raises:
        UrlNotAllowed: any rule above broken (HTTP 400, `url_not_allowed`).
    """
    if len(url) > MAX_URL_LENGTH or any(ord(c) < 0x21 or c == "\x7f" for c in url):
        raise UrlNotAllowed("the URL is too long or holds spaces or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UrlNotAllowed("only https URLs can be fetched")
    if parts.username is not None or parts.password is not None:
        raise UrlNotAllowed("a URL with a user name or password is not fetched")
    try:
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii").lower().rstrip(".")
    except (ValueError, UnicodeError):
        raise UrlNotAllowed("the URL's host or port is not valid") from None
    if port == 0:
        raise UrlNotAllowed("the URL's host or port is not valid")
    port = port or DEFAULT_PORTS[scheme]
    if not host:
        raise UrlNotAllowed("the URL names no host")
    admitted = allow.admits(host, port)
    if scheme == "http" and not admitted:
        raise UrlNotAllowed("only https URLs can be fetched")
    path = parts.path or "/"
    target = FetchTarget(url=url, scheme=scheme, host=host, port=port,
                         path=f"{path}?{parts.query}" if parts.query else path, admitted=admitted)
    if target.literal is not None and not admitted:
        check_addresses(target, [target.literal])
    return target


def check_addresses(target: FetchTarget, addresses: list[IPAddress]) -> list[IPAddress]:
    """`addresses` (what `target.host` resolved to, in order) when the target may be fetched
    from them: all public, or the host admitted. One private answer refuses them all, so a name
    that resolves to a public and a private address cannot be used to reach the private one.

    Raises:
        UrlNotAllowed: no address, or one that is not public for a host not admitted.
    """
    if not addresses:
        raise UrlNotAllowed(f"{target.host} has no address")
    if not target.admitted:
        for address in addresses:
            if not is_public(address):
                raise UrlNotAllowed(f"{target.host} resolves to an address that is not public")
    return addresses


def is_public(address: IPAddress) -> bool:
    """True for a globally reachable unicast address (IANA special-purpose registries, RFC 6890,
    as Python's `ipaddress.is_global` reads them), which is not multicast, reserved, loopback,
    link-local or unspecified. IPv6 addresses that carry an IPv4 address — IPv4-mapped
    (`::ffff:127.0.0.1`, RFC 4291 §2.5.5.2), 6to4 (`2002::/16`, RFC 3056), Teredo (RFC 4380) and
    NAT64 (`64:ff9b::/96`, RFC 6052) — are judged by that IPv4 address too."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.ipv4_mapped or (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in NAT64 else None)
        if carried is not None:  # judged by its IPv4 address alone (both prefixes are special-purpose as a whole)
            return is_public(carried)
        embedded = [address.sixtofour, address.teredo[1] if address.teredo else None]
        if any(v4 is not None and not is_public(v4) for v4 in embedded):
            return False
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_loopback
                                      or address.is_link_local or address.is_unspecified)
