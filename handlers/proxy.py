"""Behind reverse proxies: who is asking, and at which address the service was reached.

X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host are anyone's to write, so they are believed only
when the connection's peer is one of RELIEF_TRUSTED_PROXIES. What people reach the service at is
RELIEF_PUBLIC_URL when set (a proxy may say what it likes then; the bureau said where it is), else what the
trusted proxy forwarded, else this request's own scheme and Host.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from aiohttp import web
from yarl import URL

from relief.settings import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?$")


@dataclass(frozen=True)
class Trust:
    proxies: tuple[Network, ...] = ()
    hops: int = 0  # RELIEF_TRUSTED_PROXY_HOPS
    public: URL | None = None  # RELIEF_PUBLIC_URL

    @classmethod
    def of(cls, settings: Settings) -> Trust:
        public = URL(settings.public_url) if settings.public_url else None
        # ip_network again: a Settings made with model_copy(update=…) skipped the validator's parsing.
        proxies = tuple(ipaddress.ip_network(str(net), strict=False) for net in settings.trusted_proxies)
        return cls(proxies, settings.trusted_proxy_hops, public)

    def listed(self, address: str) -> bool:
        """Whether an address is one of the trusted proxies (False for anything that is not an address)."""
        parsed = _address(address)
        if parsed is None:
            return False
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped
        return any(parsed.version == net.version and parsed in net for net in self.proxies)


TRUST = web.AppKey("proxy_trust", Trust)


def setup(app: web.Application, settings: Settings) -> None:
    app[TRUST] = Trust.of(settings)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _values(request: web.Request, name: str) -> list[str]:
    return [v.strip() for h in request.headers.getall(name, []) for v in h.split(",") if v.strip()]


def _trust(request: web.Request) -> Trust:
    return request.app.get(TRUST) or Trust()


def from_proxy(request: web.Request) -> bool:
    """The connection's peer is a listed proxy: its X-Forwarded-* headers are believed."""
    return _trust(request).listed(request.remote or "")


def client(request: web.Request, trust: Trust | None = None) -> str:
    """The client's address: the peer's, or through listed proxies the X-Forwarded-For entry they saw.

    Each proxy appends the address it was reached from, so the list is read from the right: with
    RELIEF_TRUSTED_PROXY_HOPS=n the n-th entry; else the first entry that is not itself a listed proxy.
    Entries left of that are the client's to invent. RELIEF_TRUSTED_PROXY_HOPS without a list of proxies
    keeps its old meaning (believed from any peer).
    """
    trust = trust or _trust(request)
    peer = request.remote or ""
    if not trust.proxies and not trust.hops:
        return peer
    if trust.proxies and not trust.listed(peer):
        return peer
    forwarded = _values(request, "X-Forwarded-For")
    if trust.hops:
        return forwarded[-trust.hops] if len(forwarded) >= trust.hops else peer  # fewer: it bypassed them
    for entry in reversed(forwarded):
        if not trust.listed(entry):
            return entry
    return forwarded[0] if forwarded else peer


def _forwarded(request: web.Request, name: str) -> str | None:
    """The value a trusted proxy set (the n-th from the right with RELIEF_TRUSTED_PROXY_HOPS=n)."""
    if not from_proxy(request):
        return None
    values = _values(request, name)
    if not values:
        return None
    return values[-min(max(_trust(request).hops, 1), len(values))]


def scheme(request: web.Request) -> str:
    """http or https, as the client reached us: the public URL's, a trusted proxy's, or this connection's."""
    public = _trust(request).public
    if public is not None:
        return public.scheme
    forwarded = (_forwarded(request, "X-Forwarded-Proto") or "").lower()
    return forwarded if forwarded in ("http", "https") else request.scheme


def origin(request: web.Request) -> URL:
    """The origin (scheme://host[:port]) the client reached us at, which our own pages send as Origin."""
    public = _trust(request).public
    if public is not None:
        return public.origin()
    host = _forwarded(request, "X-Forwarded-Host")
    if host is None or not _HOST.match(host):
        host = request.host
    try:
        return URL.build(scheme=scheme(request), authority=host).origin()
    except ValueError:  # a Host no URL can carry: it cannot match any Origin either
        return URL.build(scheme=scheme(request), host="invalid")


def same_origin(sent: str, expected: URL) -> bool:
    """An Origin header names `expected` (scheme, host and port; default ports filled in)."""
    try:
        url = URL(sent)
    except ValueError:
        return False
    if not url.absolute or url.host is None:
        return False
    return (url.scheme.lower(), url.host.lower(), url.port) == (
        expected.scheme.lower(), (expected.host or "").lower(), expected.port)


def absolute(request: web.Request, path: str) -> str:
    """A link to one of our paths that works from where the client is: under the public URL (its path
    prefix too, for a service mounted at https://host/relief/), else the origin the request reached."""
    public = _trust(request).public
    if public is not None:
        return str(public).rstrip("/") + path
    return str(origin(request).join(URL(path)))
