"""
Tests for L{mesos_tw.protocols.accepted}: the lean transport of accepted
message connections, on a fake reactor over real loopback TCP sockets
(made and accepted synchronously), and a listening L{MessageNode}'s use
of it over the real reactor.
"""

import errno
import os
import select
import socket
import struct

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.error import ConnectionAborted, ConnectionDone, ConnectionLost
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.internet.interfaces import IReadDescriptor, IWriteDescriptor
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from mesos_tw.protocols import messages_pb2
from mesos_tw.protocols.accepted import AcceptedConnection, PendingWrites, take_connections
from mesos_tw.protocols.codec import encode_frame
from mesos_tw.protocols.guard import PENDING_TIMEOUT, ConnectionGuard
from mesos_tw.protocols.network import MessageNode
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.network_contract import Inbox


def tcp_pair():
    """
    A connected pair of loopback TCP sockets: C{(accepted, client)}, the
    accepted one non-blocking (with C{TCP_NODELAY}, taken from its
    listening socket as L{take_connections} gives it), the client blocking.
    """
    with socket.create_server(("127.0.0.1", 0)) as listening:
        listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = socket.create_connection(listening.getsockname())
        accepted, _ = listening.accept()
    accepted.setblocking(False)
    return accepted, client


class CountingSocket(socket.socket):
    """
    A socket that counts its C{send} calls.
    """

    sends = 0

    def send(self, data, *flags):
        """
        Count, then send.
        """
        type(self).sends += 1
        return super().send(data, *flags)


class ViewRecordingSocket(socket.socket):
    """
    A socket that keeps, for each C{send}, the bytes object it was given a
    view of (or the bytes themselves).
    """

    def send(self, data, *flags):
        """
        Keep what C{data} views, then send.
        """
        self.sent_from.append(data.obj if isinstance(data, memoryview) else data)
        return super().send(data, *flags)


class Recorder(Protocol):
    """
    Keeps what arrives and how the connection ended.
    """

    def __init__(self):
        self.data = []
        self.lost = []

    def dataReceived(self, data):
        """
        Keep C{data}.
        """
        self.data.append(data)

    def connectionLost(self, reason):
        """
        Keep why the connection ended.
        """
        self.lost.append(reason)


