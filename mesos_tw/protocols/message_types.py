"""
The message types that may travel in an envelope, by full protobuf name.
"""

from mesos_tw.protocols import messages_pb2, mesos_pb2

__all__ = ["MESSAGE_TYPES", "message_type"]


def _types_of(module):
    """
    Every top-level message class of a generated protobuf module.
    """
    return {
        descriptor.full_name: getattr(module, name)
        for name, descriptor in module.DESCRIPTOR.message_types_by_name.items()
    }


MESSAGE_TYPES = {**_types_of(mesos_pb2), **_types_of(messages_pb2)}


def message_type(name):
    """
    The class for the full protobuf type name C{name}, or L{None}.
    """
    return MESSAGE_TYPES.get(name)
