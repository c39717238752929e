"""
An in-memory message network: nodes that deliver to each other on a
reactor's clock, with no sockets, so a whole cluster can run on a C{Clock}.

It keeps the real node's contract (L{mesos_tw.testing.network_contract}
runs one suite against both): messages between two nodes travel on a
connection, which the first message opens on the next turn; a connection
that closes (L{MemoryNode.disconnect}, L{MemoryNode.disconnect_all},
L{MemoryNetwork.crash}, a frame over the receiver's limit) drops what was
in flight on it towards the end that closed it and is reported as
C{peer_lost} once to each end that knew the other; a node that does not
listen (port 0) can only be reached over a connection it opened; and a
receiver that raises keeps its connection.

A message may also be given a delay (L{MemoryNetwork.deliver}): it is then
bytes in flight on its connection for that long, as on a slow link, and
later messages on the connection wait behind it.  What is in flight
towards an end that closes the connection meanwhile is lost with the
connection; what an end sent before closing it still arrives, and the
other end hears the connection closed only after it (TCP's FIN follows
the data).
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

    def disconnect_all(self):
        """
        Close every connection we have, including those whose peer we do
        not know yet (its first message still on its way), and give up
        those being opened: what was on its way to us on them never
        arrives, and each end that knew the other hears C{peer_lost}.
        """
        self.network.close_all(self.upid)

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
    @ivar open: whether it still carries new messages (neither end has
        closed it).
    @ivar closed: the ends that closed it: nothing more reaches them on
        it, but what they had sent still arrives (a closing TCP
        connection flushes what was written).
    @ivar told: the ends told that it is lost (each at most once).
    @ivar in_flight: per sending end, C{[count, due]}: how many of its
        delayed messages are still on their way, and when the last one
        lands.
    """

    def __init__(self, opener, acceptor):
        self.ends = (opener, acceptor)
        self.knows = {opener}
        self.open = True
        self.closed = set()
        self.told = set()
        self.in_flight = {}

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
        # Connections one end closed whose other end has not heard so yet
        # (what the closer sent is still on its way to it).
        self._closing = set()

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

    def deliver(self, sender, to, message, delay=0.0):
        """
        Send C{message} from C{sender} to C{to}: on their connection if they
        have one, otherwise on one opened on the next turn.

        @param delay: seconds the message spends in flight on its
            connection (a slow link), later messages on it waiting behind.
        """
        copy = type(message)()
        copy.CopyFrom(message)
        connection = self._connection(sender, to)
        if connection is not None and sender in connection.knows:
            self._transmit(connection, sender, to, copy, delay, turn=True)
        elif (sender, to) in self._connecting:
            self._connecting[sender, to].append((copy, delay))
        elif not to.reachable:
            self.log.warn("Dropping {name} to {to}: not connected, and it does not listen",
                          name=message.DESCRIPTOR.full_name, to=str(to))
        else:
            self._connecting[sender, to] = [(copy, delay)]
            self.reactor.callLater(0, self._connect, sender, to)

    def _connect(self, sender, to):
        if (sender, to) not in self._connecting:
            return
        pending = self._connecting.pop((sender, to))
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
        for message, delay in pending:
            self._transmit(connection, sender, to, message, delay, turn=False)

    def _transmit(self, connection, sender, to, message, delay, turn):
        """
        Put C{message} on C{connection}: it arrives on the next turn (now,
        when C{turn} is false: the connection's opening was that turn),
        or, delayed or behind a delayed message, when it is due.
        """
        flight = connection.in_flight.get(sender)
        if not delay and flight is None:
            if turn:
                self.reactor.callLater(0, self._arrive, connection, sender, to, message)
            else:
                self._arrive(connection, sender, to, message)
            return
        now = self.reactor.seconds()
        due = now + delay
        if flight is None:
            flight = connection.in_flight[sender] = [0, due]
        flight[0] += 1
        flight[1] = due = max(flight[1], due)
        self.reactor.callLater(due - now, self._land, connection, sender, to, message)

    def _land(self, connection, sender, to, message):
        """
        A delayed message's time on the wire is over: it arrives, and once
        the last of its sender's is in, the receiving end hears of a close
        that followed them.
        """
        flight = connection.in_flight[sender]
        flight[0] -= 1
        if not flight[0]:
            del connection.in_flight[sender]
        self._arrive(connection, sender, to, message)
        if not flight[0] and sender in connection.closed:
            self.reactor.callLater(0, self._tell_closed, connection, to)

    def _arrive(self, connection, sender, to, message):
        target = self.nodes.get(to)
        if target is None or to in connection.closed:
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
        C{closer} closes C{connection}: nothing more reaches it on it, and
        it hears that its peer is lost on the next turn (if it knew it);
        the other end hears so after what C{closer} had sent.
        """
        if closer in connection.closed:
            return
        connection.closed.add(closer)
        connection.open = False
        self._connections.pop(frozenset(connection.ends), None)
        other = connection.other(closer)
        self.reactor.callLater(0, self._tell_closed, connection, closer)
        if other in connection.closed:
            self._closing.discard(connection)
        elif closer in connection.in_flight:
            self._closing.add(connection)
        else:
            self.reactor.callLater(0, self._tell_closed, connection, other)

    def _tell_closed(self, connection, end):
        """
        C{end} hears that C{connection} is lost, once, if it knew its peer.
        """
        if end not in connection.closed:
            # The other end's close has reached it: nothing is on its way.
            self._closing.discard(connection)
        if end in connection.told or end not in connection.knows:
            return
        connection.told.add(end)
        self._tell_lost(end, connection.other(end))

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

    def close_all(self, upid):
        """
        C{upid} closes every connection it has, known peer or not (one
        whose first message is still on its way to it, or whose other end
        closed it first and whose last messages are still on their way),
        and gives up the connections it is opening.
        """
        for connection in self._connections_of(upid):
            self._close(connection, upid)
        for sender, to in [key for key in self._connecting if key[0] == upid]:
            del self._connecting[sender, to]
            self.reactor.callLater(0, self._tell_lost, sender, to)

    def _connections_of(self, upid):
        """
        The connections C{upid} is an end of and has not closed.
        """
        connections = list(self._connections.values()) + list(self._closing)
        return [c for c in connections if upid in c.ends and upid not in c.closed]

    def break_connection(self, a, b):
        """
        The connection between C{a} and C{b} breaks (a cable cut, a
        partition): nothing on its way either way arrives, and each end
        that knew the other hears that it is lost.
        """
        for connection in self._connections_of(a):
            if b in connection.ends:
                self._close(connection, a)
                self._close(connection, b)

    def crash(self, upid):
        """
        Remove the node C{upid}: its connections close, its peers hear
        that it is lost, and it sends nothing more.
        """
        node = self.nodes.pop(upid, None)
        if node is not None:
            node.crashed = True
        for connection in self._connections_of(upid):
            connection.knows.discard(upid)
            self._close(connection, upid)
