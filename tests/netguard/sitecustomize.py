"""Loaded (as `sitecustomize`, from PYTHONPATH) by the no-network test's subprocesses.

An audit hook sees every name lookup and every connect/send of the process and of what it forks or
starts with the same environment. A destination that is not loopback (or a local socket) is written
to $MLSECOPS_NETGUARD_LOG and refused *before* the call runs (the hook raises OSError ENETUNREACH,
what an offline machine answers), so nothing leaves the machine even when the test fails.
"""

import errno
import ipaddress
import json
import os
import socket
import sys

_LOG = os.environ.get("MLSECOPS_NETGUARD_LOG")
_LOCAL_NAMES = {"", "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def _write(record: dict) -> None:
    if not _LOG:
        return
    fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # one write per line: safe across processes
    try:
        os.write(fd, (json.dumps({**record, "pid": os.getpid()}) + "\n").encode())
    finally:
        os.close(fd)


def _is_local(host) -> bool:
    if host is None:
        return True
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("ascii", "replace")
    host = str(host).strip("[]").split("%")[0].lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # any other name needs a DNS query, which leaves the machine
    mapped = getattr(ip, "ipv4_mapped", None)
    ip = mapped or ip
    return ip.is_loopback or ip.is_unspecified


def _address_host(sock, address):
    """The host of an INET address, or None for local families (AF_UNIX, netlink) and no address."""
    family = getattr(sock, "family", None)
    if family not in (socket.AF_INET, socket.AF_INET6) or address is None:
        return None
    return address[0] if isinstance(address, tuple) and address else address


def _hook(event: str, args: tuple) -> None:
    if not event.startswith("socket."):
        return
    host = None
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        host = _address_host(args[0], args[1])
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"):
        host = args[0]
    elif event == "socket.getnameinfo":
        host = args[0][0] if isinstance(args[0], tuple) and args[0] else None
    else:
        return
    if _is_local(host):
        return
    _write({"event": event, "host": str(host), "args": repr(args[1:])[:200]})
    raise OSError(errno.ENETUNREACH, f"network test: {event} to non-loopback {host!r} refused")


sys.addaudithook(_hook)
_write({"event": "armed", "argv": sys.argv[:3]})
