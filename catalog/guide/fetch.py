"""Fetching a guide from its source's URL without reaching into our own network.

A guide URL is typed by staff, and a feed can redirect anywhere: unchecked, the worker would
fetch the cloud's metadata service (169.254.169.254), an admin port on loopback or a host on the
private network, and put what it got into an import's error. So every hop is resolved once, the
address is checked (loopback, private, link-local, unique-local, unspecified, multicast and
reserved addresses are refused, IPv4 mapped or embedded in IPv6 included) and the connection is
made to that very address, with the URL's host name in the Host header and TLS SNI (and checked
against the certificate), so a DNS answer that changes between check and connect (rebinding)
changes nothing. Redirects are followed here, at most MAX_REDIRECTS, each hop checked the same
way. Staff may allow internal feeds by network or host name (SMARTGO_EPG_FETCH_ALLOW).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

MAX_REDIRECTS = 5
CONNECT_TIMEOUT_S = 10.0
# A whole fetch, however slowly the feed trickles in, ends before a claimed import is taken back.
FETCH_DEADLINE_S = 20 * 60
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_REDIRECTS = (301, 302, 303, 307, 308)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FeedError(Exception):
    """The guide could not be fetched or read in full."""


@dataclass(frozen=True)
class FetchAllow:
    """The internal networks and host names staff allow guide fetches to reach."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    def allows(self, host: str, address: IPAddress) -> bool:
        """Tell whether staff allow this host name or address."""
        return host.lower().rstrip(".") in self.hosts or any(address in n for n in self.networks
                                                             if n.version == address.version)


def parse_allow(text: str) -> FetchAllow:
    """Parse SMARTGO_EPG_FETCH_ALLOW: networks in CIDR form and host names, separated by commas."""
    networks, hosts = [], set()
    for item in (i.strip() for i in text.split(",") if i.strip()):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            hosts.add(item.lower().rstrip("."))
    return FetchAllow(tuple(networks), frozenset(hosts))


def refused_address(address: IPAddress) -> str | None:
    """Return why a guide fetch may not connect to an address (None: a public address)."""
    embedded = None
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if embedded is not None:
        return refused_address(embedded)
    for kind in ("loopback", "link_local", "private", "unspecified", "multicast", "reserved"):
        if getattr(address, f"is_{kind}"):
            return f"{address} is a {kind.replace('_', '-')} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def check_url(url: str, allow: FetchAllow) -> None:
    """Refuse early a URL whose host is an internal address written out (or localhost); raise ValueError.

    Names are only resolved when fetched: the check that counts is made on each connection.
    """
    try:
        parts = httpx.URL(url)
    except (httpx.InvalidURL, UnicodeError) as err:  # what the URL parser refuses is not a URL
        raise ValueError(f"not a valid URL: {err}") from err
    if parts.scheme not in ("http", "https") or not parts.host:
        raise ValueError("a guide URL is http:// or https:// with a host")
    host = parts.host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        if host not in allow.hosts:
            raise ValueError(f"{host} is this machine: allow it in SMARTGO_EPG_FETCH_ALLOW to fetch from it")
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    reason = refused_address(address)
    if reason and not allow.allows(host, address):
        raise ValueError(f"{reason}: allow it in SMARTGO_EPG_FETCH_ALLOW to fetch from it")


def resolve(host: str, port: int, allow: FetchAllow) -> IPAddress:
    """Resolve a host once and return the address to connect to; raise FeedError if none may be."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise FeedError(f"the feed's host {host} could not be resolved") from err
    reasons = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        reason = refused_address(address)
        if reason is None or allow.allows(host, address):
            return address
        reasons.append(reason)
    raise FeedError(f"the feed's host {host} is not reachable from here: {reasons[0] if reasons else 'no address'} "
                    "(allow it in SMARTGO_EPG_FETCH_ALLOW)")


def fetch(url: str, *, allow: FetchAllow, timeout_s: float, cap: int) -> Iterator[bytes]:
    """Yield a guide's bytes from url, following redirects, every hop checked (see the module)."""
    timeout = httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s))
    deadline = time.monotonic() + FETCH_DEADLINE_S
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            for _hop in range(MAX_REDIRECTS + 1):
                try:
                    check_url(url, allow)
                except ValueError as err:
                    raise FeedError(f"the feed {url[:200]} is refused: {err}") from err
                parts = httpx.URL(url)
                host = parts.raw_host.decode("ascii")  # IDNA-encoded, as DNS and TLS want it
                address = resolve(host, parts.port or (443 if parts.scheme == "https" else 80), allow)
                request = client.build_request(
                    "GET", parts.copy_with(host=str(address)), headers={"Host": parts.netloc.decode("ascii")},
                    extensions={"sni_hostname": host} if parts.scheme == "https" else {})
                resp = client.send(request, stream=True)
                try:
                    if resp.status_code in _REDIRECTS and resp.headers.get("location"):
                        url = urljoin(url, resp.headers["location"])
                        continue
                    if resp.status_code != 200:
                        raise FeedError(f"the feed answered HTTP {resp.status_code}")
                    length = resp.headers.get("content-length")
                    if length and length.isdigit() and int(length) > cap:
                        raise FeedError(f"the feed is larger than SMARTGO_EPG_MAX_BYTES ({cap} bytes)")
                    for chunk in resp.iter_raw(1 << 16):
                        if time.monotonic() > deadline:
                            raise FeedError(f"the feed took longer than {FETCH_DEADLINE_S} s to download")
                        yield chunk
                    return
                finally:
                    resp.close()
            raise FeedError(f"the feed redirected more than {MAX_REDIRECTS} times")
    except httpx.HTTPError as err:
        raise FeedError(f"the feed could not be read: {type(err).__name__}") from err
