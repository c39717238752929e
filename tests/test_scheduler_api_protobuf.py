"""
The v1 scheduler API spoken in protobuf over real HTTP against
mesos-local: a client built on the generated C{mesos.v1.scheduler} classes
POSTs serialized calls and reads binary RecordIO events, as a client built
on Mesos's own v1 protos would.
"""


import treq
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.scheduler_pb2 import Call, Event
from mesos_tw.testing.local_cluster import start_mesos_local
from mesos_tw.testing.v1 import RecordIOReader
from mesos_tw.web.v1 import PROTOBUF


Operation = mesos_pb2.Offer.Operation

class ProtobufSchedulerTests(TestCase):
    """
    A protobuf framework against mesos-local.
    """

    timeout = 120

    @inlineCallbacks
    def setUp(self):
        self.cluster, port = yield start_mesos_local(self, reactor)
        self.url = f"http://127.0.0.1:{port}/api/v1/scheduler"

    def post(self, call, stream_id=None, accept=PROTOBUF):
        """
        POST C{call} serialized; returns the response Deferred.
        """
        headers = {b"Content-Type": [PROTOBUF.encode()]}
        if accept is not None:
            headers[b"Accept"] = [accept.encode()]
        if stream_id is not None:
            headers[b"Mesos-Stream-Id"] = [stream_id.encode("ascii")]
        return treq.post(self.url, data=call.SerializeToString(), headers=headers,
                         persistent=False)

    @inlineCallbacks
    def subscribe(self):
        """
        SUBSCRIBE accepting protobuf; returns (reader of Event messages,
        stream id, the response, the SUBSCRIBED event).  The stream is
        closed at cleanup.
        """
        response = yield self.post(Call(type=Call.SUBSCRIBE, subscribe=Call.Subscribe(
            framework_info=mesos_pb2.FrameworkInfo(user="root", name="protobuf test"))))
        self.assertEqual(response.code, 200)
        stream_id = response.headers.getRawHeaders(b"mesos-stream-id")[0].decode()
        reader = RecordIOReader(parse=Event.FromString)
        done = treq.collect(response, reader.feed)
        done.addErrback(lambda failure: None)

        def close():
            subscription = self.cluster.master_service.scheduler_api.subscriptions.get(stream_id)
            if subscription is not None:
                subscription.request.transport.loseConnection()
            return done

        self.addCleanup(close)
        subscribed = yield reader.next(lambda e: e.type == Event.SUBSCRIBED)
        return reader, stream_id, response, subscribed

    @inlineCallbacks
    def test_launch_and_acknowledge(self):
        """
        The stream is protobuf (its Content-Type says so); SUBSCRIBED, then
        OFFERS; an ACCEPT with a LAUNCH runs a command task whose RUNNING
        and FINISHED updates arrive with uuids; each ACKNOWLEDGE is a 202,
        and the slave sends FINISHED only once RUNNING was acknowledged.
        """
        reader, stream_id, response, subscribed = yield self.subscribe()
        self.assertEqual(response.headers.getRawHeaders(b"content-type"), [PROTOBUF.encode()])
        framework_id = subscribed.subscribed.framework_id
        self.assertEqual(subscribed.subscribed.heartbeat_interval_seconds, 15.0)
        offers = yield reader.next(lambda e: e.type == Event.OFFERS)
        offer = offers.offers.offers[0]
        task = mesos_pb2.TaskInfo(
            name="pb", task_id=mesos_pb2.TaskID(value="pb-task"), slave_id=offer.slave_id,
            command=mesos_pb2.CommandInfo(value="echo protobuf"),
            resources=[mesos_pb2.Resource(name="cpus", type=mesos_pb2.Value.SCALAR,
                                          scalar=mesos_pb2.Value.Scalar(value=0.1)),
                       mesos_pb2.Resource(name="mem", type=mesos_pb2.Value.SCALAR,
                                          scalar=mesos_pb2.Value.Scalar(value=32))])
        response = yield self.post(Call(
            type=Call.ACCEPT, framework_id=framework_id, accept=Call.Accept(
                offer_ids=[offer.id], operations=[Operation(
                    type=Operation.LAUNCH, launch=Operation.Launch(task_infos=[task]))])),
            stream_id)
        self.assertEqual(response.code, 202, (yield response.content()))
        seen = []
        for state in (mesos_pb2.TASK_STARTING, mesos_pb2.TASK_RUNNING, mesos_pb2.TASK_FINISHED):
            update = yield reader.next(lambda e, s=state: e.type == Event.UPDATE
                                       and e.update.status.state == s)
            status = update.update.status
            self.assertEqual((status.task_id, status.slave_id, len(status.uuid)),
                             (task.task_id, offer.slave_id, 16))
            seen.append(state)
            # Nothing later came before we acknowledged the one before.
            self.assertEqual([e.update.status.state for e in reader.events
                              if e.type == Event.UPDATE], seen)
            response = yield self.post(Call(
                type=Call.ACKNOWLEDGE, framework_id=framework_id,
                acknowledge=Call.Acknowledge(agent_id=status.slave_id, task_id=status.task_id,
                                             uuid=status.uuid)), stream_id)
            self.assertEqual(response.code, 202, (yield response.content()))

    @inlineCallbacks
    def test_not_acceptable(self):
        """
        A SUBSCRIBE whose Accept allows neither encoding is a 406 saying
        which are offered, and subscribes nothing.
        """
        response = yield self.post(Call(type=Call.SUBSCRIBE, subscribe=Call.Subscribe(
            framework_info=mesos_pb2.FrameworkInfo(user="root", name="html"))),
            accept="text/html")
        body = yield response.content()
        self.assertEqual((response.code, body), (406, (
            b"Accept (text/html) must allow application/json or application/x-protobuf: "
            b"the event stream is offered in those\n")))
        self.assertEqual(self.cluster.master_service.master.frameworks, {})

    @inlineCallbacks
    def test_bad_protobuf(self):
        """
        A body that is not a protobuf call is a 400 saying so.
        """
        response = yield treq.post(self.url, data=b"\xff\xff\xff", persistent=False,
                                   headers={b"Content-Type": [PROTOBUF.encode()]})
        body = yield response.content()
        self.assertEqual(response.code, 400)
        self.assertIn(b"the call is not a mesos.v1.scheduler.Call protobuf", body)
