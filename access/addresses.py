"""Where the console reaches a host over SSH, the address a host key is trusted for.

The inventory's address of the host first (its management address, else its first
interface address); for a host the inventory has no address for, an app that knows the
host better may say (a hypervisor's libvirt URI names its machine). Those apps register
a fallback here: access depends on none of them.
"""

from inventory.ansible import ansible_address

_fallbacks = []


def register_fallback(resolver):
    """resolver(host) -> an address or None, asked when the inventory has no address."""
    if resolver not in _fallbacks:
        _fallbacks.append(resolver)


def ssh_address(host):
    """The address SSH connects to for `host`, "" when nothing says."""
    address = ansible_address(host)
    if address:
        return str(address)
    for resolver in _fallbacks:
        address = resolver(host)
        if address:
            return str(address)
    return ""
