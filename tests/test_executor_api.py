"""
Tests for the v1 HTTP executor API (L{mesos_tw.slave.executor_api}), over
real HTTP against mesos-local: a v1 framework launches tasks with its own
executor, a raw client subscribes for that executor with what the slave put
in its environment, receives the tasks, reports their states, exchanges
framework messages, and hears KILL and SHUTDOWN; the bad calls get their
statuses.  The slave's isolator is the fake one, which records each
launch's environment and runs nothing, so the raw client stands in for the
executor's process.
"""

import base64
import json
import uuid

import treq
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase, TestCase

from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.upid import UPID
from mesos_tw.slave.executor_api import HttpExecutor
from mesos_tw.slave.launching import executor_environment
from mesos_tw.testing.executor_api import RecordingIsolatorFactory, RecordIOStream
from mesos_tw.testing.local_cluster import start_mesos_local
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.v1 import RecordIOReader
from mesos_tw.web.v1 import MAX_CALL_BYTES

EXECUTOR_ID = "v1-executor"


def _scalar(name, value):
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}}


class EnvironmentTests(SynchronousTestCase):
    """
    The environment the slave gives executors.
    """

    def test_v1_variables(self):
        """
        Besides the classic driver's variables, an executor gets Mesos's
        for the v1 API: the slave's endpoint, its ids, its sandbox, no
        checkpointing and the shutdown grace period as a Mesos duration.
        """
        info = mesos_pb2.ExecutorInfo(executor_id=mesos_pb2.ExecutorID(value="e1"),
                                      command=mesos_pb2.CommandInfo(value="true"))
        environment = executor_environment(
            {"PATH": "/bin"}, UPID("slave(1)", "10.0.0.2", 5051), "F1", info, "/sandbox", 2.5)
        self.assertEqual({name: environment[name] for name in environment if name != "PATH"}, {
            "MESOS_SLAVE_PID": "slave(1)@10.0.0.2:5051",
            "MESOS_AGENT_ENDPOINT": "10.0.0.2:5051",
            "MESOS_FRAMEWORK_ID": "F1",
            "MESOS_EXECUTOR_ID": "e1",
            "MESOS_DIRECTORY": "/sandbox",
            "MESOS_SANDBOX": "/sandbox",
            "MESOS_CHECKPOINT": "0",
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "2.5secs",
        })


class _StreamRequest:
    """
    The part of a SUBSCRIBE request an L{HttpExecutor} writes its stream
    to; the events written are parsed into C{reader}.
    """

    def __init__(self):
        self.reader = RecordIOReader()
        self.transport = StringTransport()

    def write(self, data):
        """
        Parse a record of the stream.
        """
        self.reader.feed(data)


