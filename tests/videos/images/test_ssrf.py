"""SSRF: non-public destinations are refused before any socket is opened, in every spelling."""

from __future__ import annotations

import ipaddress

import pytest

from videos.images import ImageError, image_accept
from videos.images.addresses import is_public, parse_ipv4_loose

from .conftest import FakeResolver, SocketGuard

LOOPBACK_SPELLINGS = [
    "http://127.0.0.1/a.png",
    "http://2130706433/a.png",  # decimal
    "http://0x7f000001/a.png",  # hex
    "http://0177.0.0.1/a.png",  # octal
    "http://0177.0000.0000.0001/a.png",
    "http://127.1/a.png",  # short form
    "http://0x7f.0.0.1/a.png",  # dotted hex
    "http://0x7f.1/a.png",
    "http://127.0.0.1./a.png",  # trailing dot
    "http://127.0.0.1:8080/a.png",
    "https://127.0.0.1/a.png",
    "HTTP://127.0.0.1/a.png",
    "http://[::1]/a.png",
    "http://[::ffff:127.0.0.1]/a.png",  # IPv4-mapped
    "http://[::ffff:7f00:1]/a.png",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/a.png",
    "http://[::127.0.0.1]/a.png",  # IPv4-compatible (deprecated)
    "http://[2002:7f00:1::1]/a.png",  # 6to4 wrapping 127.0.0.1
    "http://[64:ff9b::7f00:1]/a.png",  # NAT64 wrapping 127.0.0.1
    "http://１２７.０.０.１/a.png",  # fullwidth digits: IDNA folds them into 127.0.0.1
]

PRIVATE_LITERALS = [
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://10.0.0.1/",
    "http://10.255.255.255/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.1.1/",
    "http://0xc0a80101/",  # 192.168.1.1
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://2852039166/",  # 169.254.169.254 as a decimal
    "http://0xa9.0xfe.0xa9.0xfe/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fd00:ec2::254]/",  # AWS metadata over IPv6 (unique-local)
    "http://100.64.0.1/",  # CGNAT
    "http://100.127.255.254/",
    "http://224.0.0.1/",  # multicast
    "http://239.255.255.250/",
    "http://240.0.0.1/",  # reserved
    "http://255.255.255.255/",
    "http://192.0.2.1/",  # documentation
    "http://198.18.0.1/",  # benchmarking
    "http://[fe80::1]/",  # link-local
    "http://[fe80::1%25eth0]/",  # ... with a zone id
    "http://[fc00::1]/",  # unique-local
    "http://[fd12:3456:789a::1]/",
    "http://[fec0::1]/",  # site-local
    "http://[ff02::1]/",  # multicast
    "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:c0a8:101]/",
    "http://[2002:c0a8:101::1]/",  # 6to4 wrapping 192.168.1.1
    "http://[2002:a9fe:a9fe::]/",  # 6to4 wrapping the metadata address
    "http://[64:ff9b::a00:1]/",  # NAT64 wrapping 10.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
]


def _reject(url: str, resolver: FakeResolver, **kwargs: object) -> ImageError:
    with pytest.raises(ImageError) as info:
        image_accept(url, field="head_image", allow_hosts=[], resolver=resolver, **kwargs)
    return info.value


@pytest.mark.parametrize("url", LOOPBACK_SPELLINGS + PRIVATE_LITERALS)
def test_it_refuses_private_ip_literals_without_dns_or_sockets(url: str, sockets: SocketGuard) -> None:
    resolver = FakeResolver("93.184.216.34")  # would be public: must not even be asked
    error = _reject(url, resolver)
    assert error.code == "forbidden_address"
    assert error.field == "head_image" and error.message.startswith("head_image: ")
    assert resolver.calls == []
    assert sockets.attempts == []


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["10.1.2.3"],
        ["169.254.169.254"],
        ["::1"],
        ["::ffff:127.0.0.1"],
        ["fd00::1"],
        ["fe80::1%eth0"],
        ["93.184.216.34", "10.0.0.5"],  # one bad answer spoils the lot: the OS may pick any
        ["2606:2800:220:1::1", "192.168.0.10"],
        ["10.0.0.5", "93.184.216.34"],
        ["not-an-ip"],  # an answer we cannot judge fails closed
    ],
)
def test_it_refuses_hostnames_resolving_to_private_addresses(
    addresses: list[str], sockets: SocketGuard
) -> None:
    resolver = FakeResolver(*addresses)
    error = _reject("https://images.example.com/cat.png", resolver)
    assert error.code == "forbidden_address"
    assert resolver.calls == ["images.example.com"]
    assert sockets.attempts == []
    for ip in addresses:
        assert ip not in error.message


