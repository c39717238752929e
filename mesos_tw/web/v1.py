"""
What Mesos's v1 HTTP APIs (the master's scheduler API, the slave's
executor API) share: JSON with the v1 protos' names, RecordIO framing,
reading a call, answering an error, and the life of a subscription (its
event stream never buffers without bound for a subscriber that stopped
reading).
"""

import base64
import binascii
import json

from google.protobuf import json_format
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import implementer

__all__ = [
    "HEARTBEAT_INTERVAL",
    "MAX_CALL_BYTES",
    "MAX_STREAM_BACKLOG",
    "CallError",
    "Subscription",
    "Forbidden",
    "decode_bytes",
    "encode_bytes",
    "error_response",
    "from_v1",
    "parse_call",
    "record",
    "to_v1",
]

#: Seconds between HEARTBEAT events (Mesos's default).
HEARTBEAT_INTERVAL = 15.0
#: The largest call body accepted.
MAX_CALL_BYTES = 4 * 1024 * 1024
#: How many bytes of events may wait for a subscriber that stopped reading
#: its stream before the subscription is dropped (its framework then fails
#: over, as if its connection had broken).
MAX_STREAM_BACKLOG = 8 * 1024 * 1024

_RENAMES_TO_V1 = {"slave_id": "agent_id", "slave_ids": "agent_ids"}
_RENAMES_FROM_V1 = {v: k for k, v in _RENAMES_TO_V1.items()}


class CallError(ValueError):
    """
    A call that cannot be carried out: the message says why (a 400).
    """


def _rename(value, renames):
    if isinstance(value, dict):
        return {renames.get(k, k): _rename(v, renames) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, renames) for v in value]
    return value


def to_v1(message):
    """
    A protobuf message as v1 JSON (a dict): proto field names, agent for
    slave, bytes in base64.
    """
    return _rename(json_format.MessageToDict(message, preserving_proto_field_name=True),
                   _RENAMES_TO_V1)


def from_v1(cls, value, what):
    """
    The protobuf C{cls} that v1 JSON C{value} describes.

    @raise CallError: naming C{what} and the problem.
    """
    if not isinstance(value, dict):
        raise CallError(f"{what} must be a JSON object")
    message = cls()
    try:
        json_format.ParseDict(_rename(value, _RENAMES_FROM_V1), message)
    except json_format.ParseError as error:
        raise CallError(f"{what} is malformed: {error}") from None
    if not message.IsInitialized():
        missing = ", ".join(message.FindInitializationErrors())
        raise CallError(f"{what} is missing required fields: {missing}")
    return message


def record(event):
    """
    One RecordIO record: the JSON event's length in decimal, a newline, the
    JSON.
    """
    data = json.dumps(event, separators=(",", ":")).encode("utf-8")
    return b"%d\n%s" % (len(data), data)


def encode_bytes(data):
    """
    Bytes as v1 JSON carries them: base64 text.
    """
    return base64.b64encode(data).decode("ascii")


def decode_bytes(value, what):
    """
    The bytes the base64 text C{value} holds.

    @raise CallError: naming C{what}, if it is missing or not base64.
    """
    if not isinstance(value, str):
        raise CallError(f"{what} is missing (base64 text)")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as error:
        raise CallError(f"{what} is not base64: {error}") from None


class Forbidden(Exception):
    """
    A call that does not belong to the subscription it names (a 403).
    """


def error_response(request, code, message):
    """
    Answer C{request} with C{code} and C{message} as plain text.
    """
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
    return message.encode("utf-8") + b"\n"


def parse_call(request):
    """
    The JSON call in C{request}'s body, a dict with a string C{type}.

    @raise CallError: for a protobuf or other body, one over
        L{MAX_CALL_BYTES}, one that is not JSON, or not a call.
    """
    content_type = (request.getHeader(b"content-type") or b"").split(b";")[0].strip()
    if content_type == b"application/x-protobuf":
        raise CallError("protobuf calls are not supported yet; send application/json")
    if content_type != b"application/json":
        raise CallError("Content-Type must be application/json")
    body = request.content.read(MAX_CALL_BYTES + 1)
    if len(body) > MAX_CALL_BYTES:
        raise CallError(f"the call is larger than {MAX_CALL_BYTES} bytes")
    try:
        call = json.loads(body)
    except ValueError as error:
        raise CallError(f"the body is not JSON: {error}") from None
    if not isinstance(call, dict) or not isinstance(call.get("type"), str):
        raise CallError("a call is a JSON object with a string 'type'")
    return call


