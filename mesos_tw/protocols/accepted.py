"""
Accepted message connections on a lean transport: what a listening node
gives the connections it accepts on a TCP port, in place of Twisted's
C{tcp.Server} (L{take_connections}, L{AcceptedConnection}).

Why: after a master failover, each of 10,000 slaves opens a connection to
the new leader and re-registers within a second or two, and the new
leader's CPU is what they wait for.  Through Twisted's TCP machinery an
accepted connection cost 1.7 times the CPU of the same work on raw
sockets, and a frame on an open one 1.8 to 1.9 times, as measured on a
loaded machine (``benchmarks/accept_cost.py``): building its transport and
addresses, and for every answer written, asking the poller for
writability and back again and an event dispatched in between.  Here a
connection is a non-blocking socket the reactor watches directly
(L{IReadDescriptor}, L{IWriteDescriptor}, as the emulated slaves' node
does for the other end), and what is written in one turn of the reactor
is sent at the turn's end, one C{send} per connection (frames sent in one
turn still leave in one system call, as from Twisted's transports); the
poller is asked for writability only when a socket does not take it all.

It carries envelopes only.  A connection whose first bytes are HTTP or a
TLS handshake is handed to a Twisted transport
(L{AcceptedConnection.hand_over}, through the reactor's
C{adoptStreamConnection}), which those protocols need whole (producers,
TLS).
"""

import errno
import socket
import struct

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.error import ConnectionAborted, ConnectionDone, ConnectionLost
from twisted.internet.interfaces import IReadDescriptor, IWriteDescriptor
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from mesos_tw.constants import LISTEN_BACKLOG

__all__ = ["AcceptedConnection", "PendingWrites", "take_connections"]

#: Bytes read from a socket at once (as Twisted's transports).
_READ_SIZE = 65536

#: C{SO_LINGER} on, for no time: closing the socket resets the connection.
_RESET = struct.pack("ii", 1, 0)

#: Accept failures of one connection only: skip it, take the next.
_SKIPPED = frozenset([errno.ECONNABORTED, errno.EPERM])

#: Accept failures for want of descriptors or memory: Twisted's port
#: handles them (logging them, recovering from C{EMFILE}).
_EXHAUSTED = frozenset([errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM])

_log = Logger()


def take_connections(port, accepted):
    """
    Make a listening TCP port take every connection waiting in its accept
    queue each time it is readable, up to the listen backlog (as
    L{mesos_tw.protocols.accept_queue.drain_accept_queue} does), and give
    each accepted socket to C{accepted(socket, address)} rather than to a
    Twisted transport and protocol of the port's factory.

    Accepted sockets are set not to delay small writes (Nagle's
    algorithm): the option is set on the listening socket once, and Linux
    gives it to every socket accepted from it.  A connection gone before it
    was accepted (C{ECONNABORTED}) or refused by a firewall (C{EPERM}) is
    skipped, as Twisted does.  An accept failing for want of descriptors
    or memory (C{EMFILE}, C{ENFILE}, C{ENOBUFS}, C{ENOMEM}) is left to the
    port's own accepting, which logs it and, out of descriptors, closes
    the waiting connections with the descriptor it keeps in reserve; any
    other failure is logged and accepting resumes when the port is next
    readable.  A failure of C{accepted} is logged, that socket closed, and
    the port keeps listening.

    @param port: a listening TCP port (Twisted's C{tcp.Port}) whose
        C{socket} is the listening socket.
    @param accepted: called with each accepted socket (non-blocking) and
        the address it came from (C{(host, port)}, or longer for IPv6).
    """
    listening = port.socket
    listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    accept_by_twisted = port.doRead

    def accept_all():
        for _ in range(LISTEN_BACKLOG):
            try:
                connection, address = listening.accept()
            except BlockingIOError:
                return None
            except OSError as error:
                if error.errno in _SKIPPED:
                    continue
                if error.errno in _EXHAUSTED:
                    return accept_by_twisted()
                _log.failure("Accepting a connection failed")
                return None
            try:
                connection.setblocking(False)
                accepted(connection, address)
            except Exception:
                _log.failure("Setting up a connection accepted from {address} failed; "
                             "it is closed", address=address)
                connection.close()
        return None

    port.doRead = accept_all


