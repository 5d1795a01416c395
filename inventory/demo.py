"""The demo estate: the seed story's datacenter, so a fresh `make run` has something to show.

App servers are named after solar bodies, database servers after comic characters, web
servers after mythological figures (and Thor, after a long lunch debate, is a web server).
Marvin, the mail server, is dead. Two spares wait in the rack and the first hypervisors
are on order: virtualisation is next.

Loading is idempotent: everything is found by its natural key (slug, name, hostname) and
only created when missing. Nothing that already exists is changed, so edits made in the
console survive another `make run`. All addresses are data only; nothing contacts them.
"""

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import Host, HostStatus, Interface, JournalEntry, NamingScheme, Rack, Role, Site, Tag
from .services import add_journal_entry, change_status

logger = logging.getLogger(__name__)

SITE = {"slug": "ams1", "name": "Amsterdam DC1", "address": "Science Park 120, Amsterdam",
        "description": "Primary datacenter, cage 4"}
RACKS = ("R01", "R02", "R03", "R04")

NAMING_SCHEMES = {
    "Solar bodies": ("App servers", [
        "luna", "saturn", "jupiter", "mars", "venus", "mercury", "neptune", "uranus", "pluto", "titan",
        "europa", "ganymede", "callisto", "io", "phobos", "deimos", "triton", "charon", "ceres", "vesta",
    ]),
    "Comic characters": ("Database servers", [
        "superman", "batman", "wonderwoman", "flash", "aquaman", "cyborg", "robin", "joker",
        "catwoman", "hulk", "storm", "wolverine", "thor",
    ]),
    "Mythological figures": ("Web servers", [
        "odin", "hera", "thor", "zeus", "apollo", "athena", "freya", "loki", "hermes", "artemis",
        "poseidon", "frigg", "balder", "tyr",
    ]),
    "Hitchhiker's guide": ("Mail servers: the sysadmin's favourite book", [
        "marvin", "zaphod", "trillian", "arthur", "ford", "slartibartfast", "eddie", "deepthought",
    ]),
    "Oracles": ("Directory servers: they know everyone", ["delphi", "dodona", "siwa", "cumae"]),
    "Numbered hypervisors": (
        "Hypervisors are cattle, not pets: the end of the naming debates", [f"hv{n}" for n in range(1, 17)],
    ),
}

# slug, name, naming scheme, strict naming, description
ROLES = (
    ("app", "App server", "Solar bodies", False, "Java application servers (Tomcat)"),
    ("db", "Database server", "Comic characters", True, "PostgreSQL and Oracle databases"),
    ("web", "Web server", "Mythological figures", False, "Front-end web servers and reverse proxies"),
    ("mail", "Mail server", "Hitchhiker's guide", False, "Company e-mail"),
    ("directory", "Directory server", "Oracles", False, "Active Directory / LDAP"),
    ("hypervisor", "Hypervisor", "Numbered hypervisors", False, "libvirt/KVM hosts for virtual machines"),
)

# slug, name, colour
TAGS = (
    ("prod", "prod", "#198754"),
    ("legacy", "legacy", "#6c757d"),
    ("pci", "pci", "#dc3545"),
    ("dmz", "dmz", "#fd7e14"),
    ("backup", "backup", "#0d6efd"),
)

# Front-end network per role (198.19.<subnet>.x); storage on <subnet + 1>, BMCs on <subnet + 2>.
SUBNETS = {"web": 10, "app": 20, "db": 30, "mail": 40, "directory": 50, "hypervisor": 60, None: 90}
VENDOR_OUI = {"Dell": "d0:94:66", "HPE": "94:40:c9", "Supermicro": "ac:1f:6b"}
BMC_USER = {"Dell": "root", "HPE": "Administrator", "Supermicro": "ADMIN"}


@dataclass
class DemoHost:
    hostname: str
    role: str | None
    status: str
    rack: str
    position: int
    u_height: int
    vendor: str
    model: str
    cpu_sockets: int
    cpu_cores: int
    memory_gib: int
    disks: list
    owner: str
    tags: tuple = ()
    notes: str = ""
    fails: tuple | None = None  # (days ago, reason): it was active, then died
    journal: list = field(default_factory=list)  # (days ago, kind, text), oldest first


