"""The one-line disk and interface formats shared by the host form and the CSV import."""

import pytest
from django.core.exceptions import ValidationError

from inventory.formats import format_disks, format_interfaces, parse_disks, parse_interfaces
from inventory.models import Interface


def test_parse_disks_reads_name_size_and_kind():
    assert parse_disks("sda:480:ssd, sdb:4000:hdd") == [
        {"name": "sda", "size_gb": 480, "kind": "ssd"},
        {"name": "sdb", "size_gb": 4000, "kind": "hdd"},
    ]


def test_parse_disks_accepts_semicolons_newlines_tb_suffix_and_no_kind():
    assert parse_disks("nvme0n1:2T:NVMe;\nsdc : 960") == [
        {"name": "nvme0n1", "size_gb": 2000, "kind": "nvme"},
        {"name": "sdc", "size_gb": 960},
    ]


@pytest.mark.parametrize("text", ["", "   ", None, ", ,"])
def test_parse_disks_empty_means_no_disks(text):
    assert parse_disks(text) == []


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("sda", "write name:size_gb"),
        ("sda:big:ssd", "whole number of GB"),
        ("sda:-5", "whole number of GB"),
        ("sda:480:s s d", "short word"),
        ("s da:480", "name may only hold"),
        ("sda:480, sda:960", "listed twice"),
    ],
)
def test_parse_disks_rejects_bad_items_with_a_message_naming_them(text, fragment):
    with pytest.raises(ValidationError) as caught:
        parse_disks(text)
    assert any(fragment in message for message in caught.value.messages), caught.value.messages


def test_parse_disks_reports_every_bad_item():
    with pytest.raises(ValidationError) as caught:
        parse_disks("sda:x, sdb:480, sdc:y")
    assert len(caught.value.messages) == 2
    assert 'Disk "sda:x"' in caught.value.messages[0] and 'Disk "sdc:y"' in caught.value.messages[1]


def test_format_disks_round_trips():
    text = "sda:480:ssd, sdb:4000:hdd, sdc:120"
    assert format_disks(parse_disks(text)) == text
    assert format_disks([]) == "" and format_disks(None) == ""


def test_parse_interfaces_reads_name_mac_and_ip():
    assert parse_interfaces("eth0=52:54:00:AA:bb:cc/10.0.0.5; eth1=/10.0.1.5; ipmi0; eth2=52:54:00:aa:bb:cd") == [
        {"name": "eth0", "mac_address": "52:54:00:aa:bb:cc", "ip_address": "10.0.0.5"},
        {"name": "eth1", "mac_address": "", "ip_address": "10.0.1.5"},
        {"name": "ipmi0", "mac_address": "", "ip_address": None},
        {"name": "eth2", "mac_address": "52:54:00:aa:bb:cd", "ip_address": None},
    ]


def test_parse_interfaces_accepts_ipv6():
    assert parse_interfaces("eth0=/2001:db8::5")[0]["ip_address"] == "2001:db8::5"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("eth0=52:54:00:aa:bb/10.0.0.5", "not a MAC address"),
        ("eth0=52:54:00:aa:bb:cc/10.0.0.300", "not an IPv4 or IPv6 address"),
        ("=52:54:00:aa:bb:cc", "write name=mac/ip"),
        ("eth 0=/10.0.0.1", "write name=mac/ip"),
        ("eth0=/10.0.0.1; eth0=/10.0.0.2", "listed twice"),
    ],
)
def test_parse_interfaces_rejects_bad_items(text, fragment):
    with pytest.raises(ValidationError) as caught:
        parse_interfaces(text)
    assert any(fragment in message for message in caught.value.messages), caught.value.messages


def test_format_interfaces_round_trips_dicts_and_models():
    text = "eth0=52:54:00:aa:bb:cc/10.0.0.5; eth1=/10.0.1.5; ipmi0"
    assert format_interfaces(parse_interfaces(text)) == text
    models = [Interface(name="eth0", mac_address="52:54:00:aa:bb:cc", ip_address="10.0.0.5"), Interface(name="lo")]
    assert format_interfaces(models) == "eth0=52:54:00:aa:bb:cc/10.0.0.5; lo"
