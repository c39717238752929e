"""
Tests for the v1 executor API's calls and events in memory
(L{mesos_tw.slave.executor_api} with a recording slave on an in-memory
network and in-memory requests): events in either encoding, LAUNCH_GROUP,
resubscription with unacknowledged tasks and updates, and the status and
message of each bad request.
"""

import base64
import json
from types import SimpleNamespace

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.executor_pb2 import Call, Event
from mesos_tw.protocols.upid import UPID
from mesos_tw.slave.executor_api import ExecutorAPI
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.v1 import CallRequest
from mesos_tw.web.v1 import JSON, PROTOBUF, encode, to_v1

SLAVE = UPID("slave(1)", "127.0.0.1", 5051)
FRAMEWORK_ID = mesos_pb2.FrameworkID(value="F1")
EXECUTOR_ID = mesos_pb2.ExecutorID(value="e1")
SLAVE_ID = mesos_pb2.SlaveID(value="S1")
EXECUTOR_INFO = mesos_pb2.ExecutorInfo(executor_id=EXECUTOR_ID,
                                       command=mesos_pb2.CommandInfo(value="x"))
PATH = b"/api/v1/executor"


def task(name):
    """
    A task for our executor.
    """
    return mesos_pb2.TaskInfo(name=name, task_id=mesos_pb2.TaskID(value=name), slave_id=SLAVE_ID,
                              executor=EXECUTOR_INFO)


def executor_call(kind, **body):
    """
    A call of type C{kind} from executor e1 of framework F1.
    """
    return Call(type=kind, framework_id=FRAMEWORK_ID, executor_id=EXECUTOR_ID, **body)


