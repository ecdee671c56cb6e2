"""The address check and the URL check: pure functions, nothing here connects anywhere."""

from __future__ import annotations

import ipaddress

import pytest

from downloader.egress.addresses import NotAnAddress, forbidden, parse_numeric_host
from downloader.egress.targets import EgressRefused, check_url, parse_authority, parse_url

ip = ipaddress.ip_address


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link_local"),
        ("100.64.0.1", "shared"),
        ("100.127.255.255", "shared"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("192.0.0.8", "reserved"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.255", "benchmarking"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link_local"),
        ("fe80::1%2", "link_local"),
        ("fec0::1", "site_local"),
        ("fc00::1", "unique_local"),
        ("fd12:3456::1", "unique_local"),
        ("ff02::1", "multicast"),
        ("ff0e::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.1.2.3", "private"),
        ("::ffff:169.254.169.254", "link_local"),
        ("::127.0.0.1", "ipv4_compatible"),
        ("::8.8.8.8", "ipv4_compatible"),  # deprecated form: refused whatever it carries
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b:1::1", "nat64_local"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved"),  # Teredo
        ("100::1", "reserved"),  # discard-only
        ("::ffff:0:7f00:1", "reserved"),  # IPv4-translated
        ("4000::1", "reserved"),  # outside global unicast
    ],
)
def test_forbidden_addresses(address: str, kind: str) -> None:
    assert forbidden(ip(address)) == kind


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "100.63.255.255",  # just below the shared range
        "100.128.0.0",  # just above it
        "172.15.255.255",
        "172.32.0.0",
        "198.51.100.2",  # documentation: allowed on purpose (the netns test's public host)
        "192.0.2.1",
        "203.0.113.9",
        "2001:4860:4860::8888",
        "2606:4700::1111",
        "2001:db8::1",  # documentation
        "::ffff:8.8.8.8",  # IPv4-mapped public
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
        "2002:808:808::1",  # 6to4 of 8.8.8.8
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert forbidden(ip(address)) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f.0x0.0x0.0x1", "127.0.0.1"),
        ("10.0.0.1.", "10.0.0.1"),  # one trailing dot, as resolvers read it
        ("017700000001", "127.0.0.1"),
        ("167772161", "10.0.0.1"),
        ("3232235777", "192.168.1.1"),
        ("0xa9fea9fe", "169.254.169.254"),
        ("8.8.8.8", "8.8.8.8"),
        ("::1", "::1"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
    ],
)
def test_numeric_spellings_are_read_like_inet_aton(host: str, address: str) -> None:
    assert parse_numeric_host(host) == ip(address)


@pytest.mark.parametrize("host", ["example.com", "localhost", "1e100.net", "0x1g", "xn--nxasmq6b.com", "0x.com"])
def test_names_are_not_numbers(host: str) -> None:
    assert parse_numeric_host(host) is None


@pytest.mark.parametrize("host", ["1.2.3.256", "256.1", "4294967296", "08.0.0.1", "a.0x7f", "1.2.3.4.5", "1..2", "1:2"])
def test_bad_numbers_are_not_left_to_a_resolver(host: str) -> None:
    with pytest.raises(NotAnAddress):
        parse_numeric_host(host)


def _refused(url: str) -> EgressRefused:
    with pytest.raises(EgressRefused) as caught:
        check_url(url)
    return caught.value


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://[64:ff9b::a00:1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::1]/",
        "http://[::1]:8080/x",
        "http://[::]/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://0/",
        "http://0.0.0.0:9090/metrics",
        "https://127.0.0.1:8443/",
        "http://127.0.0.1.:80/",
        "http://[fe80::1]/",
        "http://[ff02::1]/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
    ],
)
def test_urls_to_forbidden_addresses_are_refused(url: str) -> None:
    refusal = _refused(url)
    assert refusal.reason == "address", refusal


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "ftp://ftp.example.com/pub/file.mp4",
        "gopher://127.0.0.1:6379/_INFO",
        "data:text/html,<script>alert(1)</script>",
        "data:text/plain,hello world",
        "javascript:alert(1)",
        "dict://127.0.0.1:11211/stats",
        "ldap://127.0.0.1/",
        "sftp://example.com/x",
        "rtsp://example.com/stream",
        "ws://example.com/socket",
        "jar:http://example.com/x.jar!/",
        "netdoc:///etc/passwd",
        "//example.com/x",
        "example.com/video.mp4",
    ],
)
def test_other_schemes_are_refused_with_a_clear_reason(url: str) -> None:
    refusal = _refused(url)
    assert refusal.reason == "scheme", refusal


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pass@example.com/",
        "http://user@example.com/",
        "http://@example.com/",
        "https://example.com@127.0.0.1/",
        "http://evil.com%40127.0.0.1@127.0.0.1/",
    ],
)
def test_credentials_are_refused(url: str) -> None:
    assert _refused(url).reason == "credentials"


@pytest.mark.parametrize(
    "url",
    [
        "http:///path",
        "http:example.com",
        "http://exa mple.com/",
        "http://example.com\t/",
        "http://example.com/\n",
        "http://[::1/",
        "http://[example.com]/",
        "http://::1/",
        "http://example.com:0/",
        "http://example.com:65536/",
        "http://example.com:80a/",
        "http://1.2.3.256/",
        "http://08.1.1.1/",
        "http://exa_mple.com\\@127.0.0.1/",
        "http://[fe80::1%25eth0]/",
        "http://exa%2emple.com/",
        "http://" + "a" * 300 + ".com/",
        "",
    ],
)
def test_malformed_urls_are_refused(url: str) -> None:
    assert _refused(url).reason == "malformed"


def test_a_public_url_parses_to_its_target() -> None:
    target = check_url("https://Example.COM:8443/watch?v=1#t=3")
    assert (target.scheme, target.host, target.port, target.ip) == ("https", "example.com", 8443, None)
    assert target.origin_form == "/watch?v=1"
    assert target.authority == "example.com:8443"
    plain = check_url("http://8.8.8.8")
    assert (plain.host, plain.port, plain.ip, plain.origin_form, plain.authority) == (
        "8.8.8.8",
        80,
        ip("8.8.8.8"),
        "/",
        "8.8.8.8",
    )


def test_a_public_numeric_host_in_another_spelling_is_normalised() -> None:
    target = check_url("http://0x08080808/x")
    assert target.host == "8.8.8.8" and target.ip == ip("8.8.8.8")


def test_international_names_are_encoded() -> None:
    assert check_url("http://bücher.example/").host == "xn--bcher-kva.example"


def test_parse_url_leaves_the_address_decision_to_the_policy() -> None:
    # Sandbox mode reaches a loopback origin, so the parse alone does not refuse addresses.
    assert parse_url("http://127.0.0.1:8081/media/sample.mp4").ip == ip("127.0.0.1")
    with pytest.raises(EgressRefused) as caught:
        parse_url("file:///etc/passwd")
    assert caught.value.reason == "scheme"


@pytest.mark.parametrize(
    ("authority", "host", "port"),
    [
        ("example.com:443", "example.com", 443),
        ("[2001:db8::1]:8443", "2001:db8::1", 8443),
        ("127.1:22", "127.0.0.1", 22),
    ],
)
def test_connect_authorities(authority: str, host: str, port: int) -> None:
    target = parse_authority(authority)
    assert (target.host, target.port) == (host, port)


@pytest.mark.parametrize("authority", ["example.com", "example.com:", "u:p@example.com:443", "/x:1", "[::1]"])
def test_bad_connect_authorities(authority: str) -> None:
    with pytest.raises(EgressRefused):
        parse_authority(authority)
