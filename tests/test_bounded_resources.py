"""
Tests for the bounds that keep a master or slave whole against clients that
hold on: downloads and JSON streams that pause while the client does not
read, requests and frames that must arrive whole within a deadline, request
bodies with a limit, a cap on an address's unidentified (or unauthenticated)
connections, frames tied to the connection of their sender, and a
sandbox API confined against encoded and absolute paths; the master's relay of
a slave's download paced by the browser.
"""

import json
import math
import os

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.error import ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import ResponseDone

from mesos_tw.detector import StandaloneDetector
from mesos_tw.protocols import messages_pb2
from mesos_tw.protocols.framing import FRAME_TIMEOUT, EnvelopeProtocol, encode_frame
from mesos_tw.protocols.guard import PENDING_TIMEOUT, ConnectionGuard
from mesos_tw.protocols.network import MessageNode
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave.files import DOWNLOAD_CHUNK
from mesos_tw.slave.http import SlaveHTTP
from mesos_tw.slave.slave import Slave
from mesos_tw.testing.isolation import FakeIsolator
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.web import ProducerRequest
from mesos_tw.web.agents import BodyRelay
from mesos_tw.web.json import LazyList, stream_json
from mesos_tw.web.producing import MAX_TURN_BYTES, MAX_TURN_SECONDS, produce
from mesos_tw.web.site import MAX_REQUEST_BYTES, REQUEST_TIMEOUT, BoundedSite

SCHEDULER = UPID("scheduler-1", "10.0.0.9", 0)
SLAVE = UPID("slave(1)", "10.0.0.9", 5051)


class SlaveSiteTestCase(SynchronousTestCase):
    """
    A slave's HTTP server on a fake clock, with connections made of
    L{StringTransport}s, and a sandbox holding a large file.
    """

    def setUp(self):
        self.clock = Clock()
        work_dir = os.path.abspath(self.mktemp())
        self.sandbox = os.path.join(work_dir, "slaves", "S1", "runs", "r1")
        os.makedirs(self.sandbox)
        self.big = os.path.join(self.sandbox, "big")
        with open(self.big, "wb") as file:
            file.write(b"x" * (DOWNLOAD_CHUNK * 40))
        node = MemoryNetwork(self.clock).node(UPID("slave(1)", "127.0.0.1", 5051))
        slave = Slave(self.clock, node, StandaloneDetector(UPID("master", "127.0.0.1", 5050)),
                      FakeIsolator(self.clock), work_dir, Resources.parse("cpus:1;mem:64"))
        self.site = BoundedSite(SlaveHTTP(slave).resource(), self.clock)

    def connect(self):
        """
        A new connection to the site: its channel and transport.
        """
        channel = self.site.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        return channel, transport

    def turn(self, times=1):
        """
        Let the clock's reactor turn C{times} times.
        """
        for _ in range(times):
            self.clock.advance(0)


class DownloadBackpressureTests(SlaveSiteTestCase):
    """
    A download is written only while the client's connection takes it.
    """

    def test_paused_download_writes_nothing(self):
        """
        When the connection is full (the transport pauses the channel), no
        further chunk is read or written however long the client waits;
        when it drains, the rest follows and the download is whole.
        """
        channel, transport = self.connect()
        channel.dataReceived(b"GET /files/download?path=%s HTTP/1.1\r\nHost: s\r\n\r\n"
                             % self.big.encode())
        self.turn(3)
        channel.pauseProducing()
        written = len(transport.value())
        self.turn(100)
        self.assertEqual(len(transport.value()), written)
        self.assertEqual([call for call in self.clock.getDelayedCalls()
                          if call.getTime() == self.clock.seconds()], [])
        channel.resumeProducing()
        self.turn(100)
        head, body = transport.value().split(b"\r\n\r\n", 1)
        self.assertIn(b"200 OK", head)
        self.assertEqual(body, b"x" * (DOWNLOAD_CHUNK * 40))

    def test_client_gone_stops_download(self):
        """
        A client that goes away mid-download stops it: nothing more is
        scheduled.
        """
        channel, transport = self.connect()
        channel.dataReceived(b"GET /files/download?path=%s HTTP/1.1\r\nHost: s\r\n\r\n"
                             % self.big.encode())
        self.turn(2)
        channel.connectionLost(None)
        self.turn(5)
        self.assertEqual(self.clock.getDelayedCalls(), [])


