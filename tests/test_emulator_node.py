"""
Tests for L{mesos_tw.testing.emulator_node.EmulatorNode}, the lean node of
emulated slaves, over loopback TCP against real L{MessageNode}s: the
L{IMessageNode} contract suite, and what the emulator relies on.
"""

import errno
import os
import resource

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks, succeed
from twisted.internet.endpoints import serverFromString
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from mesos_tw.protocols import messages_pb2, mesos_pb2
from mesos_tw.protocols.guard import ConnectionGuard
from mesos_tw.protocols.interfaces import IMessageNode
from mesos_tw.protocols.network import MessageNode
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.emulator_node import EmulatorNode
from mesos_tw.testing.network_contract import DEADLINE, Inbox, TCPNodes, make_imessagenode_tests


class CountingGuard(ConnectionGuard):
    """
    A listening port's guard that counts the connections it accepted.
    """

    accepted = 0

    def admit(self, transport):
        """
        Count the connection, and admit it as the real guard does.
        """
        self.accepted += 1
        return super().admit(transport)


class EmulatorAndTCPNodes(TCPNodes):
    """
    The contract's nodes, node C{a} an L{EmulatorNode} (it only connects
    out, which is all the suite asks of C{a}), the others L{MessageNode}s.
    """

    def node(self, name, receiver, listening=True, **keywords):
        """
        Node C{a} is an emulator's node, whatever C{listening} says.
        """
        if name != "a":
            return super().node(name, receiver, listening, **keywords)
        node = EmulatorNode(self.reactor, UPID(name, "127.0.0.1", 0), receiver)
        self.nodes.append(node)
        return succeed(node)


class EmulatorNodeContractTests(
        make_imessagenode_tests(lambda test: EmulatorAndTCPNodes(test, reactor))):
    """
    The L{IMessageNode} contract, an L{EmulatorNode} talking to
    L{MessageNode}s over loopback TCP.
    """


class EmulatorNodeTests(TestCase):
    """
    What the emulator relies on beyond the contract.
    """

    @inlineCallbacks
    def setUp(self):
        self.master_inbox = Inbox()
        self.guard = CountingGuard(reactor)
        self.master = MessageNode(reactor, UPID("master", "127.0.0.1", 0), self.master_inbox,
                                  guard=self.guard)
        yield self.master.listen(serverFromString(reactor, "tcp:0:interface=127.0.0.1"))
        self.addCleanup(self.master.stop)

    def when(self, inbox, condition):
        """
        Wait for C{condition()} on C{inbox}, failing after the deadline.
        """
        return inbox.when(condition).addTimeout(DEADLINE, reactor)

    def node(self, **keywords):
        """
        An L{EmulatorNode} stopped when the test ends.
        """
        node = EmulatorNode(reactor, UPID("slave(0)", "127.0.0.1", 0), **keywords)
        self.addCleanup(node.stop)
        return node

    @inlineCallbacks
    def test_hosted_slaves_share_a_connection(self):
        """
        Slaves hosted by one node speak on its one connection (the master
        accepted exactly one), each under its own UPID; each answer reaches
        the slave it is addressed to, and when the master's end closes,
        every slave on it hears so.
        """
        node = self.node()
        inboxes = [Inbox(), Inbox()]
        slaves = [node.host(UPID(f"slave({n})", "127.0.0.1", 0), inboxes[n]) for n in range(2)]
        self.assertTrue(verifyObject(IMessageNode, node))
        for slave in slaves:
            slave.send(self.master.upid, messages_pb2.PongSlaveMessage())
        yield self.when(self.master_inbox, lambda: len(self.master_inbox.messages) == 2)
        self.assertEqual([sender for sender, _ in self.master_inbox.messages],
                         [slave.upid for slave in slaves])
        self.assertEqual(self.guard.accepted, 1)
        answers = [messages_pb2.SlaveRegisteredMessage(slave_id=mesos_pb2.SlaveID(value=f"S{n}"))
                   for n in range(2)]
        for slave, answer in zip(reversed(slaves), reversed(answers)):
            self.master.send(slave.upid, answer)
        for inbox in inboxes:
            yield self.when(inbox, lambda inbox=inbox: inbox.messages)
        self.assertEqual([inbox.messages for inbox in inboxes],
                         [[(self.master.upid, answer)] for answer in answers])
        self.assertEqual(node.peers(), [self.master.upid])
        self.master.disconnect(slaves[0].upid)
        for inbox in inboxes:
            yield self.when(inbox, lambda inbox=inbox: inbox.lost)
        self.assertEqual([inbox.lost for inbox in inboxes], [[self.master.upid]] * 2)
        self.assertEqual(node.peers(), [])

    @inlineCallbacks
    def test_source_host(self):
        """
        A node given a C{source_host} connects from that local address.
        """
        node = self.node(source_host="127.0.0.2")
        node.send(self.master.upid, messages_pb2.PongSlaveMessage())
        yield self.when(self.master_inbox, lambda: self.master_inbox.messages)
        transport = self.master._connections[node.upid].transport
        self.assertEqual(transport.getPeer().host, "127.0.0.2")

    @inlineCallbacks
    def test_garbage_closes_the_connection(self):
        """
        Bytes that are not a frame close the connection, with a logged
        reason; the node's processes hear their master lost.
        """
        inbox = Inbox()
        node = self.node(receiver=inbox)
        node.send(self.master.upid, messages_pb2.PongSlaveMessage())
        yield self.when(self.master_inbox, lambda: self.master_inbox.messages)
        self.master._connections[node.upid].transport.write(b"\x00\x00\x00\x03abc")
        yield self.when(inbox, lambda: inbox.lost)
        self.assertEqual(inbox.lost, [self.master.upid])
        self.assertFalse(node.connected_to(self.master.upid))


