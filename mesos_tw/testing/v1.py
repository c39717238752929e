"""
A v1 API client in memory: a call POSTed as JSON or protobuf without a
socket (L{CallRequest}, a C{DummyRequest} that holds a body and a push
producer), and the RecordIO records of the stream it was answered with;
and a client's reader of a stream arriving in pieces (L{RecordIOReader}).
"""

import json
import re
from io import BytesIO

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol

from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.scheduler_pb2 import Call
from mesos_tw.testing.web import ProducerRequest
from mesos_tw.web.v1 import JSON

__all__ = ["CallRequest", "RawSubscriber", "RecordIOReader", "accept_call", "records"]

Operation = mesos_pb2.Offer.Operation


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


def _resources():
    return [mesos_pb2.Resource(name="cpus", type=mesos_pb2.Value.SCALAR,
                               scalar=mesos_pb2.Value.Scalar(value=0.5))]


def accept_call():
    """
    An ACCEPT with a LAUNCH and a LAUNCH_GROUP, using most kinds of field:
    v1 fields named agent_id, embedded ones named slave_id, bytes, enums,
    repeated messages.
    """
    slave_id = mesos_pb2.SlaveID(value="S1")
    task = mesos_pb2.TaskInfo(name="t", task_id=mesos_pb2.TaskID(value="t1"), slave_id=slave_id,
                              resources=_resources(), command=mesos_pb2.CommandInfo(value="true"),
                              data=b"\x00\xffbinary\n")
    executor = mesos_pb2.ExecutorInfo(executor_id=mesos_pb2.ExecutorID(value="e1"),
                                      type=mesos_pb2.ExecutorInfo.DEFAULT, resources=_resources())
    group = mesos_pb2.TaskGroupInfo(tasks=[mesos_pb2.TaskInfo(
        name="g", task_id=mesos_pb2.TaskID(value="g1"), slave_id=slave_id,
        resources=_resources())])
    return Call(
        type=Call.ACCEPT, framework_id=mesos_pb2.FrameworkID(value="F1"),
        accept=Call.Accept(
            offer_ids=[mesos_pb2.OfferID(value="O1")],
            operations=[
                Operation(type=Operation.LAUNCH, launch=Operation.Launch(task_infos=[task])),
                Operation(type=Operation.LAUNCH_GROUP, launch_group=Operation.LaunchGroup(
                    executor=executor, task_group=group))],
            filters=mesos_pb2.Filters(refuse_seconds=30.0)))


class RawSubscriber(Protocol):
    """
    A v1 subscriber written from scratch: it POSTs C{call} to C{path} as
    HTTP/1.1, reads the status line and headers, undoes the chunked
    encoding and splits the RecordIO records into JSON events.

    With C{cut_inside}, it reads the records before the first of that type
    whole, then only the first half of that one, and closes its
    connection: L{cut} fires with C{(record length, bytes read of it)}.

    @ivar status: the response's status code, once read.
    @ivar headers: the response's headers (lower-case names).
    @ivar events: the events read whole, in order.
    @ivar closed: fires when the connection has closed.
    """

    def __init__(self, host, port, path, call, cut_inside=None):
        body = json.dumps(call).encode("utf-8")
        self._request = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("ascii") + body
        self.cut_inside = cut_inside
        self.cut = Deferred()
        self.closed = Deferred()
        self.status = None
        self.headers = {}
        self.events = []
        self._head = b""
        self._chunks = b""
        self._body = b""
        self._waiters = []

    def connectionMade(self):
        """
        Send the request.
        """
        self.transport.write(self._request)

    def connectionLost(self, reason):
        """
        The connection closed (we closed it, or the server did).
        """
        self.closed.callback(None)

    def dataReceived(self, data):
        """
        Parse what came: headers, then chunks, then records.
        """
        if self.status is None:
            self._head += data
            if b"\r\n\r\n" not in self._head:
                return
            head, data = self._head.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            self.headers = {name.strip().lower(): value.strip()
                            for name, value in (line.split(":", 1) for line in lines[1:])}
        self._chunks += data
        while b"\r\n" in self._chunks:
            size, rest = self._chunks.split(b"\r\n", 1)
            length = int(size, 16)
            if len(rest) < length + 2:
                break
            self._body += rest[:length]
            self._chunks = rest[length + 2:]
        self._records()

    def _records(self):
        while b"\n" in self._body and not self.cut.called:
            size, rest = self._body.split(b"\n", 1)
            length = int(size)
            half = rest[:length // 2]
            if self.cut_inside is not None and len(rest) >= length // 2:
                kind = _TYPE.search(half)
                if kind is not None and kind.group(1).decode() == self.cut_inside:
                    self.transport.loseConnection()
                    self.cut.callback((length, half))
                    break
            if len(rest) < length:
                break
            self.events.append(json.loads(rest[:length]))
            self._body = rest[length:]
        for entry in list(self._waiters):
            predicate, d = entry
            found = [event for event in self.events if predicate(event)]
            if found:
                self._waiters.remove(entry)
                d.callback(found[0])

    def next(self, kind):
        """
        A Deferred firing with the first event of type C{kind}.
        """
        d = Deferred()
        self._waiters.append((lambda event: event["type"] == kind, d))
        self._records()
        return d


_TYPE = re.compile(rb'"type"\s*:\s*"([A-Z_]+)"')
