"""
The message network: each master, slave and driver owns a L{MessageNode}
that sends messages to UPIDs and delivers what arrives to its receiver.

Like libprocess, a node reuses any connection it has with a UPID, whichever
side opened it, and otherwise connects to the UPID's host and port.  A peer's
connection closing is reported as L{IMessageReceiver.peer_lost}, the
equivalent of libprocess's ``exited`` event.
"""

import socket

from twisted.internet.defer import succeed
from twisted.internet.endpoints import wrapClientTLS
from twisted.internet.interfaces import (
    IProtocolNegotiationFactory, IReactorFDSet, IReactorSocket)
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from zope.interface import implementer

from mesos_tw.protocols.accepted import AcceptedConnection, PendingWrites, take_connections
from mesos_tw.protocols.endpoints import ClientEndpoints
from mesos_tw.protocols.framing import DEFAULT_MAX_FRAME_BYTES, EnvelopeProtocol
from mesos_tw.protocols.accept_queue import drain_accept_queue
from mesos_tw.protocols.guard import ConnectionGuard
from mesos_tw.protocols.hosting import ProcessHosting
from mesos_tw.protocols.interfaces import IMessageNode, IMessageReceiver
from mesos_tw.protocols.tls import TLS_HANDSHAKE_BYTE, TLSConfig

# The interfaces are defined in mesos_tw.protocols.interfaces and are
# imported from here too, beside the node that implements them.
__all__ = ["IMessageNode", "IMessageReceiver", "MessageNode"]

# A frame's first byte is the top byte of its length, and frames are far
# below 2**29 bytes; an HTTP request starts with a method's capital letter.
_FIRST_HTTP_BYTE = 0x20


class _SniffingProtocol(Protocol):
    """
    An accepted connection that becomes either envelopes or HTTP, as its
    first byte says; with TLS, first a TLS connection (a handshake's first
    byte) carrying one of those, or (with downgrade support) a plain one.

    @param admission: the connection's L{mesos_tw.protocols.guard.Admission}
        when it was admitted already: for the plain text inside a TLS
        connection, the outer connection's; for a connection handed over
        by L{_FirstBytes}, the one it was admitted with.
    @param outer: for the plain text inside a TLS connection, the
        sniffing protocol of the TCP connection (the one the node tracks
        until it is known to carry HTTP).
    """

    def __init__(self, node, site, address, admission=None, outer=None):
        self._node = node
        self._site = site
        self._address = address
        self._inner = None
        self._admission = admission
        self._within_tls = outer is not None
        self._outer = outer if outer is not None else self

    def connectionMade(self):
        if self._outer is self:
            self._node.accepted(self)
        if self._admission is None:
            self._admission = self._node.guard.admit(self.transport)

    def _tls_layer(self, data):
        """
        The protocol for a new connection under TLS: TLS around another
        sniffing protocol, or L{None} for a plain one (with downgrade
        support; without, it is refused and closed).
        """
        if data[0] == TLS_HANDSHAKE_BYTE:
            inner = _SniffingProtocol(self._node, self._site, self._address, self._admission,
                                      self._outer)
            return self._node.tls_factory().wrap(inner, self._address)
        if self._node.tls.support_downgrade:
            return None
        self._node.log.warn("Refusing a plain-text connection from {address}: this port "
                            "speaks TLS only", address=self._address)
        self.transport.abortConnection()
        self._admission.release()
        self._admission = None
        return None

    def dataReceived(self, data):
        if self._admission is None:
            return
        if self._inner is None and self._node.tls.enabled and not self._within_tls:
            self._inner = self._tls_layer(data)
            if self._admission is None:
                return
            if self._inner is not None:
                self._inner.makeConnection(self.transport)
                self._inner.dataReceived(data)
                return
        if self._inner is None:
            if data[0] < _FIRST_HTTP_BYTE or self._site is None:
                self._inner = self._node.new_protocol()
                self._inner.admission = self._admission
            else:
                self._inner = self._site.buildProtocol(self._address)
                # HTTP: not a message connection, not ours to close.
                self._node.forget(self._outer)
            if hasattr(self._inner, "on_identified"):
                self._inner.on_identified = self._admission.identified
            else:
                self._admission.identified()
            self._inner.makeConnection(self.transport)
        self._inner.dataReceived(data)

    def connectionLost(self, reason):
        if self._outer is self:
            self._node.forget(self)
        if self._admission is not None:
            self._admission.release()
        if self._inner is not None:
            self._inner.connectionLost(reason)


