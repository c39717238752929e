"""
Frames on the wire: a 4-byte big-endian length, then an ``Envelope``.

L{EnvelopeProtocol} turns frames into typed protobuf messages and hands them
to its L{MessageNode <mesos_tw.protocols.network.MessageNode>}; it never looks
inside a message.  Anything it cannot read closes the connection with a
logged reason.
"""

from google.protobuf.message import DecodeError, EncodeError
from twisted.logger import Logger
from twisted.protocols.basic import Int32StringReceiver

from mesos_tw.protocols.envelope_pb2 import Envelope
from mesos_tw.protocols.registry import message_type
from mesos_tw.protocols.upid import UPID

__all__ = ["DEFAULT_MAX_FRAME_BYTES", "EnvelopeProtocol", "encode_frame"]

DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024


def encode_envelope(sender, message):
    """
    The serialized envelope carrying C{message} from C{sender}.

    @raise EncodeError: if C{message} lacks a required field.
    """
    return Envelope(
        name=message.DESCRIPTOR.full_name,
        body=message.SerializeToString(),
        **{"from": str(sender)},
    ).SerializeToString()


def encode_frame(sender, message):
    """
    The whole frame (length prefix included) for C{message} from C{sender}.
    """
    envelope = encode_envelope(sender, message)
    return len(envelope).to_bytes(4, "big") + envelope


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
        envelope = Envelope()
        try:
            envelope.ParseFromString(frame)
        except DecodeError:
            return self._reject("envelope does not parse")
        cls = message_type(envelope.name)
        if cls is None:
            return self._reject(f"unknown message name {envelope.name!r}")
        message = cls()
        try:
            message.ParseFromString(envelope.body)
        except DecodeError as error:
            return self._reject(f"body of {envelope.name} does not parse: {error}")
        if not message.IsInitialized():
            missing = ", ".join(message.FindInitializationErrors())
            return self._reject(f"body of {envelope.name} does not parse: missing {missing}")
        try:
            sender = UPID.parse(getattr(envelope, "from"))
        except ValueError as error:
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
