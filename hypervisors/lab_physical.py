"""Physical lab hosts: the lab's machinery (namespaces, link, sshd, faults; see
hypervisors.lab) without libvirtd, but with a disk of their own and the services of
the demo's servers: a PostgreSQL database server, an app server that reads from it.

The disk is a loop device over a sparse image under the host's lab directory, with an
ext4 filesystem made once and mounted at /srv in the host's own mount namespace. Like a
real disk it outlives a power-off (the loop device stays attached; the mount goes with
the namespace) and the host boots from it again, data and all; the lab detaches it only
at lab down. The host sees only its own disk (`lsblk`): /sys/block is replaced in its
namespace by a directory holding its loop device alone, and its private /run holds the
udev record lsblk reads a filesystem type from (this machine runs no udev).
"""

import shlex
import subprocess
import time
from pathlib import Path

from .lab_run import LabError, run

DEMO_PHYSICAL = {"luna": "app", "superman": "database"}  # name -> service
SERVICE_PORTS = {"database": 5432, "app": 8080, "": None}
DISK_SIZE = 4 * 1024**3  # apparent size; the image is sparse, a fresh filesystem uses a few MiB
DISK_IMAGE = "disk.img"
MOUNTPOINT = "/srv"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SYSTEM_PYTHON = Path("/usr/bin/python3")  # not the venv's: its interpreter lives under this machine's /root
PG_DATA = f"{MOUNTPOINT}/postgresql/15/main"
LAB_NETWORK = "198.18.0.0/15"
SHOP_APP = Path(__file__).with_name("lab_shop.py")
REQUIRED_BINARIES = ("losetup", "mkfs.ext4", "blkid", "setpriv")


def missing_programs(services, which):
    """What the physical hosts of these services need and this machine lacks."""
    missing = [b for b in REQUIRED_BINARIES if which(b) is None]
    needed = {"database": [PG_BIN / "postgres"], "app": [SYSTEM_PYTHON, PG_BIN / "psql"]}
    return missing + [str(p) for s in services for p in needed.get(s, []) if not p.exists()]


def attach_disk(image: Path, size: int) -> str:
    """The host's disk as a loop device (the one already attached to its image, if any):
    the sparse image and its filesystem are made once, so a host boots with its data."""
    if not image.exists():
        image.parent.mkdir(parents=True, exist_ok=True)
        with open(image, "wb") as disk:
            disk.truncate(size)
    attached = attached_devices(image)
    device = attached[0] if attached else run(["losetup", "--find", "--show", str(image)]).strip()
    probed = subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", device], capture_output=True, text=True)
    if probed.stdout.strip() != "ext4":  # a new image, or a mkfs interrupted before it finished
        # Lazy init: the journal and inode tables are left sparse instead of zeroed on the image.
        run(["mkfs.ext4", "-q", "-F", "-L", "srv", "-E", "lazy_itable_init=1,lazy_journal_init=1", device])
    return Path(device).name


def attached_devices(image: Path) -> list[str]:
    """The loop devices backed by this image (normally one, none once detached)."""
    if not image.exists():
        return []
    return run(["losetup", "--noheadings", "--output", "NAME", "--associated", str(image)]).split()


def detach_disk(image: Path, timeout=10) -> int:
    """Detach the image's loop devices. Called once the host's processes are gone: its
    mount lived only in its mount namespace, which went with them, so nothing is left to
    unmount; while the kernel still releases that filesystem, `losetup -d` only marks the
    device for detaching, hence the wait until it is really gone."""
    devices = attached_devices(image)
    for device in devices:
        subprocess.run(["losetup", "--detach", device], capture_output=True)
    deadline = time.monotonic() + timeout
    while attached_devices(image):
        if time.monotonic() > deadline:
            raise LabError(f"{image} is still attached to {', '.join(attached_devices(image))}")
        time.sleep(0.1)
    return len(devices)