def lowest_free_descriptor():
    """
    The descriptor the next socket would get (the lowest free one).
    """
    descriptor = os.dup(0)
    os.close(descriptor)
    return descriptor


class EmulatorNodeLimitTests(SynchronousTestCase):
    """
    A node that cannot connect, or must not, says so and raises nothing
    into the slave's timer that sent.
    """

    def setUp(self):
        self.clock = MemoryReactorClock()
        self.inbox = Inbox()
        self.node = EmulatorNode(self.clock, UPID("slave(0)", "127.0.0.1", 0), self.inbox)
        self.addCleanup(self.node.stop)
        self.master = UPID("master", "127.0.0.1", 5050)
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def test_out_of_descriptors_reports_the_peer_lost(self):
        """
        When the process has no descriptor left for a socket (EMFILE),
        C{send} returns, and the peer is reported lost at the next turn, as
        a refused connection is; the node connects again afterwards.
        """
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free_descriptor(), hard))
        try:
            self.node.send(self.master, messages_pb2.PongSlaveMessage())
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        self.assertEqual(self.inbox.lost, [])
        self.clock.advance(0)
        self.assertEqual(self.inbox.lost, [self.master])
        self.assertIn(f"cannot connect: {os.strerror(errno.EMFILE)}",
                      [event.get("why") for event in self.events])
        self.assertFalse(self.node.connected_to(self.master))
        self.assertEqual(self.clock.getWriters(), [])
        self.node.send(self.master, messages_pb2.PongSlaveMessage())
        self.assertEqual(len(self.clock.getWriters()), 1)

    def test_stopped_node_does_not_connect(self):
        """
        Once stopped, a node opens no connection: what a slave's leftover
        timer sends is dropped, with a debug log saying why, and no loss is
        reported.
        """
        self.node.stop()
        self.node.send(self.master, messages_pb2.PongSlaveMessage())
        self.assertEqual(self.clock.getWriters(), [])
        self.assertEqual(self.node.peers(), [])
        self.clock.advance(0)
        self.assertEqual(self.inbox.lost, [])
        dropped = [event for event in self.events
                   if event.get("log_format", "").endswith("this node is stopped")]
        self.assertEqual([(event["to"], event["log_level"].name) for event in dropped],
                         [(str(self.master), "debug")])