class TurnByTurn:
    """
    A reactor whose time the test sets and whose calls run one at a time
    when the test says (a L{Clock} runs every call that falls due, so turns
    could not be told apart).
    """

    def __init__(self):
        self.now = 0.0
        self.calls = []

    def seconds(self):
        return self.now

    def callLater(self, delay, function, *args):
        call = Clock().callLater(0, function, *args)
        self.calls.append(call)
        return call

    def turn(self):
        """
        Run the oldest call still scheduled.
        """
        call = self.calls.pop(0)
        if call.active():
            call.func(*call.args)


class TurnProducerTests(SynchronousTestCase):
    """
    L{produce} and L{stream_json} as push producers.
    """

    def test_pause_and_resume(self):
        """
        A paused producer writes nothing and schedules nothing; resumed, it
        goes on where it was.
        """
        clock = Clock()
        request = ProducerRequest([b""])
        d = produce(request, clock, iter([b"a", b"b", b"c"]))
        self.assertEqual(request.written, [b"a"])
        request.producer.pauseProducing()
        clock.advance(0)
        self.assertEqual((request.written, clock.getDelayedCalls()), ([b"a"], []))
        request.producer.resumeProducing()
        clock.advance(0)
        clock.advance(0)
        clock.advance(0)
        self.assertEqual(request.written, [b"a", b"b", b"c"])
        self.assertEqual(self.successResultOf(d), b"")
        self.assertIsNone(request.producer)

    def test_stream_json_pauses(self):
        """
        A streamed JSON document renders nothing while paused.
        """
        clock = Clock()
        rendered = []

        def render(item):
            rendered.append(item)
            return item

        request = ProducerRequest([b""])
        d = stream_json(request, {"items": LazyList(list(range(10)), render)}, clock,
                        items_per_turn=2)
        request.producer.pauseProducing()
        clock.advance(0)
        self.assertEqual(rendered, [0, 1])
        request.producer.resumeProducing()
        for _ in range(6):
            clock.advance(0)
        body = b"".join(request.written) + self.successResultOf(d)
        self.assertEqual(json.loads(body), {"items": list(range(10))})

    def test_busy_reactor_longer_turns(self):
        """
        A turn writes pieces for as long as the reactor was away since the
        last one (here three pieces' time), and no longer than
        L{MAX_TURN_SECONDS} however long it was away.
        """
        reactor, step = TurnByTurn(), 1 / 64

        def pieces():
            for number in range(20):
                reactor.now += step
                yield b"%d," % number

        request = ProducerRequest([b""])
        produce(request, reactor, pieces())
        self.assertEqual(request.written, [b"0,"])
        reactor.now += 3 * step
        reactor.turn()
        self.assertEqual(request.written, [b"0,", b"1,", b"2,", b"3,"])
        reactor.now += 10
        reactor.turn()
        self.assertEqual(len(request.written), 4 + math.ceil(MAX_TURN_SECONDS / step))

    def test_paused_turn_writes_up_to_its_bytes(self):
        """
        A turn the connection pauses goes on writing until it has written
        L{MAX_TURN_BYTES}, then schedules nothing until it is resumed: a
        client that stops reading holds at most one turn's pieces.
        """
        reactor = TurnByTurn()
        piece = b"x" * (MAX_TURN_BYTES // 4)

        def pieces():
            for _ in range(20):
                yield piece

        request = ProducerRequest([b""])
        produce(request, reactor, pieces())
        self.assertEqual(len(request.written), 1)
        # The reactor was away long enough for every piece; the connection
        # asks to wait at the first write of this turn.
        reactor.now += 10
        real_write = request.write

        def write(data):
            real_write(data)
            request.producer.pauseProducing()

        request.write = write
        reactor.turn()
        self.assertEqual(len(request.written), 1 + 4)
        self.assertEqual([call for call in reactor.calls if call.active()], [])
        request.write = real_write
        request.producer.resumeProducing()
        reactor.now += 10
        reactor.turn()
        self.assertEqual(len(request.written), 20)

    def test_plain_lists_render_alike(self):
        """
        A plain L{LazyList}, encoded a batch at a time, is the same JSON
        text as the same list rendered item by item.
        """
        items = [{"b": number, "a": [number, "x"]} for number in range(123)]
        bodies = []
        for plain in (False, True):
            clock = Clock()
            request = ProducerRequest([b""])
            d = stream_json(request, {"items": LazyList(items, dict, plain=plain), "z": 1}, clock)
            for _ in range(10):
                clock.advance(0)
            bodies.append(b"".join(request.written) + self.successResultOf(d))
        self.assertEqual(bodies[0], bodies[1])
        self.assertEqual(json.loads(bodies[1]), {"items": items, "z": 1})

    def test_stop_producing_ends(self):
        """
        The connection going away (C{stopProducing}) runs the end callback
        once and leaves nothing scheduled.
        """
        clock = Clock()
        ended = []
        request = ProducerRequest([b""])
        produce(request, clock, iter([b"a", b"b"]), lambda: ended.append(True))
        request.producer.stopProducing()
        clock.advance(0)
        self.assertEqual((ended, clock.getDelayedCalls(), request.written),
                         ([True], [], [b"a"]))


class RequestBoundsTests(SlaveSiteTestCase):
    """
    Requests must arrive whole, in time, and not too large.
    """

    def test_slow_request_times_out(self):
        """
        A request head left unfinished is answered 408, saying why, and the
        connection closed, once the request timeout passes.
        """
        channel, transport = self.connect()
        channel.dataReceived(b"GET /health HTTP/1.1\r\nHost: s\r\n")
        self.clock.advance(REQUEST_TIMEOUT - 1)
        channel.dataReceived(b"X-Slow: 1\r\n")
        self.assertFalse(transport.disconnecting)
        self.clock.advance(1)
        self.assertIn(b"408 Request Timeout", transport.value())
        self.assertIn(b"did not arrive whole within 10 s", transport.value())
        self.assertTrue(transport.disconnecting)

    def test_keep_alive_requests_each_timed(self):
        """
        Each request on a kept-alive connection has its own deadline, from
        its first byte: idling between requests is not timed here.
        """
        channel, transport = self.connect()
        channel.dataReceived(b"GET /health HTTP/1.1\r\nHost: s\r\n\r\n")
        self.assertIn(b"200 OK", transport.value())
        # Only twisted.web's idle timeout (a minute) is left.
        self.assertEqual([call.getTime() for call in self.clock.getDelayedCalls()], [60.0])
        self.clock.advance(REQUEST_TIMEOUT * 3)
        channel.dataReceived(b"GET /health HTTP/1.1\r\nHost: s\r\n\r\n")
        self.assertEqual(transport.value().count(b"200 OK"), 2)
        self.assertFalse(transport.disconnecting)

    def test_announced_body_too_large(self):
        """
        A body announced over the limit is answered 413 at once, and the
        request is not handled.
        """
        channel, transport = self.connect()
        channel.dataReceived(b"POST /api/v1/executor HTTP/1.1\r\nHost: s\r\n"
                             b"Content-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n{" % (MAX_REQUEST_BYTES + 1))
        self.assertIn(b"413 Content Too Large", transport.value())
        self.assertIn(b"over the limit of 4194304 bytes", transport.value())
        self.assertTrue(transport.disconnecting)

    def test_chunked_body_too_large(self):
        """
        A chunked body is cut off with a 413 once it passes the limit.
        """
        channel, transport = self.connect()
        channel.dataReceived(b"POST /api/v1/executor HTTP/1.1\r\nHost: s\r\n"
                             b"Content-Type: application/json\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (1024 * 1024, b" " * (1024 * 1024))
        for _ in range(5):
            channel.dataReceived(chunk)
        self.assertIn(b"413 Content Too Large", transport.value())
        self.assertNotIn(b"400", transport.value())


class SandboxConfinementTests(SlaveSiteTestCase):
    """
    The files API against encoded, absolute and NUL-bearing paths.
    """

    def status(self, query):
        """
        The status line of a GET of C{query} on the slave.
        """
        channel, transport = self.connect()
        channel.dataReceived(b"GET %s HTTP/1.1\r\nHost: s\r\n\r\n" % query.encode())
        return transport.value().split(b"\r\n", 1)[0]

    def test_paths(self):
        """
        Percent-encoded C{..} leading out is 403, as is an absolute path
        outside the work directory; a doubly encoded one is a literal name
        (404); a NUL is a 400 saying so.
        """
        sandbox = self.sandbox
        cases = {
            f"/files/read?path={sandbox}/%2e%2e/%2E%2E/%2e%2e/%2e%2e/%2e%2e/etc/passwd": b"403",
            f"/files/download?path={sandbox}%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd":
                b"403",
            "/files/read?path=/etc/passwd": b"403",
            "/files/browse?path=%2f": b"403",
            f"/files/read?path={sandbox}/%252e%252e/big": b"404",
            f"/files/read?path={sandbox}/big%00.txt": b"400",
        }
        for query, code in cases.items():
            self.assertIn(code, self.status(query), query)


class FrameDeadlineTests(SynchronousTestCase):
    """
    A frame started must be finished within the frame timeout.
    """

    def test_unfinished_frame_closes(self):
        """
        Half a frame held past the timeout closes the connection; whole
        frames leave nothing scheduled.
        """
        clock = Clock()
        lost = []

        class Node:
            def frame_received(self, protocol, sender, message, recipient=None):
                pass

            def connection_lost(self, protocol):
                lost.append(protocol)

        protocol = EnvelopeProtocol(Node(), clock=clock)
        transport = StringTransport()
        protocol.makeConnection(transport)
        frame = encode_frame(SCHEDULER, messages_pb2.PingSlaveMessage())
        protocol.dataReceived(frame)
        self.assertEqual(clock.getDelayedCalls(), [])
        protocol.dataReceived(frame + frame[:3])
        clock.advance(FRAME_TIMEOUT - 1)
        self.assertFalse(transport.disconnecting)
        protocol.dataReceived(frame[3:])
        self.assertEqual(clock.getDelayedCalls(), [])
        protocol.dataReceived(frame[:5])
        clock.advance(FRAME_TIMEOUT)
        self.assertTrue(transport.disconnecting)

    def test_deadline_counted_from_the_last_finished_frame(self):
        """
        Bytes that finish a frame and start the next give the next one the
        whole timeout, from then.
        """
        clock = Clock()

        class Node:
            def frame_received(self, protocol, sender, message, recipient=None):
                pass

            def connection_lost(self, protocol):
                pass

        protocol = EnvelopeProtocol(Node(), clock=clock)
        transport = StringTransport()
        protocol.makeConnection(transport)
        frame = encode_frame(SCHEDULER, messages_pb2.PingSlaveMessage())
        protocol.dataReceived(frame[:3])
        clock.advance(FRAME_TIMEOUT - 1)
        protocol.dataReceived(frame[3:] + frame[:3])
        clock.advance(FRAME_TIMEOUT - 1)
        self.assertFalse(transport.disconnecting)
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        clock.advance(1)
        self.assertTrue(transport.disconnecting)


class AcceptingTestCase(SynchronousTestCase):
    """
    A listening message node on a fake reactor whose accepted connections
    are L{StringTransport}s.
    """

    until_authenticated = False

    def setUp(self):
        self.reactor = MemoryReactorClock()
        self.received = []
        self.node = MessageNode(self.reactor, UPID("master", "127.0.0.1", 5050), self,
                                guard=ConnectionGuard(self.reactor, max_per_address=2,
                                                      until_authenticated=self.until_authenticated))
        self.node.listen(TCP4ServerEndpoint(self.reactor, 5050))
        self.factory = self.reactor.tcpServers[0][1]

    def message_received(self, sender, message):
        """
        The node's receiver: keep who sent what.
        """
        self.received.append((sender, message))

    def peer_lost(self, upid):
        """
        The node's receiver: nothing to do.
        """

    def accept(self, host="10.0.0.1"):
        """
        A connection accepted from C{host}: its protocol and transport.
        """
        protocol = self.factory.buildProtocol(None)
        transport = StringTransport(peerAddress=type(StringTransport().getPeer())(
            "TCP", host, 40000))
        protocol.makeConnection(transport)
        return protocol, transport


class ConnectionGuardTests(AcceptingTestCase):
    """
    Accepted connections that do not identify themselves.
    """

    def test_cap_per_address(self):
        """
        An address holding the maximum of unidentified connections has its
        next one closed; other addresses are not affected, and one that
        identifies itself (a first frame) frees its place.
        """
        first, _ = self.accept()
        self.accept()
        _, third = self.accept()
        self.assertTrue(third.disconnected)
        _, elsewhere = self.accept("10.0.0.2")
        self.assertFalse(elsewhere.disconnected)
        first.dataReceived(encode_frame(SCHEDULER, messages_pb2.PingSlaveMessage()))
        self.assertEqual(len(self.received), 1)
        _, fourth = self.accept()
        self.assertFalse(fourth.disconnected)

    def test_silent_connection_closed(self):
        """
        A connection that sends nothing, or only part of an HTTP request
        line, is closed when the pending timeout passes.
        """
        _, silent = self.accept()
        self.reactor.advance(PENDING_TIMEOUT)
        self.assertTrue(silent.disconnected)

    def test_each_connection_its_own_deadline(self):
        """
        Connections accepted at different times are each closed when their
        own pending timeout passes, not before, whichever of those before
        them identified themselves or closed meanwhile.
        """
        _, first = self.accept()
        self.reactor.advance(PENDING_TIMEOUT / 4)
        speaking, _ = self.accept("10.0.0.2")
        self.reactor.advance(PENDING_TIMEOUT / 4)
        _, third = self.accept("10.0.0.3")
        speaking.dataReceived(encode_frame(SCHEDULER, messages_pb2.PingSlaveMessage()))
        self.reactor.advance(PENDING_TIMEOUT / 2 - 0.5)
        self.assertFalse(first.disconnected)
        self.reactor.advance(0.5)
        self.assertTrue(first.disconnected)
        self.assertFalse(speaking.transport.disconnected)
        self.reactor.advance(PENDING_TIMEOUT / 2 - 0.5)
        self.assertFalse(third.disconnected)
        self.reactor.advance(0.5)
        self.assertTrue(third.disconnected)

    def test_no_timer_left_once_identified(self):
        """
        Once every accepted connection has identified itself or closed, the
        guard leaves nothing scheduled on the reactor (a node waits for
        nothing on their account).
        """
        speaking, _ = self.accept()
        closing, _ = self.accept("10.0.0.2")
        self.assertEqual(len(self.reactor.getDelayedCalls()), 1)
        speaking.dataReceived(encode_frame(SCHEDULER, messages_pb2.PingSlaveMessage()))
        closing.connectionLost(None)
        self.assertEqual(self.reactor.getDelayedCalls(), [])


class UnauthenticatedCapTests(AcceptingTestCase):
    """
    On a port that requires authentication, the cap counts connections
    until they authenticate (or are admitted), not just until they speak.
    """

    until_authenticated = True

    def test_counts_until_authenticated(self):
        """
        Connections that sent frames but did not authenticate still fill
        their address's places; one that authenticates (is pinned) or is
        admitted frees its place, and closing one frees it too.
        """
        ping = messages_pb2.PingSlaveMessage()
        first, _ = self.accept()
        second, _ = self.accept()
        first.dataReceived(encode_frame(SCHEDULER, ping))
        second.dataReceived(encode_frame(SLAVE, ping))
        self.assertEqual(len(self.received), 2)
        _, refused = self.accept()
        self.assertTrue(refused.disconnected)
        self.node.pin(SCHEDULER)
        third, _ = self.accept()
        self.assertFalse(third.transport.disconnected)
        _, refused = self.accept()
        self.assertTrue(refused.disconnected)
        self.node.admitted(SLAVE)
        _, fourth = self.accept()
        self.assertFalse(fourth.disconnected)
        third.connectionLost(None)
        _, fifth = self.accept()
        self.assertFalse(fifth.disconnected)

    def test_deadline_still_ends_at_first_frame(self):
        """
        A connection that spoke in time but did not authenticate is not
        closed by the pending timeout (the authentication has its own).
        """
        protocol, transport = self.accept()
        protocol.dataReceived(encode_frame(SCHEDULER, messages_pb2.PingSlaveMessage()))
        self.reactor.advance(PENDING_TIMEOUT)
        self.assertFalse(transport.disconnected)


class ImpersonationTests(AcceptingTestCase):
    """
    A frame's sender is tied to its connection: one connection speaks for
    one process, and an authenticated (pinned) process only on the
    connection it authenticated on.
    """

    def test_connection_speaks_for_its_first_sender(self):
        """
        A connection that has spoken as one process cannot claim to be
        another; the claim is dropped and logged, and the connection kept.
        """
        protocol, transport = self.accept()
        ping = messages_pb2.PingSlaveMessage()
        protocol.dataReceived(encode_frame(SCHEDULER, ping))
        protocol.dataReceived(encode_frame(SLAVE, ping))
        protocol.dataReceived(encode_frame(SCHEDULER, ping))
        self.assertEqual([sender for sender, _ in self.received], [SCHEDULER, SCHEDULER])
        self.assertFalse(transport.disconnected)
        self.assertFalse(self.node.connected_to(SLAVE))

    def test_pinned_process_speaks_only_on_its_connection(self):
        """
        Once a process is pinned (it authenticated), another connection
        claiming to be it is not heard, nor answered: what we send it still
        goes on the authenticated connection.  When that closes, a new one
        may speak for it (to authenticate again).
        """
        ping = messages_pb2.PingSlaveMessage()
        honest, honest_transport = self.accept()
        honest.dataReceived(encode_frame(SCHEDULER, ping))
        self.node.pin(SCHEDULER)
        impostor, impostor_transport = self.accept()
        impostor.dataReceived(encode_frame(SCHEDULER, ping))
        self.assertEqual(len(self.received), 1)
        self.node.send(SCHEDULER, messages_pb2.PongSlaveMessage())
        self.assertTrue(honest_transport.value())
        self.assertEqual(impostor_transport.value(), b"")
        honest.connectionLost(None)
        impostor.dataReceived(encode_frame(SCHEDULER, ping))
        self.assertEqual(len(self.received), 2)


class DownloadRelayTests(SynchronousTestCase):
    """
    The master relaying a slave's download to a browser goes at the
    browser's pace.
    """

    def relay(self):
        """
        A relay from a slave's response (on a L{StringTransport}) to an
        in-memory request: the three, and the Deferred of its end.
        """
        request, done, slave_side = ProducerRequest([b""]), Deferred(), StringTransport()
        relay = BodyRelay(request, done, "slave")
        relay.makeConnection(slave_side)
        return relay, request, slave_side, done

    def test_paused_with_the_browser(self):
        """
        While the browser's connection is paused, the slave's response is
        not read; the body is written as it comes, and its end fires.
        """
        relay, request, slave_side, done = self.relay()
        self.assertIs(request.producer, relay)
        relay.dataReceived(b"first ")
        request.producer.pauseProducing()
        self.assertEqual(slave_side.producerState, "paused")
        request.producer.resumeProducing()
        self.assertEqual(slave_side.producerState, "producing")
        relay.dataReceived(b"second")
        relay.connectionLost(Failure(ResponseDone()))
        self.assertIsNone(request.producer)
        self.assertEqual(b"".join(request.written), b"first second")
        self.assertEqual(self.successResultOf(done), b"")
        self.assertFalse(request.transport.disconnecting)

    def test_browser_gone_stops_the_slave(self):
        """
        A browser that goes away stops the slave's response.
        """
        _, request, slave_side, _ = self.relay()
        request.producer.stopProducing()
        self.assertEqual(slave_side.producerState, "stopped")

    def test_cut_short(self):
        """
        A response cut short closes the browser's connection, so that the
        part relayed does not look like the whole file.
        """
        relay, request, _, done = self.relay()
        relay.dataReceived(b"part")
        relay.connectionLost(Failure(ConnectionLost()))
        self.assertTrue(request.transport.disconnecting)
        self.assertEqual(self.successResultOf(done), b"")