def boot_script(host, host_dir: Path, sshd_config: Path, database_address: str) -> str:
    """The part of the host's boot script after the common start (hostname, /etc/hosts,
    /root): its own /run and /dev/shm, its disk, its services, and sshd as the process that
    keeps the host up."""
    device = f"/dev/{host.disk_device}"
    lines = [
        # A /run and /dev/shm of its own, as a booted host has: sshd's and PostgreSQL's
        # runtime files never meet this machine's, and nothing is left behind at power-off.
        f"mount -t tmpfs {host.token} /run",
        f"mount -t tmpfs {host.token} /dev/shm",
        "mkdir -p /run/sshd",
        f"mkdir -p {MOUNTPOINT}",
        f"mount {device} {MOUNTPOINT}",
        f"mount -t tmpfs {host.token} /sys/block",
        f"ln -s ../devices/virtual/block/{host.disk_device} /sys/block/{host.disk_device}",
        "mkdir -p /run/udev/data",
        # What udev's blkid builtin would have recorded: lsblk reads FSTYPE from it.
        f"blkid -o udev -p {device} | sed 's/^/E:/' > /run/udev/data/b$(cat /sys/block/{host.disk_device}/dev)",
    ]
    if host.service == "database":
        lines += _postgresql(host, host_dir)
    elif host.service == "app":
        lines += _shop_app(host, database_address)
    lines.append(f"exec /usr/sbin/sshd -D -f {sshd_config}")
    return "\n".join(lines)


def _postgresql(host, host_dir: Path):
    """PostgreSQL 15 on the host's disk, its cluster made and the demo's shop database
    loaded at first boot; reachable from the lab network without a password (a lab only)."""
    (host_dir / "shop.sql").write_text(SHOP_SQL)
    as_postgres = "setpriv --reuid postgres --regid postgres --init-groups"
    psql = f"{PG_BIN}/psql -X -q -h /run/postgresql -U postgres"
    return [
        "install -d -o postgres -g postgres /run/postgresql",
        f"if [ ! -s {PG_DATA}/PG_VERSION ]; then",
        f"  mkdir -p {PG_DATA} && chown -R postgres:postgres {MOUNTPOINT}/postgresql && chmod 700 {PG_DATA}",
        f"  {as_postgres} {PG_BIN}/initdb -D {PG_DATA} -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null",
        f"  echo \"unix_socket_directories = '/run/postgresql'\" >> {PG_DATA}/postgresql.conf",
        f"  echo 'host all all {LAB_NETWORK} trust' >> {PG_DATA}/pg_hba.conf",
        "fi",
        # The host has just booted: a postmaster.pid left by a power-off names no live server
        # (its pid may belong to an unrelated process of this machine by now).
        f"rm -f {PG_DATA}/postmaster.pid",
        f"{as_postgres} {PG_BIN}/pg_ctl -D {PG_DATA} -l {MOUNTPOINT}/postgresql/server.log -w -t 60 "
        f"-o '-c listen_addresses={host.address}' start >/dev/null",
        # Loaded until it is complete: a power-off halfway through loads it again at the next boot.
        f"if ! {psql} -d shop -tAc \"SELECT to_regclass('public.orders')\" 2>/dev/null | grep -q orders; then",
        f"  {PG_BIN}/createdb -h /run/postgresql -U postgres shop 2>/dev/null || true",
        f"  {psql} -d shop -1 -v ON_ERROR_STOP=1 -f {host_dir / 'shop.sql'}",
        "fi",
    ]


def _shop_app(host, database_address):
    """The shop's HTTP service, installed on the host's disk at each boot, in the
    background (it serves whether the database answers or not)."""
    app = f"{MOUNTPOINT}/app"
    command = [str(SYSTEM_PYTHON), f"{app}/shop.py", host.address, str(SERVICE_PORTS["app"]), database_address,
               f"{app}/requests.log", str(PG_BIN / "psql")]
    return [f"mkdir -p {app}", f"cp {SHOP_APP} {app}/shop.py",
            f"{shlex.join(command)} >> {app}/service.log 2>&1 &"]


SHOP_SQL = """CREATE TABLE orders (
    id serial PRIMARY KEY,
    customer text NOT NULL,
    item text NOT NULL,
    quantity integer NOT NULL,
    amount numeric(10, 2) NOT NULL,
    placed_at timestamptz NOT NULL
);
INSERT INTO orders (customer, item, quantity, amount, placed_at)
SELECT 'customer-' || (n % 250), (ARRAY['keyboard', 'monitor', 'cable', 'ssd', 'rack rail'])[1 + n % 5],
       1 + n % 4, 5 + (n * 37) % 500, now() - (5000 - n) * interval '7 minutes'
FROM generate_series(1, 5000) AS n;
"""
