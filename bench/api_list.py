"""Benchmark: listing hosts on a 10,000-host estate, through the API and the console.

    python bench/api_list.py [--hosts 10000] [--repeat 20]

With DATABASE_URL pointing at PostgreSQL the benchmark uses a database of its own next to
it (the URL's name + "_bench", e.g. opsconsole_bench), dropped and made afresh each run;
with DATABASE_URL unset it uses <var>/bench.sqlite3. It never touches the demo database.

Requests go through Django's test Client in this process (the full middleware, auth,
view and serializer stack, but no HTTP server or socket), so the figures are the
application's own cost. Each endpoint is called once to warm up, then --repeat times;
it prints p50/p95 wall time and the number of SQL queries one request runs.
"""

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

ENDPOINTS = (
    ("API  /api/inventory/hosts/?limit=100", "/api/inventory/hosts/?limit=100", "token"),
    ("API  /api/inventory/hosts/?limit=1000", "/api/inventory/hosts/?limit=1000", "token"),
    ("page /inventory/hosts/", "/inventory/hosts/", "session"),
)


def bench_database_url():
    """The benchmark's own database URL, derived from DATABASE_URL (never that database itself)."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        var_dir = Path(os.environ.get("OPSCONSOLE_VAR_DIR", BASE_DIR / "var"))
        var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{var_dir / 'bench.sqlite3'}"
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        sys.exit(f"bench: only PostgreSQL or the embedded SQLite is supported, not {parts.scheme}")
    name = parts.path.lstrip("/") or "opsconsole"
    if not name.endswith("_bench"):
        name += "_bench"
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(url):
    """Start from an empty database every run."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = Path(parts.path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg
    from psycopg import sql

    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django(url):
    # The benchmark serves no static files; whitenoise need not warn that none were collected.
    warnings.filterwarnings("ignore", message="No directory at")
    os.environ["DATABASE_URL"] = url
    os.environ.pop("OPSCONSOLE_ENV", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsconsole.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def load_estate(host_count):
    """10,000 hosts with two interfaces and two tags each, written with bulk_create."""
    from django.db import transaction

    from inventory.models import Host, HostStatus, Interface, Rack, Role, Site, Tag

    statuses = [HostStatus.ACTIVE] * 7 + [HostStatus.SPARE, HostStatus.MAINTENANCE, HostStatus.PLANNED]
    vendors = [("Dell", "PowerEdge R650"), ("HPE", "ProLiant DL380 Gen10"), ("Supermicro", "SYS-1029P-WTR")]
    with transaction.atomic():
        sites = [Site.objects.create(name=f"Site {n}", slug=f"site{n}") for n in range(1, 4)]
        racks = Rack.objects.bulk_create(
            [Rack(site=site, name=f"R{n:02d}") for site in sites for n in range(1, 21)]
        )
        roles = [Role.objects.create(name=f"Role {n}", slug=f"role{n}") for n in range(1, 7)]
        tags = [Tag.objects.create(name=f"tag{n}", slug=f"tag{n}") for n in range(1, 9)]
        hosts = Host.objects.bulk_create(
            [
                Host(
                    hostname=f"host{n:05d}", site=(rack := racks[n % len(racks)]).site, rack=rack,
                    role=roles[n % len(roles)], status=statuses[n % len(statuses)],
                    vendor=vendors[n % 3][0], model=vendors[n % 3][1], serial=f"SN{n:08d}",
                    asset_tag=f"A{n:06d}", cpu_sockets=2, cpu_cores=16 + n % 48, memory_mib=65536 * (1 + n % 8),
                    disks=[{"name": "sda", "size_gb": 480, "kind": "ssd"}], owner=f"Team {n % 12}",
                    mgmt_address=f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
                    bmc_address=f"10.99.{n // 256 % 256}.{n % 256}", bmc_username="root", bmc_password=f"pw-{n}",
                )
                for n in range(host_count)
            ],
            batch_size=1000,
        )
        Interface.objects.bulk_create(
            [
                Interface(
                    host=host, name=f"eno{nic}", mac_address=f"52:54:{nic:02x}:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
                    ip_address=f"10.{100 + nic}.{i // 256 % 256}.{i % 256}",
                )
                for i, host in enumerate(hosts)
                for nic in (1, 2)
            ],
            batch_size=2000,
        )
        through = Host.tags.through
        through.objects.bulk_create(
            [through(host_id=host.pk, tag_id=tags[(i + k) % len(tags)].pk) for i, host in enumerate(hosts) for k in (0, 3)],
            batch_size=5000,
        )
    return len(hosts)


def bench_user():
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user = User.objects.create_superuser("bench", password="bench-only-password-1")
    return user, Token.objects.create(user=user).key


def measure(client, path, headers, repeat):
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    reset_queries()  # each request clears the log (request_started): start the count from zero
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **headers)  # also the warm-up
    query_count = len(queries)  # now: the next request clears the log this counts from
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.get(path, **headers)
        timings.append((time.perf_counter() - start) * 1000)
    p95 = statistics.quantiles(timings, n=20)[18] if len(timings) > 1 else timings[0]
    return response.status_code, len(response.content), statistics.median(timings), p95, query_count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    url = bench_database_url()
    recreate_database(url)
    setup_django(url)

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    count = load_estate(args.hosts)
    load_seconds = time.perf_counter() - start
    user, token = bench_user()

    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    auth = {
        "token": {"HTTP_AUTHORIZATION": f"Token {token}"},
        "session": {},
    }

    where = connection.settings_dict["NAME"]
    print(f"\n{connection.vendor} ({where}): {count} hosts, {2 * count} interfaces, {2 * count} tag links "
          f"loaded in {load_seconds:.1f}s")
    print(f"in-process Django test Client, {args.repeat} requests per endpoint after one warm-up\n")
    print(f"{'endpoint':<42} {'status':>6} {'bytes':>10} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    failed = False
    for label, path, kind in ENDPOINTS:
        status, size, p50, p95, queries = measure(client, path, auth[kind], args.repeat)
        failed |= status != 200
        print(f"{label:<42} {status:>6} {size:>10} {p50:>8.1f} {p95:>8.1f} {queries:>8}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