class _FirstBytes(Protocol):
    """
    An accepted connection on a lean transport
    (L{mesos_tw.protocols.accepted.AcceptedConnection}) until its first
    bytes say what it carries: envelopes stay on it, an L{EnvelopeProtocol}
    taking it over; HTTP, TLS, and anything on a port that speaks TLS only
    go to a Twisted transport and a L{_SniffingProtocol}, which knows them.
    The connection's admission goes with it either way.
    """

    def __init__(self, node, site):
        self._node = node
        self._site = site
        self._admission = None

    def connectionMade(self):
        self._node.accepted(self)
        self._admission = self._node.guard.admit(self.transport)

    def dataReceived(self, data):
        admission = self._admission
        if admission is None:
            return
        node = self._node
        tls, first = node.tls, data[0]
        if (tls.enabled and (first == TLS_HANDSHAKE_BYTE or not tls.support_downgrade)
                or first >= _FIRST_HTTP_BYTE and self._site is not None):
            sniffer = _SniffingProtocol(node, self._site, self.transport.getPeer(), admission)
            # Until it is handed over, the connection and its admission
            # are ours (to release, if the hand-over fails).
            transport = self.transport.hand_over(_Given.giving(sniffer))
            self._admission, admission.transport = None, transport
            node.forget(self)
            sniffer.dataReceived(data)
            return
        self._admission = None
        node.forget(self)
        protocol = node.new_protocol()
        protocol.admission = admission
        protocol.on_identified = admission.identified
        node.accepted(protocol)
        self.transport.switch_protocol(protocol)
        protocol.dataReceived(data)

    def connectionLost(self, reason):
        self._node.forget(self)
        if self._admission is not None:
            self._admission.release()


def _takes_connections(port, factory):
    """
    Whether the accepted connections of C{port}, listening with
    C{factory}, can be given lean transports: a TCP port of a reactor
    that watches descriptors and adopts sockets, with our factory itself
    (not TLS around it, as an C{ssl:} endpoint puts).
    """
    listening = getattr(port, "socket", None)
    return (getattr(port, "factory", None) is factory
            and isinstance(listening, socket.socket)
            and listening.family in (socket.AF_INET, socket.AF_INET6)
            and IReactorFDSet.providedBy(port.reactor)
            and IReactorSocket.providedBy(port.reactor))


@implementer(IProtocolNegotiationFactory)
class _Given(Factory):
    """
    Gives the protocol it was last given.

    It answers ALPN with HTTP/1.1: clients such as curl and browsers offer
    C{h2} and C{http/1.1}, and Twisted's TLS fails a handshake whose
    offered protocols it finds none of (frames' clients offer none).
    """

    noisy = False
    given = None

    @classmethod
    def giving(cls, protocol):
        """
        A factory giving C{protocol} (Twisted's C{connectProtocol} defines
        a class per call, which thousands of connections feel).
        """
        factory = cls()
        factory.given = protocol
        return factory

    def buildProtocol(self, address):
        return self.given

    def acceptableProtocols(self):
        """
        The one protocol we agree to over ALPN.
        """
        return [b"http/1.1"]


class _TLSServerFactory(TLSMemoryBIOFactory):
    """
    Puts TLS (the server's side) around one given protocol at a time.
    """

    noisy = False

    def __init__(self, options):
        super().__init__(options, False, _Given())

    def wrap(self, protocol, address):
        """
        A TLS protocol carrying C{protocol}.
        """
        self.wrappedFactory.given = protocol
        return self.buildProtocol(address)


class _ListeningFactory(Factory):
    """
    Builds sniffing protocols for a node's listening port.
    """

    noisy = False

    def __init__(self, node, site):
        self._node = node
        self._site = site

    def buildProtocol(self, address):
        return _SniffingProtocol(self._node, self._site, address)