@implementer(IPushProducer)
class Subscription:
    """
    A v1 subscription living in this process.  It speaks the classic
    protocol to C{peer} (the master, or the slave) through a message node of
    its own, and sends v1 events as RecordIO records on the response to its
    SUBSCRIBE request, with a HEARTBEAT every C{heartbeat_interval} seconds
    once started.

    It is the stream's producer: when the subscriber stops reading and the
    connection's buffers fill, Twisted pauses it and events wait here; past
    C{max_backlog} bytes waiting the subscription is closed and its
    connection dropped, rather than buffer without bound.

    Subclasses say what they are (L{describe}), how they register with the
    peer (C{subscribe}), and handle what the peer sends.

    @ivar closed: fires (with the reason) when the subscription ends.
    """

    log = Logger()

    def __init__(self, reactor, request, node, peer, heartbeat_interval,
                 max_backlog=MAX_STREAM_BACKLOG):
        self.reactor = reactor
        self.request = request
        self.node = node
        node.receiver = self
        self.peer = peer
        self.heartbeat_interval = heartbeat_interval
        self.max_backlog = max_backlog
        self.closed = Deferred()
        self.paused = False
        self._backlog = []
        self._backlog_bytes = 0
        self._heartbeat = LoopingCall(self._send_event, {"type": "HEARTBEAT"})
        self._heartbeat.clock = reactor

    @property
    def upid(self):
        """
        Our UPID, as the peer knows us.
        """
        return self.node.upid

    def describe(self):
        """
        What this subscription is, for the log.
        """
        return "a subscription"

    def start_heartbeat(self):
        """
        Send HEARTBEAT events from now on.
        """
        if not self._heartbeat.running:
            self._heartbeat.start(self.heartbeat_interval, now=False)

    def serve(self, headers=()):
        """
        Answer the SUBSCRIBE request with the stream (200, JSON, not cached,
        C{headers}) and register with the peer.

        @return: the Deferred the web server waits on: it fires when the
            subscription ends, which finishes the response.
        """
        request = self.request
        request.setResponseCode(200)
        request.setHeader(b"Content-Type", b"application/json")
        request.setHeader(b"Cache-Control", b"no-cache")
        for name, value in headers:
            request.setHeader(name, value)
        request.registerProducer(self, True)
        request.notifyFinish().addBoth(lambda _: self.close("the subscriber's connection closed"))
        self.closed.addCallback(self._end_stream)
        self.subscribe()
        return self.closed.addCallback(lambda _: b"")

    def _end_stream(self, result):
        request = self.request
        if request.producer is not None and request.channel is not None:
            request.unregisterProducer()
        return result

    def close(self, why):
        """
        End the subscription: the stream, the heartbeat, and our connection
        to the peer.
        """
        if self.closed.called:
            return
        self.log.info("{what} closed: {why}", what=self.describe(), why=why)
        if self._heartbeat.running:
            self._heartbeat.stop()
        self.closed.callback(why)
        # After the callback: dropping the connection may report the peer
        # lost at once, and that must find us closed.
        self.node.disconnect(self.peer)

    def _send_event(self, event):
        if self.closed.called:
            return
        data = record(event)
        if not self.paused:
            self.request.write(data)
            return
        self._backlog.append(data)
        self._backlog_bytes += len(data)
        if self._backlog_bytes > self.max_backlog:
            self.log.warn("{what}: the subscriber stopped reading its stream ({size} bytes "
                          "waiting); dropping it", what=self.describe(),
                          size=self._backlog_bytes)
            self.close("the subscriber stopped reading its stream")
            self.request.transport.loseConnection()

    # IPushProducer: the stream's connection says when to stop and go on.

    def pauseProducing(self):
        """
        The subscriber's connection is full: hold events.
        """
        self.paused = True

    def resumeProducing(self):
        """
        The connection drained: send what waited, then go on.
        """
        self.paused = False
        backlog, self._backlog, self._backlog_bytes = self._backlog, [], 0
        for data in backlog:
            if not self.closed.called:
                self.request.write(data)

    def stopProducing(self):
        """
        The connection is going away.
        """
        self.close("the subscriber's connection closed")
