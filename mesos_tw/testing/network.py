"""
An in-memory message network: nodes that deliver to each other on a
reactor's clock, with no sockets, so a whole cluster can run on a C{Clock}.

It keeps the real node's contract (L{mesos_tw.testing.network_contract}
runs one suite against both): messages between two nodes travel on a
connection, which the first message opens on the next turn; a connection
that closes (L{MemoryNode.disconnect}, L{MemoryNetwork.crash}, a frame over
the receiver's limit) drops what was in flight on it and is reported as
C{peer_lost} once to each end that knew the other; a node that does not
listen (port 0) can only be reached over a connection it opened; and a
receiver that raises keeps its connection.
"""

from twisted.logger import Logger
from zope.interface import implementer

from mesos_tw.protocols.codec import DEFAULT_MAX_FRAME_BYTES
from mesos_tw.protocols.envelope_pb2 import Envelope
from mesos_tw.protocols.network import IMessageNode

__all__ = ["MemoryNetwork", "MemoryNode"]


@implementer(IMessageNode)
class MemoryNode:
    """
    A node of a L{MemoryNetwork}.

    @ivar sent: every C{(to, message)} this node sent, in order, for tests
        that only look at what a component says.
    """

    def __init__(self, network, upid, receiver=None, max_frame_bytes=DEFAULT_MAX_FRAME_BYTES):
        self.network = network
        self.upid = upid
        self.receiver = receiver
        self.max_frame_bytes = max_frame_bytes
        self.sent = []
        #: The UPIDs pinned to their connection (authenticated).
        self.pinned = set()
        #: Set when the network crashed this node: it sends nothing more.
        self.crashed = False

    def send(self, to, message):
        """
        Send C{message} to C{to}: it arrives on a later turn of the clock
        (a copy, as if it went over the wire); nothing, from a crashed node.
        """
        if self.crashed:
            return
        self.sent.append((to, message))
        self.network.deliver(self.upid, to, message)

    def connected_to(self, upid):
        """
        Whether we have an open connection with C{upid}.
        """
        return self.network.linked(self.upid, upid)

    def disconnect(self, upid):
        """
        Close our connection with C{upid}, if any: both ends hear
        C{peer_lost}.
        """
        self.network.sever(self.upid, upid)

    def peers(self):
        """
        The UPIDs we have an open connection with.
        """
        return self.network.peers_of(self.upid)

    def pin(self, upid):
        """
        Record that C{upid} authenticated (in memory every sender is who it
        says it is, so there is nothing to enforce).
        """
        self.pinned.add(upid)

    def unpin(self, upid):
        """
        Forget that C{upid} authenticated.
        """
        self.pinned.discard(upid)

    def admitted(self, upid):
        """
        Nothing to do: in memory no connection counts against a cap.
        """

    def sent_of(self, cls):
        """
        The messages of type C{cls} this node sent, in order.
        """
        return [message for to, message in self.sent if isinstance(message, cls)]


def _frame_size(sender, message, limit):
    """
    The size of the envelope carrying C{message}, exactly when it could be
    near C{limit} (its body's otherwise).  Unlike the real node, required
    fields are not checked: unit tests may send partial messages.
    """
    body = message.SerializePartialToString()
    if len(body) < limit - 4096:
        return len(body)
    return Envelope(name=message.DESCRIPTOR.full_name, body=body,
                    **{"from": str(sender)}).ByteSize()


class _Connection:
    """
    One connection between two nodes.

    @ivar knows: the ends that know the other's UPID: the one that opened
        it from the start, the other once a message arrives on it.
    @ivar closed_by: the end that closed it; what it had sent still
        arrives (a closing TCP connection flushes what was written), what
        was sent to it does not.
    """

    def __init__(self, opener, acceptor):
        self.ends = (opener, acceptor)
        self.knows = {opener}
        self.open = True
        self.closed_by = None

    def other(self, upid):
        """
        The end that is not C{upid}.
        """
        a, b = self.ends
        return b if upid == a else a


