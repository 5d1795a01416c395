"""Sweep 200 SSH targets with the health checks and with `ansible all -m ping`.

Targets: the hosts of a lab of our own (each its own network namespace and sshd) plus
loopback aliases (127.77.0.x) served by sshd processes of the benchmark's own (OpenSSH
listens on at most 16 addresses per process). All are inventory hosts. The health sweep
(SSH login with key auth and host key verification, one command) runs at --concurrency;
then Ansible pings the same hosts, from the inventory the console exports
(`manage.py ansible_inventory --list`), with as many forks. Prints hosts/second and our
time / Ansible's time (target: at most 0.5). Traffic goes only to 127.0.0.0/8 and the
lab's 198.18.253.0/24.

    python bench/health_sweep.py [--targets 200] [--concurrency 32] [--rounds 3]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from benchsetup import setup_django

LOOPBACK_NET = "127.77.0."
ADDRESSES_PER_SSHD = 16  # OpenSSH's MAX_LISTEN_SOCKS
LAB_NAMES = ("hsweep1", "hsweep2", "hsweep3", "hsweep4")


def free_port(addresses):
    for port in range(22200, 22400):
        try:
            for address in addresses:
                with socket.socket() as sock:
                    sock.bind((address, port))
            return port
        except OSError:
            continue
    raise SystemExit("no free port on the loopback aliases")


class LoopbackSSHDs:
    """sshd processes of our own answering on 127.77.0.x:<port>, with one host key."""

    def __init__(self, root: Path, addresses, authorized_key: Path):
        self.root, self.addresses = root, addresses
        self.root.mkdir(parents=True, exist_ok=True)
        self.host_key = root / "ssh_host_ed25519_key"
        if not self.host_key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", str(self.host_key)],
                           check=True)
        shutil.copy(authorized_key, root / "authorized_keys")
        self.port = free_port(addresses)
        self.pid_files = []

    @property
    def public_key(self):
        return Path(f"{self.host_key}.pub").read_text().strip()

    def start(self):
        Path("/run/sshd").mkdir(exist_ok=True)
        for index in range(0, len(self.addresses), ADDRESSES_PER_SSHD):
            pid_file = self.root / f"sshd-{index}.pid"
            listen = "".join(f"ListenAddress {a}:{self.port}\n" for a in self.addresses[index:index + ADDRESSES_PER_SSHD])
            config = self.root / f"sshd-{index}.conf"
            config.write_text(
                f"{listen}HostKey {self.host_key}\nAuthorizedKeysFile {self.root / 'authorized_keys'}\n"
                f"PidFile {pid_file}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nUseDNS no\nPrintMotd no\n"
                "MaxStartups 1000\nLogLevel ERROR\n"
            )
            subprocess.run(["/usr/sbin/sshd", "-f", str(config)], check=True)
            self.pid_files.append(pid_file)
        deadline = time.monotonic() + 10
        while not all(p.exists() for p in self.pid_files) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self):
        for pid_file in self.pid_files:
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
            except (OSError, ValueError):
                pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="timed sweeps (the best is kept), after a warm-up")
    parser.add_argument("--skip-ansible", action="store_true")
    parser.add_argument("--timeout", type=float, default=30,
                        help="per-check timeout (s): generous, a loaded machine makes sshd slow to fork")
    args = parser.parse_args()
    os.environ["HEALTH_TIMEOUT_SSH"] = str(args.timeout)
    var_dir = setup_django("health_sweep")
    import logging

    logging.getLogger("paramiko").setLevel(logging.WARNING)
    logging.getLogger("health").setLevel(logging.ERROR)  # the detection's own "host failed" lines
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    from django.core.management import call_command

    from access.models import SSHCredential
    from access.services import trust
    from core.actions import SYSTEM
    from health.models import CheckResult
    from health.services import sweep
    from hypervisors.lab import Lab
    from inventory.models import Host, Role, Site

    lab = Lab(var_dir / "lab-health", net_index=253, names=LAB_NAMES)
    print(f"health sweep bench: starting a lab of {len(LAB_NAMES)} hosts…", flush=True)
    lab_hosts = lab.up(log=lambda line: None)
    loop_count = args.targets - len(lab_hosts)
    addresses = [f"{LOOPBACK_NET}{1 + i}" for i in range(loop_count)]
    sshds = LoopbackSSHDs(var_dir / "health-sweep-sshd", addresses, Path(f"{lab.ssh_key}.pub"))
    try:
        sshds.start()
        site = Site.objects.create(name="Bench", slug="bench")
        lab_role = Role.objects.create(name="Bench lab", slug="bench_lab")
        loop_role = Role.objects.create(name="Bench loopback", slug="bench_loopback")
        key = lab.ssh_key.read_text()
        SSHCredential.objects.create(name="lab", private_key=key, is_default=True)
        SSHCredential.objects.create(name="loopback", private_key=key, port=sshds.port).roles.add(loop_role)
        for name, lab_host in lab_hosts.items():
            host = Host.objects.create(hostname=name, site=site, role=lab_role, status="active",
                                       mgmt_address=lab_host.address)
            trust.trust_public_key(host, lab_host.ssh_host_key, user=SYSTEM)
        for index, address in enumerate(addresses):
            host = Host.objects.create(hostname=f"loop{index:03d}", site=site, role=loop_role, status="active",
                                       mgmt_address=address)
            trust.trust_public_key(host, sshds.public_key, user=SYSTEM)
        total = Host.objects.count()
        print(f"{total} targets: {len(lab_hosts)} lab hosts (198.18.253.x:22) and {loop_count} loopback aliases "
              f"({LOOPBACK_NET}1-{loop_count}:{sshds.port}, {len(sshds.pid_files)} sshd processes); "
              f"concurrency {args.concurrency}")

        def our_sweep():
            CheckResult.objects.all().delete()
            started = time.perf_counter()
            summary = sweep.sweep(checks=["ssh"], concurrency=args.concurrency)
            elapsed = time.perf_counter() - started
            failed = list(CheckResult.objects.filter(ok=False).values_list("host__hostname", "message")[:5])
            return elapsed, summary, failed

        our_sweep()  # warm-up: imports, first connections
        times = []
        for round_number in range(args.rounds):
            elapsed, summary, failed = our_sweep()
            times.append(elapsed)
            print(f"  our sweep #{round_number + 1}: {elapsed:6.2f} s  {summary['hosts'] / elapsed:7.1f} hosts/s  "
                  f"failed checks: {summary['failed_checks']}{f' e.g. {failed}' if failed else ''}")
        ours = min(times)
        print(f"our sweep: {total} hosts in {ours:.2f} s = {total / ours:.1f} hosts/second (best of {args.rounds})")
        if args.skip_ansible:
            return
        theirs = ansible_ping(var_dir, lab, sshds, args.concurrency, total, call_command)
        print(f"ours / Ansible's = {ours:.2f} / {theirs:.2f} = {ours / theirs:.2f} (target: <= 0.5)")
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        sshds.stop()
        lab.down(log=lambda line: None)


def ansible_ping(var_dir, lab, sshds, forks, total, call_command):
    """Time `ansible all -m ping -f forks` over the console's exported inventory. Ansible gets
    its fastest settings (pipelining, a fixed interpreter, no prior ControlMaster sockets)
    and, like our sweep, verifies host keys against a known_hosts file."""
    from io import StringIO

    work = var_dir / "health-sweep-ansible"
    shutil.rmtree(work, ignore_errors=True)
    (work / "group_vars").mkdir(parents=True)
    out = StringIO()
    call_command("ansible_inventory", "--list", stdout=out)
    inventory = json.loads(out.getvalue())
    (work / "inventory.json").write_text(json.dumps(inventory))
    script = work / "inventory.sh"
    script.write_text(f"#!/bin/sh\nexec cat {work / 'inventory.json'}\n")
    script.chmod(0o755)
    (work / "group_vars" / "role_bench_loopback.yml").write_text(f"ansible_port: {sshds.port}\n")
    known_hosts = work / "known_hosts"
    lines = [f"{lab_host.address} {lab_host.ssh_host_key}" for lab_host in lab.load().values()]
    lines += [f"[{a}]:{sshds.port} {sshds.public_key}" for a in sshds.addresses]
    known_hosts.write_text("\n".join(lines) + "\n")
    env = dict(os.environ, ANSIBLE_HOME=str(work / "home"), ANSIBLE_LOCAL_TEMP=str(work / "tmp"),
               ANSIBLE_SSH_CONTROL_PATH_DIR=str(work / "cp"), ANSIBLE_PIPELINING="True",
               ANSIBLE_HOST_KEY_CHECKING="True", ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3",
               ANSIBLE_SSH_ARGS=f"-o UserKnownHostsFile={known_hosts} -o ControlMaster=auto -o ControlPersist=60s",
               ANSIBLE_STDOUT_CALLBACK="oneline", ANSIBLE_FORKS=str(forks), ANSIBLE_NOCOLOR="1")
    ansible = Path(sys.executable).with_name("ansible")
    command = [str(ansible), "all", "-i", str(script), "-m", "ping", "-f", str(forks), "-u", "root",
               "--private-key", str(lab.ssh_key)]
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    ok = result.stdout.count("| SUCCESS")
    print(f"ansible all -m ping -f {forks}: {ok} of {total} hosts answered in {elapsed:.2f} s "
          f"= {total / elapsed:.1f} hosts/second")
    if ok < total:
        failed = [line for line in result.stdout.splitlines() if "SUCCESS" not in line][:3]
        print(f"  ansible failures (first 3): {failed} {result.stderr[-500:]}")
    # Close the ControlMaster processes Ansible left behind (they would linger for ControlPersist).
    for control in (work / "cp").glob("*"):
        subprocess.run(["ssh", "-o", f"ControlPath={control}", "-O", "exit", "dummy"], capture_output=True)
    return elapsed


if __name__ == "__main__":
    main()