class ExecutorCallTests(SynchronousTestCase):
    """
    An executor's calls and events, against a recording slave that
    launched executor e1 of framework F1 (run run-1).
    """

    def setUp(self):
        self.clock = Clock()
        self.clock.advance(1000.0)
        self.network = MemoryNetwork(self.clock)
        self.slave = RecordingPeer(self.network, SLAVE)
        launched = SimpleNamespace(pid=SLAVE, id="S1", executor_secrets=None, frameworks={
            "F1": SimpleNamespace(executors={"e1": SimpleNamespace(run_id="run-1")})})
        self.api = ExecutorAPI(self.clock, launched, self.network.node)

    def post(self, call, media=PROTOBUF, accept=None):
        """
        POST C{call} as C{media}; returns the request, its answer handled.
        """
        headers = {} if accept is None else {"Accept": accept}
        request = CallRequest(encode(call, media), media, headers, PATH)
        request.answer = self.api.handle(request)
        self.clock.advance(0)
        return request

    def subscribe(self, subscribe=None, media=PROTOBUF, accept=PROTOBUF):
        """
        SUBSCRIBE (with C{subscribe}, a C{Call.Subscribe}); returns the
        request, whose response is the stream.
        """
        return self.post(executor_call(Call.SUBSCRIBE, subscribe=subscribe or Call.Subscribe()),
                         media, accept)

    def registered(self):
        """
        The slave accepts the subscription.
        """
        (subscription,) = self.api.subscriptions.values()
        self.slave.send(subscription.upid, internal.ExecutorRegisteredMessage(
            executor_info=EXECUTOR_INFO, framework_id=FRAMEWORK_ID,
            framework_info=mesos_pb2.FrameworkInfo(user="u", name="f"), slave_id=SLAVE_ID,
            slave_info=mesos_pb2.SlaveInfo(hostname="h")))
        self.clock.advance(0)
        return subscription

    def test_events_either_encoding(self):
        """
        What the slave sends arrives as the same events in protobuf and in
        JSON: SUBSCRIBED (with the run id as container id), LAUNCH,
        LAUNCH_GROUP (a RunTaskGroupMessage's task group), KILL (with its
        kill policy),
        ACKNOWLEDGED, MESSAGE, SHUTDOWN.
        """
        group = mesos_pb2.TaskGroupInfo(tasks=[task("g1"), task("g2")])
        POLICY = mesos_pb2.KillPolicy(grace_period=mesos_pb2.DurationInfo(nanoseconds=5))
        sent = [
            internal.RunTaskMessage(framework_id=FRAMEWORK_ID, pid="s@h:1", task=task("t1"),
                                    framework=mesos_pb2.FrameworkInfo(user="u", name="f")),
            internal.RunTaskGroupMessage(framework=mesos_pb2.FrameworkInfo(user="u", name="f"),
                                         executor=EXECUTOR_INFO, task_group=group),
            internal.KillTaskMessage(framework_id=FRAMEWORK_ID,
                                     task_id=mesos_pb2.TaskID(value="t1"), kill_policy=POLICY),
            internal.StatusUpdateAcknowledgementMessage(
                slave_id=SLAVE_ID, framework_id=FRAMEWORK_ID,
                task_id=mesos_pb2.TaskID(value="t1"), uuid=b"u" * 16),
            internal.FrameworkToExecutorMessage(slave_id=SLAVE_ID, framework_id=FRAMEWORK_ID,
                                                executor_id=EXECUTOR_ID, data=b"\x00hi"),
            internal.ShutdownExecutorMessage(),
        ]
        framework_info = mesos_pb2.FrameworkInfo(user="u", name="f", id=FRAMEWORK_ID)
        expected = [
            Event(type=Event.SUBSCRIBED, subscribed=Event.Subscribed(
                executor_info=EXECUTOR_INFO, framework_info=framework_info,
                agent_info=mesos_pb2.SlaveInfo(hostname="h"),
                container_id=mesos_pb2.ContainerID(value="run-1"))),
            Event(type=Event.LAUNCH, launch=Event.Launch(task=task("t1"))),
            Event(type=Event.LAUNCH_GROUP, launch_group=Event.LaunchGroup(task_group=group)),
            Event(type=Event.KILL, kill=Event.Kill(task_id=mesos_pb2.TaskID(value="t1"),
                                                   kill_policy=POLICY)),
            Event(type=Event.ACKNOWLEDGED, acknowledged=Event.Acknowledged(
                task_id=mesos_pb2.TaskID(value="t1"), uuid=b"u" * 16)),
            Event(type=Event.MESSAGE, message=Event.Message(data=b"\x00hi")),
            Event(type=Event.SHUTDOWN),
        ]
        streams = {}
        for media in (PROTOBUF, JSON):
            request = self.subscribe(media=JSON, accept=media)
            subscription = self.registered()
            for message in sent:
                self.slave.send(subscription.upid, message)
            self.clock.advance(0)
            subscription.close("test")
            streams[media] = request
        self.assertEqual(streams[PROTOBUF].responseHeaders.getRawHeaders(b"content-type"),
                         [PROTOBUF.encode()])
        self.assertEqual(streams[PROTOBUF].events(Event.FromString), expected)
        self.assertEqual(streams[JSON].events(json.loads), [to_v1(e) for e in expected])
        launch_group = streams[JSON].events(json.loads)[2]
        self.assertEqual(
            [t["task_id"]["value"] for t in launch_group["launch_group"]["task_group"]["tasks"]],
            ["g1", "g2"])

    def test_subscribe_registers(self):
        """
        A SUBSCRIBE without unacknowledged tasks or updates registers, as
        the executor driver does, whichever its encoding.
        """
        for media in (JSON, PROTOBUF):
            self.subscribe(media=media)
        self.assertEqual(
            self.slave.of(internal.RegisterExecutorMessage),
            [internal.RegisterExecutorMessage(framework_id=FRAMEWORK_ID,
                                              executor_id=EXECUTOR_ID)] * 2)
        self.assertEqual(self.slave.of(internal.ReregisterExecutorMessage), [])

    def test_resubscribe_with_unacknowledged(self):
        """
        A SUBSCRIBE listing unacknowledged tasks and updates (as pymesos
        sends it, in JSON) re-registers with them: the tasks as they are,
        each update built as an UPDATE call's is (our ids and the slave's,
        the executor as source, the status's uuid, the time); the slave's
        answer is SUBSCRIBED.
        """
        update_uuid = base64.b64encode(b"v" * 16).decode()
        call = {
            "type": "SUBSCRIBE", "framework_id": {"value": "F1"}, "executor_id": {"value": "e1"},
            "subscribe": {
                "unacknowledged_tasks": [to_v1(task("t1"))],
                "unacknowledged_updates": [{"status": {
                    "task_id": {"value": "t0"}, "state": "TASK_FINISHED", "uuid": update_uuid,
                    "timestamp": 900}}]}}
        request = CallRequest(json.dumps(call).encode(), JSON, {"Accept": JSON}, PATH)
        self.api.handle(request)
        self.clock.advance(0)
        status = mesos_pb2.TaskStatus(
            task_id=mesos_pb2.TaskID(value="t0"), state=mesos_pb2.TASK_FINISHED,
            uuid=b"v" * 16, timestamp=900.0, executor_id=EXECUTOR_ID, slave_id=SLAVE_ID,
            source=mesos_pb2.TaskStatus.SOURCE_EXECUTOR)
        self.assertEqual(self.slave.last(internal.ReregisterExecutorMessage),
                         internal.ReregisterExecutorMessage(
                             executor_id=EXECUTOR_ID, framework_id=FRAMEWORK_ID,
                             tasks=[task("t1")], updates=[internal.StatusUpdate(
                                 framework_id=FRAMEWORK_ID, executor_id=EXECUTOR_ID,
                                 slave_id=SLAVE_ID, status=status, timestamp=1000.0,
                                 uuid=b"v" * 16)]))
        self.assertEqual(self.slave.of(internal.RegisterExecutorMessage), [])
        self.registered()
        (event,) = request.events(json.loads)
        self.assertEqual(event["type"], "SUBSCRIBED")

    def test_same_update_either_way(self):
        """
        An UPDATE sent as JSON and as protobuf becomes the same status
        update for the slave.
        """
        self.subscribe()
        self.registered()
        for media in (JSON, PROTOBUF):
            request = self.post(executor_call(Call.UPDATE, update=Call.Update(
                status=mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="t1"),
                                            state=mesos_pb2.TASK_RUNNING, uuid=b"w" * 16))),
                media)
            self.assertEqual((request.responseCode, request.answer), (202, b""))
        json_update, protobuf_update = self.slave.of(internal.StatusUpdateMessage)
        self.assertEqual(json_update, protobuf_update)
        self.assertEqual(json_update.update.status.source,
                         mesos_pb2.TaskStatus.SOURCE_EXECUTOR)

    def test_bad_requests(self):
        """
        Each bad request gets its status and a body that says what was
        wrong; none reaches the slave.
        """
        def raw(body, content_type=PROTOBUF, accept=None):
            headers = {} if accept is None else {"Accept": accept}
            request = CallRequest(body, content_type, headers, PATH)
            body = self.api.handle(request)
            return request.responseCode, body

        def answer(request):
            return request.responseCode, request.answer

        no_uuid = Call.Subscribe(unacknowledged_updates=[Call.Update(status=mesos_pb2.TaskStatus(
            task_id=mesos_pb2.TaskID(value="t0"), state=mesos_pb2.TASK_RUNNING))])
        staging = Call.Subscribe(unacknowledged_updates=[Call.Update(status=mesos_pb2.TaskStatus(
            task_id=mesos_pb2.TaskID(value="t0"), state=mesos_pb2.TASK_STAGING, uuid=b"x"))])
        heartbeat = executor_call(Call.HEARTBEAT)
        cases = [
            (raw(b"\xff\xff\xff"), 400, b"the call is not a mesos.v1.executor.Call protobuf"),
            (raw(Call(type=Call.HEARTBEAT).SerializePartialToString()), 400,
             b"the call is missing required fields: executor_id, framework_id"),
            (raw(Call(type=Call.HEARTBEAT, framework_id=mesos_pb2.FrameworkID(value=""),
                      executor_id=EXECUTOR_ID).SerializeToString()), 400,
             b"the call's framework_id is empty"),
            (raw(heartbeat.SerializeToString() + b"\x18\x63"), 400,
             b"type: mesos.v1.executor.Call.Type has no value 99"),
            (raw(json.dumps(to_v1(heartbeat)).encode(), "application/xml"), 400,
             b"Content-Type 'application/xml' is not supported"),
            (answer(self.post(heartbeat)), 403, b"executor e1 of framework F1 has not subscribed"),
            (answer(self.subscribe(accept="text/html")), 406,
             b"Accept (text/html) must allow application/json or application/x-protobuf"),
            (answer(self.subscribe(no_uuid)), 400,
             b"subscribe.unacknowledged_updates[0].status needs a uuid"),
            (answer(self.subscribe(staging)), 400,
             b"subscribe.unacknowledged_updates[0].status: executors must not send "
             b"TASK_STAGING"),
            (answer(self.post(Call(type=Call.SUBSCRIBE, framework_id=FRAMEWORK_ID,
                                   executor_id=mesos_pb2.ExecutorID(value="e9")))), 400,
             b"executor e9 of framework F1 is not known to this agent"),
        ]
        for (code, body), expected_code, text in cases:
            self.assertEqual((code, text in body), (expected_code, True), body)
        self.assertEqual(self.slave.received, [])
        self.subscribe()
        self.registered()
        for request, text in [
                (self.post(executor_call(Call.UPDATE)), b"the UPDATE call needs 'update'"),
                (self.post(executor_call(Call.MESSAGE)), b"the MESSAGE call needs 'message'")]:
            self.assertEqual((request.responseCode, text in request.answer), (400, True),
                             request.answer)
