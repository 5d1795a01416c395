"""libvirt reachability and VM count of a hypervisor, through the hypervisors driver."""

from hypervisors.drivers import libvirt_driver as driver

from .base import Outcome, Stopwatch


def probe(target, timeout):
    watch = Stopwatch()
    try:
        driver.probe(target.libvirt_uri, timeout=timeout)
        conn = driver.open_connection(target.libvirt_uri)
    except driver.HypervisorUnreachable as exc:
        return [Outcome("libvirt", False, False, f"libvirt unreachable: {exc}", duration_ms=watch.ms)]
    try:
        domains = driver.list_domains(conn)
    except Exception as exc:  # libvirtError and friends: libvirt answered, then failed
        return [Outcome("libvirt", False, True, f"libvirt answered but listing domains failed: {exc}",
                        duration_ms=watch.ms)]
    finally:
        try:
            conn.close()
        except Exception:  # closing a connection that died is no news
            pass
    running = sum(1 for d in domains if d.state == "running")
    value = {"vms_running": running, "vms_defined": len(domains)}
    return [Outcome("libvirt", True, True, f"libvirt answers: {running} of {len(domains)} VMs running", value,
                    watch.ms)]
