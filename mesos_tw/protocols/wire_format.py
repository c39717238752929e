"""
The pieces of the wire that need no protobuf runtime: protobuf's base-128
varint, cutting length-prefixed frames, and random UUIDs' bytes.  The
message path (L{mesos_tw.protocols.codec}, L{mesos_tw.protocols.executor_side})
and the command executor (L{mesos_tw.executors.wire}, which must not load
protobuf) both use them.
"""

import os

__all__ = ["DEFAULT_MAX_FRAME_BYTES", "FrameError", "encode_varint", "random_uuid",
           "split_frames"]

#: The largest frame a node reads, as libprocess's default.
DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024

# The version (4) and variant (RFC 4122) bits of a random UUID.
_VERSION_MASK = ~(0xF000 << 64) & ~(0xC000 << 48)
_VERSION_BITS = (4 << 76) | (0x8000 << 48)

_SMALL_VARINTS = tuple(bytes((n,)) for n in range(0x80))


def encode_varint(number):
    """
    C{number} as a protobuf varint; a negative one as its 64-bit two's
    complement, as protobuf writes negative C{int32}/C{int64} fields.
    """
    if 0 <= number < 0x80:
        return _SMALL_VARINTS[number]
    if number < 0:
        number += 1 << 64
    encoded = bytearray()
    while number > 0x7F:
        encoded.append((number & 0x7F) | 0x80)
        number >>= 7
    encoded.append(number)
    return bytes(encoded)


class FrameError(ValueError):
    """
    A frame that cannot be read; the message says why.
    """


def split_frames(buffer, max_frame_bytes=DEFAULT_MAX_FRAME_BYTES):
    """
    The complete frames' envelopes at the start of C{buffer}, and the rest.

    @raise FrameError: for a frame over C{max_frame_bytes}.
    """
    envelopes = []
    offset = 0
    while len(buffer) - offset >= 4:
        length = int.from_bytes(buffer[offset:offset + 4], "big")
        if length > max_frame_bytes:
            raise FrameError(f"frame of {length} bytes exceeds the limit of {max_frame_bytes}")
        if len(buffer) - offset - 4 < length:
            break
        envelopes.append(buffer[offset + 4:offset + 4 + length])
        offset += 4 + length
    return envelopes, buffer[offset:]


def random_uuid(random_bytes=os.urandom):
    """
    A random (version 4) UUID's 16 bytes, what C{uuid.uuid4().bytes} gives,
    without making a C{UUID} object: an executor makes one per update.
    """
    value = int.from_bytes(random_bytes(16), "big") & _VERSION_MASK | _VERSION_BITS
    return value.to_bytes(16, "big")
