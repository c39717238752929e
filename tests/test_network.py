"""
Tests for L{mesos_tw.protocols.network.MessageNode} over loopback TCP, and
for the in-memory network that unit tests use in its place.
"""

import socket

from klein import Klein
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ServerEndpoint, serverFromString
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.server import Site
from zope.interface.verify import verifyClass, verifyObject

from mesos_tw.constants import LISTEN_BACKLOG
from mesos_tw.protocols import messages_pb2, mesos_pb2
from mesos_tw.protocols.interfaces import IMessageNode, IMessageReceiver
from mesos_tw.protocols.network import MessageNode
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.network import MemoryNetwork, MemoryNode
from mesos_tw.testing.network_contract import Inbox
from mesos_tw.testing.peers import RecordingPeer


class PingApp:
    """
    A tiny Klein app to prove HTTP shares the port with frames.
    """

    app = Klein()

    @app.route("/health")
    def health(self, request):
        return b"ok"


class MessageNodeTests(TestCase):
    """
    Two real nodes talking over loopback TCP.
    """

    @inlineCallbacks
    def setUp(self):
        self.server_inbox = Inbox()
        self.server = MessageNode(reactor, UPID("master", "127.0.0.1", 0), self.server_inbox)
        yield self.server.listen(
            TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1"), Site(PingApp().app.resource())
        )
        self.addCleanup(self.server.stop)
        self.client_inbox = Inbox()
        self.client = MessageNode(reactor, UPID("scheduler-1", "127.0.0.1", 0), self.client_inbox)
        self.addCleanup(self.client.stop)

    def test_interfaces(self):
        """
        L{MessageNode} provides L{IMessageNode}.
        """
        self.assertTrue(verifyObject(IMessageNode, self.server))

    def test_listen_learns_port(self):
        """
        Listening on port 0 gives the node's UPID the bound port.
        """
        self.assertNotEqual(self.server.upid.port, 0)

    @inlineCallbacks
    def test_send_and_reply_on_same_connection(self):
        """
        A client that does not listen connects, sends, and gets a reply on
        its own connection; the server learns its UPID from the envelope.
        """
        self.client.send(self.server.upid, messages_pb2.PingSlaveMessage())
        self.client.send(self.server.upid, messages_pb2.PongSlaveMessage())
        yield self.server_inbox.when(lambda: len(self.server_inbox.messages) == 2)
        sender, message = self.server_inbox.messages[0]
        self.assertEqual(sender, self.client.upid)
        self.assertIsInstance(message, messages_pb2.PingSlaveMessage)
        self.assertIsInstance(self.server_inbox.messages[1][1], messages_pb2.PongSlaveMessage)
        reply = messages_pb2.SlaveRegisteredMessage(slave_id=mesos_pb2.SlaveID(value="S1"))
        self.server.send(self.client.upid, reply)
        yield self.client_inbox.when(lambda: self.client_inbox.messages)
        self.assertEqual(self.client_inbox.messages, [(self.server.upid, reply)])

    @inlineCallbacks
    def test_source_host(self):
        """
        A node given a C{source_host} makes its connections from that
        local address.
        """
        peers = []
        connected = Deferred()

        class Recorder(Protocol):
            def connectionMade(self):
                peers.append(self.transport.getPeer().host)
                connected.callback(None)

        port = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
            Factory.forProtocol(Recorder))
        self.addCleanup(port.stopListening)
        node = MessageNode(reactor, UPID("slave(1)", "127.0.0.1", 0), Inbox(),
                           source_host="127.0.0.2")
        self.addCleanup(node.stop)
        node.send(UPID("master", "127.0.0.1", port.getHost().port), messages_pb2.PongSlaveMessage())
        yield connected
        self.assertEqual(peers, ["127.0.0.2"])

    @inlineCallbacks
    def test_hosted_processes_share_a_connection(self):
        """
        Processes hosted by one node (L{MessageNode.host}) speak on its one
        connection, each under its own UPID; the other end answers each on
        that connection, and each reply reaches the process it names.
        """
        inboxes = [Inbox(), Inbox()]
        hosted = [self.client.host(UPID(f"slave({n})", "127.0.0.1", 0), inboxes[n])
                  for n in range(2)]
        self.assertTrue(verifyObject(IMessageNode, hosted[0]))
        for process in hosted:
            process.send(self.server.upid, messages_pb2.PongSlaveMessage())
        yield self.server_inbox.when(lambda: len(self.server_inbox.messages) == 2)
        self.assertEqual([sender for sender, _ in self.server_inbox.messages],
                         [process.upid for process in hosted])
        replies = [messages_pb2.SlaveRegisteredMessage(slave_id=mesos_pb2.SlaveID(value=f"S{n}"))
                   for n in range(2)]
        for process, reply in zip(reversed(hosted), reversed(replies)):
            self.server.send(process.upid, reply)
        yield inboxes[0].when(lambda: inboxes[0].messages)
        yield inboxes[1].when(lambda: inboxes[1].messages)
        self.assertEqual([inbox.messages for inbox in inboxes],
                         [[(self.server.upid, reply)] for reply in replies])
        self.assertEqual(self.client_inbox.messages, [])
        self.assertEqual(len(self.client.peers()), 1)

    @inlineCallbacks
    def test_shared_connection_lost(self):
        """
        When a connection several processes spoke on closes, the other end
        loses every one of them, and each hosted process loses its peer.
        """
        inboxes = [Inbox(), Inbox()]
        hosted = [self.client.host(UPID(f"slave({n})", "127.0.0.1", 0), inboxes[n])
                  for n in range(2)]
        for process in hosted:
            process.send(self.server.upid, messages_pb2.PongSlaveMessage())
        yield self.server_inbox.when(lambda: len(self.server_inbox.messages) == 2)
        hosted[1].disconnect(self.server.upid)
        yield self.server_inbox.when(lambda: len(self.server_inbox.lost) == 2)
        yield inboxes[1].when(lambda: inboxes[1].lost)
        self.assertEqual(sorted(self.server_inbox.lost), sorted(p.upid for p in hosted))
        self.assertEqual([inbox.lost for inbox in inboxes], [[self.server.upid]] * 2)
        self.assertEqual(self.server.peers(), [])

    @inlineCallbacks
    def test_peer_lost_on_disconnect(self):
        """
        Closing a connection tells both ends that the other is lost.
        """
        self.client.send(self.server.upid, messages_pb2.PingSlaveMessage())
        yield self.server_inbox.when(lambda: self.server_inbox.messages)
        self.assertTrue(self.server.connected_to(self.client.upid))
        self.assertEqual(self.server.peers(), [self.client.upid])
        self.client.disconnect(self.server.upid)
        yield self.server_inbox.when(lambda: self.server_inbox.lost)
        yield self.client_inbox.when(lambda: self.client_inbox.lost)
        self.assertEqual(self.server_inbox.lost, [self.client.upid])
        self.assertEqual(self.client_inbox.lost, [self.server.upid])
        self.assertFalse(self.server.connected_to(self.client.upid))
        self.assertEqual(self.server.peers(), [])

    @inlineCallbacks
    def test_connection_refused_reports_peer_lost(self):
        """
        A UPID nobody listens on is reported lost.
        """
        port = self.server.upid.port
        yield self.server.stop()
        self.client.send(UPID("master", "127.0.0.1", port), messages_pb2.PingSlaveMessage())
        yield self.client_inbox.when(lambda: self.client_inbox.lost)
        self.assertEqual(self.client_inbox.lost, [UPID("master", "127.0.0.1", port)])

    def test_unreachable_upid_dropped(self):
        """
        A message to a non-listening UPID with no connection is dropped
        (and logged) without trying to connect.
        """
        self.server.send(UPID("scheduler-x", "127.0.0.1", 0), messages_pb2.PingSlaveMessage())
        self.assertFalse(self.server.connected_to(UPID("scheduler-x", "127.0.0.1", 0)))

    @inlineCallbacks
    def test_http_on_the_same_port(self):
        """
        An HTTP request on the message port reaches the web site.
        """
        import treq

        response = yield treq.get(
            f"http://127.0.0.1:{self.server.upid.port}/health", persistent=False
        )
        body = yield response.content()
        self.assertEqual((response.code, body), (200, b"ok"))


