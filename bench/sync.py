"""Sync 2,000 domains from one hypervisor served by libvirtd's test driver.

Starts a lab libvirtd (its own, under var/bench), defines the domains in its shared
test driver (test+tcp://), then times hypervisors.services.sync.sync_hypervisor:
a first sync (all new), a second (all unchanged) and a third after 10% changed state,
printing seconds and SQL queries. Target: under 5 s.

    python bench/sync.py [--domains 2000]
"""

import argparse
import time

from benchsetup import setup_django


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=2000)
    args = parser.parse_args()
    var_dir = setup_django("sync")

    import libvirt
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from hypervisors.lab import Lab
    from hypervisors.models import Hypervisor, VirtualMachine
    from hypervisors.services.actions import domain_xml
    from hypervisors.services.sync import sync_hypervisor
    from inventory.models import Host, Site

    lab = Lab(var_dir / "lab-sync", net_index=251, names=("benchhv",))
    hosts = lab.up(log=lambda line: None)
    try:
        uri = hosts["benchhv"].test_uri
        conn = libvirt.open(uri)
        for dom in conn.listAllDomains(0):  # the test driver's shared state outlives connections
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        started = time.perf_counter()
        domains = [conn.defineXML(domain_xml(f"bench{i:05d}", 1 + i % 4, 512 * (1 + i % 8))) for i in range(args.domains)]
        for dom in domains[::2]:
            dom.create()
        print(f"sync: defined {args.domains} domains in the test driver in {time.perf_counter() - started:.1f} s")

        site = Site.objects.create(name="Bench", slug="bench")
        host = Host.objects.create(hostname="benchhv", site=site, status="active")
        hypervisor = Hypervisor.objects.create(host=host, uri=uri)

        def timed(label):
            with CaptureQueriesContext(connection) as queries:
                began = time.perf_counter()
                result = sync_hypervisor(hypervisor)
                elapsed = time.perf_counter() - began
            print(f"  {label:28s} {elapsed:6.2f} s  {len(queries):4d} SQL queries  "
                  f"new {result['new']} updated {result['updated']} gone {result['gone']}")

        print(f"sync of {args.domains} domains ({connection.vendor}):")
        timed("first sync (all new)")
        timed("second sync (unchanged)")
        for dom in domains[: args.domains // 10]:
            dom.destroy() if dom.isActive() else dom.create()
        timed("after 10% changed state")
        assert VirtualMachine.objects.count() == args.domains
        for dom in domains:
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        conn.close()
    finally:
        lab.down(log=lambda line: None)


if __name__ == "__main__":
    main()
