"""
What a listening port does about clients that connect and then hold the
connection without saying anything useful: each accepted connection must
identify itself (a first complete frame, or a first complete HTTP request)
within a deadline, and an address may hold only so many connections that
have not done so (or, on a port that requires authentication, that have not
authenticated).
"""

from collections import Counter, OrderedDict

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
        # The admissions whose deadline runs, oldest first: with one
        # timeout for all, the order they came in is the order their
        # deadlines fall in, so one timer (for the oldest) serves them all,
        # rather than a timer set and cancelled per connection (10,000 in
        # a second when a new leader's slaves come back).
        self._running = OrderedDict()
        self._timer = None

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
        admission = Admission(self, host, transport, self.reactor.seconds() + self.timeout)
        self._running[admission] = None
        if self._timer is None:
            self._timer = self.reactor.callLater(self.timeout, self._expire)
        return admission

    def _release(self, host):
        self.pending[host] -= 1
        if not self.pending[host]:
            del self.pending[host]

    def _stop_deadline(self, admission):
        """
        C{admission}'s deadline no longer runs; the timer stops with the
        last one (a reactor with nothing to wait for is left clean).
        """
        if admission not in self._running:
            return
        del self._running[admission]
        if not self._running and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self):
        """
        Close the connections whose deadline has passed; wait for the next.
        """
        self._timer = None
        now = self.reactor.seconds()
        while self._running:
            admission = next(iter(self._running))
            if admission.deadline > now:
                if self._timer is None:
                    self._timer = self.reactor.callLater(admission.deadline - now, self._expire)
                return
            del self._running[admission]
            self.log.warn("Closing a connection from {host}: it sent no complete frame or "
                          "request within {timeout:g} s", host=admission.host,
                          timeout=self.timeout)
            admission.transport.abortConnection()


class Admission:
    """
    One accepted connection's place in its L{ConnectionGuard}.

    @ivar host: the address it came from.
    @ivar transport: its transport (aborted if its deadline passes).
    @ivar deadline: when (the reactor's seconds) it must have identified
        itself.
    """

    __slots__ = ("_guard", "host", "transport", "deadline", "_released")

    def __init__(self, guard, host, transport, deadline):
        self._guard = guard
        self.host = host
        self.transport = transport
        self.deadline = deadline
        self._released = False

    def identified(self):
        """
        The connection sent a complete first frame or request: its deadline
        is off, and unless the guard counts connections until they
        authenticate, it no longer counts.
        """
        if self._guard.until_authenticated:
            self._guard._stop_deadline(self)
        else:
            self.release()

    def release(self):
        """
        The connection no longer counts (it authenticated, was admitted, or
        closed); idempotent.
        """
        self._guard._stop_deadline(self)
        if not self._released:
            self._released = True
            self._guard._release(self.host)
