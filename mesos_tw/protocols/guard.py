"""
What a listening port does about clients that connect and then hold the
connection without saying anything useful: each accepted connection must
identify itself (a first complete frame, or a first complete HTTP request)
within a deadline, and an address may hold only so many connections that
have not done so (or, on a port that requires authentication, that have not
authenticated).
"""

from collections import Counter

from twisted.logger import Logger

__all__ = ["Admission", "ConnectionGuard", "MAX_PENDING_PER_ADDRESS", "PENDING_TIMEOUT"]

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
