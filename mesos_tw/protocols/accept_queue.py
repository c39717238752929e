"""
How a listening port takes connections from the kernel: all that wait,
each time it is readable (L{drain_accept_queue}), so that a storm of them
is not refused.
"""

from mesos_tw.constants import LISTEN_BACKLOG

__all__ = ["drain_accept_queue"]


def drain_accept_queue(port):
    """
    Make a listening TCP (or UNIX) port take every connection waiting in
    its accept queue each time it is readable, up to the listen backlog.

    Twisted's port accepts a number of connections per turn of the reactor
    that starts at what it found last time (one, when connections came one
    by one) and grows by 20 per turn that used it all.  When thousands of
    slaves reconnect to a new leader within a second, each connection taken
    brings a re-registration to handle in the same turn, turns grow long,
    and the kernel's queue (C{LISTEN_BACKLOG}) fills up faster than the
    allowance grows: the kernel then drops new connections' SYNs, which
    their clients send again only after one second, then three (the
    failover benchmark saw thousands per failover).  Taken at once, a
    connection costs a few tens of microseconds and waits in our own
    process, its first frame in its socket's buffer, for its turn.
    """
    if not hasattr(port, "numberAccepts") or not hasattr(port, "doRead"):
        return
    accept_some = port.doRead

    def accept_all():
        port.numberAccepts = LISTEN_BACKLOG
        return accept_some()

    port.doRead = accept_all
