"""
The L{IMessageNode} contract as one test suite, run against the real node
over loopback TCP and against the in-memory network the unit tests use
(Flocker's C{make_istoragepool_tests} pattern).  What the suite holds, both
nodes do; so unit tests on the in-memory network see what the real system
would.

A fixture makes nodes and waits: L{TCPNodes} on the real reactor (waits end
on events, with a deadline), L{MemoryNodes} on a C{Clock} (waits turn the
clock until what is awaited has happened).
"""

import itertools

from twisted.internet.defer import Deferred, TimeoutError, gatherResults, inlineCallbacks, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, serverFromString
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.codec import DEFAULT_MAX_FRAME_BYTES, encode_frame
from mesos_tw.protocols.guard import ConnectionGuard
from mesos_tw.protocols.network import IMessageNode, IMessageReceiver, MessageNode
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.network import MemoryNetwork

__all__ = ["Inbox", "MemoryNodes", "TCPNodes", "make_imessagenode_tests"]

#: How long a wait on the real network may take before the test fails.
DEADLINE = 60.0


class ReceiverBug(Exception):
    """
    What a receiver raises in the handler-failure test.
    """


@implementer(IMessageReceiver)
class Inbox:
    """
    A receiver that records messages and lost peers, and whose L{when}
    fires once a condition on them holds.

    @ivar fail_on: a message value (C{TaskID.value}) whose arrival raises
        L{ReceiverBug} (after it is recorded).
    """

    def __init__(self):
        self.messages = []
        self.lost = []
        self.fail_on = None
        self._waiting = []

    def message_received(self, sender, message):
        """
        Record C{message}; raise if it is the one to fail on.
        """
        self.messages.append((sender, message))
        self._wake()
        if self.fail_on is not None and getattr(message, "value", None) == self.fail_on:
            raise ReceiverBug(f"receiver failed on {message.value}")

    def peer_lost(self, upid):
        """
        Record C{upid}.
        """
        self.lost.append(upid)
        self._wake()

    def values(self, sender=None):
        """
        The values of the messages received (from C{sender}), in order.
        """
        return [m.value for s, m in self.messages if sender is None or s == sender]

    def when(self, condition):
        """
        A Deferred that fires once C{condition()} holds.
        """
        d = Deferred()
        self._waiting.append((condition, d))
        self._wake()
        return d

    def _wake(self):
        ready = [(c, d) for c, d in self._waiting if c()]
        self._waiting = [(c, d) for c, d in self._waiting if (c, d) not in ready]
        for _, d in ready:
            d.callback(None)


def message(value, size=0):
    """
    A small message carrying C{value} (padded to C{size} bytes).
    """
    return mesos_pb2.TaskID(value=value + "x" * max(0, size - len(value)))


class _WatchedGuard(ConnectionGuard):
    """
    A connection guard that tells the test each connection it admits (the
    node has accepted it), and gives a connection longer than a test's
    deadline to send its first frame (a test sees who closes it).
    """

    def __init__(self, reactor):
        ConnectionGuard.__init__(self, reactor, timeout=2 * DEADLINE)
        self.waiting = []

    def admit(self, transport):
        admission = ConnectionGuard.admit(self, transport)
        waiting, self.waiting = self.waiting, []
        for d in waiting:
            d.callback(None)
        return admission


class _RawSender(Protocol):
    """
    A process that writes bytes on a TCP connection itself (not through a
    node): C{closed} fires when the connection closes.
    """

    def __init__(self):
        self.closed = Deferred()

    def connectionLost(self, reason):
        self.closed.callback(None)


class _TCPFrameOnTheWay:
    """
    An open connection whose first frame is on its way (not written yet:
    a byte of it would start the node's deadline for finishing a frame).
    """

    def __init__(self, sender, frame):
        self._sender = sender
        self._frame = frame
        self.closed = sender.closed

    def finish(self):
        """
        Write the frame, if the connection is still open.
        """
        if not self.closed.called:
            self._sender.transport.write(self._frame)
        return succeed(None)


