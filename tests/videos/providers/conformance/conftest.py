"""Conformance tests: each vendor's official SDK (a client no one here wrote) against our fake vendor.

The network is closed for them: every socket may connect to 127.0.0.0/8 only and host names other than
localhost do not resolve, so an SDK that tried to reach its real host (telemetry, a retry to a backup domain,
a credentials fetch) fails the test instead of leaving the machine. Proxies from the environment are off.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from tests.fakevendors import FakeVendor, Request

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def _loopback(host: Any) -> bool:
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return str(host) in ("localhost",)


@pytest.fixture(autouse=True)
def network_closed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse every connection and name lookup outside loopback; record what was refused."""
    refused: list[str] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            refused.append(f"connect {address}")
            raise ConnectionRefusedError(f"network closed in tests: {address}")
        return real_connect(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _loopback(host):
            refused.append(f"resolve {host}")
            raise socket.gaierror(socket.EAI_NONAME, f"network closed in tests: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("no_proxy", "*")
    yield refused
    assert not refused, f"an SDK tried to leave the machine: {refused}"


def creates(fake: FakeVendor) -> list[Request]:
    """The create requests a fake received (POSTs), in order."""
    return [r for r in fake.requests if r.method == "POST"]


def same_request(sdk: Request, ours: Request, *, headers: tuple[str, ...]) -> None:
    """The adapter's request matches the SDK's: method, path, the named headers, the JSON body."""
    assert (ours.method, ours.path) == (sdk.method, sdk.path)
    for name in headers:
        assert ours.headers.get(name) == sdk.headers.get(name), name
    assert ours.json == sdk.json
