"""
A minimal scheduler of Mesos's v1 HTTP API for the launch benchmark
(``launch_throughput.py --api http``): it subscribes in JSON, launches the
ledger's tasks on every offer with one ACCEPT per offer, and acknowledges
each update that carries a uuid with an ACKNOWLEDGE call.  Calls go over
persistent HTTP connections; the event stream is read by hand (status
line, headers, chunks, RecordIO records).
"""

import json
import os
import sys

from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.web.client import Agent, HTTPConnectionPool, readBody
from twisted.web.http_headers import Headers
from twisted.web.iweb import IBodyProducer
from zope.interface import implementer

from mesos_tw.interface import mesos_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@implementer(IBodyProducer)
class _Body:
    """
    A call's JSON body.
    """

    def __init__(self, data):
        self.data = data
        self.length = len(data)

    def startProducing(self, consumer):
        consumer.write(self.data)
        return succeed(None)

    def pauseProducing(self):
        pass

    def stopProducing(self):
        pass


class _Stream(Protocol):
    """
    The SUBSCRIBE request's connection: events go to C{on_event}.
    """

    def __init__(self, host, port, call, on_event):
        body = json.dumps(call).encode()
        self.request = (
            f"POST /api/v1/scheduler HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        self.on_event = on_event
        self.headers = None
        self.head = b""
        self.chunks = b""
        self.body = b""
        self.subscribed = Deferred()

    def connectionMade(self):
        self.transport.write(self.request)

    def dataReceived(self, data):
        if self.headers is None:
            self.head += data
            if b"\r\n\r\n" not in self.head:
                return
            head, data = self.head.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            self.headers = {k.strip().lower(): v.strip()
                            for k, v in (line.split(":", 1) for line in lines[1:])}
        self.chunks += data
        while b"\r\n" in self.chunks:
            size, rest = self.chunks.split(b"\r\n", 1)
            length = int(size, 16)
            if len(rest) < length + 2:
                break
            self.body += rest[:length]
            self.chunks = rest[length + 2:]
        while b"\n" in self.body:
            size, rest = self.body.split(b"\n", 1)
            if len(rest) < int(size):
                break
            event, self.body = json.loads(rest[:int(size)]), rest[int(size):]
            self.on_event(event)


class HttpScheduler:
    """
    Runs the ledger's tasks through C{/api/v1/scheduler} of C{master}
    (C{host:port}).
    """

    def __init__(self, reactor, master, ledger, custom):
        self.reactor = reactor
        self.host, port = master.rsplit(":", 1)
        self.port = int(port)
        self.ledger = ledger
        self.custom = custom
        self.framework_id = None
        self.stream_id = None
        self.pool = HTTPConnectionPool(reactor, persistent=True)
        self.pool.maxPersistentPerHost = 4
        self.agent = Agent(reactor, pool=self.pool)
        self.stream = None
        self.stopped = False
        self.suppressed = False

    def start(self):
        """
        Subscribe; fires once SUBSCRIBED has come.
        """
        call = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {
            "user": "", "name": f"throughput-{self.ledger.total}-http"}}}
        self.stream = _Stream(self.host, self.port, call, self._event)
        connectProtocol(TCP4ClientEndpoint(self.reactor, self.host, self.port), self.stream)
        return self.stream.subscribed

    def stop(self):
        """
        Close the stream and the calls' connections.
        """
        self.stopped = True
        if self.stream is not None and self.stream.transport is not None:
            self.stream.transport.loseConnection()
        return self.pool.closeCachedConnections()

    def _call(self, call):
        headers = Headers({b"Content-Type": [b"application/json"],
                           b"Mesos-Stream-Id": [self.stream_id.encode()]})
        d = self.agent.request(b"POST", f"http://{self.host}:{self.port}/api/v1/scheduler"
                               .encode(), headers, _Body(json.dumps(call).encode()))

        def answered(response):
            if response.code != 202 and not self.stopped:
                return readBody(response).addCallback(
                    lambda body: print(f"call {call['type']}: {response.code} {body!r}",
                                       file=sys.stderr))
            return readBody(response)

        d.addCallback(answered)
        d.addErrback(lambda failure: None if self.stopped else print(
            f"call {call['type']}: {failure.getErrorMessage()}", file=sys.stderr))

    def _event(self, event):
        if self.stopped:
            return
        kind = event["type"]
        if kind == "SUBSCRIBED":
            self.framework_id = event["subscribed"]["framework_id"]["value"]
            self.stream_id = self.stream.headers.get("mesos-stream-id", "")
            self.stream.subscribed.callback(None)
        elif kind == "OFFERS":
            if self.ledger.at_limit():
                # Declined offers would come straight back: ask for none
                # until a task ends.
                self.suppressed = True
                self._call({"type": "SUPPRESS", "framework_id": {"value": self.framework_id}})
            for offer in event["offers"]["offers"]:
                self._launch(offer)
        elif kind == "UPDATE":
            status = event["update"]["status"]
            self.ledger.update(status["task_id"]["value"],
                               mesos_pb2.TaskState.Value(status["state"]),
                               status.get("message", ""))
            if self.suppressed and not self.ledger.at_limit():
                self.suppressed = False
                self._call({"type": "REVIVE", "framework_id": {"value": self.framework_id}})
            if "uuid" in status:
                self._call({"type": "ACKNOWLEDGE", "framework_id": {"value": self.framework_id},
                            "acknowledge": {"agent_id": status["agent_id"],
                                            "task_id": status["task_id"],
                                            "uuid": status["uuid"]}})

    def _launch(self, offer):
        cpus = sum(r["scalar"]["value"] for r in offer["resources"] if r["name"] == "cpus")
        mem = sum(r["scalar"]["value"] for r in offer["resources"] if r["name"] == "mem")
        task_ids, each = self.ledger.tasks_for(cpus, mem)
        infos = []
        for task_id in task_ids:
            info = {"name": f"task {task_id}", "task_id": {"value": task_id},
                    "agent_id": offer["agent_id"],
                    "resources": [{"name": name, "type": "SCALAR", "scalar": {"value": amount}}
                                  for name, amount in each.items()]}
            if self.custom:
                info["executor"] = {
                    "executor_id": {"value": "instant"},
                    "command": {"value": f"{sys.executable} "
                                         f"{os.path.join(ROOT, 'benchmarks', 'instant_executor.py')}"}}
            else:
                info["command"] = {"value": "true"}
            infos.append(info)
        accept = {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 0}}
        if infos:
            accept["operations"] = [{"type": "LAUNCH", "launch": {"task_infos": infos}}]
        self._call({"type": "ACCEPT", "framework_id": {"value": self.framework_id},
                    "accept": accept})