class DrainingAcceptQueueTests(TestCase):
    """
    A listening L{MessageNode} takes every connection waiting in its
    accept queue each time it is readable.
    """

    @inlineCallbacks
    def test_whole_queue_taken_in_one_turn(self):
        """
        300 connections queued by the kernel are all accepted by one read
        of the listening port (Twisted's port alone would take 100).
        """
        accepted = []
        node = MessageNode(reactor, UPID("master", "127.0.0.1", 0), Inbox())
        node.accepted = accepted.append
        port = yield node.listen(serverFromString(
            reactor, f"tcp:0:interface=127.0.0.1:backlog={LISTEN_BACKLOG}"))
        self.addCleanup(node.stop)
        clients = []
        for _ in range(300):
            # A blocking connect to loopback returns once the kernel has
            # queued the connection for accept.
            client = socket.create_connection(("127.0.0.1", node.upid.port))
            self.addCleanup(client.close)
            clients.append(client)
        port.doRead()
        self.assertEqual(len(accepted), 300)


class ConnectionAttemptTests(SynchronousTestCase):
    """
    A node's outgoing connection attempts, on a fake reactor.
    """

    def test_stop_cancels_connection_attempts(self):
        """
        Stopping a node abandons a connection attempt still in progress,
        without reporting the peer lost, and nothing is left pending.
        """
        reactor = MemoryReactorClock()
        inbox = Inbox()
        node = MessageNode(reactor, UPID("scheduler-1", "127.0.0.1", 0), inbox)
        master = UPID("master", "127.0.0.1", 5050)
        node.send(master, messages_pb2.PingSlaveMessage())
        self.assertEqual(len(reactor.tcpClients), 1)
        node.stop()
        self.assertTrue(reactor.connectors[0].stoppedConnecting)
        self.assertEqual(inbox.lost, [])
        self.assertEqual(reactor.getDelayedCalls(), [])


