"""
What a listening port does about clients that connect and then hold the
connection without saying anything useful: each accepted connection must
identify itself (a first complete frame, or a first complete HTTP request)
within a deadline, and an address may hold only so many connections that
have not done so.
"""

from collections import Counter

from twisted.logger import Logger

__all__ = ["ConnectionGuard", "MAX_PENDING_PER_ADDRESS", "PENDING_TIMEOUT"]

#: Seconds an accepted connection has to send a complete first frame or
#: HTTP request.
PENDING_TIMEOUT = 10.0

#: Connections one address may hold open before they identify themselves
#: (generous: a storm of thousands of slaves registering from one address
#: is legitimate).
MAX_PENDING_PER_ADDRESS = 1024


class ConnectionGuard:
    """
    Tracks a port's accepted connections until they identify themselves.

    @param reactor: what the deadlines are timed with.
    @param timeout: seconds a connection may stay unidentified.
    @param max_per_address: unidentified connections one address may hold;
        more are closed at once.
    """

    log = Logger()

    def __init__(self, reactor, timeout=PENDING_TIMEOUT,
                 max_per_address=MAX_PENDING_PER_ADDRESS):
        self.reactor = reactor
        self.timeout = timeout
        self.max_per_address = max_per_address
        self.pending = Counter()

    def admit(self, transport):
        """
        A connection was accepted on C{transport}.

        @return: a callable that marks it identified (idempotent; closing
            the connection must call it too), or L{None} when the address
            holds too many unidentified connections already and this one
            was closed.
        """
        host = getattr(transport.getPeer(), "host", None)
        if self.pending[host] >= self.max_per_address:
            self.log.warn("Closing a connection from {host}: it already holds {count} "
                          "connections that have not identified themselves",
                          host=host, count=self.pending[host])
            transport.abortConnection()
            return None
        self.pending[host] += 1
        deadline = self.reactor.callLater(self.timeout, self._expired, transport, host)
        settled = []

        def identified():
            if settled:
                return
            settled.append(True)
            if deadline.active():
                deadline.cancel()
            self.pending[host] -= 1
            if not self.pending[host]:
                del self.pending[host]

        return identified

    def _expired(self, transport, host):
        self.log.warn("Closing a connection from {host}: it sent no complete frame or "
                      "request within {timeout:g} s", host=host, timeout=self.timeout)
        transport.abortConnection()
