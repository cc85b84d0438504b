"""ustack: the userspace TCP/IPv4 stack's WSP socket API (ustack/wsp.h) for Python.

A :class:`Host` is one ustack instance (address, TUN device or in-memory link end, engine
thread); :func:`memory_pair` gives two hosts joined in memory (no root). Sockets come from
``Host.socket()``; every WSAE* error surfaces as :class:`WSAError`. See python/README.md.
"""

from ._ustack import *  # noqa: F401,F403
from ._ustack import Host, MemoryLinkEnd, create_memory_link, WSAError  # noqa: F401
from . import _ustack

__all__ = [n for n in dir(_ustack) if not n.startswith("_")] + ["memory_pair"]


def memory_pair(addr_a="10.9.0.1", addr_b="10.9.0.2", *, loss=0.0, seed=1, delay_us=0,
                **host_kwargs):
    """Two hosts joined by an in-memory link (WSPCreateMemoryLink): (Host A, Host B).

    ``loss`` is the probability that a packet is lost, each way, drawn from a generator seeded
    with ``seed``; ``delay_us`` delays each packet (one way); ``host_kwargs`` go to both Host() calls (disconnect_data, msl_ms, ...).
    Needs no privilege. If B cannot start, A is cleaned up and the error raised. (A ``pcap`` or
    ``state_log`` path would be shared by both hosts: give each its own with Host(device=...)
    and create_memory_link() instead.)
    """
    end_a, end_b = create_memory_link(loss, seed, delay_us)
    a = Host(addr=addr_a, device=end_a, **host_kwargs)
    try:
        b = Host(addr=addr_b, device=end_b, **host_kwargs)
    except BaseException:
        a.close()
        raise
    return a, b
