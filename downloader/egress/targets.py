"""What a download may name: parsing a URL or a CONNECT authority, and the refusal (no I/O here).

`parse_url(url)` reads a link the way the egress proxy will act on it and refuses what may never
be fetched: schemes other than http/https, credentials, malformed URLs, hosts in spellings a
resolver could read differently. `check_url(url)` also refuses a numeric host (in any spelling)
that names a forbidden address. Names are resolved later, by the policy (`policy.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from downloader.egress.addresses import IPAddress, NotAnAddress, forbidden, parse_numeric_host

__all__ = [
    "ALLOWED_SCHEMES",
    "REASONS",
    "REFUSAL_KEYS",
    "EgressRefused",
    "ParsedTarget",
    "check_url",
    "parse_authority",
    "parse_url",
]

# Why a target was refused; a short enum-like string the engine maps to a text for the user.
REASONS = frozenset({"scheme", "credentials", "address", "not_sandbox", "unresolvable", "malformed"})
REFUSAL_KEYS = {  # the user's text for each reason
    "scheme": "link_refused_scheme",
    "credentials": "link_refused_credentials",
    "address": "link_refused_address",
    "not_sandbox": "link_refused_not_sandbox",
    "unresolvable": "link_refused_unresolvable",
    "malformed": "link_refused_malformed",
}
ALLOWED_SCHEMES = {"http": 80, "https": 443}
MAX_URL_CHARS = 16_384
MAX_HOST_CHARS = 253
_NAME = re.compile(r"^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")


class EgressRefused(Exception):
    """A target the guard will not connect to; `reason` is one of REASONS, `detail` says more.

    `text_key` names the user's explanation in core/texts (`link_refused_<reason>`); `detail`
    is for the log (it may name an internal address), not for the user.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    @property
    def text_key(self) -> str:
        return REFUSAL_KEYS[self.reason]


@dataclass(frozen=True)
class ParsedTarget:
    """A checked target: scheme ("" for a CONNECT authority), canonical host, port, path."""

    scheme: str
    host: str  # lower-case ASCII name, or the address in canonical text
    port: int
    ip: IPAddress | None  # the address when the host is numeric
    origin_form: str = "/"  # path and query, as sent to the origin

    @property
    def authority(self) -> str:
        """host[:port] for a Host header or a log line; the port only when not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if ALLOWED_SCHEMES.get(self.scheme) == self.port:
            return host
        return f"{host}:{self.port}"


def parse_url(url: str) -> ParsedTarget:
    """Parse an http(s) URL, refusing other schemes, credentials and malformed ones (no I/O)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        raise EgressRefused("malformed", "empty or too long")
    scheme, sep, rest = url.partition(":")
    if not sep or not _SCHEME.match(scheme):
        raise EgressRefused("scheme", "the link has no scheme")
    scheme = scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise EgressRefused("scheme", f"{scheme}: is not http or https")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise EgressRefused("malformed", "control character or space in the URL")
    if not rest.startswith("//"):
        raise EgressRefused("malformed", "no host")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise EgressRefused("malformed", str(exc)) from None
    if "\\" in parts.netloc:
        raise EgressRefused("malformed", "backslash in the host")
    if "@" in parts.netloc:
        raise EgressRefused("credentials", "user name or password in the link")
    host, port = _split_authority(parts.netloc, ALLOWED_SCHEMES[scheme])
    path = parts.path or "/"
    return _target(scheme, host, port, f"{path}?{parts.query}" if parts.query else path)


def parse_authority(authority: str) -> ParsedTarget:
    """Parse the `host:port` of a CONNECT request; the port is required (no I/O)."""
    if not authority or len(authority) > MAX_HOST_CHARS + 8 or "/" in authority:
        raise EgressRefused("malformed", "CONNECT needs host:port")
    if "@" in authority:
        raise EgressRefused("credentials", "user name or password in the host")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in authority):
        raise EgressRefused("malformed", "control character or space in the host")
    host, port = _split_authority(authority, None)
    return _target("", host, port, "")


def check_url(url: str) -> ParsedTarget:
    """parse_url, and refuse a numeric host (in any spelling) that names a forbidden address.

    A name is not resolved here; `Policy.admit` does that. Sandbox mode does not use this
    check (its origin is a loopback address): `Policy.admit_url` applies the mode's rules.
    """
    target = parse_url(url)
    if target.ip is not None and (kind := forbidden(target.ip)) is not None:
        raise EgressRefused("address", f"{target.ip} is {kind}")
    return target


def _split_authority(netloc: str, default_port: int | None) -> tuple[str, int]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise EgressRefused("malformed", "unclosed [ in the host")
        host, rest = netloc[1:end], netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise EgressRefused("malformed", "junk after ]")
        if ":" not in host:
            raise EgressRefused("malformed", "brackets around a non-IPv6 host")
        raw_port = rest[1:] if rest else ""
    else:
        host, sep, raw_port = netloc.rpartition(":")
        if not sep:
            host, raw_port = netloc, ""
        if ":" in host:
            raise EgressRefused("malformed", "IPv6 address without brackets")
    if not raw_port:
        if default_port is None:
            raise EgressRefused("malformed", "no port")
        return host, default_port
    if not _PORT.match(raw_port) or not 0 < int(raw_port) < 65536:
        raise EgressRefused("malformed", f"bad port {raw_port[:8]!r}")
    return host, int(raw_port)


def _target(scheme: str, host: str, port: int, origin_form: str) -> ParsedTarget:
    if not host:
        raise EgressRefused("malformed", "no host")
    if "%" in host:
        raise EgressRefused("malformed", "percent sign or zone index in the host")
    if ":" not in host:
        host = _ascii_host(host)
    try:
        ip = parse_numeric_host(host)
    except NotAnAddress:
        raise EgressRefused("malformed", f"{host[:64]} is neither a name nor an address") from None
    if ip is not None:
        return ParsedTarget(scheme, str(ip), port, ip, origin_form)
    return ParsedTarget(scheme, host.rstrip("."), port, None, origin_form)


def _ascii_host(host: str) -> str:
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise EgressRefused("malformed", "host name cannot be encoded") from None
    host = host.lower()
    if len(host) > MAX_HOST_CHARS or not _NAME.match(host):
        raise EgressRefused("malformed", f"bad host name {host[:64]!r}")
    return host