class MemoryNetwork:
    """
    Nodes addressed by UPID, delivering through C{reactor.callLater(0, ...)}:
    tests advance the clock to let messages arrive.
    """

    log = Logger()

    def __init__(self, reactor):
        self.reactor = reactor
        self.nodes = {}
        self._connections = {}
        self._connecting = {}

    def node(self, upid, receiver=None, max_frame_bytes=DEFAULT_MAX_FRAME_BYTES):
        """
        Add and return a node for C{upid}.
        """
        node = self.nodes[upid] = MemoryNode(self, upid, receiver, max_frame_bytes)
        return node

    def _connection(self, a, b):
        connection = self._connections.get(frozenset((a, b)))
        return connection if connection is not None and connection.open else None

    def linked(self, a, b):
        """
        Whether C{a} has an open connection with C{b} (and knows it).
        """
        connection = self._connection(a, b)
        return connection is not None and a in connection.knows

    def peers_of(self, upid):
        """
        The UPIDs C{upid} has an open connection with.
        """
        return [c.other(upid) for c in self._connections.values()
                if c.open and upid in c.ends and upid in c.knows]

    def deliver(self, sender, to, message):
        """
        Send C{message} from C{sender} to C{to}: on their connection if they
        have one, otherwise on one opened on the next turn.
        """
        copy = type(message)()
        copy.CopyFrom(message)
        connection = self._connection(sender, to)
        if connection is not None and sender in connection.knows:
            self.reactor.callLater(0, self._arrive, connection, sender, to, copy)
        elif (sender, to) in self._connecting:
            self._connecting[sender, to].append(copy)
        elif not to.reachable:
            self.log.warn("Dropping {name} to {to}: not connected, and it does not listen",
                          name=message.DESCRIPTOR.full_name, to=str(to))
        else:
            self._connecting[sender, to] = [copy]
            self.reactor.callLater(0, self._connect, sender, to)

    def _connect(self, sender, to):
        pending = self._connecting.pop((sender, to), [])
        if sender not in self.nodes:
            return
        target = self.nodes.get(to)
        if target is None or target.receiver is None:
            self.log.info("Could not connect to {to}; {count} message(s) not sent",
                          to=str(to), count=len(pending))
            self._tell_lost(sender, to)
            return
        connection = self._connection(sender, to)
        if connection is None:
            connection = self._connections[frozenset((sender, to))] = _Connection(sender, to)
        connection.knows.add(sender)
        for message in pending:
            self._arrive(connection, sender, to, message)

    def _arrive(self, connection, sender, to, message):
        target = self.nodes.get(to)
        if target is None or (not connection.open and connection.closed_by != sender):
            return
        size = _frame_size(sender, message, target.max_frame_bytes)
        if size > target.max_frame_bytes:
            self.log.warn("Closing connection from {sender}: frame of {size} bytes exceeds the "
                          "limit of {limit}", sender=str(sender), size=size,
                          limit=target.max_frame_bytes)
            self._close(connection, to)
            return
        connection.knows.add(to)
        try:
            target.receiver.message_received(sender, message)
        except Exception:
            self.log.failure("Receiving {name} from {sender} failed; the connection is kept",
                             name=message.DESCRIPTOR.full_name, sender=str(sender))

    def _close(self, connection, closer):
        """
        C{closer} closes C{connection}: each end that knew the other hears
        that it is lost, on the next turn (after what C{closer} had sent).
        """
        if not connection.open:
            return
        connection.open = False
        connection.closed_by = closer
        self._connections.pop(frozenset(connection.ends), None)
        for end in connection.knows:
            self.reactor.callLater(0, self._tell_lost, end, connection.other(end))

    def _tell_lost(self, here, there):
        node = self.nodes.get(here)
        if node is None or node.receiver is None:
            return
        try:
            node.receiver.peer_lost(there)
        except Exception:
            self.log.failure("Handling the loss of {peer} failed", peer=str(there))

    def sever(self, a, b):
        """
        Close the connection between C{a} and C{b} (as C{a}); each end that
        knew the other hears that it is lost.
        """
        if self.linked(a, b):
            self._close(self._connection(a, b), a)

    def crash(self, upid):
        """
        Remove the node C{upid}: its connections close, its peers hear
        that it is lost, and it sends nothing more.
        """
        node = self.nodes.pop(upid, None)
        if node is not None:
            node.crashed = True
        for connection in [c for c in self._connections.values() if upid in c.ends]:
            connection.knows.discard(upid)
            self._close(connection, upid)
