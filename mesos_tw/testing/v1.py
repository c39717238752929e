"""
A v1 API client in memory: a call POSTed as JSON or protobuf without a
socket (L{CallRequest}, a C{DummyRequest} that holds a body and a push
producer), and the RecordIO records of the stream it was answered with;
and a client's reader of a stream arriving in pieces (L{RecordIOReader}).
"""

import json
from io import BytesIO

from twisted.internet.defer import Deferred
from mesos_tw.testing.web import ProducerRequest
from mesos_tw.web.v1 import JSON

__all__ = ["CallRequest", "RecordIOReader", "records"]


class CallRequest(ProducerRequest):
    """
    A POST of a v1 call, in memory.  Its stream's producer is only
    registered (not run, as C{DummyRequest} would run a pull producer),
    and C{written} keeps the stream.

    @param body: the call's body (as L{mesos_tw.web.v1.encode} makes it).
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


class RecordIOReader:
    """
    A client's side of the stream: splits RecordIO records and parses
    each with C{parse} (as a JSON event, unless told otherwise).
    """

    def __init__(self, parse=json.loads):
        self.parse = parse
        self.buffer = b""
        self.events = []
        self._waiters = []

    def feed(self, data):
        """
        Take bytes from the stream.
        """
        self.buffer += data
        while b"\n" in self.buffer:
            length, rest = self.buffer.split(b"\n", 1)
            if len(rest) < int(length):
                break
            self.events.append(self.parse(rest[:int(length)]))
            self.buffer = rest[int(length):]
        for entry in list(self._waiters):
            predicate, d = entry
            found = [e for e in self.events if predicate(e)]
            if found:
                self._waiters.remove(entry)
                d.callback(found[-1])

    def next(self, predicate):
        """
        A Deferred firing with the latest event that C{predicate} accepts.
        """
        d = Deferred()
        self._waiters.append((predicate, d))
        self.feed(b"")
        return d