def ssd(name, size_gb):
    return {"name": name, "size_gb": size_gb, "kind": "ssd"}


def hdd(name, size_gb):
    return {"name": name, "size_gb": size_gb, "kind": "hdd"}


def nvme(name, size_gb):
    return {"name": name, "size_gb": size_gb, "kind": "nvme"}


K = JournalEntry.Kind
APP_DISKS = [ssd("sda", 480), ssd("sdb", 480)]
DB_DISKS = [ssd("sda", 480), ssd("sdb", 480)] + [ssd(f"sd{c}", 1920) for c in "cdefgh"]
HV_DISKS = [nvme("nvme0n1", 960), nvme("nvme1n1", 960)] + [nvme(f"nvme{n}n1", 3840) for n in range(2, 6)]

HOSTS = (
    DemoHost("luna", "app", HostStatus.ACTIVE, "R01", 20, 2, "Dell", "PowerEdge R650", 2, 32, 256,
             APP_DISKS, "Platform team", ("prod",)),
    DemoHost("saturn", "app", HostStatus.ACTIVE, "R01", 22, 2, "Dell", "PowerEdge R650", 2, 32, 256,
             APP_DISKS, "Platform team", ("prod",)),
    DemoHost("jupiter", "app", HostStatus.ACTIVE, "R01", 24, 2, "Dell", "PowerEdge R640", 2, 20, 192,
             APP_DISKS, "Platform team", ("prod", "legacy"), journal=[
                 (60, K.NOTE, "Out of warranty since March. First candidate to become a VM once the hypervisors are in."),
             ]),
    DemoHost("superman", "db", HostStatus.ACTIVE, "R02", 10, 2, "HPE", "ProLiant DL380 Gen10", 2, 36, 512,
             DB_DISKS, "Database team", ("prod", "pci", "backup"), journal=[
                 (30, K.MAINTENANCE, "iLO and BIOS firmware upgraded during the Sunday window; PostgreSQL failed over to batman and back."),
             ]),
    DemoHost("batman", "db", HostStatus.ACTIVE, "R02", 12, 2, "HPE", "ProLiant DL380 Gen10", 2, 36, 512,
             DB_DISKS, "Database team", ("prod", "pci", "backup")),
    DemoHost("odin", "web", HostStatus.ACTIVE, "R01", 30, 1, "Supermicro", "SYS-1029P-WTR", 2, 24, 128,
             [ssd("sda", 480)], "Web team", ("prod", "dmz")),
    DemoHost("hera", "web", HostStatus.ACTIVE, "R01", 31, 1, "Supermicro", "SYS-1029P-WTR", 2, 24, 128,
             [ssd("sda", 480)], "Web team", ("prod", "dmz")),
    DemoHost("thor", "web", HostStatus.ACTIVE, "R01", 32, 1, "Supermicro", "SYS-1029P-WTR", 2, 24, 128,
             [ssd("sda", 480)], "Web team", ("prod", "dmz"),
             notes="Thor is in both the comic-character and the mythological pools. Web server, by lunch-table vote.",
             journal=[
                 (400, K.NOTE, "Long lunch discussion on whether Thor should be a DB server or a web server. "
                               "Outcome: he is a god before he is a comic character, so he serves the web. "
                               "The database team has asked us to write down that they disagree."),
             ]),
    DemoHost("marvin", "mail", HostStatus.ACTIVE, "R03", 15, 1, "Dell", "PowerEdge R430", 1, 8, 64,
             [hdd(f"sd{c}", 2000) for c in "abcd"], "IT operations", ("prod", "legacy", "backup"),
             # Marvin's bad week, told through the same service the console uses.
             fails=(2.0, "Marvin is dead: no power, no lights, no e-mail. Everyone is on IRC until further notice."),
             journal=[
                 (1.98, K.INCIDENT, "Marvin is dead: mail bounces for the whole company since 07:40. Announced on IRC."),
                 (1.0, K.REPAIR, "Pulled marvin out of R03. The power supply is burnt out; replacement PSU ordered."),
                 (0.1, K.REPAIR, "New PSU fitted, marvin boots. One RAID disk (sdc) failed too: rebuilding, then "
                                 "restore /var/mail from last night's backup before it goes back into service."),
             ]),
    DemoHost("delphi", "directory", HostStatus.ACTIVE, "R03", 16, 1, "Dell", "PowerEdge R440", 1, 12, 64,
             [ssd("sda", 240), ssd("sdb", 240)], "Identity team", ("prod",)),
    DemoHost("spare-01", None, HostStatus.SPARE, "R03", 30, 1, "Dell", "PowerEdge R640", 2, 20, 192,
             APP_DISKS, "IT operations", journal=[
                 (90, K.NOTE, "Racked and powered as a spare: when a box dies, its job moves here."),
             ]),
    DemoHost("spare-02", None, HostStatus.SPARE, "R03", 31, 1, "Dell", "PowerEdge R640", 2, 20, 192,
             APP_DISKS[:1] + [hdd(f"sd{c}", 2000) for c in "bcde"], "IT operations", journal=[
                 (60, K.NOTE, "The big-disk spare: room for a mail or backup box's data when one of those dies."),
             ]),
    DemoHost("hv1", "hypervisor", HostStatus.PLANNED, "R04", 10, 2, "Supermicro", "AS-2124US-TNRP", 2, 64, 1024,
             HV_DISKS, "Virtualisation team", journal=[
                 (14, K.NOTE, "Ordered with hv2 and hv3: why run a single app server on a machine whose capacity "
                              "we do not use? Plan: virtualise jupiter first, then the rest."),
             ]),
    DemoHost("hv2", "hypervisor", HostStatus.PLANNED, "R04", 12, 2, "Supermicro", "AS-2124US-TNRP", 2, 64, 1024,
             HV_DISKS, "Virtualisation team"),
    DemoHost("hv3", "hypervisor", HostStatus.PLANNED, "R04", 14, 2, "Supermicro", "AS-2124US-TNRP", 2, 64, 1024,
             HV_DISKS, "Virtualisation team"),
)

