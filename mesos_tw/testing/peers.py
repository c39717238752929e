"""
A recording peer: stands in for a slave, scheduler or executor in unit
tests of the component on the other end.
"""

from zope.interface import implementer

from mesos_tw.protocols.network import IMessageReceiver

__all__ = ["RecordingPeer"]


@implementer(IMessageReceiver)
class RecordingPeer:
    """
    A node's receiver that keeps everything it is sent.

    @ivar received: C{(sender, message)} pairs in arrival order.
    @ivar lost: UPIDs reported lost.
    """

    def __init__(self, network, upid):
        self.node = network.node(upid, self)
        self.received = []
        self.lost = []

    @property
    def upid(self):
        """
        This peer's address.
        """
        return self.node.upid

    def message_received(self, sender, message):
        """
        Keep C{message}.
        """
        self.received.append((sender, message))

    def peer_lost(self, upid):
        """
        Keep the lost peer's UPID.
        """
        self.lost.append(upid)

    def send(self, to, message):
        """
        Send C{message} to C{to} from this peer.
        """
        self.node.send(to, message)

    def of(self, cls):
        """
        The messages of type C{cls} received, in order.
        """
        return [message for _, message in self.received if isinstance(message, cls)]

    def last(self, cls):
        """
        The latest message of type C{cls} received.
        """
        messages = self.of(cls)
        if not messages:
            raise AssertionError(f"no {cls.DESCRIPTOR.full_name} received")
        return messages[-1]