def read_all(client, size):
    """
    Read C{size} bytes from the blocking socket C{client}.
    """
    chunks = []
    while size:
        chunk = client.recv(size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class AcceptedConnectionTests(SynchronousTestCase):
    """
    One accepted connection on a fake reactor, over real loopback TCP.
    """

    def setUp(self):
        self.reactor = MemoryReactorClock()
        accepted, self.client = tcp_pair()
        self.addCleanup(self.client.close)
        CountingSocket.sends = 0
        self.socket = CountingSocket(fileno=accepted.detach())
        self.addCleanup(self.socket.close)
        self.connection = AcceptedConnection(
            self.reactor, self.socket, ("10.0.0.1", 40000), PendingWrites(self.reactor))
        self.protocol = Recorder()
        self.connection.start(self.protocol)

    def test_interfaces(self):
        """
        It is a descriptor the reactor reads and writes, read from once
        started, and its protocol's transport.
        """
        self.assertTrue(verifyObject(IReadDescriptor, self.connection))
        self.assertTrue(verifyObject(IWriteDescriptor, self.connection))
        self.assertIn(self.connection, self.reactor.getReaders())
        self.assertIs(self.protocol.transport, self.connection)

    def test_writes_of_a_turn_in_one_send(self):
        """
        What is written in one turn of the reactor is sent at the turn's
        end, in order, in one C{send}, without asking the reactor for
        writability.
        """
        self.connection.write(b"one")
        self.connection.writeSequence([b"two", b"three"])
        self.assertEqual(CountingSocket.sends, 0)
        self.reactor.advance(0)
        self.assertEqual(CountingSocket.sends, 1)
        self.assertEqual(read_all(self.client, 11), b"onetwothree")
        self.assertEqual(self.reactor.getWriters(), [])

    def small_buffered(self):
        """
        The connection over a pair of UNIX stream sockets with a small send
        buffer instead, and the other end (blocking): a reader there frees
        room at once, where TCP's window updates follow rules of their own.
        """
        pair, theirs = socket.socketpair()
        ours = ViewRecordingSocket(fileno=pair.detach())
        ours.sent_from = []
        self.addCleanup(ours.close)
        self.addCleanup(theirs.close)
        ours.setblocking(False)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        self.connection = AcceptedConnection(
            self.reactor, ours, ("10.0.0.1", 40000), PendingWrites(self.reactor))
        self.protocol = Recorder()
        self.connection.start(self.protocol)
        return theirs

    def read_while_writable(self, peer, size):
        """
        Read C{size} bytes at C{peer}, letting the connection write each
        time some were read.
        """
        received = []
        while sum(map(len, received)) < size:
            received.append(peer.recv(65536))
            self.connection.doWrite()
        return b"".join(received)

    def test_rest_sent_when_writable(self):
        """
        What the socket does not take at once waits for it to be writable
        (the reactor is asked then, and no longer once all is sent); what
        is written meanwhile follows it, all in order.
        """
        peer = self.small_buffered()
        data = bytes(range(256)) * 8192
        self.connection.write(data)
        self.reactor.advance(0)
        self.assertIn(self.connection, self.reactor.getWriters())
        self.connection.write(b"after")
        self.assertEqual(self.read_while_writable(peer, len(data) + 5), data + b"after")
        self.assertEqual(self.reactor.getWriters(), [])

    def test_backlog_sent_without_copies(self):
        """
        A backlog the socket takes over many writable events is sent from
        one buffer, each C{send} given a view of its unsent rest rather
        than a copy; what is written meanwhile is joined once, after it.
        """
        peer = self.small_buffered()
        data = bytes(range(256)) * 8192
        self.connection.write(data)
        self.reactor.advance(0)
        self.connection.write(b"aft")
        self.connection.write(b"er")
        received = self.read_while_writable(peer, len(data) + 5)
        self.assertEqual(received, data + b"after")
        sent_from = self.connection._socket.sent_from
        self.assertGreater(sum(x is data for x in sent_from), 1)
        self.assertEqual([x for x in sent_from if x is not data and x != b"after"], [])

    def test_data_to_protocol(self):
        """
        What arrives goes to the protocol.
        """
        self.client.sendall(b"hello")
        self.connection.doRead()
        self.assertEqual(self.protocol.data, [b"hello"])

    def test_switch_protocol(self):
        """
        After L{AcceptedConnection.switch_protocol}, data goes to the new
        protocol, made connected on the transport.
        """
        other = Recorder()
        self.connection.switch_protocol(other)
        self.assertIs(other.transport, self.connection)
        self.client.sendall(b"hello")
        self.connection.doRead()
        self.assertEqual((self.protocol.data, other.data), ([], [b"hello"]))

    def test_lose_connection_after_sending(self):
        """
        C{loseConnection} stops reading at once, and closes the connection
        at the turn's end, once what was written is sent; the protocol
        hears of it then, once.
        """
        self.connection.write(b"last words")
        self.connection.loseConnection()
        self.assertTrue(self.connection.disconnecting)
        self.assertNotIn(self.connection, self.reactor.getReaders())
        self.assertEqual(self.protocol.lost, [])
        self.reactor.advance(0)
        self.assertEqual(read_all(self.client, 11), b"last words")
        self.assertEqual(self.client.recv(1), b"")
        [reason] = self.protocol.lost
        self.assertIsInstance(reason.value, ConnectionDone)
        self.assertEqual(self.connection.fileno(), -1)
        self.connection.loseConnection()
        self.connection.write(b"ignored")
        self.reactor.advance(0)
        self.assertEqual(len(self.protocol.lost), 1)

    def test_lose_connection_waits_for_the_rest(self):
        """
        With part of what was written waiting for the socket, the
        connection closes once that is sent too.
        """
        peer = self.small_buffered()
        data = bytes(range(256)) * 8192
        self.connection.write(data)
        self.reactor.advance(0)
        self.connection.loseConnection()
        self.reactor.advance(0)
        self.assertEqual(self.protocol.lost, [])
        self.assertEqual(self.read_while_writable(peer, len(data)), data)
        self.assertEqual(len(self.protocol.lost), 1)
        self.assertEqual(peer.recv(1), b"")

    def test_abort(self):
        """
        C{abortConnection} drops what was not sent and resets the
        connection; the protocol hears of it at the reactor's next turn,
        not from inside the call.
        """
        self.connection.write(b"never sent")
        self.connection.abortConnection()
        self.assertEqual(self.protocol.lost, [])
        self.assertNotIn(self.connection, self.reactor.getReaders())
        self.reactor.advance(0)
        [reason] = self.protocol.lost
        self.assertIsInstance(reason.value, ConnectionAborted)
        self.assertRaises(ConnectionResetError, self.client.recv, 100)

    def test_peer_closes(self):
        """
        The peer closing is reported once, as done; the socket is closed
        and no longer watched.
        """
        self.client.close()
        self.connection.doRead()
        [reason] = self.protocol.lost
        self.assertIsInstance(reason.value, ConnectionDone)
        self.assertEqual((self.connection.fileno(), self.reactor.getReaders()), (-1, []))
        self.connection.doRead()
        self.connection.connectionLost(Failure(ConnectionLost()))
        self.assertEqual(len(self.protocol.lost), 1)

    def reset_by_client(self):
        """
        The client closes with C{SO_LINGER} 0, resetting the connection;
        return once the accepted socket has seen the reset (it is
        readable then).
        """
        self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.client.close()
        select.select([self.socket], [], [])

    def assert_lost_once(self):
        """
        The protocol heard once that the connection was lost; the socket is
        closed and no longer watched.
        """
        [reason] = self.protocol.lost
        self.assertIsInstance(reason.value, ConnectionLost)
        self.assertEqual(
            (self.connection.fileno(), self.reactor.getReaders(), self.reactor.getWriters()),
            (-1, [], []))

    def test_reset_on_receive(self):
        """
        A connection the peer resets is lost, once, when a read finds it so.
        """
        self.reset_by_client()
        self.connection.doRead()
        self.connection.doRead()
        self.connection.connectionLost(Failure(ConnectionLost()))
        self.assert_lost_once()

    def test_reset_on_send(self):
        """
        A connection the peer resets is lost, once, when a send finds it
        so; what was written is dropped.
        """
        self.reset_by_client()
        self.connection.write(b"to no one")
        self.reactor.advance(0)
        self.connection.write(b"ignored")
        self.reactor.advance(0)
        self.connection.doRead()
        self.assert_lost_once()

    def test_abort_while_waiting_for_writability(self):
        """
        Aborting a connection that waits for its socket to take the rest
        stops waiting for writability at once; the protocol hears of the
        abort once, at the next turn.
        """
        self.small_buffered()
        self.connection.write(bytes(range(256)) * 8192)
        self.reactor.advance(0)
        self.assertIn(self.connection, self.reactor.getWriters())
        self.connection.abortConnection()
        self.assertNotIn(self.connection, self.reactor.getReaders())
        self.assertEqual(self.reactor.getWriters(), [])
        self.connection.doWrite()
        self.reactor.advance(0)
        [reason] = self.protocol.lost
        self.assertIsInstance(reason.value, ConnectionAborted)
        self.assertEqual(self.connection.fileno(), -1)

    def test_reactor_reports_loss(self):
        """
        A loss the reactor reports (the socket hung up) reaches the
        protocol with the reactor's reason.
        """
        self.connection.connectionLost(Failure(ConnectionDone()))
        [reason] = self.protocol.lost
        self.assertIsInstance(reason.value, ConnectionDone)

    def test_addresses(self):
        """
        The peer's address is the one accepted; our own is the socket's.
        """
        self.assertEqual((self.connection.getPeer().host, self.connection.getPeer().port),
                         ("10.0.0.1", 40000))
        self.assertEqual(self.connection.getHost().port, self.client.getpeername()[1])

    def test_no_delay(self):
        """
        The socket's C{TCP_NODELAY}, inherited from the listening socket,
        is what C{getTcpNoDelay} says at first; C{setTcpNoDelay} sets the
        socket's option, and C{getTcpNoDelay} follows it.
        """
        def option():
            return self.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0

        self.assertEqual((option(), self.connection.getTcpNoDelay()), (True, True))
        self.connection.setTcpNoDelay(False)
        self.assertEqual((option(), self.connection.getTcpNoDelay()), (False, False))
        self.connection.setTcpNoDelay(True)
        self.assertEqual((option(), self.connection.getTcpNoDelay()), (True, True))

    def test_hand_over(self):
        """
        L{AcceptedConnection.hand_over} gives the socket to the reactor's
        own transport (C{adoptStreamConnection}): it is no longer watched
        here, and its protocol hears nothing more from this transport.
        """
        factory = object()
        self.connection.hand_over(factory)
        [(fd, family, given)] = self.reactor.adoptedStreamConnections
        self.assertEqual((family, given), (socket.AF_INET, factory))
        self.assertEqual(self.reactor.getReaders(), [])
        self.connection.write(b"ignored")
        self.connection.loseConnection()
        self.reactor.advance(0)
        self.assertEqual(self.protocol.lost, [])


class PendingWritesTests(SynchronousTestCase):
    """
    Connections written to in one turn, sent together at its end.
    """

    def test_failure_contained(self):
        """
        A failure while one connection sends (its protocol failing to hear
        of its close) is logged; the other connections' writes go out.
        """
        class Failing(Recorder):
            def connectionLost(self, reason):
                raise RuntimeError("boom")

        reactor = MemoryReactorClock()
        writes = PendingWrites(reactor)
        connections, clients = [], []
        for protocol in (Failing(), Recorder()):
            accepted, client = tcp_pair()
            self.addCleanup(accepted.close)
            self.addCleanup(client.close)
            clients.append(client)
            connections.append(AcceptedConnection(reactor, accepted, ("10.0.0.1", 40000),
                                                  writes))
            connections[-1].start(protocol)
        connections[0].loseConnection()
        connections[1].write(b"still sent")
        reactor.advance(0)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertEqual(read_all(clients[1], 10), b"still sent")


class FakePort:
    """
    A listening port as L{take_connections} sees one: its socket, and its
    own accepting (counted).
    """

    def __init__(self, listening):
        self.socket = listening
        self.twisted_accepts = 0

    def doRead(self):
        """
        The port's own accepting.
        """
        self.twisted_accepts += 1


class FailingAccepts:
    """
    A listening socket whose C{accept} fails with each of C{errors} in
    turn, then accepts from the real listening socket C{listening}.
    """

    def __init__(self, listening, *errors):
        self._listening = listening
        self._errors = list(errors)

    def setsockopt(self, *args):
        """
        Accept the option.
        """

    def accept(self):
        """
        Fail with the next error, if any is left; else accept.
        """
        if self._errors:
            code = self._errors.pop(0)
            raise OSError(code, os.strerror(code))
        return self._listening.accept()


class TakeConnectionsTests(SynchronousTestCase):
    """
    L{take_connections} on a real listening socket.
    """

    def setUp(self):
        self.listening = socket.create_server(("127.0.0.1", 0))
        self.listening.setblocking(False)
        self.addCleanup(self.listening.close)
        self.port = FakePort(self.listening)
        self.accepted = []

    def connect(self, count):
        for _ in range(count):
            client = socket.create_connection(self.listening.getsockname())
            self.addCleanup(client.close)

    def test_whole_queue(self):
        """
        One read takes every waiting connection, each a non-blocking
        socket with C{TCP_NODELAY}, with the address it came from.
        """
        take_connections(self.port, lambda sock, address: self.accepted.append((sock, address)))
        self.connect(3)
        self.port.doRead()
        self.assertEqual(len(self.accepted), 3)
        for sock, address in self.accepted:
            self.addCleanup(sock.close)
            self.assertEqual(sock.gettimeout(), 0.0)
            self.assertNotEqual(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 0)
            self.assertEqual(address[0], "127.0.0.1")
        self.assertEqual(self.port.twisted_accepts, 0)

    def test_failure_contained(self):
        """
        A failure setting up one connection is logged and closes that
        socket; the others are still taken.
        """
        def accepted(sock, address):
            self.accepted.append(sock)
            if len(self.accepted) == 1:
                raise RuntimeError("boom")

        take_connections(self.port, accepted)
        self.connect(2)
        self.port.doRead()
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertEqual(len(self.accepted), 2)
        self.assertEqual(self.accepted[0].fileno(), -1)
        self.accepted[1].close()

    def test_exhaustion_left_to_the_port(self):
        """
        An accept failing for want of descriptors or memory is left to the
        port's own accepting, which knows how to recover from it.
        """
        accepts = []
        for code in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            port = FakePort(FailingAccepts(self.listening, code))
            take_connections(port, lambda sock, address: self.fail("accepted"))
            port.doRead()
            accepts.append(port.twisted_accepts)
        self.assertEqual(accepts, [1, 1, 1, 1])

    def test_one_connection_failures_skipped(self):
        """
        A connection aborted before it was accepted (C{ECONNABORTED}) or
        refused by a firewall (C{EPERM}) is skipped: the ones after it
        are still taken, and the port's own accepting is not called.
        """
        self.port.socket = FailingAccepts(self.listening, errno.ECONNABORTED, errno.EPERM)
        take_connections(self.port, lambda sock, address: self.accepted.append(sock))
        self.connect(2)
        self.port.doRead()
        for sock in self.accepted:
            sock.close()
        self.assertEqual((len(self.accepted), self.port.twisted_accepts), (2, 0))

    def test_other_failure_logged(self):
        """
        Any other accept failure is logged and ends this round of
        accepting; the port keeps listening and takes the waiting
        connection when next readable.
        """
        self.port.socket = FailingAccepts(self.listening, errno.EINVAL)
        take_connections(self.port, lambda sock, address: self.accepted.append(sock))
        self.connect(1)
        self.port.doRead()
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)
        self.assertEqual((self.accepted, self.port.twisted_accepts), ([], 0))
        self.port.doRead()
        self.accepted[0].close()
        self.assertEqual(len(self.accepted), 1)


