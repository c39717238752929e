"""
Tests for L{mesos_tw.protocols.framing}: frames in, messages out, and every
malformed input closes the connection with a logged reason.
"""

from twisted.internet.testing import StringTransport
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.protocols import messages_pb2, mesos_pb2
from mesos_tw.protocols.envelope_pb2 import Envelope
from mesos_tw.protocols.framing import EnvelopeProtocol, encode_frame
from mesos_tw.protocols.upid import UPID

SLAVE = UPID("slave(1)", "10.0.0.2", 5051)


class RecordingNode:
    """
    Stands in for a node: records what the protocol hands it.
    """

    def __init__(self):
        self.received = []
        self.recipients = []
        self.lost = []

    def frame_received(self, protocol, sender, message, recipient=None):
        self.received.append((sender, message))
        self.recipients.append(recipient)

    def connection_lost(self, protocol):
        self.lost.append(protocol)


def frame_of(payload):
    """
    A length-prefixed frame around raw envelope bytes C{payload}.
    """
    return len(payload).to_bytes(4, "big") + payload


class EnvelopeProtocolTests(SynchronousTestCase):
    """
    Tests for L{EnvelopeProtocol}.
    """

    def setUp(self):
        self.node = RecordingNode()
        self.protocol = EnvelopeProtocol(self.node, max_frame_bytes=1024)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def feed_bytewise(self, data):
        """
        Deliver C{data} one byte at a time, as a slow network might.
        """
        for index in range(len(data)):
            self.protocol.dataReceived(data[index:index + 1])

    def assert_rejected(self, reason_part):
        """
        The connection is being closed, no message was delivered, and the
        logged reason mentions C{reason_part}.
        """
        self.assertTrue(self.transport.disconnecting)
        self.assertEqual(self.node.received, [])
        reasons = [e.get("reason", "") for e in self.events if "reason" in e]
        self.assertTrue(
            any(reason_part in r for r in reasons), f"{reason_part!r} not in {reasons!r}"
        )

    def test_message_bytewise(self):
        """
        A frame fed one byte at a time yields the typed message and sender.
        """
        message = messages_pb2.RegisterSlaveMessage(
            slave=mesos_pb2.SlaveInfo(hostname="h1")
        )
        self.feed_bytewise(encode_frame(SLAVE, message))
        self.assertEqual(self.node.received, [(SLAVE, message)])
        self.assertFalse(self.transport.disconnecting)

    def test_two_frames_in_one_read(self):
        """
        Two frames arriving together are both delivered, in order.
        """
        first = messages_pb2.PingSlaveMessage()
        second = messages_pb2.PongSlaveMessage()
        self.protocol.dataReceived(encode_frame(SLAVE, first) + encode_frame(SLAVE, second))
        self.assertEqual([m for _, m in self.node.received], [first, second])

    def test_send_message_round_trips(self):
        """
        What L{EnvelopeProtocol.send_message} writes is one frame that a peer
        protocol decodes to the same message.
        """
        message = messages_pb2.SlaveRegisteredMessage(slave_id=mesos_pb2.SlaveID(value="S1"))
        self.assertTrue(self.protocol.send_message(SLAVE, message))
        self.assertEqual(self.transport.value(), encode_frame(SLAVE, message))

    def test_envelope_written_as_protobuf_writes_it(self):
        """
        The envelope, written by hand from cached fields, is byte for byte
        what protobuf writes for the same fields: with an empty body, a
        body longer than a one-byte length, a recipient or none, and
        non-ASCII text.
        """
        recipient = UPID("sch\u00e9duler-1", "10.0.0.9", 0)
        messages = [
            messages_pb2.PingSlaveMessage(),
            messages_pb2.StatusUpdateAcknowledgementMessage(
                slave_id=mesos_pb2.SlaveID(value="S1"),
                framework_id=mesos_pb2.FrameworkID(value="F1"),
                task_id=mesos_pb2.TaskID(value="t" * 300), uuid=b"u" * 20000),
        ]
        for message in messages:
            for to in (None, recipient):
                envelope = Envelope(name=message.DESCRIPTOR.full_name,
                                    body=message.SerializeToString(), **{"from": str(SLAVE)})
                if to is not None:
                    envelope.to = str(to)
                self.assertEqual(encode_frame(SLAVE, message, to),
                                 frame_of(envelope.SerializeToString()))

    def test_recipient_round_trips(self):
        """
        The recipient a message is sent to reaches the other end with it;
        an envelope without one (an older sender's) has none.
        """
        message = messages_pb2.PingSlaveMessage()
        self.protocol.dataReceived(encode_frame(SLAVE, message, SLAVE) + encode_frame(SLAVE, message))
        self.assertEqual(self.node.recipients, [SLAVE, None])

    def test_bad_recipient(self):
        """
        An envelope whose C{to} is not a UPID closes the connection.
        """
        envelope = Envelope(name="mesos.internal.PingSlaveMessage", body=b"", to="nobody",
                            **{"from": str(SLAVE)})
        self.feed_bytewise(frame_of(envelope.SerializeToString()))
        self.assert_rejected("malformed UPID")

    def test_send_incomplete_message_is_refused(self):
        """
        A message missing a required field is logged and not written.
        """
        self.assertFalse(self.protocol.send_message(SLAVE, messages_pb2.SlaveRegisteredMessage()))
        self.assertEqual(self.transport.value(), b"")

    def test_frame_too_long(self):
        """
        A length over the limit closes the connection before the body comes.
        """
        self.feed_bytewise((4096).to_bytes(4, "big") + b"x" * 10)
        self.assert_rejected("exceeds the limit")

    def test_envelope_does_not_parse(self):
        """
        Bytes that are not an envelope close the connection.
        """
        self.feed_bytewise(frame_of(b"\xff\xff\xff"))
        self.assert_rejected("envelope does not parse")

    def test_unknown_message_name(self):
        """
        An envelope naming a type we do not know closes the connection.
        """
        envelope = Envelope(name="mesos.internal.NoSuchMessage", body=b"", **{"from": str(SLAVE)})
        self.feed_bytewise(frame_of(envelope.SerializeToString()))
        self.assert_rejected("unknown message name")

    def test_body_does_not_parse(self):
        """
        A known name with a body missing required fields closes the
        connection.
        """
        envelope = Envelope(
            name="mesos.internal.SlaveRegisteredMessage", body=b"", **{"from": str(SLAVE)}
        )
        self.feed_bytewise(frame_of(envelope.SerializeToString()))
        self.assert_rejected("does not parse")

    def test_nested_required_field_missing(self):
        """
        A body whose nested message lacks a required field (an update's
        status without its task id) closes the connection, naming the
        field.
        """
        message = messages_pb2.StatusUpdateMessage()
        message.update.framework_id.value = "F1"
        message.update.timestamp = 1.0
        message.update.uuid = b"u1"
        message.update.status.state = mesos_pb2.TASK_RUNNING
        envelope = Envelope(name=message.DESCRIPTOR.full_name,
                            body=message.SerializePartialToString(), **{"from": str(SLAVE)})
        self.protocol.dataReceived(frame_of(envelope.SerializeToString()))
        self.assert_rejected("missing update.status.task_id")
        self.assertEqual(self.node.received, [])

    def test_bad_sender(self):
        """
        An envelope whose C{from} is not a UPID closes the connection.
        """
        envelope = Envelope(
            name="mesos.internal.PingSlaveMessage", body=b"", **{"from": "nobody"}
        )
        self.feed_bytewise(frame_of(envelope.SerializeToString()))
        self.assert_rejected("malformed UPID")

    def test_frames_after_rejection_ignored(self):
        """
        Once a connection is rejected, frames already buffered behind the
        bad one are not delivered.
        """
        good = encode_frame(SLAVE, messages_pb2.PingSlaveMessage())
        self.protocol.dataReceived(frame_of(b"\xff") + good)
        self.assertEqual(self.node.received, [])

    def test_connection_lost_reported(self):
        """
        The node hears when the connection closes.
        """
        self.protocol.connectionLost(None)
        self.assertEqual(self.node.lost, [self.protocol])


