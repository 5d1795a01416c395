"""The "host" disk source: a physical host's block device, read over SSH while it runs.

The host's SSH credential and the host keys an admin trusted are the ones the health
checks use (access.services.logins); a changed key stops the read. Blocks are hashed on
the host (drivers.block_device), so an incremental pass sends only the blocks whose
SHA-256 differs from what the target holds. Which device: one that `lsblk` on the host
lists, by name; its path comes from the host, never from the user.

Consistency: a running host's device is read as it changes (crash-consistent, like
pulling its plug); the log says so, and the cutover's last pass runs once the workload
is stopped. No LVM snapshot or fsfreeze is taken.
"""

from access.drivers.openssh import OpenSSH, SSHFailure, Unreachable
from access.services.logins import LoginRefused, host_login

from ..drivers import block_device
from .disk_sources import DiskChoice, DiskSource, DiskSourceError, Method

READABLE_TYPES = {"disk", "part", "lvm", "loop", "raid0", "raid1", "raid5", "raid6", "raid10", "md", "crypt"}
RECORD_HEAD = 9  # kind byte + 8-byte index of every record the host sends


def _connect(host):
    try:
        return OpenSSH(host_login(host))
    except LoginRefused as exc:
        raise DiskSourceError(str(exc)) from exc


def _failure(host, exc, doing):
    return DiskSourceError(f"Could not {doing} on {host}: {exc}", gone=isinstance(exc, Unreachable))


def _devices(host, ssh):
    try:
        listed = block_device.list_block_devices(ssh)
    except SSHFailure as exc:
        raise _failure(host, exc, "list the block devices") from exc
    except ValueError as exc:
        raise DiskSourceError(f"{host}'s lsblk gave output this console cannot read ({exc}).") from exc
    return [d for d in listed if d.get("type") in READABLE_TYPES and int(d.get("size") or 0) > 0]


def _choice(device):
    mounts = [m for m in device.get("mountpoints") or [] if m]
    used = device.get("fsused")
    described = [device.get("type", ""), device.get("fstype") or "", f"mounted at {', '.join(mounts)}" if mounts else ""]
    return DiskChoice(
        name=device["name"], size=int(device["size"]), allocated=int(used) if used not in (None, "") else None,
        description=" ".join(part for part in described if part),
        details={"path": device.get("path") or f"/dev/{device['name']}", "type": device.get("type", ""),
                 "fstype": device.get("fstype") or "", "mountpoints": mounts, "read_only": bool(device.get("ro"))})


def available_disks(host):
    """The host's block devices as lsblk on the host lists them."""
    ssh = _connect(host)
    try:
        return [_choice(device) for device in _devices(host, ssh)]
    finally:
        ssh.close()


def open_source(ref, since=""):
    return HostDiskSource(ref)


class HostDiskSource(DiskSource):
    def __init__(self, ref):
        super().__init__(ref)
        self.host = ref.host
        self.ssh = _connect(self.host)
        try:
            found = {d["name"]: _choice(d) for d in _devices(self.host, self.ssh)}
        except BaseException:
            self.ssh.close()
            raise
        if ref.disk not in found:
            self.ssh.close()
            listed = ", ".join(found) or "none"
            raise DiskSourceError(f"{self.host} has no block device {ref.disk!r} (it has: {listed}).")
        choice = found[ref.disk]
        self.path, self.size = choice.details["path"], choice.size
        mounted = choice.details["mountpoints"]
        self.stats.method = Method.SOURCE_HASH
        self.stats.consistency = (
            f"crash-consistent: {self.path} on {self.host} is read while the host runs"
            + (f" ({', '.join(mounted)} mounted)" if mounted else "")
            + "; no LVM snapshot or fsfreeze is taken, so the cutover's last pass runs once the workload is stopped")

    def extents(self):
        return [(0, self.size)]  # a device has no holes to tell

    def blocks(self, block_size, known):
        try:
            with block_device.stream_changed_blocks(self.ssh, self.path, block_size, known, self.size) as records:
                for kind, value, payload in records:
                    self.stats.bytes_received += RECORD_HEAD + len(payload)
                    if kind == "scanned":
                        self.stats.bytes_scanned = value
                        self.tick()
                        continue
                    self.stats.blocks_offered += 1
                    yield value, payload if kind == "data" else bytes(block_size)
        except SSHFailure as exc:
            raise _failure(self.host, exc, f"read {self.path}") from exc

    def read(self, offset, length):
        """Bytes of the device (verification against the source re-reads with this)."""
        try:
            return self.ssh.run(["dd", f"if={self.path}", f"skip={offset}", f"count={length}", "bs=4M",
                                 "iflag=direct,skip_bytes,count_bytes", "status=none"], timeout=600)
        except SSHFailure as exc:
            raise _failure(self.host, exc, f"read {self.path}") from exc

    def close(self):
        self.ssh.close()

