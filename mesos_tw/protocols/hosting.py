"""
Processes hosted on another's connections, as libprocess hosts the many
processes of one program: L{ProcessHosting}, what a node that hosts them
does with what arrives (L{mesos_tw.protocols.network.MessageNode} and the
emulated slaves' lean node), and L{HostedProcess}, one such process's
L{IMessageNode}.
"""

from zope.interface import implementer

from mesos_tw.protocols.interfaces import IMessageNode

__all__ = ["HostedProcess", "ProcessHosting"]


class ProcessHosting:
    """
    What a node that hosts other processes of its program on its
    connections (L{host}) does with what arrives: each message goes to the
    receiver of the process its envelope addresses, and every receiver
    hears of a lost peer.  Shared by
    L{MessageNode <mesos_tw.protocols.network.MessageNode>} and the emulated
    slaves' lean node.

    A subclass sets C{receiver} (its own process's), C{log} and
    C{_hosted} (C{{process id: HostedProcess}}, empty at first).
    """

    def host(self, upid, receiver=None):
        """
        Host another process of this program, with its own UPID (at our
        host and port) and receiver, on our connections: what libprocess
        does for the many processes of one program.  Messages addressed to
        it (the envelope's C{to}) go to its receiver, and it hears of every
        lost peer.  Emulated slaves use it, so that tens of thousands of
        them need not hold a connection each.

        @return: its L{HostedProcess}, an L{IMessageNode}.
        """
        process = HostedProcess(self, upid, receiver)
        self._hosted[upid.id] = process
        return process

    def deliver(self, sender, recipient, message):
        """
        Hand C{message} from C{sender} to the receiver of the process
        C{recipient} names (ours if it names none we host); a receiver's
        failure is logged, and the connection kept.
        """
        target = self
        if recipient is not None and self._hosted:
            target = self._hosted.get(recipient.id, self)
        try:
            target.receiver.message_received(sender, message)
        except Exception:
            # Receivers dispatch through a Dispatcher, which contains their
            # handlers' failures; this is the last line, so that no bug
            # closes a connection (principle 8).
            self.log.failure("Receiving {name} from {sender} failed; the connection is kept",
                             name=message.DESCRIPTOR.full_name, sender=str(sender))

    def _tell_lost(self, peer):
        """
        Tell the receivers (ours and our hosted processes') that C{peer} is
        lost; a failure there is logged.
        """
        receivers = [self.receiver] + [process.receiver for process in self._hosted.values()]
        for receiver in receivers:
            if receiver is None:
                continue
            try:
                receiver.peer_lost(peer)
            except Exception:
                self.log.failure("Handling the loss of {peer} failed", peer=str(peer))


@implementer(IMessageNode)
class HostedProcess:
    """
    A process hosted by another's node (L{ProcessHosting.host}): its own
    UPID and receiver, the node's connections.
    """

    def __init__(self, node, upid, receiver=None):
        self._node = node
        self.upid = upid
        self.receiver = receiver

    def send(self, to, message):
        """
        Send C{message} to C{to}, signed with our UPID.
        """
        self._node.send_from(self.upid, to, message)

    def connected_to(self, upid):
        """
        Whether the node has an open connection with C{upid}.
        """
        return self._node.connected_to(upid)

    def disconnect(self, upid):
        """
        Close the node's connection with C{upid}: every process on it sees
        it lost.
        """
        self._node.disconnect(upid)

    def peers(self):
        """
        The UPIDs the node has an open connection with.
        """
        return self._node.peers()

    def disconnect_all(self):
        """
        Close every connection of the node: every process on them sees
        them lost.
        """
        self._node.disconnect_all()

    def pin(self, upid):
        """
        As the node's C{pin}.
        """
        self._node.pin(upid)

    def unpin(self, upid):
        """
        As the node's C{unpin}.
        """
        self._node.unpin(upid)

    def admitted(self, upid):
        """
        As the node's C{admitted}.
        """
        self._node.admitted(upid)