@dataclass
class LoadResult:
    created: list = field(default_factory=list)
    existing: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)  # hostname -> why


def _find_or_create(model, natural_keys, defaults):
    """The row matching any of its natural keys, else a new one. Existing rows are left as they are."""
    query = Q()
    for key in natural_keys:
        query |= Q(**key)
    found = model.objects.filter(query).first()
    if found is not None:
        return found
    values = {k: v for key in natural_keys for k, v in key.items()} | defaults
    return model.objects.create(**values)


def _stable_digits(text, length, alphabet="0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"):
    """Deterministic, realistic-looking serial characters from a host name."""
    digest = int(hashlib.sha256(text.encode()).hexdigest(), 16)
    chars = []
    for _ in range(length):
        digest, index = divmod(digest, len(alphabet))
        chars.append(alphabet[index])
    return "".join(chars)


def _serial(spec):
    if spec.vendor == "Dell":
        return _stable_digits(spec.hostname, 7)  # a service tag
    if spec.vendor == "HPE":
        return "CZJ" + _stable_digits(spec.hostname, 7)
    return "S" + _stable_digits(spec.hostname, 11, alphabet="0123456789")


def _addresses(spec, index):
    subnet = SUBNETS[spec.role]
    host_part = 10 + index
    oui = VENDOR_OUI[spec.vendor]
    # 198.19.0.0/16, in the range reserved for network benchmarks that the lab routes
    # nowhere (hypervisors.lab): the health checks of made-up hosts never leave the machine.
    return {
        "front": f"198.19.{subnet}.{host_part}",
        "storage": f"198.19.{subnet + 1}.{host_part}",
        "bmc": f"198.19.{subnet + 2}.{host_part}",
        "macs": [f"{oui}:{index:02x}:{subnet:02x}:{nic:02x}" for nic in (1, 2)],
    }


