"""Which URLs and addresses a client may have the server fetch: each refusal, and what passes."""

from __future__ import annotations

import ipaddress

import pytest

from pagesage.domain.fetch_policy import AllowList, check_addresses, check_url, is_public
from pagesage.errors import UrlNotAllowed

NOBODY = AllowList()
LOOPBACK_TESTS = AllowList.parse("127.0.0.1:8443, localhost:9000,[::1]:8080")


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.0.9", "10.0.0.1", "172.16.5.4", "192.168.1.1",  # loopback, RFC 1918
    "169.254.169.254", "169.254.1.1",  # link-local, the metadata server
    "100.64.0.1",  # carrier-grade NAT (RFC 6598)
    "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",  # unspecified, multicast, reserved
    "192.0.2.10", "198.51.100.1", "203.0.113.5", "198.18.0.1",  # documentation, benchmarking
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",  # IPv4-mapped
    "2002:7f00:1::", "2002:a9fe:a9fe::1",  # 6to4 around loopback and the metadata server
    "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1",  # NAT64 to the metadata server, loopback
    "2001:0:4136:e378:8000:63bf:56ff:fefe",  # Teredo whose client is 169.254.1.1 (obfuscated)
])
def test_addresses_that_are_not_public_are_refused(address):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "142.250.74.110", "207.241.224.2", "2001:4860:4860::8888",
                                     "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses_pass(address):
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", [
    "http://example.org/scan.pdf",  # only https
    "ftp://example.org/scan.pdf", "file:///etc/passwd", "gopher://example.org/", "scan.pdf", "//example.org/x",
    "https://user:secret@example.org/scan.pdf", "https://user@example.org/scan.pdf",  # credentials
    "https:///scan.pdf", "https://:443/scan.pdf",  # no host
    "https://example.org:0/x", "https://example.org:99999/x", "https://example.org:port/x",  # bad ports
    "https://127.0.0.1/x", "https://[::1]/x", "https://169.254.169.254/latest/meta-data/",
    "https://[::ffff:169.254.169.254]/", "https://10.0.0.1:8443/x",  # private literals
    "https://exa mple.org/x", "https://example.org/\nHost: evil", "https://example.org/" + "a" * 2100,
])
def test_urls_a_client_may_not_name_are_refused_before_anything_is_fetched(url):
    with pytest.raises(UrlNotAllowed) as refused:
        check_url(url, NOBODY)
    assert refused.value.http_status == 400 and refused.value.error_code == "url_not_allowed"


def test_a_public_https_url_passes_with_its_parts():
    target = check_url("https://Archive.ORG./download/item/scan.pdf?x=1", NOBODY)
    assert (target.scheme, target.host, target.port, target.path, target.admitted) == \
        ("https", "archive.org", 443, "/download/item/scan.pdf?x=1", False)
    assert target.literal is None
    assert check_url("https://8.8.8.8:8443", NOBODY).path == "/"


def test_an_international_host_name_is_checked_in_its_idna_form():
    assert check_url("https://bücher.example/scan.pdf", NOBODY).host == "xn--bcher-kva.example"


def test_the_allow_list_admits_named_hosts_over_http_and_private_addresses():
    target = check_url("http://127.0.0.1:8443/fixture.pdf", LOOPBACK_TESTS)
    assert target.admitted and target.literal == ipaddress.ip_address("127.0.0.1")
    assert check_url("http://[::1]:8080/x", LOOPBACK_TESTS).admitted
    local = check_url("http://LOCALHOST:9000/bucket/key", LOOPBACK_TESTS)
    assert check_addresses(local, [ipaddress.ip_address("127.0.0.1")]) == [ipaddress.ip_address("127.0.0.1")]


def test_the_allow_list_is_by_host_and_port():
    with pytest.raises(UrlNotAllowed):
        check_url("http://127.0.0.1:8444/x", LOOPBACK_TESTS)  # another port
    with pytest.raises(UrlNotAllowed):
        check_url("https://127.0.0.1/x", LOOPBACK_TESTS)  # 443 is not admitted


def test_a_host_resolving_to_any_private_address_is_refused():
    target = check_url("https://rebind.example/scan.pdf", NOBODY)
    public, metadata = ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("169.254.169.254")
    assert check_addresses(target, [public]) == [public]
    for answers in ([metadata], [public, metadata], [metadata, public], []):
        with pytest.raises(UrlNotAllowed):
            check_addresses(target, answers)


@pytest.mark.parametrize("text", ["localhost", "localhost:", "localhost:0", "localhost:70000", ":80", "[::1]"])
def test_a_malformed_allow_list_entry_is_an_error(text):
    with pytest.raises(ValueError):
        AllowList.parse(text)


def test_an_empty_allow_list_admits_nothing():
    assert AllowList.parse(" , ").hosts == frozenset()
