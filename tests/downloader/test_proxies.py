"""The download proxies' rotation on a scripted clock."""

from __future__ import annotations

import pytest

from downloader.egress.rotation import ProxyRotation, redact_proxy

A, B, C = "http://a.test:3128", "socks5://user:secret@b.test:1080", "https://c.test:443"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_proxies_are_used_in_turn() -> None:
    rotation = ProxyRotation([A, B, C], 300, Clock())
    assert [rotation.next() for _ in range(7)] == [A, B, C, A, B, C, A]


def test_no_proxies_means_none() -> None:
    rotation = ProxyRotation([], 300, Clock())
    assert rotation.next() is None and len(rotation) == 0


def test_a_failed_proxy_is_set_aside_then_comes_back() -> None:
    clock = Clock()
    rotation = ProxyRotation([A, B, C], 300, clock)
    rotation.failed(B)
    assert [rotation.next() for _ in range(4)] == [A, C, A, C]
    assert rotation.resting() == [B]
    clock.now += 299.9
    assert rotation.next() != B and rotation.next() != B
    clock.now += 0.1
    assert B in {rotation.next() for _ in range(3)}
    assert rotation.resting() == []


def test_all_set_aside_gives_none_until_the_first_is_back() -> None:
    clock = Clock()
    rotation = ProxyRotation([A, B], 60, clock)
    rotation.failed(A)
    clock.now += 10
    rotation.failed(B)
    assert rotation.next() is None
    clock.now += 50
    assert rotation.next() == A
    assert rotation.next() == A  # B rests 10 s more
    clock.now += 10
    assert {rotation.next(), rotation.next()} == {A, B}


def test_a_second_failure_restarts_the_rest() -> None:
    clock = Clock()
    rotation = ProxyRotation([A, B], 60, clock)
    rotation.failed(A)
    clock.now += 59
    rotation.failed(A)
    clock.now += 59
    assert rotation.resting() == [A]


def test_an_unknown_url_and_duplicates_are_harmless() -> None:
    rotation = ProxyRotation([A, A, B], 60, Clock())
    rotation.failed("http://other.test:1")
    assert len(rotation) == 2 and [rotation.next() for _ in range(3)] == [A, B, A]


def test_a_negative_rest_is_refused() -> None:
    with pytest.raises(ValueError):
        ProxyRotation([A], -1, Clock())


def test_redaction_hides_credentials() -> None:
    assert redact_proxy(B) == "socks5://b.test:1080"
    assert "secret" not in redact_proxy("http://u:secret@h.test")
    assert redact_proxy("http://[::1:bad") == "<unparsable proxy URL>"
