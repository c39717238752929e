"""
Tests for L{mesos_tw.protocols.codec}: what it remembers of the addresses
it reads and writes, and what it does not.
"""

import weakref

from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.protocols import messages_pb2
from mesos_tw.protocols.codec import (
    LONGEST_REMEMBERED_ADDRESS, decode_addressed, decode_envelope, encode_envelope)
from mesos_tw.protocols.envelope_pb2 import Envelope
from mesos_tw.protocols.upid import UPID
from mesos_tw.protocols.wire_format import FrameError

MASTER = UPID("master", "10.0.0.1", 5050)

#: A sender's text longer than any real UPID, still a well-formed one.
LONG_SENDER = "slave(" + "1" * (4 * LONGEST_REMEMBERED_ADDRESS) + ")@10.0.0.2:5051"


def envelope_from(sender_text, recipient_text=""):
    """
    The bytes of an envelope carrying a ping, whose C{from} (and C{to})
    are the given texts, as a peer could write them.
    """
    envelope = Envelope(name=messages_pb2.PingSlaveMessage.DESCRIPTOR.full_name,
                        to=recipient_text)
    setattr(envelope, "from", sender_text)
    return envelope.SerializeToString()


class AddressMemoryTests(SynchronousTestCase):
    """
    Addresses read off the wire are parsed once and remembered, but only
    those short enough to be real UPIDs: a peer cannot make the codec keep
    long texts of its choosing.
    """

    def test_short_sender_remembered(self):
        """
        A real UPID's text is parsed once: the same L{UPID} comes back for
        every frame carrying it.
        """
        first, _ = decode_envelope(envelope_from("slave(1)@10.0.0.2:5051"))
        second, _ = decode_envelope(envelope_from("slave(1)@10.0.0.2:5051"))
        self.assertEqual(first, UPID("slave(1)", "10.0.0.2", 5051))
        self.assertIs(first, second)

    def test_long_sender_parsed_not_kept(self):
        """
        A sender's text longer than L{LONGEST_REMEMBERED_ADDRESS} is parsed
        (the message is delivered from it) but not kept: once the caller
        drops the L{UPID}, nothing holds it.
        """
        sender, message = decode_envelope(envelope_from(LONG_SENDER))
        self.assertEqual(str(sender), LONG_SENDER)
        self.assertIsInstance(message, messages_pb2.PingSlaveMessage)
        kept = weakref.ref(sender)
        del sender
        self.assertIsNone(kept())

    def test_long_recipient_parsed_not_kept(self):
        """
        So is a long C{to}.
        """
        recipient_text = LONG_SENDER.replace("slave", "other")
        _, recipient, _ = decode_addressed(envelope_from(str(MASTER), recipient_text))
        self.assertEqual(str(recipient), recipient_text)
        kept = weakref.ref(recipient)
        del recipient
        self.assertIsNone(kept())

    def test_non_ascii_sender_parsed_not_kept(self):
        """
        A text of few characters but more bytes (not ASCII) is not kept
        either: the limit is on what it costs to keep.
        """
        text = "\N{CJK UNIFIED IDEOGRAPH-4E00}" * (LONGEST_REMEMBERED_ADDRESS // 2) + "@h:1"
        sender, _ = decode_envelope(envelope_from(text))
        self.assertEqual(str(sender), text)
        kept = weakref.ref(sender)
        del sender
        self.assertIsNone(kept())

    def test_long_recipient_encoded_not_kept(self):
        """
        Answering a process with a long UPID keeps no reference to the
        L{UPID}: no cache of encoded addresses holds UPIDs (each UPID
        encodes its own text once), and parsed long addresses are not
        remembered.
        """
        recipient = UPID.parse(LONG_SENDER)
        data = encode_envelope(MASTER, messages_pb2.PongSlaveMessage(), recipient)
        self.assertEqual(decode_addressed(data)[:2], (MASTER, recipient))
        kept = weakref.ref(recipient)
        del recipient
        self.assertIsNone(kept())

    def test_malformed_long_sender_refused(self):
        """
        A long text that is no UPID is refused with the parser's reason, as
        a short one is.
        """
        error = self.assertRaises(FrameError, decode_envelope, envelope_from("x" * 10000))
        self.assertIn("expected id@host:port", str(error))
