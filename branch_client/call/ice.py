"""Which local addresses the terminal offers as ICE host candidates.

aioice gathers host candidates from every interface except loopback and has no setting for it.
A demo or a test that runs hub, terminal and browser on one machine wants exactly the opposite:
loopback only, so no packet is addressed outside the machine. :func:`restrict_host_candidates`
replaces aioice's address lookup for this process; with no addresses it leaves it alone.
"""

from __future__ import annotations

import ipaddress

import aioice.ice


def restrict_host_candidates(addresses: tuple[str, ...]) -> None:
    if not addresses:
        return
    for address in addresses:
        ipaddress.ip_address(address)  # fail fast on a typo

    def only_these(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [
            a
            for a in addresses
            if (use_ipv4 and ipaddress.ip_address(a).version == 4)
            or (use_ipv6 and ipaddress.ip_address(a).version == 6)
        ]

    aioice.ice.get_host_addresses = only_these