class PendingWrites:
    """
    The accepted connections written to during this turn of the reactor:
    their writes go out together at the turn's end (a delayed call of no
    delay, one for all of them), one C{send} each.
    """

    def __init__(self, reactor):
        self._reactor = reactor
        self._connections = []
        self._call = None

    def add(self, connection):
        """
        C{connection} has something to send at the turn's end.
        """
        self._connections.append(connection)
        if self._call is None:
            self._call = self._reactor.callLater(0, self._flush)

    def _flush(self):
        self._call = None
        connections, self._connections = self._connections, []
        for connection in connections:
            try:
                connection.flush()
            except Exception:
                # Hearing of its loss failed somewhere (each node and
                # receiver contains its own failures): the others' writes
                # still go out.
                _log.failure("Sending on a connection from {address} failed",
                             address=connection.getPeer())


@implementer(IReadDescriptor, IWriteDescriptor)
class AcceptedConnection:
    """
    One accepted TCP connection, watched by the reactor directly, and the
    transport of the protocol it carries: the subset of Twisted's
    C{ITCPTransport} that a message protocol uses (C{write},
    C{writeSequence}, C{loseConnection}, C{abortConnection}, C{getPeer},
    C{getHost}, C{setTcpNoDelay}, C{disconnecting}), with the same
    meanings: what is written before C{loseConnection} is sent before the
    connection closes; C{abortConnection} drops it and resets the
    connection; the protocol hears C{connectionLost} once, from the
    reactor (never from inside one of these calls).

    @ivar protocol: what data goes to; the protocol that sniffs the first
        bytes replaces itself with the one they call for
        (L{switch_protocol}).
    @ivar disconnecting: whether C{loseConnection} or C{abortConnection}
        was called.
    @ivar connected: whether the connection is still open.
    """

    disconnecting = False
    connected = True
    _aborting = False

    def __init__(self, reactor, connection, address, pending_writes):
        """
        @param connection: the accepted socket, non-blocking, with
            C{TCP_NODELAY} (taken from its listening socket, see
            L{take_connections}).
        @param address: the address it came from, as C{accept} gave it.
        @param pending_writes: the L{PendingWrites} that sends what is
            written at the turn's end.
        """
        self._reactor = reactor
        self._socket = connection
        self._fd = connection.fileno()
        self._peer = address
        self._pending_writes = pending_writes
        self._no_delay = True
        # What is being sent, from _offset on; what was written since
        # waits in _queued (Twisted's FileDescriptor keeps its data so):
        # a slow peer's backlog is joined once, never copied per send.
        self._buffer = b""
        self._offset = 0
        self._queued = []
        self._waiting_writable = False
        self.protocol = None

    def start(self, protocol):
        """
        Give the connection to C{protocol} and start reading.
        """
        self.protocol = protocol
        protocol.makeConnection(self)
        if self.connected and not self.disconnecting:
            self._reactor.addReader(self)

    def switch_protocol(self, protocol):
        """
        From now on, data goes to C{protocol}, made connected on this
        transport.
        """
        self.protocol = protocol
        protocol.makeConnection(self)

    def hand_over(self, factory):
        """
        Give the connection to a Twisted transport of the reactor
        (C{adoptStreamConnection}), whose protocol C{factory} builds; this
        transport is done with it (nothing may be written before).

        @return: that transport.
        """
        self._reactor.removeReader(self)
        transport = self._reactor.adoptStreamConnection(self._fd, self._socket.family, factory)
        # The reactor's transport has a descriptor of its own.
        self._socket.close()
        self._socket, self._fd, self.connected = None, -1, False
        return transport

    # IReadDescriptor, IWriteDescriptor

    def fileno(self):
        """
        The socket's descriptor (-1 once closed).
        """
        return self._fd

    def logPrefix(self):
        """
        What the reactor's log calls us.
        """
        return "AcceptedConnection"

    def doRead(self):
        """
        Hand what arrived to the protocol.
        """
        if not self.connected:
            return None
        try:
            data = self._socket.recv(_READ_SIZE)
        except BlockingIOError:
            return None
        except OSError as error:
            self._close(ConnectionLost(error.strerror))
            return None
        if not data:
            self._close(ConnectionDone())
            return None
        self.protocol.dataReceived(data)
        return None

    def doWrite(self):
        """
        The socket takes more of what is waiting to be sent.
        """
        self.flush()
        return None

    def connectionLost(self, reason):
        """
        The reactor saw the socket hang up or fail.
        """
        self._close(reason.value)

    # The transport.

    def write(self, data):
        """
        Send C{data} at the end of this turn of the reactor (after what was
        written before); nothing once the connection is closed.
        """
        if not (self.connected and data):
            return
        queued = self._queued
        queued.append(data)
        if len(queued) == 1 and not self._waiting_writable:
            self._pending_writes.add(self)

    def writeSequence(self, data):
        """
        Send the strings of C{data} in order (see L{write}).
        """
        self.write(b"".join(data))

    def flush(self):
        """
        Send what is waiting, as much as the socket takes; wait for it to
        take the rest.  Called at the end of the turn in which it was
        written (L{PendingWrites}), and when the socket is writable again.
        """
        if not self.connected or self._aborting:
            return
        if not self._buffer and self._queued:
            queued, self._queued = self._queued, []
            self._buffer = queued[0] if len(queued) == 1 else b"".join(queued)
        if self._buffer:
            offset = self._offset
            try:
                sent = self._socket.send(
                    memoryview(self._buffer)[offset:] if offset else self._buffer)
            except BlockingIOError:
                sent = 0
            except OSError as error:
                self._close(ConnectionLost(error.strerror))
                return
            if offset + sent < len(self._buffer):
                self._offset = offset + sent
            else:
                self._buffer, self._offset = b"", 0
        if self._buffer or self._queued:
            if not self._waiting_writable:
                self._waiting_writable = True
                self._reactor.addWriter(self)
            return
        if self._waiting_writable:
            self._waiting_writable = False
            self._reactor.removeWriter(self)
        if self.disconnecting:
            self._close(ConnectionDone())

    def loseConnection(self):
        """
        Close the connection once what was written is sent; read no more.
        """
        if self.disconnecting or not self.connected:
            return
        self.disconnecting = True
        self._reactor.removeReader(self)
        if not (self._buffer or self._queued):
            # Closed at the turn's end, as the flush would have.
            self._pending_writes.add(self)

    def abortConnection(self):
        """
        Close the connection now, dropping what was not sent (the peer sees
        it reset); the protocol hears of it at the reactor's next turn.
        """
        if not self.connected or self._aborting:
            return
        self.disconnecting = self._aborting = True
        self._reactor.removeReader(self)
        if self._waiting_writable:
            self._waiting_writable = False
            self._reactor.removeWriter(self)
        self._buffer, self._offset, self._queued = b"", 0, []
        self._reactor.callLater(0, self._close, ConnectionAborted())

    def getPeer(self):
        """
        The address the connection came from.
        """
        return _address(self._peer)

    def getHost(self):
        """
        Our end's address (a closed connection's is not known).
        """
        if self._socket is None:
            raise OSError(errno.EBADF, "the connection is closed")
        return _address(self._socket.getsockname())

    def setTcpNoDelay(self, enabled):
        """
        Whether to send small writes at once (C{TCP_NODELAY}).
        """
        if self._socket is None or bool(enabled) == self._no_delay:
            return
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(bool(enabled)))
        self._no_delay = bool(enabled)

    def getTcpNoDelay(self):
        """
        Whether small writes are sent at once.
        """
        return self._no_delay

    def _close(self, reason):
        """
        The connection is over: close the socket and tell the protocol,
        once; an abort resets the connection.
        """
        if not self.connected:
            return
        self.connected = False
        self._reactor.removeReader(self)
        if self._waiting_writable:
            self._waiting_writable = False
            self._reactor.removeWriter(self)
        if isinstance(reason, ConnectionAborted):
            try:
                self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
            except OSError:
                pass
        self._socket.close()
        self._socket, self._fd = None, -1
        self._buffer, self._offset, self._queued = b"", 0, []
        self.protocol.connectionLost(Failure(reason))


def _address(address):
    """
    Twisted's address of a TCP socket address as C{accept} or
    C{getsockname} gives it (C{(host, port)}, or longer for IPv6).
    """
    if len(address) == 2:
        return IPv4Address("TCP", *address)
    return IPv6Address("TCP", *address[:2])
