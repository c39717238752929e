"""
What Mesos's v1 HTTP APIs (the master's scheduler API, the slave's
executor API) share: JSON with the v1 protos' names, RecordIO framing,
reading a call, answering an error, and event streams that never buffer
without bound for a subscriber that stopped reading.
"""

import json

from google.protobuf import json_format
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

__all__ = [
    "HEARTBEAT_INTERVAL",
    "MAX_CALL_BYTES",
    "MAX_STREAM_BACKLOG",
    "CallError",
    "EventStream",
    "Forbidden",
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
class EventStream:
    """
    Mixed into a subscription: its events, as RecordIO records on the
    response to its SUBSCRIBE request, with that request's connection as
    the judge of pace.  When the subscriber stops reading and the buffers
    fill, Twisted pauses the stream and events wait here; past
    C{max_backlog} bytes waiting the subscription is closed and its
    connection dropped, rather than buffer without bound.

    The subscription provides C{request}, C{closed} (a Deferred fired when
    it ends), C{close(why)} and C{log}, and sets C{max_backlog}.
    """

    paused = False
    _backlog = ()
    _backlog_bytes = 0

    def _send_event(self, event):
        if self.closed.called:
            return
        data = record(event)
        if not self.paused:
            self.request.write(data)
            return
        self._backlog = list(self._backlog) + [data]
        self._backlog_bytes += len(data)
        if self._backlog_bytes > self.max_backlog:
            self.log.warn("A subscriber stopped reading its stream ({size} bytes waiting); "
                          "dropping the subscription", size=self._backlog_bytes)
            self.close("the subscriber stopped reading its stream")
            self.request.transport.loseConnection()

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

    def open_stream(self, request, headers=()):
        """
        Start the response: 200, JSON, not cached, C{headers}, and this
        subscription as its producer.
        """
        request.setResponseCode(200)
        request.setHeader(b"Content-Type", b"application/json")
        request.setHeader(b"Cache-Control", b"no-cache")
        for name, value in headers:
            request.setHeader(name, value)
        request.registerProducer(self, True)

    @staticmethod
    def end_stream(request):
        """
        Let go of the response's connection (if it still has one).
        """
        if request.producer is not None and request.channel is not None:
            request.unregisterProducer()
