"""The SSRF guard (notifications/addresses.py): pure, no database; only localhost is ever contacted."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from ipaddress import ip_address

import aiohttp
import pytest
from aiohttp import web

from notifications import addresses
from notifications.addresses import GuardedResolver, check_url, literal_refusal, refusal
from relief.errors import Invalid

# address, refused without allow_private, refused with it (None: allowed)
CASES = [
    ("127.0.0.1", "a loopback address", None),
    ("10.0.0.1", "a private address", None),
    ("172.16.0.1", "a private address", None),
    ("192.168.1.1", "a private address", None),
    ("100.64.0.1", "a shared (carrier-grade NAT) address", None),
    ("169.254.169.254", "a cloud metadata address", "a cloud metadata address"),
    ("169.254.170.2", "a cloud metadata address", "a cloud metadata address"),
    ("169.254.1.1", "a link-local address", "a link-local address"),
    ("100.100.100.200", "a cloud metadata address", "a cloud metadata address"),
    ("::1", "a loopback address", None),
    ("fe80::1", "a link-local address", "a link-local address"),
    ("fd00:ec2::254", "a cloud metadata address", "a cloud metadata address"),
    ("fc00::1", "a private address", None),
    ("::ffff:127.0.0.1", "a loopback address", None),
    ("::ffff:169.254.169.254", "a cloud metadata address", "a cloud metadata address"),
    ("64:ff9b::a9fe:a9fe", "a cloud metadata address", "a cloud metadata address"),
    ("2002:a9fe:a9fe::", "a cloud metadata address", "a cloud metadata address"),
    ("64:ff9b::808:808", None, None),
    ("224.0.0.1", "a multicast address", "a multicast address"),
    ("ff02::1", "a multicast address", "a multicast address"),
    ("0.0.0.0", "an unspecified address", "an unspecified address"),
    ("::", "an unspecified address", "an unspecified address"),
    ("255.255.255.255", "the broadcast address", "the broadcast address"),
    ("240.0.0.1", "a reserved address", "a reserved address"),
    ("192.0.2.1", "a private address", None),  # documentation range: not globally routable
    ("8.8.8.8", None, None),
    ("2001:4860:4860::8888", None, None),
]


@pytest.mark.parametrize(("address", "strict", "lenient"), CASES)
def test_refusal(address: str, strict: str | None, lenient: str | None) -> None:
    assert refusal(ip_address(address), allow_private=False) == strict
    assert refusal(ip_address(address), allow_private=True) == lenient


# URL, the address named in the refusal, whether allow_private lets it through
URLS = [
    ("http://127.0.0.1/h", "127.0.0.1", True),
    ("http://10.0.0.1/h", "10.0.0.1", True),
    ("http://169.254.169.254/latest/meta-data", "169.254.169.254", False),
    ("http://[::1]:8080/h", "::1", True),
    ("http://[::ffff:169.254.169.254]/h", "169.254.169.254", False),
    # A name resolving to loopback (/etc/hosts): the kind of address is told, never the address itself.
    ("http://localhost:9/h", "localhost resolves to a loopback address", True),
]


async def refused(url: str, **kw: bool) -> str:
    kw = {"allow_private": False, "require_https": False, **kw}
    with pytest.raises(Invalid) as caught:
        await check_url(url, **kw)
    assert caught.value.detail == "the webhook URL is refused"
    [error] = caught.value.extra["errors"]
    assert error["pointer"] == "/url"
    return error["detail"]


@pytest.mark.parametrize(("url", "named", "allowed_when_private"), URLS)
async def test_check_url_private(url: str, named: str, allowed_when_private: bool) -> None:
    assert named in await refused(url)
    if allowed_when_private:
        assert await check_url(url, allow_private=True, require_https=False)
    else:
        assert "cloud metadata" in await refused(url, allow_private=True)


async def test_destination() -> None:
    assert await check_url("http://LocalHost:9/h", allow_private=True, require_https=False) == "localhost:9"
    assert await check_url("https://127.0.0.1/h", allow_private=True, require_https=True) == "127.0.0.1:443"
    assert await check_url("http://[::1]/h", allow_private=True, require_https=False) == "[::1]:80"
    assert await check_url("https://8.8.8.8/h", allow_private=False, require_https=True) == "8.8.8.8:443"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://8.8.8.8/h", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("https://user:secret@8.8.8.8/h", "password"),
        ("https://token@8.8.8.8/h", "password"),
        ("https:///h", "host"),
        ("/relative", "scheme"),
        ("https://8.8.8.8:0/h", "port"),
        ("https://8.8.8.8:70000/h", "valid URL"),
    ],
)
async def test_malformed(url: str, why: str) -> None:
    assert why in await refused(url, allow_private=True)


async def test_https_required() -> None:
    assert "https" in await refused("http://8.8.8.8/h", require_https=True)
    assert await check_url("http://8.8.8.8/h", allow_private=False, require_https=False) == "8.8.8.8:80"


def fake_dns(monkeypatch: pytest.MonkeyPatch, *hosts: str, delay: float = 0) -> None:
    """Answer every lookup with `hosts`, so no test depends on a real DNS server."""

    async def getaddrinfo(host, port, **kw):
        await asyncio.sleep(delay)
        if not hosts:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in h else socket.AF_INET, socket.SOCK_STREAM, 6, "", (h, port)) for h in hosts]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)


async def test_any_bad_address_refuses_a_name(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, "8.8.8.8", "169.254.169.254")
    detail = await refused("https://webhooks.example/h")
    assert "webhooks.example resolves to a cloud metadata address" in detail
    assert "169.254" not in detail  # a subscriber may not map internal DNS through our answers
    fake_dns(monkeypatch, "8.8.8.8", "2001:4860:4860::8888")
    assert await check_url("https://Webhooks.Example/h", allow_private=False, require_https=True) == (
        "webhooks.example:443"
    )


async def test_unresolvable_or_slow(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch)
    assert "does not resolve" in await refused("https://nowhere.example/h")
    monkeypatch.setattr(addresses, "RESOLVE_TIMEOUT", 0.01)
    fake_dns(monkeypatch, "8.8.8.8", delay=1)
    assert "within" in await refused("https://slow.example/h")


def test_literal_refusal() -> None:
    assert literal_refusal("http://127.0.0.1:9/h", allow_private=False) == "127.0.0.1 is a loopback address"
    assert literal_refusal("http://127.0.0.1:9/h", allow_private=True) is None
    assert "cloud metadata" in literal_refusal("http://[::ffff:a9fe:a9fe]/", allow_private=True)
    assert literal_refusal("http://localhost:9/h", allow_private=False) is None  # left to GuardedResolver
    assert literal_refusal("https://8.8.8.8/h", allow_private=False) is None


@pytest.fixture
async def local_url() -> AsyncIterator[str]:
    """A receiver on 127.0.0.1, addressed by name so that the connector has to resolve it."""

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://localhost:{port}/"
    await runner.cleanup()


async def get(url: str, *, allow_private: bool) -> str:
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(allow_private=allow_private))
    async with aiohttp.ClientSession(connector=connector) as session, session.get(url) as response:
        return await response.text()


async def test_guarded_resolver_refuses_loopback(local_url: str) -> None:
    with pytest.raises(aiohttp.ClientConnectorError, match="loopback"):
        await get(local_url, allow_private=False)


async def test_guarded_resolver_allows_private_when_asked(local_url: str) -> None:
    assert await get(local_url, allow_private=True) == "ok"


class Answers(aiohttp.abc.AbstractResolver):
    def __init__(self, *hosts: str) -> None:
        self.hosts = hosts

    async def resolve(self, host, port=0, family=socket.AF_INET):
        return [
            {"hostname": host, "host": h, "port": port, "family": socket.AF_INET, "proto": 6, "flags": 0}
            for h in self.hosts
        ]

    async def close(self) -> None:
        pass


async def test_guarded_resolver_drops_refused_addresses() -> None:
    resolver = GuardedResolver(allow_private=False)
    resolver._resolver = Answers("169.254.169.254", "8.8.8.8", "10.0.0.1")
    assert [r["host"] for r in await resolver.resolve("rebind.example", 443)] == ["8.8.8.8"]
    resolver._resolver = Answers("169.254.169.254")
    with pytest.raises(OSError, match="cloud metadata"):
        await resolver.resolve("rebind.example", 443)
    await resolver.close()
