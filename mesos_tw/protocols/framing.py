"""
Frames on the wire: a 4-byte big-endian length, then an ``Envelope``.

L{EnvelopeProtocol} turns frames into typed protobuf messages and hands them
to its L{MessageNode <mesos_tw.protocols.network.MessageNode>}; it never looks
inside a message.  Anything it cannot read closes the connection with a
logged reason.
"""

from twisted.logger import Logger
from twisted.protocols.basic import Int32StringReceiver

from mesos_tw.protocols.codec import (
    DEFAULT_MAX_FRAME_BYTES,
    EncodeError,
    FrameError,
    decode_addressed,
    encode_frame,
)

__all__ = ["DEFAULT_MAX_FRAME_BYTES", "FRAME_TIMEOUT", "EnvelopeProtocol", "encode_frame"]

#: Seconds a peer has to finish a frame it has started sending.
FRAME_TIMEOUT = 30.0


class EnvelopeProtocol(Int32StringReceiver):
    """
    One connection carrying envelopes in both directions.

    @ivar peer: the L{UPID} of the process at the other end: known at once
        for a connection we opened, learnt from the first envelope for one
        we accepted.
    @ivar on_identified: called once, at the first frame that decodes (the
        listening port's L{mesos_tw.protocols.guard.ConnectionGuard} stops
        counting the connection then, unless it counts connections until
        they authenticate), or L{None}.
    @ivar speaker: the sender of the first envelope that arrived: the
        connection speaks only for processes at its host and port.
    @ivar senders: every process that has spoken on it (the node answers
        each of them on it).
    @ivar admission: the L{mesos_tw.protocols.guard.Admission} of an
        accepted connection, or L{None}.
    @param clock: when given, a frame started and not finished within
        C{frame_timeout} seconds closes the connection.
    """

    log = Logger()
    on_identified = None
    admission = None
    speaker = None

    def __init__(self, node, peer=None, max_frame_bytes=DEFAULT_MAX_FRAME_BYTES, clock=None,
                 frame_timeout=FRAME_TIMEOUT):
        self.node = node
        self.peer = peer
        self.senders = set()
        self.MAX_LENGTH = max_frame_bytes
        self._rejected = False
        self._clock = clock
        self._frame_timeout = frame_timeout
        self._deadline = None

    def connectionMade(self):
        """
        Disable Nagle: messages are small and latency matters more.
        """
        set_no_delay = getattr(self.transport, "setTcpNoDelay", None)
        if set_no_delay is not None:
            try:
                set_no_delay(True)
            except OSError:
                pass

    def send_message(self, sender, message, recipient=None):
        """
        Send C{message}, signed with our own UPID C{sender} (and addressed
        to C{recipient}, when given): one frame, one write.

        @return: whether it was sent (a message missing a required field is
            logged and not sent).
        """
        try:
            frame = encode_frame(sender, message, recipient)
        except EncodeError as error:
            self.log.error(
                "Not sending malformed {name} to {peer}: {error}",
                name=message.DESCRIPTOR.full_name, peer=self.peer, error=str(error),
            )
            return False
        self.transport.write(frame)
        return True

    def dataReceived(self, data):
        """
        Hand each complete frame to L{stringReceived}, keep the rest; a
        frame left unfinished must be finished within the frame timeout
        (counted afresh whenever one is finished).

        The frames are cut here rather than by L{Int32StringReceiver}'s
        loop, which does more per frame than this protocol needs (pausing,
        its C{recvd} compatibility); its C{MAX_LENGTH} and
        L{lengthLimitExceeded} keep their meaning.
        """
        buffer = self._unprocessed + data if self._unprocessed else data
        offset, size, limit = 0, len(buffer), self.MAX_LENGTH
        while size - offset >= 4 and not self._rejected:
            length = int.from_bytes(buffer[offset:offset + 4], "big")
            if length > limit:
                self._unprocessed = b""
                self.lengthLimitExceeded(length)
                return
            end = offset + 4 + length
            if end > size:
                break
            self.stringReceived(buffer[offset + 4:end])
            offset = end
        self._unprocessed = buffer[offset:] if offset else buffer
        if self._clock is None or self._rejected:
            return
        if offset or not self._unprocessed:
            self._cancel_deadline()
        if self._unprocessed and self._deadline is None:
            self._deadline = self._clock.callLater(self._frame_timeout, self._reject,
                                                   "a frame was not finished within "
                                                   f"{self._frame_timeout:g} s")

    def _cancel_deadline(self):
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def stringReceived(self, frame):
        """
        Decode one frame and hand the message to the node.
        """
        if self._rejected or getattr(self.transport, "disconnecting", False):
            # Closing (by us): frames after the close are not read, even
            # those that came in the same chunk as the last one read.
            return
        try:
            sender, recipient, message = decode_addressed(frame)
        except FrameError as error:
            return self._reject(str(error))
        if self.on_identified is not None:
            identified, self.on_identified = self.on_identified, None
            identified()
        self.node.frame_received(self, sender, message, recipient)

    def lengthLimitExceeded(self, length):
        """
        Close a connection whose peer announced a frame over our limit.
        """
        self._reject(f"frame of {length} bytes exceeds the limit of {self.MAX_LENGTH}")

    def _reject(self, reason):
        """
        Log why this connection's input is unreadable, and close it.
        """
        self._rejected = True
        self._cancel_deadline()
        self.log.warn(
            "Closing connection from {address}: {reason}",
            address=self.transport.getPeer(), reason=reason,
        )
        self.transport.loseConnection()

    def connectionLost(self, reason):
        """
        Tell the node the peer is gone.
        """
        self._cancel_deadline()
        self.node.connection_lost(self)
