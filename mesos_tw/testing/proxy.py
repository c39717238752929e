"""
A small TCP port forwarder whose connections a test can cut: a proxy
between two processes on this machine, to show what a network cut does to
them (the slave recovery functional tests put one between a slave and its
master).

Connections are told apart by the address they come from (a process can
be made to connect from C{127.0.0.2} with a C{bindAddress} in its
C{--connect}), so a cut can take down one process's connections and leave
the others.
"""

from twisted.internet.defer import succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.protocol import Factory, Protocol

__all__ = ["PortForwarder"]


class _Forwarded(Protocol):
    """
    One side of a forwarded connection: what it receives goes to the other.
    """

    peer = None

    def dataReceived(self, data):
        self.peer.transport.write(data)

    def connectionLost(self, reason):
        peer, self.peer = self.peer, None
        if peer is not None:
            peer.peer = None
            peer.transport.loseConnection()


class _Inbound(_Forwarded):
    """
    A connection accepted by the forwarder: it connects to the target, and
    reads nothing until that connection is made.
    """

    def __init__(self, forwarder):
        self.forwarder = forwarder
        self.outbound = None

    def connectionMade(self):
        forwarder = self.forwarder
        self.host = self.transport.getPeer().host
        if forwarder.is_cut(self.host):
            forwarder.refused += 1
            self.transport.abortConnection()
            return
        forwarder.connections.add(self)
        self.transport.pauseProducing()
        endpoint = TCP4ClientEndpoint(forwarder.reactor, forwarder.target_host,
                                      forwarder.target_port, timeout=10)
        d = connectProtocol(endpoint, _Outbound(self))
        d.addErrback(lambda failure: self.transport.loseConnection())

    def connectionLost(self, reason):
        self.forwarder.connections.discard(self)
        if self.outbound is not None and self.peer is None:
            # Lost before the target answered: do not leave that half open.
            self.outbound.transport.abortConnection()
        _Forwarded.connectionLost(self, reason)

    def abort(self):
        """
        Abort both halves at once, as a cut network would leave them.
        """
        self.transport.abortConnection()
        if self.outbound is not None and self.outbound.transport is not None:
            self.outbound.transport.abortConnection()


class _Outbound(_Forwarded):
    """
    The forwarder's connection to the target, on behalf of C{inbound}.
    """

    def __init__(self, inbound):
        self.inbound = inbound

    def connectionMade(self):
        inbound = self.inbound
        inbound.outbound = self
        if inbound not in inbound.forwarder.connections:
            self.transport.abortConnection()
            return
        self.peer, inbound.peer = inbound, self
        inbound.transport.resumeProducing()


class PortForwarder:
    """
    Forwards every connection accepted on a loopback port to
    C{target_host:target_port}.

    @ivar connections: the accepted connections open now.
    @ivar aborted: how many connections L{cut} aborted.
    @ivar refused: how many connections were refused while cut.
    """

    def __init__(self, reactor, target_port, target_host="127.0.0.1"):
        self.reactor = reactor
        self.target_host = target_host
        self.target_port = target_port
        self.connections = set()
        self.aborted = 0
        self.refused = 0
        self._cut = None
        self._port = None

    def listen(self, port=0, interface="127.0.0.1"):
        """
        Start accepting on C{interface:port}.

        @return: a Deferred firing with the port number bound.
        """
        factory = Factory.forProtocol(lambda: _Inbound(self))
        d = TCP4ServerEndpoint(self.reactor, port, interface=interface).listen(factory)

        def listening(listening_port):
            self._port = listening_port
            return listening_port.getHost().port

        return d.addCallback(listening)

    def is_cut(self, host):
        """
        Whether connections from C{host} are cut now.
        """
        return self._cut is not None and (not self._cut or host in self._cut)

    def cut(self, hosts=()):
        """
        Abort the connections from C{hosts} (from anywhere if empty), both
        halves, and refuse theirs until L{restore}.
        """
        self._cut = set(hosts)
        for connection in [c for c in self.connections if self.is_cut(c.host)]:
            self.aborted += 1
            connection.abort()

    def restore(self):
        """
        Accept and forward every connection again.
        """
        self._cut = None

    def stop(self):
        """
        Stop listening and abort every connection.

        @return: a Deferred firing once the port is closed.
        """
        for connection in list(self.connections):
            connection.abort()
        if self._port is None:
            return succeed(None)
        return self._port.stopListening()
