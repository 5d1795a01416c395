"""domain_xml is built with an XML library: a quote, '<' or '&' in a name or a disk path
stays data, read back by libvirt itself (its in-process test driver) exactly as given."""

import uuid
import xml.etree.ElementTree as ET

import libvirt
import pytest

from hypervisors.drivers.libvirt_driver import parse_devices
from hypervisors.services.actions import domain_xml

AWKWARD_PATH = "/srv/vm's \"disks\" & <more>/o'brien.qcow2"


@pytest.fixture
def test_driver():
    conn = libvirt.open("test:///default")
    yield conn
    conn.close()


def test_quotes_and_markup_in_values_stay_data():
    root = ET.fromstring(domain_xml("o'brien<x>&y", 2, 256, disk_path=AWKWARD_PATH, disk_format="raw"))
    assert root.findtext("name") == "o'brien<x>&y"
    assert root.find("./devices/disk/source").get("file") == AWKWARD_PATH
    assert root.find("./devices/disk/driver").get("type") == "raw"
    assert (root.findtext("memory"), root.findtext("vcpu")) == ("256", "2")
    assert root.find("./devices/graphics").get("listen") == "127.0.0.1"
    assert parse_devices(ET.tostring(root, encoding="unicode"))[0] == [
        {"target": "vda", "path": AWKWARD_PATH, "format": "raw"}
    ]


def test_a_path_cannot_add_attributes_or_elements():
    injected = "/srv/x.qcow2' type='block'/><source dev='/dev/sda"
    disks = ET.fromstring(domain_xml("ceres", 1, 64, disk_path=injected)).findall("./devices/disk")
    assert len(disks) == 1 and len(disks[0].findall("source")) == 1
    assert disks[0].get("type") == "file" and disks[0].find("source").get("file") == injected


def test_libvirt_defines_the_domain_as_written(test_driver):
    domain_uuid = uuid.uuid4()
    dom = test_driver.defineXML(domain_xml("o'brien", 1, 64, disk_path=AWKWARD_PATH, domain_uuid=domain_uuid))
    try:
        assert dom.name() == "o'brien" and dom.UUIDString() == str(domain_uuid)
        disks, _nics = parse_devices(dom.XMLDesc(0))
        assert [disk["path"] for disk in disks] == [AWKWARD_PATH]
    finally:
        dom.undefine()
