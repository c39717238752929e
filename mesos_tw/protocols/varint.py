"""
Protobuf's base-128 varint, written without the protobuf runtime: the
message path's hand-written envelope (L{mesos_tw.protocols.codec}) and the
command executor's wire (L{mesos_tw.executors.wire}, which must not load
protobuf) both write with it.
"""

__all__ = ["encode_varint"]

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
