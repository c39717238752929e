"""
Tests for the v1 scheduler API's calls and events in memory
(L{mesos_tw.master.scheduler_api} with a recording master on an in-memory
network and in-memory requests): what each call becomes for the master,
the events in either encoding, and the status and message of each bad
request.
"""

import json
from types import SimpleNamespace

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.master.election import SoleMaster
from mesos_tw.master.scheduler_api import SchedulerAPI
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols.scheduler_pb2 import Call, Event
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.v1 import CallRequest, accept_call
from mesos_tw.web.v1 import JSON, MAX_CALL_BYTES, PROTOBUF, encode, to_v1

Operation = mesos_pb2.Offer.Operation
MASTER = UPID("master", "127.0.0.1", 5050)
FRAMEWORK_ID = mesos_pb2.FrameworkID(value="F1")


def subscribe_call():
    """
    A first SUBSCRIBE.
    """
    return Call(type=Call.SUBSCRIBE, subscribe=Call.Subscribe(
        framework_info=mesos_pb2.FrameworkInfo(user="u", name="typed")))


class SchedulerCallTests(SynchronousTestCase):
    """
    A subscribed framework's calls and events, against a recording master.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.master = RecordingPeer(self.network, MASTER)
        self.trusted = {}
        leading = SimpleNamespace(pid=MASTER, trust=self.trusted.__setitem__)
        self.api = SchedulerAPI(self.clock, SoleMaster(leading), self.network.node)

    def subscribe(self, media=PROTOBUF, accept=PROTOBUF):
        """
        SUBSCRIBE with a C{media} body and C{Accept: accept}; the master
        registers the framework as F1.  Returns the SUBSCRIBE request.
        """
        headers = {} if accept is None else {"Accept": accept}
        request = CallRequest(encode(subscribe_call(), media), media, headers)
        self.api.handle(request)
        self.clock.advance(0)
        (subscription,) = self.api.subscriptions.values()
        self.master.send(subscription.upid, internal.FrameworkRegisteredMessage(
            framework_id=FRAMEWORK_ID,
            master_info=mesos_pb2.MasterInfo(id="m", ip=1, port=5050)))
        self.clock.advance(0)
        self.request = request
        self.stream_id = request.responseHeaders.getRawHeaders(b"mesos-stream-id")[0].decode()
        return request

    def post(self, call, media=PROTOBUF, stream_id=None):
        """
        POST C{call} (of framework F1, on our stream unless told) as
        C{media}; returns (code, body).
        """
        if not call.HasField("framework_id"):
            call.framework_id.CopyFrom(FRAMEWORK_ID)
        request = CallRequest(encode(call, media), media,
                              {"Mesos-Stream-Id": stream_id or self.stream_id})
        body = self.api.handle(request)
        self.clock.advance(0)
        return request.responseCode, body

    def test_protobuf_stream(self):
        """
        A SUBSCRIBE accepting only protobuf gets a 200 protobuf stream with
        its stream id; its SUBSCRIBED, and a HEARTBEAT later, are binary
        events.
        """
        request = self.subscribe()
        self.clock.advance(15.0)
        self.assertEqual(
            (request.responseCode, request.responseHeaders.getRawHeaders(b"content-type")),
            (200, [PROTOBUF.encode()]))
        self.assertEqual(request.events(Event.FromString), [
            Event(type=Event.SUBSCRIBED, subscribed=Event.Subscribed(
                framework_id=FRAMEWORK_ID, heartbeat_interval_seconds=15.0,
                master_info=mesos_pb2.MasterInfo(id="m", ip=1, port=5050))),
            Event(type=Event.HEARTBEAT)])

    def test_json_stream_for_protobuf_call(self):
        """
        The stream's encoding follows C{Accept}, not the call's: a protobuf
        SUBSCRIBE without C{Accept} gets JSON events.
        """
        request = self.subscribe(media=PROTOBUF, accept=None)
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-type"), [JSON.encode()])
        (event,) = request.events(json.loads)
        self.assertEqual((event["type"], event["subscribed"]["framework_id"]),
                         ("SUBSCRIBED", {"value": "F1"}))

    def test_events_either_encoding(self):
        """
        What the master sends arrives as the same events in JSON and in
        protobuf: OFFERS, UPDATE (with its uuid, as the slave wants an
        acknowledgement), MESSAGE, FAILURE, RESCIND, ERROR.
        """
        offer = mesos_pb2.Offer(id=mesos_pb2.OfferID(value="O1"), framework_id=FRAMEWORK_ID,
                                slave_id=mesos_pb2.SlaveID(value="S1"), hostname="h")
        status = mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="t1"),
                                      state=mesos_pb2.TASK_RUNNING,
                                      slave_id=mesos_pb2.SlaveID(value="S1"), uuid=b"u" * 16)
        sent = [
            internal.ResourceOffersMessage(offers=[offer], pids=["slave(1)@127.0.0.1:5051"]),
            internal.StatusUpdateMessage(pid="slave(1)@127.0.0.1:5051", update=internal.StatusUpdate(
                framework_id=FRAMEWORK_ID, slave_id=status.slave_id, status=status,
                timestamp=1.0, uuid=status.uuid)),
            internal.ExecutorToFrameworkMessage(
                slave_id=status.slave_id, framework_id=FRAMEWORK_ID,
                executor_id=mesos_pb2.ExecutorID(value="e1"), data=b"\x00hi"),
            internal.ExitedExecutorMessage(
                slave_id=status.slave_id, framework_id=FRAMEWORK_ID,
                executor_id=mesos_pb2.ExecutorID(value="e1"), status=3),
            internal.RescindResourceOfferMessage(offer_id=offer.id),
            internal.FrameworkErrorMessage(message="bad"),
        ]
        expected = [
            Event(type=Event.OFFERS, offers=Event.Offers(offers=[offer])),
            Event(type=Event.UPDATE, update=Event.Update(status=status)),
            Event(type=Event.MESSAGE, message=Event.Message(
                agent_id=status.slave_id, executor_id=mesos_pb2.ExecutorID(value="e1"),
                data=b"\x00hi")),
            Event(type=Event.FAILURE, failure=Event.Failure(
                agent_id=status.slave_id, executor_id=mesos_pb2.ExecutorID(value="e1"),
                status=3)),
            Event(type=Event.RESCIND, rescind=Event.Rescind(offer_id=offer.id)),
            Event(type=Event.ERROR, error=Event.Error(message="bad")),
        ]
        streams = {}
        for media in (PROTOBUF, JSON):
            request = self.subscribe(media=JSON, accept=media)
            subscription = self.api.subscriptions[self.stream_id]
            for message in sent:
                self.master.send(subscription.upid, message)
            self.clock.advance(0)
            streams[media] = request
        self.assertEqual(streams[PROTOBUF].events(Event.FromString)[1:], expected)
        self.assertEqual(streams[JSON].events(json.loads)[1:], [to_v1(e) for e in expected])

    def test_closed_keeps_its_reason(self):
        """
        Closing a served subscription ends its response (the Deferred the
        web server waits on fires with an empty body) and fires C{closed}
        with the reason, for whoever waits on it afterwards too.
        """
        served = self.api.handle(CallRequest(encode(subscribe_call(), JSON), JSON))
        (subscription,) = self.api.subscriptions.values()
        subscription.close("test")
        self.assertEqual(self.successResultOf(served), b"")
        self.assertEqual(self.successResultOf(subscription.closed), "test")

    def test_accept_launch_and_launch_group(self):
        """
        An ACCEPT's LAUNCH tasks and LAUNCH_GROUP groups go to the master in
        one LaunchTasksMessage, with its offers and filters.
        """
        self.subscribe()
        call = accept_call()
        self.assertEqual(self.post(call), (202, b""))
        message = self.master.last(internal.LaunchTasksMessage)
        launch, group = call.accept.operations
        self.assertEqual(message, internal.LaunchTasksMessage(
            framework_id=FRAMEWORK_ID, offer_ids=call.accept.offer_ids,
            filters=call.accept.filters, tasks=launch.launch.task_infos,
            groups=[internal.LaunchGroup(executor=group.launch_group.executor,
                                         task_group=group.launch_group.task_group)]))

    def test_unsupported_operations(self):
        """
        Operations other than LAUNCH and LAUNCH_GROUP, and a LAUNCH_GROUP
        without its group, are 400s naming them; nothing reaches the master.
        """
        self.subscribe()
        for operation, text in [
                (Operation(type=Operation.RESERVE),
                 b"accept.operations[1]: operation RESERVE is not supported "
                 b"(only LAUNCH and LAUNCH_GROUP)"),
                (Operation(type=Operation.CREATE), b"operation CREATE is not supported"),
                (Operation(type=Operation.LAUNCH_GROUP),
                 b"accept.operations[1] is a LAUNCH_GROUP without launch_group")]:
            call = accept_call()
            del call.accept.operations[1:]
            call.accept.operations.append(operation)
            code, body = self.post(call)
            self.assertEqual((code, text in body), (400, True), body)
        self.assertEqual(self.master.of(internal.LaunchTasksMessage), [])

    def test_shutdown(self):
        """
        SHUTDOWN asks the master to shut an executor down on its agent.
        """
        self.subscribe()
        call = Call(type=Call.SHUTDOWN, shutdown=Call.Shutdown(
            executor_id=mesos_pb2.ExecutorID(value="e1"), agent_id=mesos_pb2.SlaveID(value="S1")))
        self.assertEqual(self.post(call, JSON), (202, b""))
        self.assertEqual(self.master.last(internal.ShutdownExecutorMessage),
                         internal.ShutdownExecutorMessage(
                             executor_id=mesos_pb2.ExecutorID(value="e1"),
                             framework_id=FRAMEWORK_ID, slave_id=mesos_pb2.SlaveID(value="S1")))

    def test_same_call_same_message(self):
        """
        A call sent as JSON and as protobuf becomes the same message for
        the master.
        """
        self.subscribe()
        for media in (JSON, PROTOBUF):
            call = Call(type=Call.RECONCILE, reconcile=Call.Reconcile(tasks=[
                Call.Reconcile.Task(task_id=mesos_pb2.TaskID(value="t1"),
                                    agent_id=mesos_pb2.SlaveID(value="S1"))]))
            self.assertEqual(self.post(call, media), (202, b""))
        json_message, protobuf_message = self.master.of(internal.ReconcileTasksMessage)
        self.assertEqual(json_message, protobuf_message)
        self.assertEqual(json_message.statuses[0].slave_id.value, "S1")

    def test_bad_requests(self):
        """
        Each bad request gets its status and a body that says what was
        wrong.
        """
        self.subscribe()

        def raw(body, content_type=PROTOBUF, headers=None):
            request = CallRequest(body, content_type, headers or {})
            answer = self.api.handle(request)
            return request.responseCode, answer

        revive = Call(type=Call.REVIVE, framework_id=FRAMEWORK_ID)
        with_stream = {"Mesos-Stream-Id": self.stream_id}
        cases = [
            (raw(b"\xff\xff\xff", headers=with_stream), 400,
             b"the call is not a mesos.v1.scheduler.Call protobuf"),
            (raw(b"{nope", JSON, with_stream), 400, b"the body is not JSON"),
            (raw(Call(type=Call.SUBSCRIBE).SerializeToString()), 400,
             b"the SUBSCRIBE call needs 'subscribe'"),
            (raw(encode(Call(type=Call.SUBSCRIBE, subscribe=Call.Subscribe()), JSON), JSON),
             400, b"missing required fields: subscribe.framework_info"),
            (raw(b"\x10\x63", headers=with_stream), 400,
             b"type: mesos.v1.scheduler.Call.Type has no value 99"),
            (raw(encode(Call(framework_id=FRAMEWORK_ID), JSON), JSON, with_stream), 400,
             b"the call has no type"),
            (self.post(Call(type=Call.ACKNOWLEDGE_OPERATION_STATUS)), 400,
             b"ACKNOWLEDGE_OPERATION_STATUS calls are not supported"),
            (raw(revive.SerializeToString(), "text/plain", with_stream), 400,
             b"Content-Type 'text/plain' is not supported"),
            (raw(revive.SerializeToString(), None, with_stream), 400,
             b"the call needs a Content-Type"),
            (raw(b"\x00" * (MAX_CALL_BYTES + 1), headers=with_stream), 400,
             b"larger than"),
            (raw(encode(subscribe_call(), PROTOBUF), headers={"Accept": "text/html"}), 406,
             b"Accept (text/html) must allow application/json or application/x-protobuf"),
            (raw(encode(subscribe_call(), PROTOBUF), headers=with_stream), 400,
             b"SUBSCRIBE must not carry a Mesos-Stream-Id"),
            (self.post(Call(type=Call.KILL)), 400, b"the KILL call needs 'kill'"),
            (self.post(Call(type=Call.KILL, kill=Call.Kill(
                task_id=mesos_pb2.TaskID(value="t"), kill_policy=mesos_pb2.KillPolicy(
                    grace_period=mesos_pb2.DurationInfo(nanoseconds=-1))))), 400,
             b"kill.kill_policy is invalid: Task's 'kill_policy.grace_period' must be "
             b"non-negative"),
            (self.post(Call(type=Call.DECLINE)), 400,
             b"decline.offer_ids must name at least one offer"),
            (self.post(revive, stream_id="other"), 403, b"no subscription has that"),
        ]
        for (code, body), expected_code, text in cases:
            self.assertEqual((code, text in body), (expected_code, True), body)
        # Only the first SUBSCRIBE reached the master.
        self.assertEqual(len(self.master.of(internal.RegisterFrameworkMessage)), 1)