def _new_host(spec, index, site, racks, roles, addresses):
    return Host(
        hostname=spec.hostname, role=roles.get(spec.role), site=site, rack=racks[spec.rack],
        position=spec.position, u_height=spec.u_height, status=spec.status,
        serial=_serial(spec), asset_tag=f"AMS1-{index + 1:05d}", vendor=spec.vendor, model=spec.model,
        cpu_sockets=spec.cpu_sockets, cpu_cores=spec.cpu_cores, memory_mib=spec.memory_gib * 1024,
        disks=spec.disks, mgmt_address=addresses["front"], bmc_address=addresses["bmc"],
        bmc_username=BMC_USER[spec.vendor], bmc_password=secrets.token_urlsafe(12),
        owner=spec.owner, notes=spec.notes,
    )


# Fields a clash with the user's own data may take away rather than fail the whole load.
GIVE_WAY_FIELDS = {"position": None, "asset_tag": None}


def _validated(host):
    """Validate like the console does. If a user's own host took this one's rack units or
    asset tag, give those up instead of failing `make run`; anything else is a demo bug."""
    try:
        host.full_clean()
    except ValidationError as exc:
        clashes = set(exc.message_dict) & set(GIVE_WAY_FIELDS)
        if not clashes or set(exc.message_dict) - set(GIVE_WAY_FIELDS):
            raise
        for name in clashes:
            setattr(host, name, GIVE_WAY_FIELDS[name])
        host.full_clean()
    return host


def _tell_story(host, spec):
    """Spread the story over the past days, so the journal reads like a history."""
    now = timezone.now()
    if spec.fails:
        days, reason = spec.fails
        change_status(host, HostStatus.FAILED, user=None, reason=reason, at=now - timedelta(days=days))
    for days, kind, text in spec.journal:
        add_journal_entry(host, text, kind=kind, at=now - timedelta(days=days))


def _create_host(spec, index, site, racks, roles, tags):
    addresses = _addresses(spec, index)
    host = _validated(_new_host(spec, index, site, racks, roles, addresses))
    host.save()
    host.tags.set([tags[slug] for slug in spec.tags])
    front_mac, storage_mac = addresses["macs"]
    Interface.objects.bulk_create([
        Interface(host=host, name="eno1", mac_address=front_mac, ip_address=addresses["front"]),
        Interface(host=host, name="eno2", mac_address=storage_mac, ip_address=addresses["storage"]),
    ])
    _tell_story(host, spec)
    return host


@transaction.atomic
def load_demo():
    """Create whatever part of the demo estate is missing. Returns a LoadResult."""
    site = _find_or_create(Site, [{"slug": SITE["slug"]}, {"name": SITE["name"]}],
                           {"address": SITE["address"], "description": SITE["description"]})
    racks = {name: _find_or_create(Rack, [{"site": site, "name": name}], {"u_height": 42}) for name in RACKS}
    schemes = {
        name: _find_or_create(NamingScheme, [{"name": name}], {"description": description, "names": names})
        for name, (description, names) in NAMING_SCHEMES.items()
    }
    roles = {
        slug: _find_or_create(Role, [{"slug": slug}, {"name": name}], {
            "naming_scheme": schemes[scheme], "strict_naming": strict, "description": description,
        })
        for slug, name, scheme, strict, description in ROLES
    }
    tags = {slug: _find_or_create(Tag, [{"slug": slug}, {"name": name}], {"color": color})
            for slug, name, color in TAGS}

    result = LoadResult()
    existing = set(Host.objects.filter(hostname__in=[h.hostname for h in HOSTS]).values_list("hostname", flat=True))
    for index, spec in enumerate(HOSTS):
        if spec.hostname in existing:
            result.existing.append(spec.hostname)
            continue
        try:
            with transaction.atomic():
                _create_host(spec, index, site, racks, roles, tags)
        except ValidationError as exc:
            # A user's data makes this demo host impossible (e.g. a strict role renamed): skip it.
            result.skipped[spec.hostname] = "; ".join(m for ms in exc.message_dict.values() for m in ms)
            logger.warning("demo host %s skipped: %s", spec.hostname, result.skipped[spec.hostname])
            continue
        result.created.append(spec.hostname)
    return result
