"""Which hosts an image URL may point at: public addresses only, every spelling of an IP recognised.

The SSRF defence has two halves. Here: turn a URL host into the exact list of IP addresses we will
connect to, refusing the whole host if any of them is non-public. In `fetch`: connect only to those
addresses (never resolving the name again), so a DNS answer cannot change between check and use.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .errors import ImageError, fail

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., Sequence[tuple[Any, ...]]]

# `is_global` alone is not enough: Python calls multicast, site-local fec0::/10 and 6to4 2002::/16
# "global". These are refused outright, whatever ipaddress thinks of them.
_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host on Linux
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, incl. the 169.254.169.254 cloud metadata service
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. 255.255.255.255
        "::/96",  # unspecified, loopback and the deprecated IPv4-compatible form
        "100::/64",  # discard-only
        "2001::/32",  # Teredo: the embedded client address is obfuscated, so refuse the lot
        "2001:db8::/32",
        "64:ff9b:1::/48",  # local-use NAT64
        "fc00::/7",  # unique-local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated, still routed by some stacks)
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIIT = ipaddress.ip_network("::ffff:0:0:0/96")  # IPv4-translated addresses (RFC 2765)

_HOSTNAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?:\.(?!-)[a-z0-9_-]{1,63})*")
_DEC = re.compile(r"0|[1-9][0-9]*")  # "08" is a broken octal, not eight
_HEX = re.compile(r"0x[0-9a-f]*")
_OCT = re.compile(r"0[0-7]+")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address really delivers to (mapped, 6to4, NAT64, SIIT), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or ip in _SIIT:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """True only for unicast addresses reachable on the public internet."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:  # "fe80::1%eth0": zone ids only make sense for link-local
            return False
        if (v4 := embedded_ipv4(ip)) is not None:
            # The packet ends up at the embedded IPv4 address, so that is the one to judge.
            return is_public(v4)
        if ip.is_site_local:
            return False
    if any(ip in net for net in _BLOCKED):
        return False
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
        or ip.is_unspecified
    )


def _ipv4_number(part: str) -> int | None:
    """One dotted part as inet_aton/WHATWG read it: decimal, 0x hex or 0-prefixed octal."""
    if _HEX.fullmatch(part):
        return int(part[2:] or "0", 16)
    if _OCT.fullmatch(part):
        return int(part, 8)
    if _DEC.fullmatch(part):
        return int(part)
    return None


def _ends_in_number(host: str) -> bool:
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    return bool(re.fullmatch(r"[0-9]+|0x[0-9a-f]*", parts[-1]))  # WHATWG: then it must parse as IPv4


def parse_ipv4_loose(host: str) -> ipaddress.IPv4Address | None:
    """Read `2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`, `0x7f.0.0.1`, `127.0.0.1.` as IPv4.

    Operating systems (inet_aton) and browsers accept all of these, so a filter that only knows
    dotted decimal can be walked around. Returns None for anything that is not a number at all.
    """
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    *leading, last = numbers  # type: ignore[misc]  # None ruled out above
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for i, n in enumerate(leading):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def normalize_host(host: str, *, bracketed: bool, field: str) -> str | IPAddress:
    """A URL host as an IP address (any spelling) or a lower-case ASCII hostname without trailing dot."""
    if bracketed:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise fail(field, "invalid_image", "the URL has an invalid IPv6 host.") from None
    if not host.isascii():
        try:  # what getaddrinfo would do with it; NFKC folds fullwidth digits into an IP, for one
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise fail(field, "invalid_image", "the URL has an invalid host name.") from None
    host = host.lower()
    if _ends_in_number(host):
        if (ip := parse_ipv4_loose(host)) is None:
            raise fail(field, "invalid_image", "the URL has an invalid IP address as host.")
        return ip
    host = host.removesuffix(".")
    if len(host) > 253 or not _HOSTNAME.fullmatch(host):
        raise fail(field, "invalid_image", "the URL has an invalid host name.")
    return host


def allow_list(hosts: Iterable[str]) -> frozenset[str]:
    """Normalise `IMAGE_FETCH_ALLOW_HOSTS` entries the same way URL hosts are (case, dot, IP spelling)."""
    if isinstance(hosts, str):  # "a.example,b.example" from an env var, not a list of characters
        hosts = hosts.split(",")
    keys = set()
    for entry in hosts:
        entry = entry.strip().lower()
        bracketed = entry.startswith("[") and entry.endswith("]")
        try:
            keys.add(str(normalize_host(entry.strip("[]"), bracketed=bracketed, field="-")))
        except ImageError:
            continue  # a malformed entry allows nothing
    return frozenset(keys)


def _forbidden(field: str) -> ImageError:
    return fail(field, "forbidden_address", "the image URL points to a private, local or reserved network "
                "address; only public addresses are allowed.")


def vet_host(
    host: str | IPAddress, port: int, *, field: str, allowed: bool, resolver: Resolver
) -> list[IPAddress]:
    """The addresses to connect to for `host`, every one of them checked.

    IP literals are judged without DNS. A hostname is resolved once with `resolver`
    (`getaddrinfo`-shaped); if any answer is non-public the host is refused, since the OS may pick
    any of them. Allow-listed hosts skip the public-address rule, nothing else.
    """
    if not isinstance(host, str):
        if not allowed and not is_public(host):
            raise _forbidden(field)
        return [host]
    if not allowed and (host == "localhost" or host.endswith(".localhost")):
        raise _forbidden(field)  # RFC 6761: always loopback, whatever a resolver says
    try:
        answers = resolver(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise fail(field, "image_fetch_failed", "the image host could not be resolved.") from None
    addresses: list[IPAddress] = []
    for answer in answers:
        try:
            ip = ipaddress.ip_address(answer[4][0])
        except (ValueError, TypeError, IndexError):
            raise _forbidden(field) from None  # fail closed on an answer we cannot judge
        if not allowed and not is_public(ip):
            raise _forbidden(field)
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise fail(field, "image_fetch_failed", "the image host could not be resolved.")
    return addresses
