"""
A v1 API client in memory: a call POSTed as JSON or protobuf without a
socket (L{CallRequest}, a C{DummyRequest} that holds a body and a push
producer), and the RecordIO records of the stream it was answered with.
"""

import json
from io import BytesIO

from twisted.internet.testing import StringTransport
from twisted.web.test.requesthelper import DummyRequest

from mesos_tw.web.v1 import JSON, PROTOBUF, to_v1

__all__ = ["CallRequest", "body_of", "records"]


def body_of(call, media):
    """
    The body a client sends for the C{Call} message C{call} as C{media}:
    v1 JSON or binary protobuf.
    """
    if media == PROTOBUF:
        return call.SerializeToString()
    return json.dumps(to_v1(call)).encode("utf-8")


class CallRequest(DummyRequest):
    """
    A POST of a v1 call, in memory.  Its stream's producer is only
    registered (not run, as C{DummyRequest} would run a pull producer),
    and C{written} keeps the stream.

    @param body: the call's body (see L{body_of}).
    @param content_type: the C{Content-Type} header, or L{None} for none.
    @param headers: more request headers, C{{name: value}}.
    """

    method = b"POST"

    def __init__(self, body, content_type=JSON, headers=None, path=b"/api/v1/scheduler"):
        super().__init__(path.strip(b"/").split(b"/"))
        self.uri = path
        self.content = BytesIO(body)
        if content_type is not None:
            self.requestHeaders.setRawHeaders(b"content-type", [content_type.encode("ascii")])
        for name, value in (headers or {}).items():
            self.requestHeaders.setRawHeaders(name.encode("ascii"), [value.encode("ascii")])
        self.transport = StringTransport()
        self.channel = self.transport
        self.producer = None

    def registerProducer(self, producer, streaming):
        """
        Keep the stream's producer.
        """
        self.producer = producer

    def unregisterProducer(self):
        """
        Forget it.
        """
        self.producer = None

    def events(self, parse):
        """
        The records of the stream so far, each parsed with C{parse}.
        """
        return [parse(data) for data in records(b"".join(self.written))]


def records(stream):
    """
    The RecordIO records in C{stream} (bytes), in order; a partial record
    at the end is an error.
    """
    found = []
    while stream:
        length, rest = stream.split(b"\n", 1)
        size = int(length)
        if len(rest) < size:
            raise ValueError(f"a record of {size} bytes is cut short at {len(rest)}")
        found.append(rest[:size])
        stream = rest[size:]
    return found
