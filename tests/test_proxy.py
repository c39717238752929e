"""
Tests for L{mesos_tw.testing.proxy.PortForwarder}, the proxy the slave
recovery functional tests cut, on real loopback connections.
"""

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import TestCase

from mesos_tw.testing.proxy import PortForwarder


class Echo(Protocol):
    """
    Sends back what it receives.
    """

    def dataReceived(self, data):
        self.transport.write(data)


class Client(Protocol):
    """
    Fires L{received} with the first bytes back, L{lost} when closed.
    """

    def __init__(self):
        self.received = Deferred()
        self.lost = Deferred()

    def dataReceived(self, data):
        if not self.received.called:
            self.received.callback(data)

    def connectionLost(self, reason):
        self.lost.callback(None)


class PortForwarderTests(TestCase):
    """
    Forwarding, a cut by source address, and restoring.
    """

    @inlineCallbacks
    def setUp(self):
        echo = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
            Factory.forProtocol(Echo))
        self.addCleanup(echo.stopListening)
        self.forwarder = PortForwarder(reactor, echo.getHost().port)
        self.port = yield self.forwarder.listen()
        self.addCleanup(self.forwarder.stop)

    @inlineCallbacks
    def connect(self, source="127.0.0.1", round_trip=True):
        """
        A client connected through the forwarder from C{source}; with
        C{round_trip}, once b"hello" went to the target and back (so the
        forwarder has surely accepted it).
        """
        client = Client()
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port, bindAddress=(source, 0))
        yield connectProtocol(endpoint, client)
        self.addCleanup(lambda: client.transport.abortConnection())
        if round_trip:
            client.transport.write(b"hello")
            self.assertEqual((yield client.received), b"hello")
            client.received = Deferred()
        return client

    @inlineCallbacks
    def test_forwards(self):
        """
        What a client sends reaches the target, and its answer comes back.
        """
        client = yield self.connect()
        client.transport.write(b"ping")
        self.assertEqual((yield client.received), b"ping")
        self.assertEqual(len(self.forwarder.connections), 1)

    @inlineCallbacks
    def test_cut_by_source_then_restore(self):
        """
        A cut aborts the connections from the hosts named, refuses their
        new ones, and leaves the others; once restored they connect again.
        """
        cut = yield self.connect("127.0.0.2")
        kept = yield self.connect("127.0.0.1")
        self.forwarder.cut(["127.0.0.2"])
        yield cut.lost
        self.assertEqual(self.forwarder.aborted, 1)
        refused = yield self.connect("127.0.0.2", round_trip=False)
        yield refused.lost
        self.assertEqual(self.forwarder.refused, 1)
        kept.transport.write(b"still")
        self.assertEqual((yield kept.received), b"still")
        self.forwarder.restore()
        again = yield self.connect("127.0.0.2")
        again.transport.write(b"back")
        self.assertEqual((yield again.received), b"back")