@pytest.mark.parametrize("url", ["http://localhost/", "http://LOCALHOST./", "http://img.localhost:8000/"])
def test_it_refuses_localhost_names_before_resolving(url: str, sockets: SocketGuard) -> None:
    resolver = FakeResolver("93.184.216.34")
    assert _reject(url, resolver).code == "forbidden_address"
    assert resolver.calls == []
    assert sockets.attempts == []


def test_it_resolves_once_and_connects_to_the_vetted_address(sockets: SocketGuard) -> None:
    # The guard refuses the connection; what matters is where it was aimed and that DNS ran once,
    # so a second (rebinding) answer could never be used.
    resolver = FakeResolver("93.184.216.34")
    error = _reject("http://images.example.com/cat.png", resolver, timeout=0.5)
    assert error.code == "image_fetch_failed"
    assert resolver.calls == ["images.example.com"]
    assert sockets.attempts == [("93.184.216.34", 80)]
    assert "93.184.216.34" not in error.message


def test_it_treats_a_resolver_failure_as_a_fetch_error(sockets: SocketGuard) -> None:
    def resolver(*args: object, **kwargs: object) -> list[tuple[object, ...]]:
        raise OSError("Name or service not known")

    with pytest.raises(ImageError) as info:
        image_accept("https://nowhere.invalid/x.png", field="tail_image", allow_hosts=[], resolver=resolver)
    assert info.value.code == "image_fetch_failed" and info.value.field == "tail_image"
    assert sockets.attempts == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/a.png",
        "gopher://example.com:70/_x",
        "javascript:alert(1)",
        "dict://127.0.0.1:11211/stats",
        "/relative/a.png",
        "//example.com/a.png",
        "example.com/a.png",
        "http://",
        "http:///a.png",
        "http:example.com/a.png",
        "http://exa mple.com/a.png",
        "http://example.com/a\n.png",
        "http://example.com\\@127.0.0.1/",
        "http://example.com:99999/a.png",
        "http://example.com:0/a.png",
        "http://example.com:port/a.png",
        "http://256.0.0.1/",
        "http://1.2.3.4.5/",
        "http://08.0.0.1/",
        "http://[::1/",
        "http://[not-v6]/",
        "http://exa%6dple.com/",
        "http://-bad-.example/",
        "   ",
        "",
    ],
)
def test_it_refuses_other_schemes_and_malformed_urls(url: str, sockets: SocketGuard) -> None:
    resolver = FakeResolver("93.184.216.34")
    error = _reject(url, resolver)
    assert error.code == "invalid_image"
    assert error.field == "head_image" and "head_image" in error.message
    assert sockets.attempts == []


@pytest.mark.parametrize(
    "url", ["http://user:hunter2@example.com/a.png", "https://token-s3cr3t@example.com/a.png"]
)
def test_it_refuses_credentials_without_echoing_them(url: str, sockets: SocketGuard) -> None:
    error = _reject(url, FakeResolver("93.184.216.34"))
    assert error.code == "invalid_image"
    for secret in ("hunter2", "s3cr3t", "example.com"):
        assert secret not in error.message
    assert sockets.attempts == []


def test_it_refuses_non_strings(sockets: SocketGuard) -> None:
    with pytest.raises(ImageError) as info:
        image_accept(None, field="head_image", allow_hosts=[])  # type: ignore[arg-type]
    assert info.value.code == "invalid_image"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1.256", "10.1.1.0"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("8.8.8.8", "8.8.8.8"),
        ("0", "0.0.0.0"),
        ("1.2.3.4.5", None),
        ("256.0.0.1", None),
        ("1.2.65536", None),
        ("08.0.0.1", None),
        ("0x1g.0.0.1", None),
        ("1_0.0.0.1", None),
        ("example.com", None),
    ],
)
def test_parse_ipv4_loose(host: str, expected: str | None) -> None:
    parsed = parse_ipv4_loose(host)
    assert (str(parsed) if parsed else None) == expected


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:8.8.8.8", True),  # mapped public v4 is as public as the v4
        ("64:ff9b::808:808", True),  # NAT64 of a public v4 (DNS64 networks hand these out)
        ("2002:808:808::1", True),
        ("127.0.0.1", False),
        ("100.64.0.1", False),
        ("233.252.0.1", False),  # multicast that ipaddress calls "global"
        ("fec0::1", False),  # site-local that ipaddress calls "global"
        ("2002:7f00:1::", False),  # 6to4 that ipaddress calls "global"
        ("::ffff:0:a00:1", False),  # IPv4-translated 10.0.0.1
    ],
)
def test_is_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public