class TCPNodes:
    """
    Real L{MessageNode}s on the reactor, listening on loopback TCP.
    """

    def __init__(self, test, reactor):
        self.reactor = reactor
        self.nodes = []
        test.addCleanup(self.stop)

    def node(self, name, receiver, listening=True, max_frame_bytes=DEFAULT_MAX_FRAME_BYTES):
        """
        A node called C{name}; one that does not listen has port 0.
        """
        node = MessageNode(self.reactor, UPID(name, "127.0.0.1", 0), receiver, max_frame_bytes,
                           guard=_WatchedGuard(self.reactor))
        self.nodes.append(node)
        if not listening:
            return succeed(node)
        endpoint = serverFromString(self.reactor, "tcp:0:interface=127.0.0.1")
        return node.listen(endpoint).addCallback(lambda _: node)

    def wait(self, d, description):
        """
        C{d}, failing the test if it takes over L{DEADLINE} seconds.
        """
        def timed_out(failure):
            failure.trap(TimeoutError)
            _timed_out(description)

        return d.addTimeout(DEADLINE, self.reactor).addErrback(timed_out)

    def crash(self, node):
        """
        The node's process ends: its port closes, and its connections.
        """
        return node.stop()

    @inlineCallbacks
    def first_frame_on_the_way(self, name, to, message):
        """
        A connection from the process C{name} (not a node: it writes the
        bytes itself) to the node C{to}, which has accepted it, its first
        frame (with C{message}) on its way.

        @return: a Deferred firing with an object whose C{closed} fires
            when the connection closes and whose C{finish()} lets the frame
            arrive.
        """
        accepted = Deferred()
        to.guard.waiting.append(accepted)
        sender = _RawSender()
        endpoint = TCP4ClientEndpoint(self.reactor, "127.0.0.1", to.upid.port)
        yield self.wait(connectProtocol(endpoint, sender), "the connection to open")
        self.nodes.append(_Closer(sender))
        yield self.wait(accepted, "the connection to be accepted")
        return _TCPFrameOnTheWay(sender, encode_frame(UPID(name, "127.0.0.1", 0), message))

    def stop(self):
        """
        Stop every node.
        """
        return gatherResults([node.stop() for node in self.nodes])


class _Closer:
    """
    Closes a raw sender's connection when the test ends.
    """

    def __init__(self, sender):
        self._sender = sender

    def stop(self):
        """
        Close the connection, if open; fires once it is closed.
        """
        if self._sender.closed.called:
            return succeed(None)
        self._sender.transport.loseConnection()
        return self._sender.closed


def _timed_out(description):
    raise AssertionError(f"timed out waiting for {description}")


class _MemoryFrameOnTheWay:
    """
    A message in flight on its connection, on a fake clock.
    """

    def __init__(self, clock, delay, inbox):
        self._clock = clock
        self._delay = delay
        self.closed = inbox.when(lambda: inbox.lost)

    def finish(self):
        """
        Let the message's time on the wire pass.
        """
        self._clock.advance(self._delay)
        return succeed(None)


