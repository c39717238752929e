"""
The few messages the command executor sends and reads, in protobuf's wire
format, written and read without the protobuf runtime.

The command executor is forked from the slave's launcher once per task, and
a fork costs in proportion to what the launcher has loaded: the protobuf
runtime (its Python modules, the C extension, the descriptors of Mesos's
messages, and C{threading}, whose after-fork work every child pays) was
more than half of the launcher's memory and of a bare fork's cost
(C{docs/performance.md}).  The executor needs a dozen fields of eight
messages, so it reads and writes them itself: the same field numbers as
C{messages.proto} and C{mesos.proto}, so the bytes are the ones
C{messages_pb2} would make and read (C{tests/test_executor_wire.py}
checks both ways against it).  A field it does not know is skipped when
read; a message it keeps to send again (the C{TaskInfo} of a
resubscription) is kept as the bytes it came in.

A message read here is a L{Fields}: its fields by number, each a list of
values in the order they came (an C{int} for a varint, C{bytes} for a
length-delimited field or a fixed-size one).
"""

import struct

from mesos_tw.protocols.wire_format import encode_varint

__all__ = [
    "EXECUTOR_REGISTERED", "FRAMEWORK_TO_EXECUTOR", "KILL_TASK", "RECONNECT_EXECUTOR",
    "REGISTER_EXECUTOR", "REREGISTER_EXECUTOR", "RUN_TASK", "SHUTDOWN_EXECUTOR",
    "STATUS_UPDATE", "STATUS_UPDATE_ACKNOWLEDGEMENT", "Fields", "WireError", "frame",
    "id_message", "read_envelope", "read_fields", "register_executor", "reregister_executor",
    "signed64", "status_update", "status_update_message",
]

_INTERNAL = "mesos.internal."
REGISTER_EXECUTOR = _INTERNAL + "RegisterExecutorMessage"
REREGISTER_EXECUTOR = _INTERNAL + "ReregisterExecutorMessage"
STATUS_UPDATE = _INTERNAL + "StatusUpdateMessage"
EXECUTOR_REGISTERED = _INTERNAL + "ExecutorRegisteredMessage"
RUN_TASK = _INTERNAL + "RunTaskMessage"
KILL_TASK = _INTERNAL + "KillTaskMessage"
SHUTDOWN_EXECUTOR = _INTERNAL + "ShutdownExecutorMessage"
STATUS_UPDATE_ACKNOWLEDGEMENT = _INTERNAL + "StatusUpdateAcknowledgementMessage"
RECONNECT_EXECUTOR = _INTERNAL + "ReconnectExecutorMessage"
FRAMEWORK_TO_EXECUTOR = _INTERNAL + "FrameworkToExecutorMessage"

#: TaskStatus.Source.SOURCE_EXECUTOR.
_SOURCE_EXECUTOR = 2

_VARINT, _FIXED64, _DELIMITED, _FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """
    Bytes that are not the message they should be; the message says why.
    """


class Fields(dict):
    """
    A message's fields by number: C{{number: [value, ...]}}.
    """

    def first(self, number, default=None):
        """
        The field's first value (a repeated field's first, an optional
        field's only one), or C{default} if it is absent.
        """
        values = self.get(number)
        return values[0] if values else default

    def last(self, number, default=None):
        """
        The field's last value: protobuf's rule for a singular field sent
        more than once.
        """
        values = self.get(number)
        return values[-1] if values else default

    def text(self, number, default=""):
        """
        A string field's value (the last one sent).
        """
        value = self.last(number)
        if value is None:
            return default
        try:
            return value.decode("utf-8")
        except (AttributeError, UnicodeDecodeError):
            raise WireError(f"field {number} is not a string") from None

    def message(self, number):
        """
        An embedded message's fields, or L{None} if it is absent (a message
        sent in parts is merged, as protobuf does).
        """
        values = self.get(number)
        if not values:
            return None
        if any(not isinstance(value, bytes) for value in values):
            raise WireError(f"field {number} is not a message")
        return read_fields(b"".join(values))


def _varint(data, offset):
    result = shift = 0
    while True:
        if offset >= len(data):
            raise WireError("truncated varint")
        byte = data[offset]
        offset += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, offset
        shift += 7
        if shift >= 70:
            raise WireError("varint too long")


