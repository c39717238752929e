"""
A client of the v1 operator APIs, for the C{mesos} command line and for
tools: it finds the leading master (C{host:port}, or C{zk://...} through
our ZooKeeper detector), POSTs C{mesos.v1.master.Call}s and
C{mesos.v1.agent.Call}s in protobuf, follows a standby's 307 to the
leader, and keeps a SUBSCRIBE stream going across master failovers.
"""

import treq
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.error import ConnectError, ConnectionRefusedError
from twisted.internet.protocol import Protocol
from twisted.logger import Logger

from mesos_tw.detector import detector_for
from mesos_tw.protocols import agent_pb2, master_pb2
from mesos_tw.web.v1 import PROTOBUF

__all__ = ["EventStream", "MasterClient", "NoLeader", "OperatorError"]

#: How long to wait for ZooKeeper to name a leader, in seconds.
LEADER_TIMEOUT = 15.0
#: How many 307s a call follows.
MAX_REDIRECTS = 3


class NoLeader(Exception):
    """
    No leading master could be found (or reached).
    """


class OperatorError(Exception):
    """
    A master or slave refused a call.

    @ivar code: the HTTP status.
    """

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _address(upid):
    return f"{upid.host}:{upid.port}"


class MasterClient:
    """
    The operator API of a cluster.

    @param master: C{host:port}, C{master@host:port}, C{zk://.../path}, or
        C{file:///path} holding one.
    @param http: a treq-like client (treq itself by default).
    """

    log = Logger()

    def __init__(self, reactor, master, http=treq, leader_timeout=LEADER_TIMEOUT):
        self.reactor = reactor
        self.master = master
        self.http = http
        self.leader_timeout = leader_timeout
        self.detector = None
        self.current = None
        self._waiting = []

    # Finding the leader.

    def start(self):
        """
        Start watching who leads (ZooKeeper's session, if any).

        @raise mesos_tw.detector.DetectorError: for a master that cannot
            be used.
        """
        self.detector = detector_for(self.master, self.reactor)
        self.detector.start(self._leader)

    def stop(self):
        """
        Stop watching.
        """
        if self.detector is not None:
            detector, self.detector = self.detector, None
            return detector.stop()
        return None

    def _leader(self, upid):
        self.current = upid
        if upid is not None:
            waiting, self._waiting = self._waiting, []
            for d in waiting:
                d.callback(upid)

    def leader(self):
        """
        A Deferred firing with the leading master's UPID once one is known.

        @raise NoLeader: (in the Deferred) if none is named in time.
        """
        if self.detector is None:
            self.start()
        if self.current is not None:
            d = Deferred()
            d.callback(self.current)
            return d
        d = Deferred()
        self._waiting.append(d)

        def timed_out():
            if d in self._waiting:
                self._waiting.remove(d)
                d.errback(NoLeader(f"no leading master found at {self.master} within "
                                   f"{self.leader_timeout:g} s"))

        call = self.reactor.callLater(self.leader_timeout, timed_out)
        d.addBoth(lambda result: (call.active() and call.cancel(), result)[1])
        return d

    # Calls.

    @inlineCallbacks
    def post(self, url, message, response_class, stream=False):
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = yield self.http.post(
                    url, data=message.SerializeToString(), unbuffered=stream,
                    headers={b"Content-Type": [PROTOBUF.encode()],
                             b"Accept": [PROTOBUF.encode()]})
            except (ConnectError, ConnectionRefusedError) as error:
                raise NoLeader(f"cannot reach {url}: {error}") from None
            if response.code == 307:
                url = response.headers.getRawHeaders(b"location")[0].decode("ascii")
                yield response.content()
                continue
            if stream and response.code == 200:
                return response
            body = yield response.content()
            if response.code != 200:
                raise OperatorError(response.code, body.decode("utf-8", "replace").strip()
                                    or f"HTTP {response.code}")
            return response_class.FromString(body) if body else response_class()
        raise NoLeader(f"more than {MAX_REDIRECTS} redirects looking for the leader")

    @inlineCallbacks
    def call(self, message):
        """
        POST a C{mesos.v1.master.Call} to the leader.

        @return: a Deferred firing with its C{Response} (empty for calls
            without one).
        """
        leader = yield self.leader()
        response = yield self.post(f"http://{_address(leader)}/api/v1", message,
                                    master_pb2.Response)
        return response

    def agent_call(self, address, message):
        """
        POST a C{mesos.v1.agent.Call} to the slave at C{address}
        (C{host:port}).
        """
        return self.post(f"http://{address}/api/v1", message, agent_pb2.Response)

    def subscribe(self, on_event, follow=True):
        """
        SUBSCRIBE to the leader's events, calling C{on_event} with each
        C{mesos.v1.master.Event}.  With C{follow}, a stream that ends
        (the leader died or stepped down) is started again with whoever
        leads next: its SUBSCRIBED gives the new leader's whole state.

        @return: the L{EventStream}.
        """
        stream = EventStream(self, on_event, follow)
        stream.start()
        return stream


class _Records(Protocol):
    """
    Reads a RecordIO stream of events, passing each to C{on_event}.

    @ivar finished: fires when the stream ends.
    """

    def __init__(self, on_event):
        self.on_event = on_event
        self.buffer = b""
        self.finished = Deferred()

    def dataReceived(self, data):
        """
        Split records off what arrived.
        """
        self.buffer += data
        while b"\n" in self.buffer:
            length, rest = self.buffer.split(b"\n", 1)
            size = int(length)
            if len(rest) < size:
                return
            self.buffer = rest[size:]
            self.on_event(master_pb2.Event.FromString(rest[:size]))

    def connectionLost(self, reason):
        """
        The stream ended.
        """
        self.finished.callback(reason.getErrorMessage())


class EventStream:
    """
    A SUBSCRIBE stream that follows the leader.

    @ivar subscriptions: how many times it has subscribed.
    @ivar ended: fires when it stops for good (not following, or stopped).
    """

    log = Logger()

    def __init__(self, client, on_event, follow, retry_delay=0.5):
        self.client = client
        self.on_event = on_event
        self.follow = follow
        self.retry_delay = retry_delay
        self.subscriptions = 0
        self.ended = Deferred()
        self._stopped = False
        self._records = None
        self._retry = None

    def start(self):
        """
        Subscribe (again).
        """
        d = self._subscribe()
        d.addErrback(lambda failure: self._closed(failure.getErrorMessage()))

    def stop(self):
        """
        Close the stream for good.
        """
        self._stopped = True
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        if self._records is not None and self._records.transport is not None:
            self._records.transport.stopProducing()
        if not self.ended.called:
            self.ended.callback(None)

    @inlineCallbacks
    def _subscribe(self):
        leader = yield self.client.leader()
        response = yield self.client.post(
            f"http://{_address(leader)}/api/v1", master_pb2.Call(type=master_pb2.Call.SUBSCRIBE),
            master_pb2.Response, stream=True)
        self.subscriptions += 1
        self._records = _Records(self.on_event)
        response.deliverBody(self._records)
        if self._stopped:
            self._records.transport.stopProducing()
        why = yield self._records.finished
        self._closed(why)

    def _closed(self, why):
        self._records = None
        if self._stopped:
            return
        if not self.follow:
            if not self.ended.called:
                self.ended.callback(why)
            return
        self.log.info("The event stream ended ({why}); subscribing again", why=why)
        # The dead leader may be named until ZooKeeper's session for it
        # expires: try again after a pause, until the leader answers.
        self._retry = self.client.reactor.callLater(self.retry_delay, self.start)