class MemoryNodes:
    """
    L{mesos_tw.testing.network.MemoryNode}s of one L{MemoryNetwork} on a
    C{Clock}.
    """

    def __init__(self, test):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self._ports = itertools.count(40000)

    def node(self, name, receiver, listening=True, max_frame_bytes=DEFAULT_MAX_FRAME_BYTES):
        """
        A node called C{name}; one that does not listen has port 0.
        """
        port = next(self._ports) if listening else 0
        return succeed(self.network.node(UPID(name, "127.0.0.1", port), receiver,
                                         max_frame_bytes=max_frame_bytes))

    def wait(self, d, description):
        """
        Turn the clock until C{d} fires (or nothing is left to happen
        without time passing).
        """
        while not d.called and any(call.getTime() <= self.clock.seconds()
                                   for call in self.clock.getDelayedCalls()):
            self.clock.advance(0)
        if not d.called:
            _timed_out(description)
        return d

    def crash(self, node):
        """
        The node's process ends.
        """
        self.network.crash(node.upid)
        return succeed(None)

    def first_frame_on_the_way(self, name, to, message):
        """
        A node called C{name} (not listening) sends C{message} to the node
        C{to} on a new connection, which opens, the message taking a
        second on the way.

        @return: a Deferred firing with an object whose C{closed} fires
            when the sender hears the connection closed and whose
            C{finish()} lets the second pass.
        """
        inbox = Inbox()
        sender = self.network.node(UPID(name, "127.0.0.1", 0), inbox)
        self.network.deliver(sender.upid, to.upid, message, delay=1.0)
        self.clock.advance(0)
        return succeed(_MemoryFrameOnTheWay(self.clock, 1.0, inbox))