class UPIDTests(SynchronousTestCase):
    """
    Tests for L{UPID}.
    """

    def test_round_trip(self):
        """
        Parsing the text form of a UPID gives it back.
        """
        self.assertEqual(UPID.parse(str(SLAVE)), SLAVE)
        self.assertEqual(str(SLAVE), "slave(1)@10.0.0.2:5051")

    def test_malformed(self):
        """
        Text without an id, a host or a numeric port is refused with a reason.
        """
        for text in ["master", "@h:1", "m@h", "m@:5050", "m@h:x", "m@h:70000"]:
            with self.assertRaises(ValueError, msg=text):
                UPID.parse(text)

    def test_equal_and_hashed_by_value(self):
        """
        UPIDs made apart from the same parts are equal, hash alike and
        find each other in a dict; one differing part makes them differ.
        """
        same = UPID.parse("slave(1)@10.0.0.2:5051")
        self.assertEqual({SLAVE: 1}[same], 1)
        self.assertEqual(hash(same), hash(SLAVE))
        self.assertNotEqual(UPID("slave(1)", "10.0.0.2", 5052), SLAVE)
        self.assertNotIn(UPID("slave(2)", "10.0.0.2", 5051), {SLAVE})

    def test_reachable(self):
        """
        A UPID with port 0 names a process that does not listen.
        """
        self.assertTrue(SLAVE.reachable)
        self.assertFalse(UPID("scheduler-1", "h", 0).reachable)