@implementer(IMessageNode)
class MessageNode(ProcessHosting):
    """
    One process's end of the message network.

    @ivar upid: our own address, the C{from} of every envelope we send.
    @ivar guard: the L{ConnectionGuard} of the connections we accept (a
        default one unless given).
    @ivar client_endpoints: turns a peer's UPID into the endpoint we connect
        to it with (L{ClientEndpoints}: TCP by default).
    @param source_host: the local address our connections are made from,
        or L{None} for the system's choice (several emulating processes use
        several loopback addresses, since one address has only about
        28,000 ephemeral ports); for the default C{client_endpoints}.
    @ivar tls: the L{TLSConfig} of our connections, both ways: by default
        the process's C{LIBPROCESS_SSL_*} variables, as in libprocess.
    """

    log = Logger()

    def __init__(self, reactor, upid, receiver, max_frame_bytes=DEFAULT_MAX_FRAME_BYTES,
                 client_endpoints=None, source_host=None, guard=None, tls=None):
        self.reactor = reactor
        self.upid = upid
        self.receiver = receiver
        self.max_frame_bytes = max_frame_bytes
        self.guard = guard if guard is not None else ConnectionGuard(reactor)
        self.tls = tls if tls is not None else TLSConfig.from_environ()
        self._tls_factory = None
        self.client_endpoints = client_endpoints or ClientEndpoints(
            reactor, source_host=source_host)
        self._connections = {}
        self._pinned = {}
        self._connecting = {}
        self._pending = {}
        self._hosted = {}
        # Every open message connection, as what has its transport: the
        # protocols of those we opened, the sniffing protocols of those we
        # accepted (until they turn out to carry HTTP).
        self._open = set()
        self._port = None
        self._stopped = False

    def listen(self, endpoint, site=None):
        """
        Accept connections on C{endpoint}; HTTP requests go to C{site}.

        On a TCP port the accepted connections that carry envelopes have a
        lean transport (L{mesos_tw.protocols.accepted}); the others, and
        every connection of other ports, Twisted's.

        A UPID port of 0 becomes the port actually bound (when the endpoint
        has one): a node advertises a fixed port only when told to.

        @return: a Deferred firing with the listening port.
        """

        def listening(port):
            self._port = port
            if _takes_connections(port, factory):
                writes = PendingWrites(port.reactor)
                take_connections(port, lambda connection, address: AcceptedConnection(
                    port.reactor, connection, address, writes).start(_FirstBytes(self, site)))
            else:
                drain_accept_queue(port)
            bound = getattr(port.getHost(), "port", 0)
            if self.upid.port == 0 and bound:
                self.upid = type(self.upid)(self.upid.id, self.upid.host, bound)
            return port

        factory = _ListeningFactory(self, site)
        return endpoint.listen(factory).addCallback(listening)

    def tls_factory(self):
        """
        The factory putting TLS around accepted connections (made once).
        """
        if self._tls_factory is None:
            self._tls_factory = _TLSServerFactory(self.tls.server_options())
        return self._tls_factory

    def new_protocol(self, peer=None):
        """
        A fresh envelope protocol bound to this node.
        """
        return EnvelopeProtocol(self, peer, self.max_frame_bytes, clock=self.reactor)

    def connected_to(self, upid):
        """
        Whether we have an open connection with C{upid}.
        """
        return upid in self._connections

    def send(self, to, message):
        """
        Send C{message} to the process C{to}, connecting if need be.

        Delivery is best effort, as in Mesos: callers that need a message to
        arrive retry until it is acknowledged.
        """
        self.send_from(self.upid, to, message)

    def send_from(self, sender, to, message):
        """
        Send C{message} to C{to} signed by C{sender}: our own UPID, or that
        of a process we host (L{host}).
        """
        connection = self._connections.get(to)
        if connection is not None:
            connection.send_message(sender, message, to)
        elif to in self._pending:
            self._pending[to].append((sender, message))
        elif not to.reachable:
            self.log.warn(
                "Dropping {name} to {to}: not connected, and it does not listen",
                name=message.DESCRIPTOR.full_name, to=str(to),
            )
        else:
            self._pending[to] = [(sender, message)]
            self._connect(to)

    def _connect(self, to):
        # TCP to an IP literal connects without a resolver's thread-pool
        # round trip (thousands of connections, at scale).
        endpoint = self.client_endpoints(to)
        if self.tls.enabled:
            endpoint = wrapClientTLS(self.tls.client_creator(to.host), endpoint)
        d = self._connecting[to] = endpoint.connect(_Given.giving(self.new_protocol(to)))
        d.addBoth(self._connected_or_failed, to)

        def connected(protocol):
            self._connections[to] = protocol
            self._open.add(protocol)
            for sender, message in self._pending.pop(to, ()):
                protocol.send_message(sender, message, to)

        def failed(failure):
            if self._stopped:
                return
            dropped = self._pending.pop(to, ())
            self.log.info(
                "Could not connect to {to} ({error}); {count} message(s) not sent",
                to=str(to), error=failure.getErrorMessage(), count=len(dropped),
            )
            self._tell_lost(to)

        d.addCallbacks(connected, failed)

    def _connected_or_failed(self, result, to):
        self._connecting.pop(to, None)
        return result

    def frame_received(self, protocol, sender, message, recipient=None):
        """
        Called by a protocol for each message it decodes (C{recipient}: the
        UPID the envelope names, if any).

        A connection speaks for one program, the address (host and port)
        of the first sender it carried: the processes of one program may
        share it, as in libprocess (emulated slaves, many to a connection),
        but a frame claiming a process elsewhere is dropped (libprocess lets
        any frame name any sender).  A frame claiming a L{pin}ned process on
        any connection but the one it was pinned to is dropped too.
        """
        if protocol.peer is None:
            protocol.peer = sender
        speaker = protocol.speaker
        if speaker is None:
            protocol.speaker = sender
        elif sender is not speaker and (sender.port != speaker.port
                                        or sender.host != speaker.host):
            self.log.warn("Dropping {name} claiming to be from {sender}: its connection "
                          "speaks for {speaker}", name=message.DESCRIPTOR.full_name,
                          sender=str(sender), speaker=str(speaker))
            return
        pinned = self._pinned.get(sender) if self._pinned else None
        if pinned is not None and pinned is not protocol:
            self.log.warn("Dropping {name} from {sender}: {sender} authenticated on another "
                          "connection, which is still open", name=message.DESCRIPTOR.full_name,
                          sender=str(sender))
            return
        if self._connections.get(sender) is not protocol:
            # The newest connection a process spoke on is the one to answer
            # it on.
            self._connections[sender] = protocol
            protocol.senders.add(sender)
        self.deliver(sender, recipient, message)

    def pin(self, upid):
        """
        C{upid} authenticated on its current connection: until that closes,
        what claims to come from C{upid} on any other is dropped (so an
        authenticated process cannot be impersonated), and the connection
        no longer counts against its address's cap of unauthenticated ones.
        """
        connection = self._connections.get(upid)
        if connection is None:
            return
        self._pinned[upid] = connection
        self.admitted(upid)

    def unpin(self, upid):
        """
        C{upid}'s authentication ended (it is authenticating again).
        """
        self._pinned.pop(upid, None)

    def admitted(self, upid):
        """
        C{upid}, on its current connection, was let in without
        authenticating (authentication is not required of its kind): the
        connection no longer counts against its address's cap.
        """
        admission = getattr(self._connections.get(upid), "admission", None)
        if admission is not None:
            admission.release()

    def accepted(self, sniffer):
        """
        Called by the sniffing protocol of a connection we accepted: until
        it closes or carries HTTP, it is one of ours to close.
        """
        self._open.add(sniffer)

    def forget(self, sniffer):
        """
        Called by the sniffing protocol of a connection we accepted that
        closed or carries HTTP.
        """
        self._open.discard(sniffer)

    def connection_lost(self, protocol):
        """
        Called by a protocol when its connection closes: every process we
        knew on it (and on no other connection since) is lost.
        """
        self._open.discard(protocol)
        if protocol.admission is not None:
            protocol.admission.release()
        peers = set(protocol.senders)
        if protocol.peer is not None:
            peers.add(protocol.peer)
        for peer in sorted(peers):
            if self._pinned.get(peer) is protocol:
                del self._pinned[peer]
            if self._connections.get(peer) is protocol:
                del self._connections[peer]
                self._tell_lost(peer)

    def peers(self):
        """
        The UPIDs we have an open connection with now.
        """
        return list(self._connections)

    def disconnect(self, upid):
        """
        Close our connection with C{upid}, if any.
        """
        connection = self._connections.get(upid)
        if connection is not None:
            connection.transport.loseConnection()

    def disconnect_all(self):
        """
        Close every message connection, known peer or not, and give up
        those being opened (see L{IMessageNode.disconnect_all}).
        """
        for attempt in list(self._connecting.values()):
            attempt.cancel()
        for connection in list(self._open):
            connection.transport.loseConnection()

    def stop(self):
        """
        Stop listening and close every connection.

        @return: a Deferred that fires when the listening port is closed.
        """
        self._stopped = True
        self.disconnect_all()
        self._pending.clear()
        port, self._port = self._port, None
        if port is None:
            return succeed(None)
        return port.stopListening()
