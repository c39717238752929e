"""
What a listening port does about clients that connect and then hold the
connection without saying anything useful: each accepted connection must
identify itself (a first complete frame, or a first complete HTTP request)
within a deadline, and an address may hold only so many connections that
have not done so (or, on a port that requires authentication, that have not
authenticated).  And how a port takes connections from the kernel: all
that wait, each time (L{drain_accept_queue}), so that a storm of them is
not refused.
"""

from collections import Counter

from twisted.logger import Logger

from mesos_tw.constants import LISTEN_BACKLOG

__all__ = ["Admission", "ConnectionGuard", "MAX_PENDING_PER_ADDRESS", "PENDING_TIMEOUT",
           "drain_accept_queue"]

#: Seconds an accepted connection has to send a complete first frame or
#: HTTP request.
PENDING_TIMEOUT = 10.0

#: Connections one address may hold open before they identify themselves
#: (generous: a storm of thousands of slaves registering from one address
#: is legitimate).
MAX_PENDING_PER_ADDRESS = 1024


class ConnectionGuard:
    """
    Tracks a port's accepted connections until they identify themselves
    (or, when C{until_authenticated}, until they authenticate).

    @param reactor: what the deadlines are timed with.
    @param timeout: seconds a connection may stay unidentified.
    @param max_per_address: unidentified (or unauthenticated) connections
        one address may hold; more are closed at once.
    @ivar until_authenticated: whether a connection keeps counting against
        its address's cap after its first frame or request, until its
        node says it authenticated or was admitted (a node requiring
        authentication sets it; Mesos caps unauthenticated clients).
    """

    log = Logger()

    def __init__(self, reactor, timeout=PENDING_TIMEOUT,
                 max_per_address=MAX_PENDING_PER_ADDRESS, until_authenticated=False):
        self.reactor = reactor
        self.timeout = timeout
        self.max_per_address = max_per_address
        self.until_authenticated = until_authenticated
        self.pending = Counter()

    def admit(self, transport):
        """
        A connection was accepted on C{transport}.

        @return: its L{Admission}, or L{None} when the address holds too
            many unidentified connections already and this one was closed.
        """
        host = getattr(transport.getPeer(), "host", None)
        if self.pending[host] >= self.max_per_address:
            self.log.warn("Closing a connection from {host}: it already holds {count} "
                          "connections that have not {what}", host=host,
                          count=self.pending[host],
                          what="authenticated" if self.until_authenticated
                          else "identified themselves")
            transport.abortConnection()
            return None
        self.pending[host] += 1
        deadline = self.reactor.callLater(self.timeout, self._expired, transport, host)
        return Admission(self, host, deadline)

    def _release(self, host):
        self.pending[host] -= 1
        if not self.pending[host]:
            del self.pending[host]

    def _expired(self, transport, host):
        self.log.warn("Closing a connection from {host}: it sent no complete frame or "
                      "request within {timeout:g} s", host=host, timeout=self.timeout)
        transport.abortConnection()


class Admission:
    """
    One accepted connection's place in its L{ConnectionGuard}.
    """

    def __init__(self, guard, host, deadline):
        self._guard = guard
        self._host = host
        self._deadline = deadline
        self._released = False

    def identified(self):
        """
        The connection sent a complete first frame or request: its deadline
        is off, and unless the guard counts connections until they
        authenticate, it no longer counts.
        """
        if self._deadline.active():
            self._deadline.cancel()
        if not self._guard.until_authenticated:
            self.release()

    def release(self):
        """
        The connection no longer counts (it authenticated, was admitted, or
        closed); idempotent.
        """
        if self._deadline.active():
            self._deadline.cancel()
        if not self._released:
            self._released = True
            self._guard._release(self._host)


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
