"""
What Mesos's v1 HTTP APIs (the master's scheduler API, the slave's
executor API) share: their two encodings (JSON with the v1 protos' names,
and binary protobuf; L{mesos_tw.web._v1_codec}), RecordIO framing, reading
a call, answering an error, and the life of a subscription (its event
stream never buffers without bound for a subscriber that stopped reading).
"""

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import implementer

from mesos_tw.web._v1_codec import (
    JSON,
    MAX_CALL_BYTES,
    PROTOBUF,
    CallError,
    NotAcceptable,
    encode,
    from_v1,
    parse_call,
    record,
    stream_media,
    to_v1,
)

__all__ = [
    "HEARTBEAT_INTERVAL",
    "JSON",
    "MAX_CALL_BYTES",
    "MAX_STREAM_BACKLOG",
    "PROTOBUF",
    "CallError",
    "Forbidden",
    "NotAcceptable",
    "Subscription",
    "answer_errors",
    "call_body",
    "call_kind",
    "encode",
    "error_response",
    "from_v1",
    "parse_call",
    "record",
    "stream_media",
    "to_v1",
]

#: Seconds between HEARTBEAT events (Mesos's default).
HEARTBEAT_INTERVAL = 15.0
#: How many bytes of events may wait for a subscriber that stopped reading
#: its stream before the subscription is dropped (its framework then fails
#: over, as if its connection had broken).
MAX_STREAM_BACKLOG = 8 * 1024 * 1024


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


def answer_errors(request, answer):
    """
    Call C{answer()} for C{request}, turning what it raises into the
    error answer: L{CallError} a 400, L{Forbidden} a 403, L{NotAcceptable}
    a 406, each with its message.
    """
    try:
        return answer()
    except CallError as error:
        return error_response(request, 400, str(error))
    except Forbidden as error:
        return error_response(request, 403, str(error))
    except NotAcceptable as error:
        return error_response(request, 406, str(error))


def call_kind(call):
    """
    The name of C{call}'s type (C{"SUBSCRIBE"}...).

    @raise CallError: if it has none.
    """
    if call.type == call.UNKNOWN:
        raise CallError("the call has no type")
    return call.Type.Name(call.type)


def call_body(call):
    """
    The part of C{call} its type names (C{call.accept} for ACCEPT), or
    L{None} for a type that has none (TEARDOWN).  Absent, it reads as
    empty, unless it has required fields.

    @raise CallError: if it is absent and has required fields.
    """
    kind = call_kind(call)
    field = call.DESCRIPTOR.fields_by_name.get(kind.lower())
    if field is None:
        return None
    if not call.HasField(field.name) and any(f.is_required for f in field.message_type.fields):
        raise CallError(f"the {kind} call needs {field.name!r}")
    return getattr(call, field.name)


@implementer(IPushProducer)
class Subscription:
    """
    A v1 subscription living in this process.  It speaks the classic
    protocol to C{peer} (the master, or the slave) through a message node of
    its own (or, with C{node} L{None}, listens to the master in this
    process directly, as an operator's subscription does), and sends v1 events (C{event_class} messages) as RecordIO
    records on the response to its SUBSCRIBE request, each encoded as
    C{media} (L{JSON} or L{PROTOBUF}), with a HEARTBEAT every
    C{heartbeat_interval} seconds once started.

    It is the stream's producer: when the subscriber stops reading and the
    connection's buffers fill, Twisted pauses it and events wait here; past
    C{max_backlog} bytes waiting the subscription is closed and its
    connection dropped, rather than buffer without bound.

    Subclasses say what they are (L{describe}) and what their events are
    (C{event_class}: the API's C{Event}), how they register with the peer
    (C{subscribe}), and handle what the peer sends.

    @ivar closed: fires (with the reason) when the subscription ends.
    @ivar why_closed: that reason, once it has ended.
    """

    log = Logger()
    event_class = None

    def __init__(self, reactor, request, node, peer, heartbeat_interval,
                 max_backlog=MAX_STREAM_BACKLOG, media=JSON):
        self.reactor = reactor
        self.request = request
        self.node = node
        if node is not None:
            node.receiver = self
        self.peer = peer
        self.heartbeat_interval = heartbeat_interval
        self.max_backlog = max_backlog
        self.media = media
        self.closed = Deferred()
        self.why_closed = None
        self.paused = False
        self._backlog = []
        self._backlog_bytes = 0
        self._heartbeat = LoopingCall(self._send_heartbeat)
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
        Answer the SUBSCRIBE request with the stream (200, its media type,
        not cached, C{headers}) and register with the peer.

        @return: the Deferred the web server waits on: it fires when the
            subscription ends, which finishes the response.
        """
        request = self.request
        request.setResponseCode(200)
        request.setHeader(b"Content-Type", self.media.encode("ascii"))
        request.setHeader(b"Cache-Control", b"no-cache")
        for name, value in headers:
            request.setHeader(name, value)
        request.registerProducer(self, True)
        request.notifyFinish().addBoth(lambda _: self.close("the subscriber's connection closed"))
        # Not self.closed itself: the web server's callbacks would replace
        # the reason it fires with.
        ended = Deferred()
        self.closed.addCallback(self._end_stream, ended)
        self.subscribe()
        return ended

    def _end_stream(self, why, ended):
        request = self.request
        if request.producer is not None and request.channel is not None:
            request.unregisterProducer()
        if not ended.called:
            ended.callback(b"")
        return why

    def close(self, why):
        """
        End the subscription: the stream, the heartbeat, and our connection
        to the peer.
        """
        if self.closed.called:
            return
        self.why_closed = why
        self.log.info("{what} closed: {why}", what=self.describe(), why=why)
        if self._heartbeat.running:
            self._heartbeat.stop()
        self.closed.callback(why)
        # After the callback: dropping the connection may report the peer
        # lost at once, and that must find us closed.
        if self.node is not None:
            self.node.disconnect(self.peer)

    def _send_heartbeat(self):
        self._send_event(self.event_class(type=self.event_class.HEARTBEAT))

    def _send_event(self, event):
        if self.closed.called:
            return
        data = record(encode(event, self.media))
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
            # Abort: closing politely would wait to flush what it does not
            # read.
            self.request.transport.abortConnection()

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
