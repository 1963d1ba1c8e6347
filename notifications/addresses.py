"""The SSRF guard for outgoing webhooks: which addresses a subscriber's URL may make us contact.

Checked twice: `check_url` when a subscription is made (a 422 for the subscriber), and again at delivery
through `GuardedResolver`, so that the connection goes to an address judged just now — a name that
resolved to a public address at subscription time and to 127.0.0.1 since (DNS rebinding) gets nowhere.
URLs are parsed with yarl, as aiohttp does, so the guard and the client cannot read a URL differently.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import socket
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.helpers import is_ip_address
from aiohttp.resolver import DefaultResolver
from yarl import URL

from relief.errors import Invalid

IPAddress = IPv4Address | IPv6Address

RESOLVE_TIMEOUT = 5.0
"""Seconds a lookup may take: a slow resolver must not hold a subscription request (or a delivery) open."""

# Instance metadata services hand out cloud credentials to whoever asks from inside the VM.
CLOUD_METADATA = frozenset(
    ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, Tencent Cloud
        "169.254.170.2",  # AWS ECS task credentials
        "100.100.100.200",  # Alibaba Cloud (outside link-local, so listed by name)
        "168.63.129.16",  # Azure WireServer: a public-looking address only the platform answers
        "fd00:ec2::254",  # AWS IMDS over IPv6
    )
)
THIS_NETWORK = IPv4Network("0.0.0.0/8")  # Linux connects 0.x.x.x to the local host
SHARED = IPv4Network("100.64.0.0/10")  # carrier-grade NAT: someone's internal network, not the Internet
NAT64 = IPv6Network("64:ff9b::/96")


def embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64), which is where packets end up."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in NAT64:
            return IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def refusal(address: IPv4Address | IPv6Address, *, allow_private: bool) -> str | None:
    """None if a webhook may be sent to `address`; otherwise why not ("a loopback address", …)."""
    address = embedded_ipv4(address)
    # Refused even in development: nothing legitimate listens there, and metadata means credentials.
    if address in CLOUD_METADATA:
        return "a cloud metadata address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified or address in THIS_NETWORK:
        return "an unspecified address"
    if address == IPv4Address("255.255.255.255"):
        return "the broadcast address"
    # Before is_reserved, which ::1 also is (it lies in ::/8).
    if address.is_loopback:
        return None if allow_private else "a loopback address"
    if address.is_reserved:
        return "a reserved address"
    # RELIEF_WEBHOOK_ALLOW_PRIVATE lets development and tests post to receivers on this machine or LAN.
    if allow_private:
        return None
    if address in SHARED:
        return "a shared (carrier-grade NAT) address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "an address that is not globally routable"
    return None


def _parse_ip(host: str) -> IPAddress | None:
    try:
        return ip_address(host.partition("%")[0])  # drop an IPv6 zone ("fe80::1%eth0")
    except ValueError:
        return None


def _named(address: IPAddress) -> str:
    """The address as written, with the IPv4 address it carries, which is what was judged."""
    carried = embedded_ipv4(address)
    return str(address) if carried == address else f"{address} ({carried})"


def _refuse(reason: str) -> Invalid:
    return Invalid("the webhook URL is refused", errors=[{"pointer": "/url", "detail": reason}])


async def check_url(url: str, *, allow_private: bool, require_https: bool) -> str:
    """Refuse (Invalid, 422) a webhook URL we must not post to; else return its destination "host:port"."""
    try:
        parsed = URL(url)
        port = parsed.port  # the scheme's default when none is given
        decoded_host = parsed.host  # IDNA decoding can fail ("xn--.com")
        httpx.URL(url)  # the client must be able to send it too (it refuses some names yarl accepts)
    except (ValueError, TypeError, UnicodeError, httpx.InvalidURL) as exc:
        raise _refuse(f"not a valid URL: {exc}") from None
    schemes = ("https",) if require_https else ("http", "https")
    if parsed.scheme not in schemes:
        raise _refuse(f"the scheme must be {' or '.join(schemes)}, not {parsed.scheme or 'missing'}")
    if not parsed.absolute or not parsed.raw_host:
        raise _refuse("the URL has no host")
    # Credentials in a URL end up in logs, proxies and error messages; receivers authenticate by signature.
    if parsed.user is not None or parsed.password is not None:
        raise _refuse("the URL must not carry a user name or password")
    if port is None or not 1 <= port <= 65535:
        raise _refuse(f"the port must be between 1 and 65535, not {port}")
    host = parsed.raw_host.lower()  # IDNA-encoded, as it goes to the resolver
    literal = _parse_ip(decoded_host or host)
    if literal is not None:
        if reason := refusal(literal, allow_private=allow_private):
            raise _refuse(f"{_named(literal)} is {reason}")
        return f"[{literal}]:{port}" if literal.version == 6 else f"{literal}:{port}"
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise _refuse(f"{host} did not resolve within {RESOLVE_TIMEOUT:g} s") from None
    except (OSError, UnicodeError):  # socket.gaierror is an OSError
        raise _refuse(f"{host} does not resolve") from None
    addresses = {a for *_, sockaddr in infos if (a := _parse_ip(str(sockaddr[0]))) is not None}
    if not addresses:
        raise _refuse(f"{host} does not resolve")
    # ANY bad address refuses the name: delivery may reach any of them.
    for address in sorted(addresses, key=lambda a: (a.version, int(a))):
        if reason := refusal(address, allow_private=allow_private):
            # The address itself is not told: a subscriber has no business mapping internal DNS.
            raise _refuse(f"{host} resolves to {reason}")
    return f"{host.rstrip('.')}:{port}"  # "example.org." is the same destination as "example.org"


@functools.lru_cache(maxsize=65536)  # pure, and asked before every attempt to the same few URLs
def literal_refusal(url: str, *, allow_private: bool) -> str | None:
    """Why `url` must not be contacted if its host is a literal IP address (aiohttp does not resolve those,
    so GuardedResolver never sees them); None for names and for acceptable addresses."""
    try:
        host = URL(url).host
    except (ValueError, TypeError):
        return "not a valid URL"
    address = _parse_ip(host) if host else None
    if address is None:
        # "2130706433", "127.1": aiohttp connects to these as addresses, skipping the resolver.
        return "a numeric host in an unusual form" if host and is_ip_address(host) else None
    reason = refusal(address, allow_private=allow_private)
    return f"{_named(address)} is {reason}" if reason else None


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that hands the connector only addresses `refusal` accepts, so the connection goes
    to the address that was checked: TCPConnector(resolver=GuardedResolver(allow_private=…))."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._resolver: AbstractResolver | None = None  # made on first use: ThreadedResolver wants a loop

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._resolver is None:
            self._resolver = DefaultResolver()
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            results = await self._resolver.resolve(host, port, family)
        kept, reasons = [], []
        for result in results:
            address = _parse_ip(result["host"])
            reason = "not an IP address" if address is None else refusal(address, allow_private=self.allow_private)
            if reason is None:
                kept.append(result)
            else:
                reasons.append(f"{result['host']} is {reason}")
        if not kept:
            # aiohttp turns an OSError from the resolver into ClientConnectorDNSError, showing its strerror.
            raise OSError(errno.EACCES, f"webhook host {host} refused: {'; '.join(reasons) or 'no addresses'}")
        return kept

    async def close(self) -> None:
        if self._resolver is not None:
            await self._resolver.close()
