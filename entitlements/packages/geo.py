"""Where a client is: the operator's address-range table, looked up in memory."""

from __future__ import annotations

import bisect
import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class GeoTable:
    """Sorted, non-overlapping address ranges with their countries (one table per IP version)."""

    starts: dict[int, list[int]]
    ranges: dict[int, list[tuple[int, int, str]]]

    @classmethod
    def build(cls, rows: list[tuple[str, str]]) -> "GeoTable":
        """Build a table from (CIDR, country) rows; a narrower range wins where ranges nest."""
        by_version: dict[int, list[tuple[int, int, str]]] = {4: [], 6: []}
        # Widest first, so narrower ranges painted later cut holes in them.
        nets = sorted(((ipaddress.ip_network(cidr, strict=False), cc.upper()) for cidr, cc in rows),
                      key=lambda item: item[0].prefixlen)
        for net, cc in nets:
            by_version[net.version] = _paint(by_version[net.version],
                                             (int(net.network_address), int(net.broadcast_address), cc))
        return cls({v: [r[0] for r in rs] for v, rs in by_version.items()}, by_version)

    def country(self, address: str) -> str | None:
        """Return the country of an address, or None when it is in no range (or not an address)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        value = int(ip)
        i = bisect.bisect_right(self.starts[ip.version], value) - 1
        if i >= 0:
            start, end, cc = self.ranges[ip.version][i]
            if start <= value <= end:
                return cc
        return None


def _paint(ranges: list[tuple[int, int, str]], new: tuple[int, int, str]) -> list[tuple[int, int, str]]:
    start, end, _ = new
    out = []
    for a, b, cc in ranges:
        if b < start or a > end:
            out.append((a, b, cc))
            continue
        if a < start:
            out.append((a, start - 1, cc))
        if b > end:
            out.append((end + 1, b, cc))
    out.append(new)
    return sorted(out)


def parse_ranges(text: str) -> list[tuple[str, str]]:
    """Parse "CIDR,CC" lines (comments with #); raise ValueError naming the first bad line."""
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 2 or len(parts[1]) != 2 or not parts[1].isalpha():
            raise ValueError(f"line {n}: expected CIDR,COUNTRY (e.g. 83.0.0.0/11,PL)")
        try:
            net = ipaddress.ip_network(parts[0], strict=False)
        except ValueError as err:
            raise ValueError(f"line {n}: {err}") from None
        rows.append((str(net), parts[1].upper()))
    return rows
