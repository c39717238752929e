"""
An in-memory message network: nodes that deliver to each other on a
reactor's clock, with no sockets, so a whole cluster can run on a C{Clock}.
"""

from zope.interface import implementer

from mesos_tw.protocols.network import IMessageNode

__all__ = ["MemoryNetwork", "MemoryNode"]


@implementer(IMessageNode)
class MemoryNode:
    """
    A node of a L{MemoryNetwork}.

    @ivar sent: every C{(to, message)} this node sent, in order, for tests
        that only look at what a component says.
    """

    def __init__(self, network, upid, receiver=None):
        self.network = network
        self.upid = upid
        self.receiver = receiver
        self.sent = []
        #: Set when the network crashed this node: it sends nothing more.
        self.crashed = False

    def send(self, to, message):
        """
        Deliver C{message} to C{to} on the network's next turn (a copy, as
        if it went over the wire); nothing, from a crashed node.
        """
        if self.crashed:
            return
        self.sent.append((to, message))
        self.network.deliver(self.upid, to, message)

    def connected_to(self, upid):
        """
        Whether both ends are on the network and not cut apart.
        """
        return self.network.linked(self.upid, upid)

    def disconnect(self, upid):
        """
        Sever the link with C{upid}: both ends hear C{peer_lost}.
        """
        self.network.sever(self.upid, upid)

    def peers(self):
        """
        The nodes we have exchanged messages with and not been cut from.
        """
        return self.network.peers_of(self.upid)

    def sent_of(self, cls):
        """
        The messages of type C{cls} this node sent, in order.
        """
        return [message for to, message in self.sent if isinstance(message, cls)]


class MemoryNetwork:
    """
    Nodes addressed by UPID.  A message is delivered through
    C{reactor.callLater(0, ...)}, so tests advance the clock to let it
    arrive; a message to a node that is not (or no longer) there is
    reported to its sender as C{peer_lost}, as a refused TCP connection is.
    """

    def __init__(self, reactor):
        self.reactor = reactor
        self.nodes = {}
        self._links = set()

    def node(self, upid, receiver=None):
        """
        Add and return a node for C{upid}.
        """
        node = self.nodes[upid] = MemoryNode(self, upid, receiver)
        return node

    def linked(self, a, b):
        """
        Whether a and b have exchanged messages and not been cut apart.
        """
        return frozenset((a, b)) in self._links

    def peers_of(self, upid):
        """
        The UPIDs linked with C{upid}.
        """
        return [other for link in self._links if upid in link for other in link if other != upid]

    def deliver(self, sender, to, message):
        """
        Schedule C{message}'s arrival at C{to}.
        """
        copy = type(message)()
        copy.CopyFrom(message)
        self.reactor.callLater(0, self._arrive, sender, to, copy)

    def _arrive(self, sender, to, message):
        target = self.nodes.get(to)
        source = self.nodes.get(sender)
        if target is None or target.receiver is None:
            if source is not None and source.receiver is not None:
                source.receiver.peer_lost(to)
            return
        self._links.add(frozenset((sender, to)))
        target.receiver.message_received(sender, message)

    def sever(self, a, b):
        """
        Cut the link between C{a} and C{b}; each end that is still on the
        network hears that the other is lost.
        """
        link = frozenset((a, b))
        if link not in self._links:
            return
        self._links.discard(link)
        for here, there in ((a, b), (b, a)):
            node = self.nodes.get(here)
            if node is not None and node.receiver is not None:
                node.receiver.peer_lost(there)

    def crash(self, upid):
        """
        Remove the node C{upid}: its peers hear that it is lost, and it
        sends nothing more.
        """
        node = self.nodes.pop(upid, None)
        if node is not None:
            node.crashed = True
        for link in [l for l in self._links if upid in l]:
            (other,) = link - {upid} or {upid}
            self._links.discard(link)
            node = self.nodes.get(other)
            if node is not None and node.receiver is not None:
                node.receiver.peer_lost(upid)
