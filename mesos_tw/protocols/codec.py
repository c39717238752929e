"""
Encoding and decoding envelopes, with no Twisted: shared by the Twisted
protocol (L{mesos_tw.protocols.framing}) and the blocking command executor.
"""

from functools import lru_cache
from struct import Struct

from google.protobuf.message import DecodeError, EncodeError

from mesos_tw.protocols.envelope_pb2 import Envelope
from mesos_tw.protocols.message_types import message_type
from mesos_tw.protocols.upid import UPID
from mesos_tw.protocols.wire_format import (
    DEFAULT_MAX_FRAME_BYTES, FrameError, encode_varint, split_frames)

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "EncodeError",
    "FrameError",
    "LONGEST_REMEMBERED_ADDRESS",
    "decode_addressed",
    "decode_envelope",
    "encode_envelope",
    "encode_frame",
    "split_frames",
]


# An envelope is written by hand (its four fields in field-number order,
# as protobuf writes them; an empty field left out, as proto3 does): its
# name repeats from one message to the next, so its encoded field is made
# once per message type, and the addresses' texts are encoded once per
# L{UPID} (L{UPID.encoded}); only the body is new each time.
_NAME, _BODY, _FROM, _TO = b"\x0a", b"\x12", b"\x1a", b"\x22"
_name_fields = {}
_LENGTH = Struct(">I").pack

#: Addresses whose parsed forms are remembered: more than the processes a
#: master talks to.  With fewer, a master answering 10,000 re-registering
#: slaves in turn found none of them remembered (a cache visited in a
#: cycle longer than itself keeps nothing useful).
_ADDRESSES_KEPT = 65536

#: The longest address text (in bytes, ASCII) that is remembered: far more
#: than a real UPID (``slave(1)@10.0.0.1:5051``, a framework's
#: ``scheduler-<uuid>@host:port``) and than a host name can be (253).  A
#: longer one is parsed each time, not kept: a peer, before anything
#: checks who it is, could otherwise pin C{_ADDRESSES_KEPT} texts of up to
#: a frame's limit each.
LONGEST_REMEMBERED_ADDRESS = 256


def _bytes_field(tag, data):
    return tag + encode_varint(len(data)) + data


def _text_field(tag, text):
    data = text.encode("utf-8")
    return _bytes_field(tag, data) if data else b""


def _name_field(cls):
    """
    The encoded C{name} field of an envelope carrying a C{cls} message.
    """
    try:
        return _name_fields[cls]
    except KeyError:
        field = _name_fields[cls] = _text_field(_NAME, cls.DESCRIPTOR.full_name)
        return field


def _address_fields(sender, recipient):
    """
    The encoded C{from} and C{to} fields, for L{UPID}s (C{recipient} may be
    L{None}); a UPID's text is never empty.
    """
    fields = _bytes_field(_FROM, sender.encoded)
    if recipient is not None:
        fields += _bytes_field(_TO, recipient.encoded)
    return fields


def _envelope_parts(sender, message, recipient):
    """
    The envelope's encoded pieces, and their length in all.
    """
    body = message.SerializeToString()
    name = _name_field(message.__class__)
    addresses = _address_fields(sender, recipient)
    size = len(body)
    if not size:
        return (name, addresses), len(name) + len(addresses)
    length = encode_varint(size)
    return (name, _BODY, length, body, addresses), len(name) + 1 + len(length) + size + len(addresses)


def encode_envelope(sender, message, recipient=None):
    """
    The serialized envelope carrying C{message} from C{sender} (to
    C{recipient}, when given: a L{UPID}).

    @raise EncodeError: if C{message} lacks a required field.
    """
    parts, _ = _envelope_parts(sender, message, recipient)
    return b"".join(parts)


def encode_frame(sender, message, recipient=None):
    """
    The whole frame (length prefix included) for C{message} from C{sender}
    (to C{recipient}, when given), joined once.

    @raise EncodeError: if C{message} lacks a required field.
    """
    parts, length = _envelope_parts(sender, message, recipient)
    return _LENGTH(length) + b"".join(parts)


def decode_envelope(data):
    """
    Read one envelope.

    @return: C{(sender UPID, message)}.
    @raise FrameError: saying what is wrong with it.
    """
    sender, _, message = decode_addressed(data)
    return sender, message


def decode_addressed(data):
    """
    Read one envelope, with the recipient it names.

    @return: C{(sender UPID, recipient UPID or None, message)}.
    @raise FrameError: saying what is wrong with it.
    """
    envelope = Envelope()
    try:
        envelope.ParseFromString(data)
    except DecodeError:
        raise FrameError("envelope does not parse") from None
    cls = message_type(envelope.name)
    if cls is None:
        raise FrameError(f"unknown message name {envelope.name!r}")
    message = cls()
    try:
        message.ParseFromString(envelope.body)
    except DecodeError as error:
        raise FrameError(f"body of {envelope.name} does not parse: {error}") from None
    try:
        # Every required field present, checked by upb's encoder (which
        # checks them all, nested ones included): several times cheaper
        # than IsInitialized's walk by reflection, for every frame.
        message.SerializeToString()
    except EncodeError:
        missing = ", ".join(message.FindInitializationErrors())
        raise FrameError(f"body of {envelope.name} does not parse: missing {missing}") from None
    # A connection's frames all come from and go to one or two processes,
    # and a UPID is immutable: its text is parsed once, when short enough
    # to be remembered (L{LONGEST_REMEMBERED_ADDRESS}; one that is not
    # ASCII, whose bytes are more than its characters, is not).
    recipient = envelope.to
    try:
        sender = _parse_address(getattr(envelope, "from"))
        recipient = _parse_address(recipient) if recipient else None
    except ValueError as error:
        raise FrameError(str(error)) from None
    return sender, recipient, message


def _parse_address(text):
    """
    The L{UPID} C{text} names: remembered when short and ASCII.
    """
    if len(text) <= LONGEST_REMEMBERED_ADDRESS and text.isascii():
        return _parse_remembered_upid(text)
    return UPID.parse(text)


_parse_remembered_upid = lru_cache(maxsize=_ADDRESSES_KEPT)(UPID.parse)
