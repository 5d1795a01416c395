"""Shared set-up for benchmarks that need Django: their own var directory and database
(never the demo's), migrated fresh.

DATABASE_URL, when set, must name a database the benchmark may wipe; by default each
benchmark gets a SQLite file under var/bench/.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(name):
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("OPSCONSOLE_VAR_DIR", str(ROOT / "var" / "bench"))
    var_dir = Path(os.environ["OPSCONSOLE_VAR_DIR"])
    var_dir.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("DATABASE_URL"):
        database = var_dir / f"{name}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsconsole.settings")
    import django
    from django.core.management import call_command

    django.setup()
    if "sqlite" not in os.environ["DATABASE_URL"]:
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    return var_dir


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_cloud(log_path):
    """A fresh embedded cloud (`manage.py cloud_server`) on a free loopback port: (process, endpoint)."""
    port = free_port()
    log = open(log_path, "w")
    process = subprocess.Popen([sys.executable, "manage.py", "cloud_server", "--port", str(port)], cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset", method="POST"), timeout=5)
            return process, endpoint
        except OSError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"The embedded cloud did not start: see {log_path}") from exc
            time.sleep(0.2)


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
