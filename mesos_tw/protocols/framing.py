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
    decode_envelope,
    encode_envelope,
    encode_frame,
)

__all__ = ["DEFAULT_MAX_FRAME_BYTES", "EnvelopeProtocol", "encode_frame"]


class EnvelopeProtocol(Int32StringReceiver):
    """
    One connection carrying envelopes in both directions.

    @ivar peer: the L{UPID} of the process at the other end: known at once
        for a connection we opened, learnt from the first envelope for one
        we accepted.
    """

    log = Logger()

    def __init__(self, node, peer=None, max_frame_bytes=DEFAULT_MAX_FRAME_BYTES):
        self.node = node
        self.peer = peer
        self.MAX_LENGTH = max_frame_bytes
        self._rejected = False

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

    def send_message(self, sender, message):
        """
        Send C{message}, signed with our own UPID C{sender}.

        @return: whether it was sent (a message missing a required field is
            logged and not sent).
        """
        try:
            self.sendString(encode_envelope(sender, message))
        except EncodeError as error:
            self.log.error(
                "Not sending malformed {name} to {peer}: {error}",
                name=message.DESCRIPTOR.full_name, peer=self.peer, error=str(error),
            )
            return False
        return True

    def stringReceived(self, frame):
        """
        Decode one frame and hand the message to the node.
        """
        if self._rejected:
            return
        try:
            sender, message = decode_envelope(frame)
        except FrameError as error:
            return self._reject(str(error))
        self.node.frame_received(self, sender, message)

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
        self.log.warn(
            "Closing connection from {address}: {reason}",
            address=self.transport.getPeer(), reason=reason,
        )
        self.transport.loseConnection()

    def connectionLost(self, reason):
        """
        Tell the node the peer is gone.
        """
        self.node.connection_lost(self)
