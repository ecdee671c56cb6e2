"""The policy on scripted resolvers: production resolves once and refuses any forbidden answer;
sandbox lets through exactly its origin and never resolves. Nothing here connects anywhere."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

import pytest
import trio

from core.texts import LANGUAGES
from downloader.egress import EgressRefused, Policy
from downloader.egress.addresses import IPAddress
from downloader.egress.targets import REASONS

ip = ipaddress.ip_address


class StubResolver:
    """Answers from a table and records every question; unknown names do not resolve."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        self.asked.append((host, port))
        await trio.lowlevel.checkpoint()
        if host not in self.table:
            raise EgressRefused("unresolvable", f"{host}: no such name")
        return [ip(a) for a in self.table[host]]


TABLE = {
    "localhost": ["127.0.0.1", "::1"],
    "public.test": ["93.184.216.34"],
    "dual.test": ["93.184.216.34", "2606:2800:220:1::1"],
    "mixed.test": ["93.184.216.34", "10.0.0.5"],  # one public, one private: refused
    "metadata.test": ["169.254.169.254"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "nat64.test": ["64:ff9b::a00:1"],
    "empty.test": [],
    "self.test": ["203.0.113.7"],
}


def production(resolver: StubResolver, local: Sequence[str] = ("203.0.113.7",)) -> Policy:
    return Policy.production(resolver, local_addresses=lambda: [ip(a) for a in local])


async def refused(policy: Policy, url: str) -> EgressRefused:
    with pytest.raises(EgressRefused) as caught:
        await policy.admit_url(url)
    return caught.value


async def test_a_public_name_is_admitted_at_its_checked_address() -> None:
    resolver = StubResolver(TABLE)
    admitted = await production(resolver).admit_url("https://public.test/watch?v=1")
    assert admitted.ip == ip("93.184.216.34")
    assert admitted.target.port == 443
    assert resolver.asked == [("public.test", 443)]  # resolved exactly once


async def test_every_answer_is_kept_for_the_connect() -> None:
    admitted = await production(StubResolver(TABLE)).admit_url("http://dual.test/")
    assert admitted.addresses == (ip("93.184.216.34"), ip("2606:2800:220:1::1"))


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("http://localhost/", "loopback"),
        ("http://localhost:9090/metrics", "loopback"),
        ("http://mixed.test/", "10.0.0.5 is private"),
        ("http://metadata.test/latest/meta-data/", "link_local"),
        ("http://mapped.test/", "loopback"),
        ("http://nat64.test/", "private"),
        ("http://self.test/", "this machine's own address"),
    ],
)
async def test_a_name_answering_a_forbidden_address_is_refused(url: str, detail: str) -> None:
    refusal = await refused(production(StubResolver(TABLE)), url)
    assert refusal.reason == "address" and detail in refusal.detail, refusal


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://0x7f000001/", "http://[::1]/", "http://10.1.2.3/"])
async def test_numeric_hosts_are_judged_without_a_lookup(url: str) -> None:
    resolver = StubResolver(TABLE)
    assert (await refused(production(resolver), url)).reason == "address"
    assert resolver.asked == []


async def test_a_public_address_literal_needs_no_lookup() -> None:
    resolver = StubResolver(TABLE)
    admitted = await production(resolver).admit_url("http://198.51.100.2/x.mp4")
    assert admitted.addresses == (ip("198.51.100.2"),) and resolver.asked == []


async def test_this_machines_own_address_is_refused_as_a_literal_too() -> None:
    refusal = await refused(production(StubResolver(TABLE)), "http://203.0.113.7/")
    assert refusal.reason == "address"


@pytest.mark.parametrize("url", ["http://nowhere.test/", "http://empty.test/"])
async def test_unresolvable_names_are_refused(url: str) -> None:
    assert (await refused(production(StubResolver(TABLE)), url)).reason == "unresolvable"


async def test_a_resolver_that_never_answers_fails_closed(autojump_clock: trio.testing.MockClock) -> None:
    async def hangs(host: str, port: int) -> Sequence[IPAddress]:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    policy = Policy.production(hangs, local_addresses=None)
    assert (await refused(policy, "http://slow.test/")).reason == "unresolvable"


async def test_scheme_and_credentials_are_refused_before_any_lookup() -> None:
    resolver = StubResolver(TABLE)
    policy = production(resolver)
    assert (await refused(policy, "ftp://public.test/")).reason == "scheme"
    assert (await refused(policy, "http://u:p@public.test/")).reason == "credentials"
    assert resolver.asked == []


async def test_the_machines_addresses_are_reread_after_their_ttl() -> None:
    now = [0.0]
    local = [["203.0.113.7"]]
    policy = Policy(
        resolver=StubResolver(TABLE), local_addresses=lambda: [ip(a) for a in local[0]], clock=lambda: now[0]
    )
    assert (await refused(policy, "http://203.0.113.7/")).reason == "address"
    local[0] = []
    now[0] += 61.0
    assert (await policy.admit_url("http://203.0.113.7/")).ip == ip("203.0.113.7")