def read_fields(data):
    """
    Read one serialized message's fields.

    @raise WireError: if C{data} is not a message's serialization.
    """
    fields = Fields()
    offset, end = 0, len(data)
    while offset < end:
        key, offset = _varint(data, offset)
        number, kind = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if kind == _VARINT:
            value, offset = _varint(data, offset)
        elif kind == _DELIMITED:
            length, offset = _varint(data, offset)
            if offset + length > end:
                raise WireError(f"field {number} runs past the end")
            value = data[offset:offset + length]
            offset += length
        elif kind == _FIXED64 or kind == _FIXED32:
            size = 8 if kind == _FIXED64 else 4
            if offset + size > end:
                raise WireError(f"field {number} runs past the end")
            value = data[offset:offset + size]
            offset += size
        else:
            raise WireError(f"field {number} has wire type {kind}")
        fields.setdefault(number, []).append(value)
    return fields


def _delimited(number, value):
    return encode_varint(number << 3 | _DELIMITED) + encode_varint(len(value)) + value


def _text(number, value):
    return _delimited(number, value.encode("utf-8"))


def _number(number, value):
    return encode_varint(number << 3 | _VARINT) + encode_varint(value)


def _double(number, value):
    return encode_varint(number << 3 | _FIXED64) + struct.pack("<d", value)


def signed64(value):
    """
    A varint read as protobuf's C{int64} (negative numbers are ten bytes
    of two's complement).
    """
    return value - (1 << 64) if value >= 1 << 63 else value


def id_message(value):
    """
    A C{FrameworkID}, C{ExecutorID}, C{TaskID} or C{SlaveID} (one string,
    field 1).
    """
    return _text(1, value)


def register_executor(framework_id, executor_id):
    """
    C{RegisterExecutorMessage}'s body (the ids as strings).
    """
    return _delimited(1, id_message(framework_id)) + _delimited(2, id_message(executor_id))


def status_update(framework_id, executor_id, slave_id, task_id, state, text, now, uuid,
                  healthy=None, reason=None):
    """
    The C{StatusUpdate} an executor sends (as
    L{mesos_tw.protocols.executor_side.executor_update} makes it): its
    C{TaskStatus} stamped with the executor's id, the executor as its
    source, C{uuid} and C{now}, and the slave's id once known.

    @param framework_id: a string; so is C{executor_id}.
    @param slave_id: a serialized C{SlaveID}, or L{None} before registration.
    @param task_id: a serialized C{TaskID}.
    """
    executor = id_message(executor_id)
    status = [_delimited(1, task_id), _number(2, state), _text(4, text)]
    if slave_id is not None:
        status.append(_delimited(5, slave_id))
    status += [_double(6, now), _delimited(7, executor)]
    if healthy is not None:
        status.append(_number(8, int(healthy)))
    status.append(_number(9, _SOURCE_EXECUTOR))
    if reason is not None:
        status.append(_number(10, reason))
    status.append(_delimited(11, uuid))
    update = [_delimited(1, id_message(framework_id)), _delimited(2, executor)]
    if slave_id is not None:
        update.append(_delimited(3, slave_id))
    update += [_delimited(4, b"".join(status)), _double(5, now), _delimited(6, uuid)]
    return b"".join(update)


def status_update_message(update):
    """
    C{StatusUpdateMessage}'s body for a serialized C{StatusUpdate}.
    """
    return _delimited(1, update)


def reregister_executor(framework_id, executor_id, tasks, updates):
    """
    C{ReregisterExecutorMessage}'s body: the ids as strings, C{tasks} and
    C{updates} serialized C{TaskInfo}s and C{StatusUpdate}s.
    """
    parts = [_delimited(1, id_message(executor_id)), _delimited(2, id_message(framework_id))]
    parts += [_delimited(3, task) for task in tasks]
    parts += [_delimited(4, update) for update in updates]
    return b"".join(parts)


def frame(sender, name, body, recipient=None):
    """
    A whole frame (length prefix and C{Envelope}, as
    L{mesos_tw.protocols.codec.encode_frame} makes it) carrying C{body},
    a message named C{name}, from C{sender} (to C{recipient}, when given).
    """
    envelope = _text(1, name) + _delimited(2, body) + _text(3, str(sender))
    if recipient is not None:
        envelope += _text(4, str(recipient))
    return len(envelope).to_bytes(4, "big") + envelope


def read_envelope(data):
    """
    Read one C{Envelope}.

    @return: C{(message name, body)}.
    @raise WireError: if it is not one.
    """
    envelope = read_fields(data)
    name = envelope.text(1)
    if not name:
        raise WireError("envelope without a message name")
    body = envelope.last(2, b"")
    if not isinstance(body, bytes):
        raise WireError(f"body of {name} is not bytes")
    return name, body