class MemoryNetworkTests(SynchronousTestCase):
    """
    Tests for the in-memory network used by unit tests.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.a_inbox, self.b_inbox = Inbox(), Inbox()
        self.a = self.network.node(UPID("a", "h", 1), self.a_inbox)
        self.b = self.network.node(UPID("b", "h", 2), self.b_inbox)

    def test_recording_peer_interface(self):
        """
        L{RecordingPeer}, the stand-in for other processes, provides
        L{IMessageReceiver}.
        """
        self.assertTrue(verifyObject(IMessageReceiver, RecordingPeer(self.network, UPID("p", "h", 9))))

    def test_interface(self):
        """
        L{MemoryNode} provides L{IMessageNode}, like the real node.
        """
        self.assertTrue(verifyClass(IMessageNode, MemoryNode))
        self.assertTrue(verifyObject(IMessageNode, self.a))

    def test_delivery_on_clock(self):
        """
        A message arrives when the clock turns, as a copy.
        """
        message = messages_pb2.PingSlaveMessage()
        self.a.send(self.b.upid, message)
        self.assertEqual(self.b_inbox.messages, [])
        self.clock.advance(0)
        self.assertEqual(self.b_inbox.messages, [(self.a.upid, message)])
        self.assertIsNot(self.b_inbox.messages[0][1], message)
        self.assertEqual(self.a.sent_of(messages_pb2.PingSlaveMessage), [message])

    def test_missing_peer_is_lost(self):
        """
        A message to a UPID not on the network reports the peer lost.
        """
        ghost = UPID("ghost", "h", 3)
        self.a.send(ghost, messages_pb2.PingSlaveMessage())
        self.clock.advance(0)
        self.assertEqual(self.a_inbox.lost, [ghost])

    def test_sever_and_crash(self):
        """
        Severing a link tells both ends; crashing a node tells its peers.
        """
        self.a.send(self.b.upid, messages_pb2.PingSlaveMessage())
        self.clock.advance(0)
        self.assertTrue(self.a.connected_to(self.b.upid))
        self.a.disconnect(self.b.upid)
        self.clock.advance(0)
        self.assertEqual((self.a_inbox.lost, self.b_inbox.lost), ([self.b.upid], [self.a.upid]))
        self.b.send(self.a.upid, messages_pb2.PingSlaveMessage())
        self.clock.advance(0)
        self.network.crash(self.b.upid)
        self.clock.advance(0)
        self.assertEqual(self.a_inbox.lost, [self.b.upid, self.b.upid])
