"""
The wire: protobuf messages (``mesos_pb2``, ``messages_pb2``), the
length-prefixed envelope framing, UPIDs and the message network that carries
them between masters, slaves and drivers.  See ``docs/protocol.md``.
"""