# ---- sandbox mode ------------------------------------------------------------------------


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Any name lookup in this process fails the test (and is recorded)."""
    asked: list[str] = []

    def forbidden_lookup(host: object, *args: object, **kwargs: object) -> None:
        asked.append(str(host))
        raise AssertionError(f"a DNS query for {host!r} in sandbox mode")

    async def forbidden_async(host: object, *args: object, **kwargs: object) -> None:
        forbidden_lookup(host)

    monkeypatch.setattr(socket, "getaddrinfo", forbidden_lookup)
    monkeypatch.setattr(trio.socket, "getaddrinfo", forbidden_async)
    return asked


async def test_sandbox_admits_exactly_its_origin(no_dns: list[str]) -> None:
    policy = Policy.sandbox(("127.0.0.1", 8081))
    admitted = await policy.admit_url("http://127.0.0.1:8081/media/sample.mp4")
    assert admitted.addresses == (ip("127.0.0.1"),)
    # The same address spelled another way is the same origin.
    assert (await policy.admit_url("http://2130706433:8081/media/x")).ip == ip("127.0.0.1")
    assert no_dns == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9090/metrics",  # the monitor's port: another local port
        "http://127.0.0.1/",
        "http://127.0.0.2:8081/",
        "http://localhost:8081/",  # a name, even one meaning the origin: no lookup, refused
        "http://[::1]:8081/",
        "http://[::ffff:127.0.0.1]:8081/",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "http://93.184.216.34/",
        "http://198.51.100.2:8081/",
    ],
)
async def test_sandbox_refuses_everything_else_without_a_lookup(url: str, no_dns: list[str]) -> None:
    refusal = await refused(Policy.sandbox(("127.0.0.1", 8081)), url)
    # Internal addresses are refused for what they are, public ones for not being the sandbox.
    internal = "127." in url or "[::" in url or "localhost" in url
    assert refusal.reason == ("address" if internal else "not_sandbox"), refusal
    assert no_dns == []


async def test_sandbox_still_refuses_other_schemes(no_dns: list[str]) -> None:
    policy = Policy.sandbox(("127.0.0.1", 8081))
    assert (await refused(policy, "file:///etc/passwd")).reason == "scheme"
    assert (await refused(policy, "http://a:b@127.0.0.1:8081/")).reason == "credentials"


def test_a_sandbox_origin_must_be_an_address() -> None:
    with pytest.raises(ValueError):
        Policy.sandbox(("localhost", 8081))
    with pytest.raises(ValueError):
        Policy.sandbox(("127.0.0.1", 0))


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_every_refusal_has_a_text_for_the_user_in_each_language(reason: str) -> None:
    key = EgressRefused(reason).text_key
    for lang, table in LANGUAGES.items():
        assert table.get(key), f"{lang} has no text {key}"


# ---- ports: a public web server is on 80 or 443 -------------------------------------------------


@pytest.mark.parametrize("url", ["http://public.test/x", "https://public.test/x", "http://public.test:443/x"])
async def test_a_public_host_on_80_or_443_is_admitted(url: str) -> None:
    assert (await production(StubResolver(TABLE)).admit_url(url)).ip == ip("93.184.216.34")


@pytest.mark.parametrize("url", ["http://public.test:6379/", "https://public.test:8443/", "http://198.51.100.2:22/"])
async def test_any_other_port_of_a_public_host_is_refused_as_a_blocked_address(url: str) -> None:
    resolver = StubResolver(TABLE)
    refusal = await refused(production(resolver), url)
    assert refusal.reason == "address" and "port" in refusal.detail
    assert resolver.asked == []  # refused before any lookup


async def test_egress_allowed_ports_adds_ports_and_only_those() -> None:
    policy = Policy.production(StubResolver(TABLE), allowed_ports=[8443], local_addresses=list)
    assert (await policy.admit_url("https://public.test:8443/x")).ip == ip("93.184.216.34")
    assert (await refused(policy, "http://public.test:8444/x")).reason == "address"
    assert (await refused(policy, "http://10.0.0.5:8443/x")).detail == "10.0.0.5 is private"  # still private


# ---- DNS rebinding: one lookup per admission, and its answer is the one used ---------------------


class RebindingResolver(StubResolver):
    """A public address at a name's first question, loopback at every later one."""

    async def __call__(self, host: str, port: int) -> Sequence[IPAddress]:
        self.asked.append((host, port))
        await trio.lowlevel.checkpoint()
        return [ip("93.184.216.34")] if len(self.asked) == 1 else [ip("127.0.0.1")]


async def test_an_admission_asks_once_and_keeps_what_it_checked() -> None:
    resolver = RebindingResolver({})
    policy = production(resolver)
    first = await policy.admit_url("http://rebind.test/x")
    assert first.addresses == (ip("93.184.216.34"),) and len(resolver.asked) == 1
    assert first.addresses == (ip("93.184.216.34"),)  # nothing re-resolves an admitted target
    second = await refused(policy, "http://rebind.test/x")  # the next admission asks again: refused
    assert second.detail == "rebind.test -> 127.0.0.1 is loopback" and len(resolver.asked) == 2
