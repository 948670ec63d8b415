"""Which addresses a guide fetch may reach, as data (the fetches themselves: test_epg_import.py)."""

from __future__ import annotations

import ipaddress

import pytest

from catalog.guide.fetch import FetchAllow, check_url, parse_allow, refused_address


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "169.254.0.1",
    "100.64.0.1", "0.0.0.0", "224.0.0.1", "239.1.1.1", "255.255.255.255", "192.0.2.1", "240.0.0.1",
    "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "ff0e::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",  # IPv4-mapped
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",  # NAT64 of loopback and of the metadata service
    "2002:7f00:1::1", "2002:a00:1::1",  # 6to4 of loopback and of 10.0.0.1
])
def test_internal_addresses_are_refused(address: str) -> None:
    assert refused_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8",
                                     "64:ff9b::808:808"])
def test_public_addresses_are_not(address: str) -> None:
    assert refused_address(ipaddress.ip_address(address)) is None


def test_the_allow_list_takes_networks_and_host_names() -> None:
    allow = parse_allow(" 127.0.0.0/8, fd00::/8 ,Guide.Internal., 10.0.0.7 ")
    assert allow.allows("x", ipaddress.ip_address("127.0.0.2"))
    assert allow.allows("x", ipaddress.ip_address("fd12::1")) and allow.allows("x", ipaddress.ip_address("10.0.0.7"))
    assert allow.allows("guide.internal", ipaddress.ip_address("192.168.9.9"))
    assert not allow.allows("x", ipaddress.ip_address("10.0.0.8"))
    assert not allow.allows("other.internal", ipaddress.ip_address("192.168.9.9"))
    assert parse_allow("") == FetchAllow()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/guide.xml", "http://[::1]/g", "http://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/g", "http://[::ffff:127.0.0.1]/g", "http://0.0.0.0/g", "http://localhost:9000/g",
    "http://api.localhost/g", "ftp://example.com/g", "file:///etc/passwd",
    # what the URL parser itself refuses (schemathesis found these as 500s)
    "https://x@|_\u00bc/g", "https://\udb8f\udd82.example/g", "http://[::1/g",
])
def test_urls_naming_internal_hosts_or_no_host_at_all_are_refused_early(url: str) -> None:
    with pytest.raises(ValueError):
        check_url(url, FetchAllow())


@pytest.mark.parametrize("url, allow", [
    ("https://guides.example.com/week.xml.gz", ""), ("http://8.8.8.8/g", ""),
    ("http://127.0.0.1:8080/guide.xml", "127.0.0.1/32"), ("http://localhost/g", "localhost"),
    ("http://[fd00::5]/g", "fd00::/8"),
])
def test_public_or_allowed_urls_pass_the_early_check(url: str, allow: str) -> None:
    check_url(url, parse_allow(allow))