class ListeningNodeTests(TestCase):
    """
    A listening L{MessageNode} over the real reactor gives its accepted
    message connections the lean transport.
    """

    @inlineCallbacks
    def setUp(self):
        self.clock = Clock()
        self.inbox = Inbox()
        self.server = MessageNode(reactor, UPID("master", "127.0.0.1", 0), self.inbox,
                                  guard=ConnectionGuard(self.clock, max_per_address=1))
        yield self.server.listen(TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1"))
        self.addCleanup(self.server.stop)

    @inlineCallbacks
    def test_message_connection_is_lean(self):
        """
        A client's frames arrive over an L{AcceptedConnection}, which has
        C{TCP_NODELAY}; the answer reaches the client on it.
        """
        client = MessageNode(reactor, UPID("slave(1)", "127.0.0.1", 0), Inbox())
        self.addCleanup(client.stop)
        client.send(self.server.upid, messages_pb2.PingSlaveMessage())
        yield self.inbox.when(lambda: self.inbox.messages)
        transport = self.server._connections[client.upid].transport
        self.assertIsInstance(transport, AcceptedConnection)
        self.assertNotEqual(
            transport._socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 0)
        self.server.send(client.upid, messages_pb2.PongSlaveMessage())
        yield client.receiver.when(lambda: client.receiver.messages)

    @inlineCallbacks
    def test_guard_on_lean_connections(self):
        """
        The guard counts and times lean connections as others: an
        address's second silent connection is closed at once, the first
        when its deadline passes.
        """
        closed = [Deferred(), Deferred()]
        sockets = []
        for d in closed:
            sock = socket.create_connection(("127.0.0.1", self.server.upid.port))
            sock.setblocking(False)
            self.addCleanup(sock.close)
            sockets.append(sock)
            reactor.addReader(_EndWatcher(sock, d))
        yield closed[1]
        self.assertNoResult(closed[0])
        self.clock.advance(PENDING_TIMEOUT)
        yield closed[0]

    @inlineCallbacks
    def test_frame_after_pending_identifies(self):
        """
        A lean connection whose first frame arrives is identified: the
        guard no longer counts it, so the address may open another.
        """
        first = MessageNode(reactor, UPID("slave(1)", "127.0.0.1", 0), Inbox())
        self.addCleanup(first.stop)
        first.send(self.server.upid, messages_pb2.PingSlaveMessage())
        yield self.inbox.when(lambda: len(self.inbox.messages) == 1)
        self.assertEqual(dict(self.server.guard.pending), {})
        second = socket.create_connection(("127.0.0.1", self.server.upid.port))
        self.addCleanup(second.close)
        second.sendall(encode_frame(UPID("slave(2)", "127.0.0.1", 0),
                                    messages_pb2.PingSlaveMessage()))
        yield self.inbox.when(lambda: len(self.inbox.messages) == 2)


class _EndWatcher:
    """
    Fires C{d} when the socket C{sock} sees its connection end (closed or
    reset by the other side).
    """

    def __init__(self, sock, d):
        self._socket = sock
        self._d = d

    def fileno(self):
        return self._socket.fileno()

    def logPrefix(self):
        return "EndWatcher"

    def doRead(self):
        try:
            data = self._socket.recv(100)
        except BlockingIOError:
            return None
        except ConnectionResetError:
            data = b""
        if not data:
            reactor.removeReader(self)
            self._d.callback(None)
        return None

    def connectionLost(self, reason):
        reactor.removeReader(self)
        if not self._d.called:
            self._d.callback(None)
