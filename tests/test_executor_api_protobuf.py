"""
The v1 executor API spoken in protobuf over real HTTP against mesos-local:
a protobuf framework (the generated C{mesos.v1.scheduler} classes) launches
tasks on its own executor, and a protobuf executor client (the generated
C{mesos.v1.executor} classes) subscribes with what the slave put in its
environment, receives its task, reports its state and exchanges framework
messages.  The slave's isolator records each launch and runs nothing, so
the client stands in for the executor's process.
"""

import uuid

import treq
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from mesos_tw.protocols import executor_pb2, mesos_pb2, scheduler_pb2
from mesos_tw.testing.executor_api import RecordingIsolatorFactory, RecordIOStream
from mesos_tw.testing.local_cluster import start_mesos_local
from mesos_tw.web.v1 import PROTOBUF

EXECUTOR_ID = mesos_pb2.ExecutorID(value="pb-executor")


def _resources():
    return [mesos_pb2.Resource(name=name, type=mesos_pb2.Value.SCALAR,
                               scalar=mesos_pb2.Value.Scalar(value=value))
            for name, value in (("cpus", 0.1), ("mem", 32))]


class ProtobufExecutorTests(TestCase):
    """
    A protobuf executor, driven by a protobuf framework, on mesos-local.
    """

    timeout = 120

    @inlineCallbacks
    def setUp(self):
        self.isolators = RecordingIsolatorFactory()
        self.cluster, port = yield start_mesos_local(self, reactor,
                                                     isolator_factory=self.isolators)
        self.scheduler_url = f"http://127.0.0.1:{port}/api/v1/scheduler"

    def post(self, url, call, stream_id=None):
        """
        POST C{call} serialized, accepting protobuf; returns the response
        Deferred.
        """
        headers = {b"Content-Type": [PROTOBUF.encode()], b"Accept": [PROTOBUF.encode()]}
        if stream_id is not None:
            headers[b"Mesos-Stream-Id"] = [stream_id.encode("ascii")]
        return treq.post(url, data=call.SerializeToString(), headers=headers, persistent=False)

    @inlineCallbacks
    def open_stream(self, url, call, event_class):
        """
        POST a SUBSCRIBE and read its binary stream; returns (response,
        reader of C{event_class} messages).  The stream is closed at
        cleanup.
        """
        response = yield self.post(url, call)
        self.assertEqual((response.code, response.headers.getRawHeaders(b"content-type")),
                         (200, [PROTOBUF.encode()]))
        stream = RecordIOStream(event_class.FromString)
        response.deliverBody(stream)
        self.addCleanup(stream.close)
        return response, stream.reader

    @inlineCallbacks
    def start_framework(self):
        """
        Subscribe a protobuf framework and launch a task on its executor;
        returns (scheduler reader, stream id, framework id, agent id, the
        executor's environment).
        """
        Call, Event = scheduler_pb2.Call, scheduler_pb2.Event
        response, reader = yield self.open_stream(
            self.scheduler_url, Call(type=Call.SUBSCRIBE, subscribe=Call.Subscribe(
                framework_info=mesos_pb2.FrameworkInfo(user="root", name="protobuf executor"))),
            Event)
        stream_id = response.headers.getRawHeaders(b"mesos-stream-id")[0].decode("ascii")
        subscribed = yield reader.next(lambda e: e.type == Event.SUBSCRIBED)
        framework_id = subscribed.subscribed.framework_id
        offers = yield reader.next(lambda e: e.type == Event.OFFERS)
        offer = offers.offers.offers[0]
        task = mesos_pb2.TaskInfo(
            name="pb", task_id=mesos_pb2.TaskID(value="pb-task"), slave_id=offer.slave_id,
            resources=_resources(), executor=mesos_pb2.ExecutorInfo(
                executor_id=EXECUTOR_ID, command=mesos_pb2.CommandInfo(value="my-executor"),
                resources=_resources()))
        response = yield self.post(self.scheduler_url, Call(
            type=Call.ACCEPT, framework_id=framework_id, accept=Call.Accept(
                offer_ids=[offer.id], operations=[mesos_pb2.Offer.Operation(
                    type=mesos_pb2.Offer.Operation.LAUNCH,
                    launch=mesos_pb2.Offer.Operation.Launch(task_infos=[task]))])),
            stream_id)
        self.assertEqual(response.code, 202)
        environment = yield self.isolators.isolator.next_launch()
        return reader, stream_id, framework_id, offer.slave_id, environment

    @inlineCallbacks
    def test_protobuf_executor(self):
        """
        The executor subscribes in protobuf at the endpoint its environment
        names: SUBSCRIBED (its info, the agent's, its run id as container
        id), then LAUNCH of its task; its UPDATE is ACKNOWLEDGED with its
        uuid and reaches the framework from the executor; framework
        messages go both ways; TEARDOWN is its SHUTDOWN.
        """
        scheduler, stream_id, framework_id, agent_id, environment = \
            yield self.start_framework()
        Call, Event = executor_pb2.Call, executor_pb2.Event
        url = f"http://{environment['MESOS_AGENT_ENDPOINT']}/api/v1/executor"
        ids = dict(framework_id=mesos_pb2.FrameworkID(value=environment["MESOS_FRAMEWORK_ID"]),
                   executor_id=mesos_pb2.ExecutorID(value=environment["MESOS_EXECUTOR_ID"]))
        _, reader = yield self.open_stream(
            url, Call(type=Call.SUBSCRIBE, subscribe=Call.Subscribe(), **ids), Event)
        subscribed = yield reader.next(lambda e: e.type == Event.SUBSCRIBED)
        slave = self.cluster.slave_services[0].slave
        run_id = slave.frameworks[framework_id.value].executors[EXECUTOR_ID.value].run_id
        self.assertEqual(
            (subscribed.subscribed.executor_info.executor_id,
             subscribed.subscribed.framework_info.id, subscribed.subscribed.agent_info.id,
             subscribed.subscribed.container_id.value),
            (EXECUTOR_ID, framework_id, agent_id, run_id))
        launch = yield reader.next(lambda e: e.type == Event.LAUNCH)
        self.assertEqual(launch.launch.task.task_id.value, "pb-task")

        update_uuid = uuid.uuid4().bytes
        response = yield self.post(url, Call(type=Call.UPDATE, update=Call.Update(
            status=mesos_pb2.TaskStatus(task_id=launch.launch.task.task_id,
                                        state=mesos_pb2.TASK_RUNNING, uuid=update_uuid)),
            **ids))
        self.assertEqual(response.code, 202, (yield response.content()))
        acknowledged = yield reader.next(lambda e: e.type == Event.ACKNOWLEDGED)
        self.assertEqual((acknowledged.acknowledged.task_id.value, acknowledged.acknowledged.uuid),
                         ("pb-task", update_uuid))
        update = yield scheduler.next(lambda e: e.type == scheduler_pb2.Event.UPDATE)
        self.assertEqual((update.update.status.source, update.update.status.uuid),
                         (mesos_pb2.TaskStatus.SOURCE_EXECUTOR, update_uuid))

        response = yield self.post(url, Call(type=Call.MESSAGE, message=Call.Message(
            data=b"\x00to the framework"), **ids))
        self.assertEqual(response.code, 202)
        message = yield scheduler.next(lambda e: e.type == scheduler_pb2.Event.MESSAGE)
        self.assertEqual((message.message.data, message.message.executor_id,
                          message.message.agent_id),
                         (b"\x00to the framework", EXECUTOR_ID, agent_id))
        SchedulerCall = scheduler_pb2.Call
        response = yield self.post(self.scheduler_url, SchedulerCall(
            type=SchedulerCall.MESSAGE, framework_id=framework_id,
            message=SchedulerCall.Message(agent_id=agent_id, executor_id=EXECUTOR_ID,
                                          data=b"\x00to the executor")), stream_id)
        self.assertEqual(response.code, 202)
        message = yield reader.next(lambda e: e.type == Event.MESSAGE)
        self.assertEqual(message.message.data, b"\x00to the executor")

        response = yield self.post(self.scheduler_url, SchedulerCall(
            type=SchedulerCall.TEARDOWN, framework_id=framework_id), stream_id)
        self.assertEqual(response.code, 202)
        yield reader.next(lambda e: e.type == Event.SHUTDOWN)
