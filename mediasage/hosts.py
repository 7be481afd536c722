"""The host names and addresses this machine answers to, for ALLOWED_HOSTS.

Found once at start-up. Name lookups run in a thread given a second at most,
so a slow or absent resolver delays start-up by that, never by its own timeout.
"""

import ipaddress
import socket
import threading

_LOOKUP_SECONDS = 1.0
# Connecting a UDP socket sends nothing; it only asks the kernel which local
# address would route there (documentation addresses, never contacted).
_ROUTE_PROBES = [(socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")]


def local_hosts():
    """localhost, loopback addresses, this machine's names and its addresses, as Host header values."""
    found = {"localhost", "127.0.0.1", "::1"}
    hostname = socket.gethostname()
    found.add(hostname)
    found.update(_routed_addresses())
    resolved = []  # filled in one step by the thread, if it finishes in time
    lookup = threading.Thread(target=_resolve, args=(hostname, resolved), daemon=True)
    lookup.start()
    lookup.join(_LOOKUP_SECONDS)
    found.update(list(resolved))
    return sorted({_as_host(name) for name in found if name})


def _resolve(hostname, resolved):
    names = set()
    try:
        for *_, canonical, sockaddr in socket.getaddrinfo(hostname, None, flags=socket.AI_CANONNAME):
            names.update((canonical, sockaddr[0]))
        names.add(socket.getfqdn(hostname))
    except OSError:
        pass
    resolved.extend(names)


def _routed_addresses():
    addresses = []
    for family, probe in _ROUTE_PROBES:
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                addresses.append(s.getsockname()[0])
        except OSError:
            pass  # no route of that family
    return addresses


def _as_host(name):
    """An IPv6 address as it appears in a Host header: in brackets, without a zone."""
    try:
        address = ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        return name.lower()
    return f"[{address}]" if address.version == 6 else str(address)
