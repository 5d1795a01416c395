"""Hosts of a given size for the replacement tests."""

from inventory.models import Host

GIB = 1024


def make_host(name, site, cores=8, memory_gib=64, disks=(480,), status="spare", role=None, rack=None, **extra):
    return Host.objects.create(
        hostname=name, site=site, rack=rack, role=role, status=status, cpu_cores=cores, memory_mib=memory_gib * GIB,
        disks=[{"name": f"sd{chr(97 + i)}", "size_gb": size} for i, size in enumerate(disks)], **extra,
    )