class HttpExecutorTests(SynchronousTestCase):
    """
    One subscription's translation, on the in-memory network and a clock.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.slave_pid = UPID("slave(1)", "127.0.0.1", 5051)
        self.slave = RecordingPeer(self.network, self.slave_pid)
        self.request = _StreamRequest()
        self.subscription = HttpExecutor(
            self.clock, self.request, self.network.node(UPID("executor-http-1", "127.0.0.1", 0)),
            self.slave_pid, "F1", "e1", "run-1", heartbeat_interval=15.0)
        self.subscription.subscribe()
        self.clock.advance(0)

    def registered(self):
        """
        The slave answers the registration.
        """
        self.slave.send(self.subscription.upid, internal.ExecutorRegisteredMessage(
            executor_info=mesos_pb2.ExecutorInfo(
                executor_id=mesos_pb2.ExecutorID(value="e1"),
                command=mesos_pb2.CommandInfo(value="x")),
            framework_id=mesos_pb2.FrameworkID(value="F1"),
            framework_info=mesos_pb2.FrameworkInfo(user="u", name="f"),
            slave_id=mesos_pb2.SlaveID(value="S1"),
            slave_info=mesos_pb2.SlaveInfo(hostname="h")))
        self.clock.advance(0)

    def test_registers_as_the_driver_does(self):
        """
        Subscribing sends the slave the driver's RegisterExecutorMessage;
        its answer is SUBSCRIBED, with the framework's id in its info.
        """
        (sender, message), = self.slave.received
        self.assertEqual((sender, message), (
            self.subscription.upid, internal.RegisterExecutorMessage(
                framework_id=mesos_pb2.FrameworkID(value="F1"),
                executor_id=mesos_pb2.ExecutorID(value="e1"))))
        self.registered()
        (event,) = self.request.reader.events
        self.assertEqual((event["type"], event["subscribed"]["framework_info"]["id"],
                          event["subscribed"]["agent_info"]["hostname"],
                          event["subscribed"]["container_id"]),
                         ("SUBSCRIBED", {"value": "F1"}, "h", {"value": "run-1"}))

    def test_update_stamped(self):
        """
        An UPDATE becomes the driver's StatusUpdateMessage: the status's
        uuid is the update's, and the executor's and slave's ids and the
        executor as source are filled in.
        """
        self.registered()
        self.subscription.update(mesos_pb2.TaskStatus(
            task_id=mesos_pb2.TaskID(value="t"), state=mesos_pb2.TASK_RUNNING, uuid=b"u" * 16))
        self.clock.advance(0)
        sender, message = self.slave.received[-1]
        update = message.update
        self.assertEqual(
            (update.uuid, update.executor_id.value, update.slave_id.value,
             update.status.slave_id.value, update.status.source),
            (b"u" * 16, "e1", "S1", "S1", mesos_pb2.TaskStatus.SOURCE_EXECUTOR))

    def test_heartbeats(self):
        """
        Once subscribed, a HEARTBEAT event every interval.
        """
        self.registered()
        self.clock.advance(15.0)
        self.clock.advance(15.0)
        self.assertEqual([e["type"] for e in self.request.reader.events],
                         ["SUBSCRIBED", "HEARTBEAT", "HEARTBEAT"])

    def test_others_ignored(self):
        """
        Messages from anyone but the slave are not events.
        """
        other = self.network.node(UPID("slave(2)", "127.0.0.1", 5052))
        other.send(self.subscription.upid, internal.ShutdownExecutorMessage())
        self.clock.advance(0)
        self.assertEqual(self.request.reader.events, [])

    def test_paused_stream_waits(self):
        """
        While the connection is full (the producer paused), events wait,
        and go out in order when it drains.
        """
        self.registered()
        self.subscription.pauseProducing()
        self.clock.advance(15.0)
        self.clock.advance(15.0)
        self.assertEqual(len(self.request.reader.events), 1)
        self.subscription.resumeProducing()
        self.assertEqual([e["type"] for e in self.request.reader.events],
                         ["SUBSCRIBED", "HEARTBEAT", "HEARTBEAT"])

    def test_backlog_bounded(self):
        """
        Past C{max_backlog} bytes waiting, the subscription is dropped and
        its connection closed.
        """
        self.registered()
        self.subscription.max_backlog = 40
        self.subscription.pauseProducing()
        self.clock.advance(15.0)
        self.assertFalse(self.subscription.closed.called)
        self.clock.advance(15.0)
        self.assertTrue(self.subscription.closed.called)
        self.assertTrue(self.request.transport.disconnecting)

    def test_slave_lost(self):
        """
        Losing the slave's connection is an ERROR, then the stream ends and
        the heartbeats stop.
        """
        self.registered()
        self.network.crash(self.slave_pid)
        self.clock.advance(0)
        self.assertEqual(self.request.reader.events[-1]["type"], "ERROR")
        self.assertTrue(self.subscription.closed.called)
        self.clock.advance(30.0)
        self.assertEqual(self.request.reader.events[-1]["type"], "ERROR")



class ExecutorAPITests(TestCase):
    """
    A raw v1 executor, driven by a v1 framework, against mesos-local over
    real HTTP.
    """

    timeout = 120

    @inlineCallbacks
    def setUp(self):
        self.isolators = RecordingIsolatorFactory()
        self.cluster, port = yield start_mesos_local(self, reactor,
                                                     isolator_factory=self.isolators)
        self.scheduler_url = f"http://127.0.0.1:{port}/api/v1/scheduler"

    def post(self, url, call, stream_id=None, content_type=b"application/json", body=None):
        """
        POST a call; returns the response Deferred.
        """
        headers = {b"Content-Type": [content_type]}
        if stream_id is not None:
            headers[b"Mesos-Stream-Id"] = [stream_id.encode("ascii")]
        data = body if body is not None else json.dumps(call).encode("utf-8")
        return treq.post(url, data=data, headers=headers, persistent=False)

    @inlineCallbacks
    def open_stream(self, url, call):
        """
        POST a SUBSCRIBE and read its stream; returns (response, reader,
        Deferred firing when the stream ends).  The stream is closed at
        cleanup.
        """
        response = yield self.post(url, call)
        self.assertEqual(response.code, 200, (yield response.content())
                         if response.code != 200 else None)
        stream = RecordIOStream()
        response.deliverBody(stream)
        self.addCleanup(stream.close)
        return response, stream.reader, stream.done

    @inlineCallbacks
    def start_framework(self, tasks):
        """
        Subscribe a v1 framework and launch C{tasks} (names) on its
        executor; returns (scheduler reader, stream id, framework id,
        agent id, the executor's environment).
        """
        response, reader, _ = yield self.open_stream(self.scheduler_url, {
            "type": "SUBSCRIBE", "subscribe": {"framework_info": {
                "user": "root", "name": "v1 executor test"}}})
        stream_id = response.headers.getRawHeaders(b"mesos-stream-id")[0].decode("ascii")
        subscribed = yield reader.next(lambda e: e["type"] == "SUBSCRIBED")
        framework_id = subscribed["subscribed"]["framework_id"]["value"]
        offers = yield reader.next(lambda e: e["type"] == "OFFERS")
        offer = offers["offers"]["offers"][0]
        executor = {"executor_id": {"value": EXECUTOR_ID}, "command": {"value": "my-executor"},
                    "resources": [_scalar("cpus", 0.1), _scalar("mem", 32)]}
        task_infos = [{"name": name, "task_id": {"value": name}, "agent_id": offer["agent_id"],
                       "executor": executor,
                       "resources": [_scalar("cpus", 0.1), _scalar("mem", 32)]}
                      for name in tasks]
        response = yield self.post(self.scheduler_url, {
            "type": "ACCEPT", "framework_id": {"value": framework_id},
            "accept": {"offer_ids": [offer["id"]],
                       "operations": [{"type": "LAUNCH", "launch": {"task_infos": task_infos}}]}},
            stream_id)
        self.assertEqual(response.code, 202)
        environment = yield self.isolators.isolator.next_launch()
        return reader, stream_id, framework_id, offer["agent_id"], environment

    def executor_call(self, environment, kind, body=None, **more):
        """
        POST an executor call of type C{kind} to the endpoint and with the
        ids the executor's environment names.
        """
        call = {"type": kind, "framework_id": {"value": environment["MESOS_FRAMEWORK_ID"]},
                "executor_id": {"value": environment["MESOS_EXECUTOR_ID"]}}
        if body is not None:
            call[kind.lower()] = body
        call.update(more)
        url = f"http://{environment['MESOS_AGENT_ENDPOINT']}/api/v1/executor"
        return url, call

    @inlineCallbacks
    def subscribe_executor(self, environment):
        """
        Subscribe as the executor; returns (reader, stream-ended Deferred,
        the SUBSCRIBED event).
        """
        url, call = self.executor_call(environment, "SUBSCRIBE", {})
        _, reader, done = yield self.open_stream(url, call)
        subscribed = yield reader.next(lambda e: e["type"] == "SUBSCRIBED")
        return reader, done, subscribed["subscribed"]

    def send(self, environment, kind, body=None, **more):
        """
        POST an executor call; returns the response Deferred.
        """
        url, call = self.executor_call(environment, kind, body, **more)
        return self.post(url, call)

    @inlineCallbacks
    def update(self, environment, task_id, state):
        """
        Send an UPDATE of C{task_id} to C{state}; returns its uuid (base64).
        """
        update_uuid = base64.b64encode(uuid.uuid4().bytes).decode("ascii")
        response = yield self.send(environment, "UPDATE", {"status": {
            "task_id": {"value": task_id}, "state": state, "uuid": update_uuid}})
        self.assertEqual(response.code, 202, (yield response.content()))
        return update_uuid

    @inlineCallbacks
    def test_environment_and_subscribe(self):
        """
        The executor's environment names the slave's endpoint and its ids;
        subscribing there gives SUBSCRIBED with the executor's, framework's
        and agent's infos and its container id, then LAUNCH of its task.
        """
        _, _, framework_id, agent_id, environment = yield self.start_framework(["t1"])
        slave = self.cluster.slave_services[0].slave
        self.assertEqual(
            {name: environment[name] for name in (
                "MESOS_AGENT_ENDPOINT", "MESOS_FRAMEWORK_ID", "MESOS_EXECUTOR_ID",
                "MESOS_CHECKPOINT", "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD")},
            {"MESOS_AGENT_ENDPOINT": f"127.0.0.1:{slave.pid.port}",
             "MESOS_FRAMEWORK_ID": framework_id, "MESOS_EXECUTOR_ID": EXECUTOR_ID,
             "MESOS_CHECKPOINT": "0", "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "5secs"})
        self.assertEqual(environment["MESOS_SANDBOX"], environment["MESOS_DIRECTORY"])
        reader, _, subscribed = yield self.subscribe_executor(environment)
        run_id = slave.frameworks[framework_id].executors[EXECUTOR_ID].run_id
        self.assertEqual(
            (subscribed["executor_info"]["executor_id"], subscribed["framework_info"]["id"],
             subscribed["agent_info"]["id"], subscribed["container_id"]),
            ({"value": EXECUTOR_ID}, {"value": framework_id}, agent_id, {"value": run_id}))
        launch = yield reader.next(lambda e: e["type"] == "LAUNCH")
        task = launch["launch"]["task"]
        self.assertEqual((task["task_id"], task["agent_id"]), ({"value": "t1"}, agent_id))

    @inlineCallbacks
    def test_updates_messages_kill_shutdown(self):
        """
        The executor's RUNNING and FINISHED updates reach the framework and
        are ACKNOWLEDGED to the executor with their uuids (the slave's
        receipt; the framework acknowledges them to the slave); framework
        messages go both ways; the framework's KILL of a task is a KILL
        event, and its TEARDOWN a SHUTDOWN.
        """
        scheduler, stream_id, framework_id, agent_id, environment = \
            yield self.start_framework(["done", "killed"])
        reader, _, _ = yield self.subscribe_executor(environment)
        for name in ("done", "killed"):
            yield reader.next(lambda e, n=name: e["type"] == "LAUNCH"
                              and e["launch"]["task"]["task_id"]["value"] == n)

        for state in ("TASK_RUNNING", "TASK_FINISHED"):
            sent = yield self.update(environment, "done", state)
            acknowledged = yield reader.next(lambda e, u=sent: e["type"] == "ACKNOWLEDGED"
                                             and e["acknowledged"]["uuid"] == u)
            self.assertEqual(acknowledged["acknowledged"]["task_id"], {"value": "done"})
            update = yield scheduler.next(lambda e, s=state: e["type"] == "UPDATE"
                                          and e["update"]["status"]["state"] == s)
            status = update["update"]["status"]
            self.assertEqual((status["task_id"], status["executor_id"], status["source"],
                              status["uuid"]),
                             ({"value": "done"}, {"value": EXECUTOR_ID}, "SOURCE_EXECUTOR", sent))
            # The slave forwards a task's next update once the framework
            # acknowledged this one.
            response = yield self.post(self.scheduler_url, {
                "type": "ACKNOWLEDGE", "framework_id": {"value": framework_id},
                "acknowledge": {"agent_id": agent_id, "task_id": status["task_id"],
                                "uuid": status["uuid"]}}, stream_id)
            self.assertEqual(response.code, 202)

        response = yield self.send(environment, "MESSAGE",
                                   {"data": base64.b64encode(b"to the framework").decode()})
        self.assertEqual(response.code, 202)
        message = yield scheduler.next(lambda e: e["type"] == "MESSAGE")
        self.assertEqual(
            (base64.b64decode(message["message"]["data"]), message["message"]["executor_id"],
             message["message"]["agent_id"]),
            (b"to the framework", {"value": EXECUTOR_ID}, agent_id))

        response = yield self.post(self.scheduler_url, {
            "type": "MESSAGE", "framework_id": {"value": framework_id},
            "message": {"agent_id": agent_id, "executor_id": {"value": EXECUTOR_ID},
                        "data": base64.b64encode(b"to the executor").decode()}}, stream_id)
        self.assertEqual(response.code, 202)
        message = yield reader.next(lambda e: e["type"] == "MESSAGE")
        self.assertEqual(base64.b64decode(message["message"]["data"]), b"to the executor")

        response = yield self.post(self.scheduler_url, {
            "type": "KILL", "framework_id": {"value": framework_id},
            "kill": {"task_id": {"value": "killed"}, "agent_id": agent_id}}, stream_id)
        self.assertEqual(response.code, 202)
        kill = yield reader.next(lambda e: e["type"] == "KILL")
        self.assertEqual(kill["kill"]["task_id"], {"value": "killed"})
        yield self.update(environment, "killed", "TASK_KILLED")
        yield scheduler.next(lambda e: e["type"] == "UPDATE"
                             and e["update"]["status"]["state"] == "TASK_KILLED")

        response = yield self.send(environment, "HEARTBEAT")
        self.assertEqual(response.code, 202)
        response = yield self.post(self.scheduler_url, {
            "type": "TEARDOWN", "framework_id": {"value": framework_id}}, stream_id)
        self.assertEqual(response.code, 202)
        yield reader.next(lambda e: e["type"] == "SHUTDOWN")

    @inlineCallbacks
    def test_bad_calls(self):
        """
        Malformed calls (not JSON, a protobuf body that is not a call, over
        the size limit, without ids, of an unknown type, with a bad status
        or data) are 400s that say what is wrong, and so are calls naming an executor the slave
        does not know; a known executor's calls before it subscribed are
        403s.
        """
        _, _, _, _, environment = yield self.start_framework(["t1"])
        url, _ = self.executor_call(environment, "HEARTBEAT")
        other = dict(environment, MESOS_EXECUTOR_ID="nobody")
        before = [
            (self.send(environment, "HEARTBEAT"), 403, b"has not subscribed"),
            (self.send(other, "SUBSCRIBE", {}), 400, b"executor nobody"),
            (self.post(url, None, body=b"{nope"), 400, b"not JSON"),
            (self.post(url, None, content_type=b"application/x-protobuf", body=b"\x08\x01"),
             400, b"executor_id has the wrong wire type"),
            (self.post(url, {"type": "HEARTBEAT"}), 400, b"framework_id"),
            (self.post(url, None, body=b" " * (MAX_CALL_BYTES + 1)), 413, b"over the limit"),
        ]
        for request, code, text in before:
            response = yield request
            body = yield response.content()
            self.assertEqual((response.code, text in body), (code, True), body)
        yield self.subscribe_executor(environment)
        after = [
            (self.send(environment, "FLY"), 400, b"FLY"),
            (self.send(environment, "UPDATE", {}), 400, b"update.status"),
            (self.send(environment, "UPDATE", {"status": {"task_id": {"value": "t1"},
                                                          "state": "TASK_RUNNING"}}),
             400, b"uuid"),
            (self.send(environment, "UPDATE", {"status": {"task_id": {"value": "t1"},
                                                          "state": "TASK_BOGUS", "uuid": "AA=="}}),
             400, b"malformed"),
            (self.send(environment, "UPDATE", {"status": {"task_id": {"value": "t1"},
                                                          "state": "TASK_STAGING",
                                                          "uuid": "AA=="}}),
             400, b"TASK_STAGING"),
            (self.send(environment, "MESSAGE", {"data": "%%%"}), 400, b"base64"),
            (self.send(environment, "MESSAGE", {}), 400, b"message.data"),
        ]
        for request, code, text in after:
            response = yield request
            body = yield response.content()
            self.assertEqual((response.code, text in body), (code, True), body)

    @inlineCallbacks
    def test_subscription_replaced(self):
        """
        A second SUBSCRIBE for an executor already subscribed replaces the
        first: the old stream ends, the new one gets SUBSCRIBED, and the
        task the executor was sent and never reported on (it listed no
        unacknowledged task) is sent again.
        """
        _, _, _, _, environment = yield self.start_framework(["t1"])
        first, first_done, _ = yield self.subscribe_executor(environment)
        yield first.next(lambda e: e["type"] == "LAUNCH")
        reader, _, _ = yield self.subscribe_executor(environment)
        yield first_done
        launch = yield reader.next(lambda e: e["type"] == "LAUNCH")
        self.assertEqual(launch["launch"]["task"]["task_id"], {"value": "t1"})
        self.assertEqual([e["type"] for e in reader.events], ["SUBSCRIBED", "LAUNCH"])
