"""
Frames sent in one turn of the reactor leave in one system call: a
L{MessageNode} writes each frame to its connection's transport, which
buffers until the reactor finds the socket writable, so a burst of status
updates (or acknowledgements) to one peer costs one C{send}, and still
arrives whole, in order, once each.  Over real loopback TCP.
"""

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.trial.unittest import TestCase
from zope.interface import implementer

from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.network import IMessageReceiver, MessageNode
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.local_cluster import until


@implementer(IMessageReceiver)
class Collector:
    """
    Keeps what arrives.
    """

    def __init__(self):
        self.messages = []

    def message_received(self, sender, message):
        """
        Keep C{message}.
        """
        self.messages.append(message)

    def peer_lost(self, upid):
        """
        Nothing to do.
        """


def update(index):
    """
    A status update numbered C{index} (its task id and uuid say which).
    """
    return internal.StatusUpdateMessage(update=internal.StatusUpdate(
        framework_id=mesos_pb2.FrameworkID(value="F1"), timestamp=1.0,
        uuid=index.to_bytes(16, "big"),
        status=mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value=f"t{index}"),
                                    state=mesos_pb2.TASK_FINISHED)))


class WriteCoalescingTests(TestCase):
    """
    A burst of frames to one peer, over loopback TCP.
    """

    @inlineCallbacks
    def setUp(self):
        self.inbox = Collector()
        self.receiver = MessageNode(reactor, UPID("slave(1)", "127.0.0.1", 0), self.inbox)
        yield self.receiver.listen(TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1"))
        self.addCleanup(self.receiver.stop)
        self.sender = MessageNode(reactor, UPID("executor-1", "127.0.0.1", 0), Collector())
        self.addCleanup(self.sender.stop)
        self.sender.send(self.receiver.upid, update(0))
        yield until(reactor, lambda: self.inbox.messages, "the connection to be made")

    @inlineCallbacks
    def test_burst_is_one_send(self):
        """
        200 updates sent in one turn leave in one C{send} (they fit the
        transport's 128 KB write limit), and arrive in order, once each.
        """
        transport = self.sender._connections[self.receiver.upid].transport
        sends = []
        write_some_data = transport.writeSomeData

        def counting(data):
            sends.append(len(data))
            return write_some_data(data)

        transport.writeSomeData = counting
        for index in range(1, 201):
            self.sender.send(self.receiver.upid, update(index))
        self.assertEqual(sends, [])
        yield until(reactor, lambda: len(self.inbox.messages) == 201, "every update to arrive")
        self.assertEqual(len(sends), 1)
        self.assertEqual([m.update.uuid for m in self.inbox.messages],
                         [index.to_bytes(16, "big") for index in range(201)])
