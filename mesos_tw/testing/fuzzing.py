"""
Hypothesis strategies for hostile input: well-typed protobuf messages of
any type (every field filled at random, required ones always, so that the
message passes the frame decoder and reaches its handler), and how many
examples a fuzzing test runs (C{MESOS_TW_FUZZ_EXAMPLES}, small in the
suite; C{scripts/fuzz} raises it).
"""

import os

from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = ["fuzz_settings", "messages"]

_INTEGERS = {
    FieldDescriptor.TYPE_INT32: (-2 ** 31, 2 ** 31 - 1),
    FieldDescriptor.TYPE_SINT32: (-2 ** 31, 2 ** 31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-2 ** 31, 2 ** 31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2 ** 32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2 ** 32 - 1),
    FieldDescriptor.TYPE_INT64: (-2 ** 63, 2 ** 63 - 1),
    FieldDescriptor.TYPE_SINT64: (-2 ** 63, 2 ** 63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-2 ** 63, 2 ** 63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2 ** 64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2 ** 64 - 1),
}

# Short texts, often ones that mean something to the code (ids in use,
# roles, paths), so that handlers get past their first lookup.
_TEXTS = st.one_of(
    st.sampled_from(["", "*", "F1", "S1", "t1", "e1", "default", "alice", "root",
                     "master@127.0.0.1:5050", "slave(1)@127.0.0.1:5051", "/", "..", "cpus",
                     "mem", "ports", "disk"]),
    st.text(max_size=12),
)


def _scalar(field):
    kind = field.type
    if kind in _INTEGERS:
        low, high = _INTEGERS[kind]
        return st.one_of(st.integers(low, high), st.sampled_from([0, 1, -1 if low < 0 else 2]))
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        value = st.floats(allow_nan=True, allow_infinity=True,
                          width=32 if kind == FieldDescriptor.TYPE_FLOAT else 64)
        return st.one_of(value, st.sampled_from([0.0, 0.1, 1.0, 32.0, -1.0]))
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_STRING:
        return _TEXTS
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=24)
    if kind == FieldDescriptor.TYPE_ENUM:
        return st.sampled_from([value.number for value in field.enum_type.values])
    raise TypeError(f"no strategy for field {field.full_name}")


@st.composite
def _message(draw, descriptor, cls, depth):
    message = cls()
    for field in descriptor.fields:
        required = field.is_required
        repeated = field.is_repeated
        if not required and (depth <= 0 or not draw(st.booleans())):
            continue
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            child = field.message_type
            if child.GetOptions().map_entry:
                continue
            make = getattr(message, field.name)
            count = draw(st.integers(0, 2)) if repeated else 1
            for _ in range(count):
                target = make.add() if repeated else make
                value = draw(_message(child, type(target), depth - 1))
                target.CopyFrom(value)
        elif repeated:
            getattr(message, field.name).extend(draw(st.lists(_scalar(field), max_size=3)))
        else:
            setattr(message, field.name, draw(_scalar(field)))
    return message


def messages(cls, depth=3):
    """
    Messages of the generated class C{cls}: random, but well typed and
    with every required field set (nested ones too), nested C{depth}
    deep at most beyond what is required.
    """
    return _message(cls.DESCRIPTOR, cls, depth)


def fuzz_settings(examples=None):
    """
    Hypothesis settings for a fuzzing test: C{examples} examples (by
    default C{MESOS_TW_FUZZ_EXAMPLES}, else 25), no deadline (the machine
    may be loaded), no health check on slow generation.
    """
    count = examples or int(os.environ.get("MESOS_TW_FUZZ_EXAMPLES", "25"))
    return settings(max_examples=count, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))
