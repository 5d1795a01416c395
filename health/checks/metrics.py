"""The metrics script run over SSH and the parser of its output.

POSIX sh and /proc only, so it runs on any Linux without an agent: load, memory, uptime,
disk use per mount (df -P), and failed systemd units where systemd runs."""

LOGIN_MARKER = "opsconsole-ok"

SCRIPT = f"""echo {LOGIN_MARKER}
echo @@load; cat /proc/loadavg
echo @@mem; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo
echo @@uptime; cat /proc/uptime
echo @@df; T=; command -v timeout >/dev/null 2>&1 && T='timeout 5'
$T df -P -k -x tmpfs -x devtmpfs -x squashfs 2>/dev/null || $T df -P -k 2>/dev/null
echo @@systemd
if ! command -v systemctl >/dev/null 2>&1; then echo @@no-systemd
elif [ ! -d /run/systemd/system ]; then echo @@no-systemd
else systemctl list-units --state=failed --no-legend --plain 2>/dev/null | awk '{{print $1}}'; fi
echo @@end
"""

PSEUDO_MOUNT_PREFIXES = ("/proc", "/sys", "/dev", "/run")


def sections(stdout):
    parts, current = {}, None
    for line in stdout.splitlines():
        if line.startswith("@@") and line[2:].isalpha():
            current = line[2:]
            parts[current] = []
        elif current:
            parts[current].append(line)
    return parts


def parse(stdout):
    """The metrics as a JSON-able dict; missing parts are simply absent."""
    parts = sections(stdout)
    value = {}
    load = (parts.get("load") or [""])[0].split()
    if len(load) >= 3:
        value["load1"], value["load5"], value["load15"] = (float(x) for x in load[:3])
    mem = {}
    for line in parts.get("mem", []):
        name, _, rest = line.partition(":")
        if rest.split():
            mem[name] = int(rest.split()[0])
    if mem.get("MemTotal"):
        available = mem.get("MemAvailable", 0)
        value["mem_total_mib"] = mem["MemTotal"] // 1024
        value["mem_used_pct"] = round(100 * (mem["MemTotal"] - available) / mem["MemTotal"], 1)
    uptime = (parts.get("uptime") or [""])[0].split()
    if uptime:
        value["uptime_s"] = int(float(uptime[0]))
    value["disks"] = parse_df(parts.get("df", []))
    systemd = parts.get("systemd", [])
    if "@@no-systemd" in systemd or "no-systemd" in systemd:
        value["failed_units"] = None  # systemd does not run there: nothing to tell
    else:
        value["failed_units"] = [line.strip() for line in systemd if line.strip()]
    return value


def parse_df(lines):
    """{mount point: percent used} from `df -P -k` (header skipped, pseudo filesystems left out)."""
    disks = {}
    for line in lines[1:] if lines and lines[0].startswith("Filesystem") else lines:
        fields = line.split(None, 5)
        if len(fields) < 6 or not fields[4].endswith("%"):
            continue
        mount = fields[5]
        if mount.startswith(PSEUDO_MOUNT_PREFIXES) or fields[1] == "0":
            continue
        try:
            disks[mount] = int(fields[4].rstrip("%"))
        except ValueError:
            continue
    return disks


def problems(value, disk_critical, memory_critical):
    """What makes the metrics check fail, in words (empty: all fine)."""
    found = []
    for mount, percent in sorted(value.get("disks", {}).items()):
        if percent >= disk_critical:
            found.append(f"disk {mount} {percent}% full")
    if value.get("mem_used_pct", 0) >= memory_critical:
        found.append(f"memory {value['mem_used_pct']}% used")
    if value.get("failed_units"):
        units = value["failed_units"]
        found.append(f"{len(units)} failed systemd unit{'s' if len(units) > 1 else ''}: {', '.join(units[:5])}")
    return found


def summary(value):
    bits = []
    if "load1" in value:
        bits.append(f"load {value['load1']:g}/{value['load5']:g}/{value['load15']:g}")
    if "mem_used_pct" in value:
        bits.append(f"memory {value['mem_used_pct']:g}%")
    if value.get("disks"):
        fullest = max(value["disks"].items(), key=lambda item: item[1])
        bits.append(f"fullest disk {fullest[0]} {fullest[1]}%")
    if value.get("failed_units") is None:
        bits.append("no systemd")
    return ", ".join(bits)
