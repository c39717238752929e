"""
A lean message node for emulated slaves: what a process of thousands of
them connects to its master with (L{mesos_tw.testing.emulator}).

It speaks the same frames over the same TCP as
L{MessageNode <mesos_tw.protocols.network.MessageNode>}, one connection
per peer, but it only connects out (an emulated slave does not listen:
its UPID's port is 0) and it skips what a master or a real slave needs
and an emulated slave does not: endpoint descriptions and their
Deferreds, protocol factories, the sniffing of HTTP and TLS, the guard,
pinning.  Each connection is a non-blocking socket the reactor watches
directly (L{IReadDescriptor}, L{IWriteDescriptor}), no Twisted transport.

Why: after a master failover, 10,000 emulated slaves each open a new
connection within a second or two, and through the full machinery the
emulating processes spent twice the CPU the new leader spent re-admitting
them, most of it on their connections (the failover benchmark of the
README's Performance section).  The master is what a benchmark measures.

Not for TLS (C{LIBPROCESS_SSL_ENABLED}): the emulator uses a
L{MessageNode} then.  A peer's host should be an IP address, as masters
advertise theirs: a name would be looked up by a blocking call.
"""

import errno
import os
import socket

from twisted.internet.abstract import isIPv6Address
from twisted.internet.defer import succeed
from twisted.internet.interfaces import IReadDescriptor, IWriteDescriptor
from twisted.logger import Logger
from zope.interface import implementer

from mesos_tw.protocols.codec import EncodeError, decode_addressed, encode_frame
from mesos_tw.protocols.hosting import ProcessHosting
from mesos_tw.protocols.interfaces import IMessageNode
from mesos_tw.protocols.wire_format import DEFAULT_MAX_FRAME_BYTES, FrameError, split_frames

__all__ = ["EmulatorNode"]

#: Bytes read from a socket at once.
_READ_SIZE = 65536

_CLOSED_BY_PEER = "closed by the peer"


@implementer(IMessageNode)
class EmulatorNode(ProcessHosting):
    """
    One emulating process's end of some connections to masters (usually
    one: a slave has one master at a time).

    @param source_host: the local address connections are made from, or
        L{None} for the system's choice.
    @ivar upid: our own UPID, the sender of what L{send} sends.
    @ivar receiver: the L{IMessageReceiver} of what is addressed to
        C{upid} (or to nobody we host); the slaves are hosted processes
        (L{host}).
    """

    log = Logger()

    def __init__(self, reactor, upid, receiver=None, source_host=None,
                 max_frame_bytes=DEFAULT_MAX_FRAME_BYTES):
        self.reactor = reactor
        self.upid = upid
        self.receiver = receiver
        self.source_host = source_host
        self.max_frame_bytes = max_frame_bytes
        self._connections = {}
        self._hosted = {}
        self._stopped = False

    def send(self, to, message):
        """
        Send C{message} to C{to}, connecting first if need be; best effort
        (a connection that fails reports C{to} lost).
        """
        self.send_from(self.upid, to, message)

    def send_from(self, sender, to, message):
        """
        Send C{message} to C{to} signed by C{sender}: our UPID or one we
        host.
        """
        connection = self._connections.get(to)
        if connection is None:
            if not to.reachable:
                self.log.warn("Dropping {name} to {to}: not connected, and it does not listen",
                              name=message.DESCRIPTOR.full_name, to=str(to))
                return
            if self._stopped:
                # A slave's timer that outlived the process's end (a
                # retry, a ping): the node connects no more.
                self.log.debug("Dropping {name} to {to}: this node is stopped",
                               name=message.DESCRIPTOR.full_name, to=str(to))
                return
            connection = self._connections[to] = _Connection(self, to)
        connection.send_message(sender, message, to)

    def connected_to(self, upid):
        """
        Whether a connection with C{upid} is open (not just being made).
        """
        connection = self._connections.get(upid)
        return connection is not None and connection.open

    def peers(self):
        """
        The UPIDs we have an open connection with.
        """
        return [upid for upid, connection in self._connections.items() if connection.open]

    def disconnect(self, upid):
        """
        Close the connection with C{upid}, if any; its loss is reported at
        the reactor's next turn, as a closing TCP connection's is.
        """
        connection = self._connections.get(upid)
        if connection is not None:
            connection.close()

    def disconnect_all(self):
        """
        Close every connection (see L{disconnect}).
        """
        for connection in list(self._connections.values()):
            connection.close()

    def stop(self):
        """
        Close every connection at once (the process is done); each loss
        is reported before this returns.  A stopped node connects no more:
        what is sent afterwards is dropped (logged at debug level).

        @return: a Deferred that has fired.
        """
        self._stopped = True
        for connection in list(self._connections.values()):
            connection.abort("stopped")
        return succeed(None)

    def pin(self, upid):
        """
        Nothing to do: nobody authenticates to an emulated slave.
        """

    def unpin(self, upid):
        """
        Nothing to do (see L{pin}).
        """

    def admitted(self, upid):
        """
        Nothing to do: we accept no connection, so none is capped.
        """

    def connection_closed(self, connection, why):
        """
        Called by a connection that closed or could not be made: every
        process on this node hears that its peer is lost.
        """
        if self._connections.get(connection.peer) is connection:
            del self._connections[connection.peer]
        if why != _CLOSED_BY_PEER:
            # Not each of the 10,000 connections a master's end closes at
            # a failover: an event emitted costs even when nothing logs it.
            self.log.debug("Connection with {peer} lost: {why}", peer=str(connection.peer),
                           why=why)
        self._tell_lost(connection.peer)