def make_imessagenode_tests(fixture):
    """
    The L{IMessageNode} suite, as a C{TestCase} class whose nodes come from
    C{fixture(test)} (L{TCPNodes} or L{MemoryNodes}).
    """

    class IMessageNodeTests(TestCase):
        """
        What every L{IMessageNode} does.
        """

        def setUp(self):
            self.nodes = fixture(self)

        @inlineCallbacks
        def pair(self, listening=True, **keywords):
            """
            A listening node C{b} and a node C{a} (listening or not), with
            their inboxes.
            """
            self.a_inbox, self.b_inbox = Inbox(), Inbox()
            self.b = yield self.nodes.node("b", self.b_inbox, **keywords)
            self.a = yield self.nodes.node("a", self.a_inbox, listening=listening)

        def wait(self, inbox, condition, description):
            """
            Wait until C{condition()} holds for C{inbox}.
            """
            return self.nodes.wait(inbox.when(condition), description)

        @inlineCallbacks
        def test_provides_interface(self):
            """
            A node provides L{IMessageNode} and knows its own UPID.
            """
            yield self.pair()
            self.assertTrue(verifyObject(IMessageNode, self.a))
            self.assertEqual(self.a.upid.id, "a")

        @inlineCallbacks
        def test_order_per_pair(self):
            """
            What one node sends another arrives in the order sent, signed
            with the sender's UPID, though two senders interleave.
            """
            yield self.pair()
            c = yield self.nodes.node("c", Inbox())
            for i in range(50):
                self.a.send(self.b.upid, message(f"a{i}"))
                c.send(self.b.upid, message(f"c{i}"))
            yield self.wait(self.b_inbox, lambda: len(self.b_inbox.messages) == 100,
                            "100 messages")
            self.assertEqual(self.b_inbox.values(self.a.upid), [f"a{i}" for i in range(50)])
            self.assertEqual(self.b_inbox.values(c.upid), [f"c{i}" for i in range(50)])

        @inlineCallbacks
        def test_answer_on_the_same_connection(self):
            """
            A node that does not listen is answered over the connection it
            opened; both ends count the other among their peers.
            """
            yield self.pair(listening=False)
            self.assertFalse(self.a.upid.reachable)
            self.a.send(self.b.upid, message("hello"))
            yield self.wait(self.b_inbox, lambda: self.b_inbox.messages, "hello")
            self.b.send(self.a.upid, message("welcome"))
            yield self.wait(self.a_inbox, lambda: self.a_inbox.messages, "the answer")
            self.assertEqual(self.a_inbox.values(), ["welcome"])
            self.assertTrue(self.a.connected_to(self.b.upid))
            self.assertTrue(self.b.connected_to(self.a.upid))
            self.assertIn(self.a.upid, self.b.peers())
            self.assertIn(self.b.upid, self.a.peers())

        @inlineCallbacks
        def test_delivery_after_a_reconnect(self):
            """
            After a connection is closed, each end hears C{peer_lost} once,
            and the next message opens a new connection and arrives.
            """
            yield self.pair()
            self.a.send(self.b.upid, message("before"))
            yield self.wait(self.b_inbox, lambda: self.b_inbox.messages, "the first message")
            self.a.disconnect(self.b.upid)
            yield self.wait(self.a_inbox, lambda: self.a_inbox.lost, "a to hear b is lost")
            yield self.wait(self.b_inbox, lambda: self.b_inbox.lost, "b to hear a is lost")
            self.assertFalse(self.a.connected_to(self.b.upid))
            self.a.send(self.b.upid, message("after"))
            yield self.wait(self.b_inbox, lambda: len(self.b_inbox.messages) == 2, "after")
            self.assertEqual(self.b_inbox.values(), ["before", "after"])
            self.assertEqual((self.a_inbox.lost, self.b_inbox.lost), ([self.b.upid], [self.a.upid]))

        @inlineCallbacks
        def test_not_listening_peer_not_reached_after_disconnect(self):
            """
            Once its connection is closed, a node that does not listen
            cannot be reached: what is sent to it is dropped, until it
            connects again.
            """
            yield self.pair(listening=False)
            self.a.send(self.b.upid, message("hello"))
            yield self.wait(self.b_inbox, lambda: self.b_inbox.messages, "hello")
            self.b.disconnect(self.a.upid)
            yield self.wait(self.b_inbox, lambda: self.b_inbox.lost, "b to hear a is lost")
            yield self.wait(self.a_inbox, lambda: self.a_inbox.lost, "a to hear b is lost")
            self.b.send(self.a.upid, message("dropped"))
            self.a.send(self.b.upid, message("again"))
            yield self.wait(self.b_inbox, lambda: len(self.b_inbox.messages) == 2, "again")
            self.b.send(self.a.upid, message("answer"))
            yield self.wait(self.a_inbox, lambda: self.a_inbox.messages, "the answer")
            self.assertEqual(self.a_inbox.values(), ["answer"])

        @inlineCallbacks
        def test_peer_lost_once_per_connection(self):
            """
            A peer that dies is reported lost once for its connection,
            however many messages were exchanged on it.
            """
            yield self.pair()
            for i in range(5):
                self.a.send(self.b.upid, message(f"m{i}"))
            yield self.wait(self.b_inbox, lambda: len(self.b_inbox.messages) == 5, "5 messages")
            yield self.nodes.crash(self.b)
            yield self.wait(self.a_inbox, lambda: self.a_inbox.lost, "b to be lost")
            # A round trip with a third node lets any repeat arrive first.
            c_inbox = Inbox()
            c = yield self.nodes.node("c", c_inbox)
            self.a.send(c.upid, message("ping"))
            yield self.wait(c_inbox, lambda: c_inbox.messages, "the ping")
            self.assertEqual(self.a_inbox.lost, [self.b.upid])

        @inlineCallbacks
        def test_messages_to_a_dead_peer(self):
            """
            Messages to a peer that is gone are not delivered, and the
            sender hears C{peer_lost} once for the attempt to reach it,
            not once per message.
            """
            yield self.pair()
            dead = self.b.upid
            yield self.nodes.crash(self.b)
            for i in range(3):
                self.a.send(dead, message(f"m{i}"))
            yield self.wait(self.a_inbox, lambda: self.a_inbox.lost, "the dead peer to be lost")
            c_inbox = Inbox()
            c = yield self.nodes.node("c", c_inbox)
            self.a.send(c.upid, message("ping"))
            yield self.wait(c_inbox, lambda: c_inbox.messages, "the ping")
            self.assertEqual(self.a_inbox.lost, [dead])
            self.assertEqual(self.b_inbox.messages, [])

        @inlineCallbacks
        def test_handler_failure_keeps_the_connection(self):
            """
            A receiver that raises on a message does not lose its peer: the
            failure is logged, the connection stays, and the next message
            arrives.
            """
            yield self.pair()
            self.b_inbox.fail_on = "bad"
            self.a.send(self.b.upid, message("bad"))
            self.a.send(self.b.upid, message("good"))
            yield self.wait(self.b_inbox, lambda: len(self.b_inbox.messages) == 2, "good")
            self.assertEqual(len(self.flushLoggedErrors(ReceiverBug)), 1)
            self.b.send(self.a.upid, message("answer"))
            yield self.wait(self.a_inbox, lambda: self.a_inbox.messages, "the answer")
            self.assertEqual((self.a_inbox.lost, self.b_inbox.lost), ([], []))
            self.assertTrue(self.a.connected_to(self.b.upid))

        @inlineCallbacks
        def test_frame_over_the_limit(self):
            """
            A message over the receiver's frame limit is not delivered: the
            receiver closes the connection (each end hears C{peer_lost}
            once), and the next message arrives on a new one.
            """
            yield self.pair(max_frame_bytes=1000)
            self.a.send(self.b.upid, message("small"))
            yield self.wait(self.b_inbox, lambda: self.b_inbox.messages, "small")
            self.a.send(self.b.upid, message("big", size=2000))
            yield self.wait(self.a_inbox, lambda: self.a_inbox.lost, "a to hear b is lost")
            yield self.wait(self.b_inbox, lambda: self.b_inbox.lost, "b to hear a is lost")
            self.a.send(self.b.upid, message("later"))
            yield self.wait(self.b_inbox, lambda: len(self.b_inbox.messages) == 2, "later")
            self.assertEqual(self.b_inbox.values(), ["small", "later"])
            self.assertEqual((self.a_inbox.lost, self.b_inbox.lost), ([self.b.upid], [self.a.upid]))

        @inlineCallbacks
        def test_disconnect_all(self):
            """
            Closing every connection closes those with known peers (each
            end hears C{peer_lost}) and one whose first frame is still on
            its way (a peer not known yet), which then never arrives; the
            next message opens a new connection.
            """
            yield self.pair()
            self.a.send(self.b.upid, message("known"))
            yield self.wait(self.b_inbox, lambda: self.b_inbox.messages, "the first message")
            on_the_way = yield self.nodes.first_frame_on_the_way("c", self.b, message("late"))
            self.b.disconnect_all()
            yield self.wait(self.a_inbox, lambda: self.a_inbox.lost, "a to hear b is lost")
            yield self.wait(self.b_inbox, lambda: self.b_inbox.lost, "b to hear a is lost")
            yield self.nodes.wait(on_the_way.closed, "the connection on its way to close")
            yield on_the_way.finish()
            self.a.send(self.b.upid, message("after"))
            yield self.wait(self.b_inbox, lambda: len(self.b_inbox.messages) == 2, "after")
            self.assertEqual(self.b_inbox.values(), ["known", "after"])
            self.assertEqual((self.a_inbox.lost, self.b_inbox.lost), ([self.b.upid], [self.a.upid]))

        @inlineCallbacks
        def test_disconnect_all_gives_up_connecting(self):
            """
            Closing every connection gives up one being opened: what waited
            for it is dropped and the sender hears the peer lost; the next
            message opens a new one.
            """
            yield self.pair()
            self.a.send(self.b.upid, message("waiting"))
            self.a.disconnect_all()
            yield self.wait(self.a_inbox, lambda: self.a_inbox.lost, "a to hear b is lost")
            self.a.send(self.b.upid, message("after"))
            yield self.wait(self.b_inbox, lambda: self.b_inbox.messages, "after")
            self.assertEqual(self.b_inbox.values(), ["after"])
            self.assertEqual(self.a_inbox.lost, [self.b.upid])

    return IMessageNodeTests
