"""The client's address, believing X-Forwarded-For only from our own proxies (TRUSTED_PROXY_NETWORKS).

Walking the header from the right, every hop that is a trusted proxy is skipped; the first address that is
not one is the client. A header that a client wrote itself therefore cannot choose the address: its
entries stand to the left of the first untrusted hop and are never reached.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=4)
def _trusted(networks: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(net, strict=False) for net in networks)


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(request: HttpRequest) -> str:
    trusted = _trusted(tuple(settings.TRUSTED_PROXY_NETWORKS))
    remote = request.META.get("REMOTE_ADDR", "")
    if not trusted or not _is_trusted(remote, trusted):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote  # a malformed hop: fall back to the proxy we know
    return remote
