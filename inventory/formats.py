"""One-line text formats for a host's disks and interfaces, shared by the console
forms and the CSV import/export so a sysadmin types the same thing everywhere:

    disks:       "sda:480:ssd, sdb:4000:hdd"            (name:size_gb[:kind]; 4T = 4000 GB)
    interfaces:  "eth0=52:54:00:aa:bb:cc/10.0.0.5; eth1=/10.0.1.5; ipmi0"   (name[=mac][/ip])

parse_* return plain lists of dicts (ready for Host.disks or Interface rows) or raise
django's ValidationError naming the offending item; format_* are their inverses.
"""

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address

from .models import MAC_VALIDATOR

# Items may be separated by commas, semicolons or new lines (a pasted column).
_ITEM_SEPARATOR = re.compile(r"[,;\n]")
_DISK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
_DISK_KIND = re.compile(r"^[a-z0-9-]{1,16}$")
_DISK_SIZE = re.compile(r"^(?P<number>\d+)\s*(?P<unit>g|gb|t|tb)?$", re.IGNORECASE)
_INTERFACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,31}$")

DISK_EXAMPLE = "sda:480:ssd, sdb:4000:hdd"
INTERFACE_EXAMPLE = "eth0=52:54:00:aa:bb:cc/10.0.0.5; eth1=/10.0.1.5"


def _items(text):
    return [item.strip() for item in _ITEM_SEPARATOR.split(text or "") if item.strip()]


def _raise_if(errors):
    if errors:
        raise ValidationError(errors)


# --- disks -------------------------------------------------------------------


def _parse_size_gb(size_text):
    match = _DISK_SIZE.match(size_text.strip())
    if not match:
        return None
    number = int(match["number"])
    unit = (match["unit"] or "g").lower()
    return number * 1000 if unit.startswith("t") else number


def parse_disk(item):
    """'sdb:4000:hdd' -> {"name": "sdb", "size_gb": 4000, "kind": "hdd"}."""
    parts = [part.strip() for part in item.split(":")]
    if len(parts) not in (2, 3) or not parts[0]:
        raise ValidationError(f'Disk "{item}": write name:size_gb[:kind], e.g. sdb:4000:hdd.', code="invalid_disk")
    name, size_text = parts[0], parts[1]
    if not _DISK_NAME.match(name):
        raise ValidationError(
            f'Disk "{item}": the name may only hold letters, digits, ".", "_", "/" or "-".', code="invalid_disk"
        )
    size_gb = _parse_size_gb(size_text)
    if size_gb is None:
        raise ValidationError(
            f'Disk "{item}": the size must be a whole number of GB (or TB with a T suffix), e.g. 480 or 4T.',
            code="invalid_disk",
        )
    disk = {"name": name, "size_gb": size_gb}
    if len(parts) == 3 and parts[2]:
        kind = parts[2].lower()
        if not _DISK_KIND.match(kind):
            raise ValidationError(
                f'Disk "{item}": the kind must be a short word such as ssd, hdd or nvme.', code="invalid_disk"
            )
        disk["kind"] = kind
    return disk


def parse_disks(text):
    """Parse "sda:480:ssd, sdb:4000:hdd" into Host.disks. Empty text means no disks."""
    disks, errors, seen = [], [], set()
    for item in _items(text):
        try:
            disk = parse_disk(item)
        except ValidationError as exc:
            errors.extend(exc.error_list)
            continue
        if disk["name"] in seen:
            errors.append(ValidationError(f'Disk "{disk["name"]}" is listed twice.', code="duplicate_disk"))
            continue
        seen.add(disk["name"])
        disks.append(disk)
    _raise_if(errors)
    return disks


def format_disk(disk):
    text = f"{disk.get('name', '')}:{disk.get('size_gb', 0)}"
    return f"{text}:{disk['kind']}" if disk.get("kind") else text


def format_disks(disks):
    """The inverse of parse_disks: Host.disks -> "sda:480:ssd, sdb:4000:hdd"."""
    return ", ".join(format_disk(disk) for disk in disks or [] if isinstance(disk, dict))


# --- interfaces --------------------------------------------------------------


def parse_interface(item):
    """'eth0=52:54:00:AA:BB:CC/10.0.0.5' -> {"name": "eth0", "mac_address": "52:54:00:aa:bb:cc",
    "ip_address": "10.0.0.5"}. MAC and address are optional ("eth1=/10.0.1.5", "ipmi0")."""
    name, _, rest = (part.strip() for part in item.partition("="))
    mac, _, ip = (part.strip() for part in rest.partition("/"))
    if not _INTERFACE_NAME.match(name):
        raise ValidationError(
            f'Interface "{item}": write name=mac/ip, e.g. eth0=52:54:00:aa:bb:cc/10.0.0.5 '
            "(the name is up to 32 letters, digits, '.', '_', ':', '@' or '-').",
            code="invalid_interface",
        )
    mac = mac.lower()
    if mac:
        try:
            MAC_VALIDATOR(mac)
        except ValidationError:
            raise ValidationError(
                f'Interface {name}: "{mac}" is not a MAC address (six colon-separated hex pairs).',
                code="invalid_interface",
            ) from None
    if ip:
        try:
            validate_ipv46_address(ip)
        except ValidationError:
            raise ValidationError(
                f'Interface {name}: "{ip}" is not an IPv4 or IPv6 address.', code="invalid_interface"
            ) from None
    return {"name": name, "mac_address": mac, "ip_address": ip or None}


def parse_interfaces(text):
    """Parse "eth0=52:54:00:aa:bb:cc/10.0.0.5; eth1=..." into a list of interface dicts."""
    interfaces, errors, seen = [], [], set()
    for item in _items(text):
        try:
            interface = parse_interface(item)
        except ValidationError as exc:
            errors.extend(exc.error_list)
            continue
        if interface["name"] in seen:
            errors.append(
                ValidationError(f'Interface "{interface["name"]}" is listed twice.', code="duplicate_interface")
            )
            continue
        seen.add(interface["name"])
        interfaces.append(interface)
    _raise_if(errors)
    return interfaces


def _attr(interface, name):
    return interface.get(name) if isinstance(interface, dict) else getattr(interface, name, None)


def format_interface(interface):
    """One interface (a dict or an Interface) as "eth0=52:54:00:aa:bb:cc/10.0.0.5"."""
    name, mac, ip = _attr(interface, "name"), _attr(interface, "mac_address"), _attr(interface, "ip_address")
    text = name
    if mac or ip:
        text += f"={mac or ''}"
    if ip:
        text += f"/{ip}"
    return text


def format_interfaces(interfaces):
    """The inverse of parse_interfaces, for dicts or Interface objects."""
    return "; ".join(format_interface(interface) for interface in interfaces or [])
