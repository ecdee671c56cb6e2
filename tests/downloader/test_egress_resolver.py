"""EGRESS_RESOLVER: the guard asks that DNS server, every time, and the proxy connects to exactly
the address the admission checked. A rebinding DNS server runs on loopback in the test's loop."""

from __future__ import annotations

import ipaddress
import socket
from collections import Counter
from urllib.parse import urlsplit

import pytest
import trio

from core.config import SettingsError, load_settings
from downloader.egress import EgressRefused, Policy, dns_resolver, open_egress_proxy
from downloader.egress.policy import Admitted
from downloader.egress.upstream import UpstreamError
from tests.downloader.egress_servers import basic, raw_proxy_request
from tests.support.dns_server import rebinding, serve_dns

PUBLIC, LOOPBACK = "198.51.100.7", "127.0.0.1"


@pytest.fixture
async def dns_server(nursery: trio.Nursery) -> tuple[tuple[str, int], Counter[str]]:
    address_for, queries = rebinding(PUBLIC, LOOPBACK)
    server: tuple[str, int] = await nursery.start(serve_dns, "127.0.0.1", 0, address_for)
    return server, queries


async def test_the_dns_resolver_asks_its_server_every_time(dns_server) -> None:
    server, queries = dns_server
    resolve = dns_resolver(server)
    assert await resolve("rebind.test", 80) == [ipaddress.ip_address(PUBLIC)]
    assert await resolve("rebind.test", 80) == [ipaddress.ip_address(LOOPBACK)]  # no cache in between
    assert queries["rebind.test."] == 2


async def test_a_dns_server_that_does_not_answer_means_unresolvable() -> None:
    with trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        await silent.bind(("127.0.0.1", 0))  # bound, never read: the question times out
        with pytest.raises(EgressRefused) as caught:
            await dns_resolver(silent.getsockname(), timeout_s=0.2)("quiet.test", 80)
    assert caught.value.reason == "unresolvable"


class RecordingConnector:
    """Stands in for the connector: records what it was told to reach, reaches nothing."""

    def __init__(self) -> None:
        self.asked: list[Admitted] = []

    async def connect(self, admitted: Admitted) -> trio.abc.Stream:
        self.asked.append(admitted)
        raise UpstreamError("not connecting in this test")


async def test_the_proxy_connects_to_exactly_the_address_it_checked(dns_server) -> None:
    """The proxy's one lookup answers the public address; the name then rebinds to loopback.
    The connection goes to the checked public address (no second lookup), the next request
    asks again, gets loopback, and is refused."""
    server, queries = dns_server
    policy = Policy.production(dns_resolver(server), local_addresses=list)
    async with open_egress_proxy(policy) as proxy:
        proxy._connector = connector = RecordingConnector()  # type: ignore[assignment]
        auth = basic("rebind", urlsplit(proxy.url_for("x")).password or "")
        request = f"GET http://rebind.test/x HTTP/1.1\r\nHost: rebind.test\r\nProxy-Authorization: {auth}\r\n\r\n"
        first, _, _ = await raw_proxy_request(proxy.port, request.encode())
        second, headers, _ = await raw_proxy_request(proxy.port, request.encode())
    assert first == 502 and [a.addresses for a in connector.asked] == [(ipaddress.ip_address(PUBLIC),)]
    assert (second, headers["x-egress-refused"]) == (403, "address")
    assert queries["rebind.test."] == 2 and len(connector.asked) == 1


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("", None), ("198.51.100.53", ("198.51.100.53", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)),
     ("2001:db8::53", ("2001:db8::53", 53)), ("[2001:db8::53]:5353", ("2001:db8::53", 5353))],
)  # fmt: skip
def test_egress_resolver_is_an_address_with_an_optional_port(value: str, parsed: object) -> None:
    assert load_settings(env_file=None, environ={"EGRESS_RESOLVER": value}).egress_resolver == parsed


@pytest.mark.parametrize("value", ["dns.example", "1.2.3.4:0", "1.2.3.4:99999", "[2001:db8::53", "1.2.3.4:x"])
def test_a_bad_egress_resolver_is_refused_at_start_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match=r"^EGRESS_RESOLVER: "):
        load_settings(env_file=None, environ={"EGRESS_RESOLVER": value})


def test_egress_allowed_ports_are_validated() -> None:
    settings = load_settings(env_file=None, environ={"EGRESS_ALLOWED_PORTS": "8443, 8080,8443"})
    assert settings.egress_allowed_ports == (8443, 8080)
    for bad in ("0", "65536", "http", "80;443"):
        with pytest.raises(SettingsError, match=r"^EGRESS_ALLOWED_PORTS: "):
            load_settings(env_file=None, environ={"EGRESS_ALLOWED_PORTS": bad})
