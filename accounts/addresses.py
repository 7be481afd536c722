"""Who is asking: the client address, and what a trusted reverse proxy says about the request.

Forwarded headers are believed only from the addresses in TRUSTED_PROXIES: anyone else
could write them, so from anyone else they are dropped.
"""

from ipaddress import ip_address, ip_network

from django.conf import settings

# Loopback, RFC 1918, link-local, IPv6 unique local. Not ipaddress's is_private, which
# also counts documentation and benchmarking ranges.
_PRIVATE = tuple(
    ip_network(n)
    for n in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)
_FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")


def parse(value):
    """An address as REMOTE_ADDR or a proxy writes it ("[v6]:port" and "v4:port" too), else None."""
    value = value.strip()
    candidates = [value]
    if value.startswith("["):
        candidates.append(value[1:].partition("]")[0])
    elif value.count(":") == 1:
        candidates.append(value.partition(":")[0])
    for candidate in candidates:
        try:
            address = ip_address(candidate)
        except ValueError:
            continue
        return getattr(address, "ipv4_mapped", None) or address
    return None


def is_private(address):
    return address is not None and any(address in network for network in _PRIVATE)


def _is_trusted_proxy(address):
    return address is not None and any(
        address in ip_network(proxy, strict=False) for proxy in settings.TRUSTED_PROXIES
    )


def client_address(meta):
    """REMOTE_ADDR, or behind trusted proxies the right-most X-Forwarded-For entry that is not
    one of them (entries left of it were written by the client and prove nothing). None when
    that entry is not an address."""
    address = parse(meta.get("REMOTE_ADDR", ""))
    if not _is_trusted_proxy(address):
        return address
    for hop in reversed(meta.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        if not hop.strip():
            continue
        address = parse(hop)
        if not _is_trusted_proxy(address):
            return address
    return address  # every hop is a proxy of ours: the left-most one asked


def apply_forwarded(meta):
    """Take the scheme and host a trusted proxy reports; drop forwarded headers from anyone else.

    The right-most value is the one the nearest proxy wrote."""
    if not _is_trusted_proxy(parse(meta.get("REMOTE_ADDR", ""))):
        for header in _FORWARDED:
            meta.pop(header, None)
        return
    proto = meta.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
    if proto in ("http", "https"):
        meta["wsgi.url_scheme"] = proto
    if host := meta.get("HTTP_X_FORWARDED_HOST", "").split(",")[-1].strip():
        # Still checked against ALLOWED_HOSTS by request.get_host().
        meta["HTTP_HOST"] = host
