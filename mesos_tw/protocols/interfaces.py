"""
The message network's interfaces: what a process sends through
(L{IMessageNode}) and what it hears with (L{IMessageReceiver}).  The real
node is L{mesos_tw.protocols.network.MessageNode} (where these are also
imported from), the in-memory ones are
L{mesos_tw.testing.network.MemoryNetwork}'s.
"""

from zope.interface import Attribute, Interface

__all__ = ["IMessageNode", "IMessageReceiver"]


class IMessageReceiver(Interface):
    """
    What a node delivers messages to: the master, a slave or a driver.
    """

    def message_received(sender, message):
        """
        C{message}, a protobuf message, arrived from the L{UPID} C{sender}.
        """

    def peer_lost(upid):
        """
        The connection with C{upid} closed or could not be opened.
        """


class IMessageNode(Interface):
    """
    One process's end of the message network: what the master, slaves and
    drivers send through.  L{MessageNode} is the real one (TCP);
    L{mesos_tw.testing.network.MemoryNetwork} makes in-memory ones.
    """

    upid = Attribute("Our own L{UPID}, the sender of everything we send.")
    receiver = Attribute("The L{IMessageReceiver} that messages are delivered to.")

    def send(to, message):
        """
        Send the protobuf C{message} to the L{UPID} C{to}, best effort.
        """

    def connected_to(upid):
        """
        Whether a connection with C{upid} is open now.
        """

    def disconnect(upid):
        """
        Close the connection with C{upid}, if any; both ends see
        L{IMessageReceiver.peer_lost}.
        """

    def disconnect_all():
        """
        Close every message connection: those with peers we know, those
        whose peer we do not know yet (accepted, their first frame still
        on its way: it never arrives), and those being opened (what waits
        for them is dropped).  Each end that knew the other sees
        L{IMessageReceiver.peer_lost}.  What a process that exits gets for
        free: a master whose term ends calls it, so that nothing sent to
        the old term reaches a later one.
        """

    def peers():
        """
        The UPIDs we have an open connection with now.
        """

    def pin(upid):
        """
        C{upid} authenticated on its current connection: until that closes,
        frames claiming to come from C{upid} on another are dropped, and it
        no longer counts as an unauthenticated connection.
        """

    def unpin(upid):
        """
        C{upid}'s authentication ended: any connection may speak for it.
        """

    def admitted(upid):
        """
        C{upid} was let in without authenticating: its connection no longer
        counts as an unauthenticated one.
        """