@implementer(IReadDescriptor, IWriteDescriptor)
class _Connection:
    """
    One non-blocking TCP connection to C{peer}, watched by the reactor:
    frames queue while it is being made and are written when it is; what
    arrives is cut into frames and decoded.
    """

    def __init__(self, node, peer):
        self._node = node
        self._reactor = node.reactor
        self.peer = peer
        self.open = False
        self._lost = False
        self._out = []
        self._buffer = b""
        self._socket, self._fd = None, -1
        family = socket.AF_INET6 if isIPv6Address(peer.host) else socket.AF_INET
        try:
            # Making the socket can fail too (EMFILE: out of descriptors):
            # the peer is lost then, as when it refuses, and the sender
            # (a slave's timer) sees no exception.
            self._socket = socket.socket(family, socket.SOCK_STREAM)
            self._fd = self._socket.fileno()
            self._socket.setblocking(False)
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if node.source_host is not None:
                self._socket.bind((node.source_host, 0))
            code = self._socket.connect_ex((peer.host, peer.port))
        except OSError as error:
            code = error.errno or errno.EIO
        if code not in (0, errno.EINPROGRESS):
            # Reported after the sender's call returns, as a refused
            # TCP connection is; what is sent meanwhile is dropped.
            self._reactor.callLater(0, self._closed, f"cannot connect: {os.strerror(code)}")
            return
        self._reactor.addWriter(self)

    def fileno(self):
        """
        The socket's descriptor (-1 once closed).
        """
        return self._fd

    def logPrefix(self):
        """
        What the reactor's log calls us.
        """
        return "EmulatorNode"

    def send_message(self, sender, message, recipient):
        """
        Write C{message} as one frame, or queue it until the connection
        is made or the socket takes more.
        """
        if self._socket is None:
            return
        try:
            frame = encode_frame(sender, message, recipient)
        except EncodeError as error:
            self._node.log.error("Not sending malformed {name} to {peer}: {error}",
                                 name=message.DESCRIPTOR.full_name, peer=str(self.peer),
                                 error=str(error))
            return
        if not self.open or self._out:
            self._out.append(frame)
            return
        self._write(frame)

    def _write(self, data):
        try:
            sent = self._socket.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as error:
            self._closed(f"write failed: {error.strerror}")
            return
        if sent < len(data):
            self._out = [data[sent:]]
            self._reactor.addWriter(self)

    def doWrite(self):
        """
        The socket is writable: the connection is made (or failed), or it
        takes the rest of what was queued.
        """
        if self._socket is None:
            return None
        if not self.open:
            code = self._socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self._closed(f"cannot connect: {os.strerror(code)}")
                return None
            self.open = True
            self._reactor.addReader(self)
        queued, self._out = self._out, []
        if queued:
            self._write(b"".join(queued))
        if not self._out and self._socket is not None:
            self._reactor.removeWriter(self)
        return None

    def doRead(self):
        """
        Read what arrived and hand each complete frame on.
        """
        if self._socket is None:
            return None
        try:
            data = self._socket.recv(_READ_SIZE)
        except BlockingIOError:
            return None
        except OSError as error:
            self._closed(f"read failed: {error.strerror}")
            return None
        if not data:
            self._closed(_CLOSED_BY_PEER)
            return None
        try:
            frames, self._buffer = split_frames(self._buffer + data if self._buffer else data,
                                                self._node.max_frame_bytes)
            for envelope in frames:
                sender, recipient, message = decode_addressed(envelope)
                self._node.deliver(sender, recipient, message)
                if self._socket is None:
                    break
        except FrameError as error:
            self._node.log.warn("Closing the connection with {peer}: {error}",
                                peer=str(self.peer), error=str(error))
            self._closed(str(error))
        return None

    def connectionLost(self, reason):
        """
        The reactor saw the socket hang up or fail.
        """
        self._closed(reason.getErrorMessage())

    def close(self):
        """
        Close the connection; its loss is reported at the next turn.
        """
        if self._socket is not None:
            self._reactor.callLater(0, self._closed, "closed by us")

    def abort(self, why):
        """
        Close the connection now, reporting its loss before returning.
        """
        self._closed(why)

    def _closed(self, why):
        """
        The connection is over (or was never made): report it, once.
        """
        if self._lost:
            return
        self._lost = True
        if self._socket is not None:
            self._reactor.removeReader(self)
            self._reactor.removeWriter(self)
            self._socket.close()
        self._socket, self._fd, self.open = None, -1, False
        self._out, self._buffer = [], b""
        self._node.connection_closed(self, why)
