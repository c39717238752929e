"""
Tests for the v1 HTTP scheduler API (L{mesos_tw.master.scheduler_api}),
over real HTTP against mesos-local: a framework subscribes, gets offers,
launches a command task, sees and acknowledges its updates, and the bad
calls get their statuses.
"""

import base64
import json

import treq
from treq.testing import StubTreq
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.test.requesthelper import DummyRequest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from mesos_tw.interface import Scheduler
from mesos_tw.master.election import ILeadership
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master.scheduler_api import HttpFramework, SchedulerAPI
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.scheduler_pb2 import Event
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.local_cluster import start_mesos_local, until
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.v1 import RecordIOReader
from mesos_tw.web.v1 import JSON, CallError, encode, from_v1, record, to_v1


class TranslationTests(SynchronousTestCase):
    """
    v1 JSON and RecordIO.
    """

    def test_agent_for_slave(self):
        """
        Internal C{slave_id} fields are v1 C{agent_id}, both ways.
        """
        status = mesos_pb2.TaskStatus(task_id=mesos_pb2.TaskID(value="t"),
                                      state=mesos_pb2.TASK_RUNNING,
                                      slave_id=mesos_pb2.SlaveID(value="S1"))
        v1 = to_v1(status)
        self.assertEqual(v1["agent_id"], {"value": "S1"})
        self.assertEqual(from_v1(mesos_pb2.TaskStatus, v1, "status"), status)

    def test_bad_json_named(self):
        """
        Malformed or incomplete JSON is a L{CallError} naming the part.
        """
        with self.assertRaises(CallError) as raised:
            from_v1(mesos_pb2.FrameworkInfo, {"name": "x"}, "framework_info")
        self.assertIn("framework_info is missing required fields: user", str(raised.exception))
        self.assertRaises(CallError, from_v1, mesos_pb2.FrameworkInfo, {"bogus": 1}, "f")
        self.assertRaises(CallError, from_v1, mesos_pb2.FrameworkInfo, [], "f")

    def test_record(self):
        """
        A record is the event's length, a newline and the event.
        """
        self.assertEqual(record(encode(Event(type=Event.HEARTBEAT), JSON)),
                         b'20\n{"type":"HEARTBEAT"}')


class SchedulerAPITests(TestCase):
    """
    A v1 framework against mesos-local, over real HTTP.
    """

    timeout = 120

    @inlineCallbacks
    def setUp(self):
        self.cluster, port = yield start_mesos_local(self, reactor)
        self.url = f"http://127.0.0.1:{port}/api/v1/scheduler"

    def post(self, call, stream_id=None, content_type=b"application/json", body=None):
        """
        POST a call; returns the response Deferred.
        """
        headers = {b"Content-Type": [content_type]}
        if stream_id is not None:
            headers[b"Mesos-Stream-Id"] = [stream_id.encode("ascii")]
        data = body if body is not None else json.dumps(call).encode("utf-8")
        return treq.post(self.url, data=data, headers=headers, persistent=False)

    @inlineCallbacks
    def subscribe(self, failover_timeout=0.0, framework_id=None):
        """
        Subscribe a framework (again, with C{framework_id}); returns
        (reader, stream id, framework id).  The stream is closed at cleanup.
        """
        info = {"user": "root", "name": "v1 test", "failover_timeout": failover_timeout}
        if framework_id is not None:
            info["id"] = {"value": framework_id}
        response = yield treq.post(self.url, json.dumps({
            "type": "SUBSCRIBE", "subscribe": {"framework_info": info}}).encode(),
            headers={b"Content-Type": [b"application/json"]}, persistent=False)
        self.assertEqual(response.code, 200)
        stream_id = response.headers.getRawHeaders(b"mesos-stream-id")[0].decode()
        reader = RecordIOReader()
        done = treq.collect(response, reader.feed)
        done.addErrback(lambda failure: None)

        def close():
            subscription = self.cluster.master_service.scheduler_api.subscriptions.get(stream_id)
            if subscription is not None:
                subscription.request.transport.loseConnection()
            return done

        self.addCleanup(close)
        subscribed = yield reader.next(lambda e: e["type"] == "SUBSCRIBED")
        return reader, stream_id, subscribed["subscribed"]["framework_id"]["value"]

    @inlineCallbacks
    def test_subscribe_launch_acknowledge(self):
        """
        SUBSCRIBED, then OFFERS; an ACCEPT with a LAUNCH runs a command
        task whose RUNNING and FINISHED updates arrive with uuids, and
        ACKNOWLEDGE of each reaches the slave, which stops re-sending.
        """
        reader, stream_id, framework_id = yield self.subscribe()
        offers = yield reader.next(lambda e: e["type"] == "OFFERS")
        offer = offers["offers"]["offers"][0]
        self.assertIn("agent_id", offer)
        task = {"name": "v1", "task_id": {"value": "v1-task"}, "agent_id": offer["agent_id"],
                "command": {"value": "echo v1"},
                "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                              {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}]}
        response = yield self.post({
            "type": "ACCEPT", "framework_id": {"value": framework_id},
            "accept": {"offer_ids": [offer["id"]],
                       "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}]}},
            stream_id)
        self.assertEqual(response.code, 202)
        for state in ("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"):
            update = yield reader.next(lambda e, s=state: e["type"] == "UPDATE"
                                       and e["update"]["status"]["state"] == s)
            status = update["update"]["status"]
            self.assertTrue(base64.b64decode(status["uuid"]))
            response = yield self.post({
                "type": "ACKNOWLEDGE", "framework_id": {"value": framework_id},
                "acknowledge": {"agent_id": status["agent_id"], "task_id": status["task_id"],
                                "uuid": status["uuid"]}}, stream_id)
            self.assertEqual(response.code, 202)
        # The slave got the acknowledgements: nothing waits to be re-sent.
        slave = self.cluster.slave_services[0].slave
        yield until(reactor, lambda: slave.status_updates.pending() == 0,
                    "the slave to get the acknowledgements")
        self.assertEqual(slave.status_updates.pending(), 0)

    @inlineCallbacks
    def test_bad_calls(self):
        """
        A wrong stream id is a 403; a body that is not JSON, an unknown
        call type, an unsupported operation, a protobuf body that is not a
        call, a SUBSCRIBE without framework_info and a body over 4 MB are
        400s that say why.
        """
        reader, stream_id, framework_id = yield self.subscribe()
        cases = [
            (self.post({"type": "REVIVE", "framework_id": {"value": framework_id}},
                       "not-a-stream"), 403, b"Mesos-Stream-Id"),
            (self.post({"type": "REVIVE", "framework_id": {"value": "other"}}, stream_id),
             403, b"framework_id"),
            (self.post(None, stream_id, body=b"{nope"), 400, b"not JSON"),
            (self.post({"type": "FLY", "framework_id": {"value": framework_id}}, stream_id),
             400, b"FLY"),
            (self.post({"type": "ACCEPT", "framework_id": {"value": framework_id},
                        "accept": {"offer_ids": [{"value": "o"}],
                                   "operations": [{"type": "RESERVE"}]}}, stream_id),
             400, b"RESERVE"),
            (self.post(None, content_type=b"application/x-protobuf", body=b"\x08\x01"),
             400, b"framework_id has the wrong wire type"),
            (self.post({"type": "SUBSCRIBE", "subscribe": {}}), 400, b"framework_info"),
            (self.post(None, stream_id, body=b" " * (4 * 1024 * 1024 + 1)), 413,
             b"over the limit"),
        ]
        for request, code, text in cases:
            response = yield request
            body = yield response.content()
            self.assertEqual((response.code, text in body), (code, True), body)

    @inlineCallbacks
    def test_stream_id_of_another_framework(self):
        """
        A call that names one framework but carries another framework's
        Mesos-Stream-Id is a 403 saying so.
        """
        _, first_stream, _ = yield self.subscribe()
        _, _, second_id = yield self.subscribe()
        response = yield self.post({"type": "TEARDOWN", "framework_id": {"value": second_id}},
                                   first_stream)
        body = yield response.content()
        self.assertEqual((response.code, b"framework_id is not the subscription's" in body),
                         (403, True), body)

    @inlineCallbacks
    def test_shares_master_with_driver_frameworks(self):
        """
        An HTTP framework and a driver-based one share the master: both
        are in its state, and what the HTTP one declines is offered to the
        other by the same allocator.
        """
        reader, stream_id, framework_id = yield self.subscribe()
        offers = yield reader.next(lambda e: e["type"] == "OFFERS")
        offered = Deferred()

        class Recording(Scheduler):
            def resourceOffers(self, driver, offers):
                if not offered.called:
                    offered.callback(offers)

        driver = MesosSchedulerDriver(
            Recording(), mesos_pb2.FrameworkInfo(user="", name="classic"),
            self.url.split("/api/")[0].replace("http://", ""), reactor=reactor)
        driver.start()
        self.addCleanup(driver.abort)
        response = yield self.post({
            "type": "DECLINE", "framework_id": {"value": framework_id},
            "decline": {"offer_ids": [offers["offers"]["offers"][0]["id"]],
                        "filters": {"refuse_seconds": 60}}}, stream_id)
        self.assertEqual(response.code, 202)
        classic_offers = yield offered
        self.assertEqual(classic_offers[0].slave_id.value,
                         offers["offers"]["offers"][0]["agent_id"]["value"])
        names = {f.info.name for f in self.cluster.master_service.master.frameworks.values()}
        self.assertEqual(names, {"v1 test", "classic"})

    @inlineCallbacks
    def test_second_subscribe_replaces_first(self):
        """
        A second SUBSCRIBE with the framework's id (failover) closes the
        first subscription's stream, and the framework carries on under
        the new one with the same id.
        """
        reader, stream_id, framework_id = yield self.subscribe(failover_timeout=60.0)
        api = self.cluster.master_service.scheduler_api
        first = api.subscriptions[stream_id]
        _, second_id, again = yield self.subscribe(failover_timeout=60.0,
                                                   framework_id=framework_id)
        yield first.closed
        self.assertEqual(again, framework_id)
        self.assertEqual(list(api.subscriptions), [second_id])
        master = self.cluster.master_service.master
        self.assertTrue(master.frameworks[framework_id].active)
        response = yield self.post({"type": "REVIVE", "framework_id": {"value": framework_id}},
                                   stream_id)
        self.assertEqual(response.code, 403)

    @inlineCallbacks
    def test_closed_stream_deactivates(self):
        """
        When the subscriber's connection closes, the subscription ends and
        the framework is deactivated (its failover timeout starts), as
        with a driver's.
        """
        reader, stream_id, framework_id = yield self.subscribe(failover_timeout=60.0)
        master = self.cluster.master_service.master
        self.assertTrue(master.frameworks[framework_id].active)
        api = self.cluster.master_service.scheduler_api
        subscription = api.subscriptions[stream_id]
        subscription.request.transport.loseConnection()
        yield subscription.closed
        yield until(reactor, lambda: not master.frameworks[framework_id].active,
                    "the framework to be deactivated")
        self.assertFalse(master.frameworks[framework_id].active)
        self.assertNotIn(stream_id, api.subscriptions)


@implementer(ILeadership)
class Standby:
    """
    A master that does not lead; C{leader} is whoever does (or L{None}).
    """

    master = None
    elected = False

    def __init__(self, leader):
        self.leader = leader
        self.pid = UPID("master", "127.0.0.1", 5050)


class StandbyTests(SynchronousTestCase):
    """
    A standby master's answer to v1 calls.
    """

    def post(self, leadership, scheme="http"):
        """
        POST a SUBSCRIBE to a standby's API in memory, over C{scheme}.
        """
        client = StubTreq(MasterHTTP(leadership, scheduler_api=SchedulerAPI(
            Clock(), leadership, lambda upid: None)).resource())
        response = self.successResultOf(client.post(
            f"{scheme}://master/api/v1/scheduler", data=b"{}", allow_redirects=False,
            headers={b"Content-Type": [b"application/json"]}))
        return response, self.successResultOf(response.content())

    def test_redirect_to_leader(self):
        """
        A standby answers 307 to the leader's API.
        """
        leadership = Standby(UPID("master", "127.0.0.2", 5051))
        self.assertTrue(verifyObject(ILeadership, leadership))
        response, _ = self.post(leadership)
        self.assertEqual((response.code, response.headers.getRawHeaders(b"location")),
                         (307, [b"http://127.0.0.2:5051/api/v1/scheduler"]))

    def test_redirect_keeps_https(self):
        """
        A call that came over TLS is sent to the leader's C{https} URL.
        """
        response, _ = self.post(Standby(UPID("master", "127.0.0.2", 5051)), scheme="https")
        self.assertEqual(response.headers.getRawHeaders(b"location"),
                         [b"https://127.0.0.2:5051/api/v1/scheduler"])

    def test_no_leader(self):
        """
        With no leader known, a 503 that says so.
        """
        response, body = self.post(Standby(None))
        self.assertEqual(response.code, 503)
        self.assertIn(b"no leading master", body)


def memory_node():
    """
    A message node on an in-memory network, for a subscription's own use.
    """
    return MemoryNetwork(Clock()).node(UPID("scheduler-http", "127.0.0.1", 0))


HEARTBEAT = Event(type=Event.HEARTBEAT)


class BacklogTests(SynchronousTestCase):
    """
    A subscriber that stops reading its stream.
    """

    def setUp(self):
        self.request = DummyRequest([b"api", b"v1", b"scheduler"])
        self.request.transport = StringTransport()
        node = memory_node()
        self.subscription = HttpFramework(
            Clock(), self.request, node, UPID("master", "127.0.0.1", 5050),
            mesos_pb2.FrameworkInfo(user="u", name="f"), 15.0, max_backlog=100)

    def test_paused_events_wait_then_flow(self):
        """
        While the connection is full (paused), events wait; when it drains
        they go out in order.
        """
        self.subscription.pauseProducing()
        self.subscription._send_event(HEARTBEAT)
        self.assertEqual(self.request.written, [])
        self.subscription.resumeProducing()
        self.assertEqual(self.request.written, [record(encode(HEARTBEAT, JSON))])

    def test_backlog_over_limit_drops_subscription(self):
        """
        Past the backlog limit the subscription is closed and the
        connection dropped, rather than buffering without bound.
        """
        self.subscription.pauseProducing()
        for _ in range(10):
            self.subscription._send_event(HEARTBEAT)
        self.assertTrue(self.subscription.closed.called)
        self.assertTrue(self.request.transport.disconnecting)
        self.assertEqual(self.request.written, [])

    def test_close_reports_master_lost_once(self):
        """
        Closing disconnects from the master; the disconnection reported
        back at once (as an in-memory network does) does not close twice.
        """
        network = MemoryNetwork(Clock())
        master = RecordingPeer(network, UPID("master", "127.0.0.1", 5050))
        node = network.node(UPID("scheduler-http-x", "127.0.0.1", 0))
        subscription = HttpFramework(
            Clock(), self.request, node, master.upid,
            mesos_pb2.FrameworkInfo(user="u", name="f"), 15.0)
        subscription.subscribe()
        network.reactor.advance(0)
        self.assertTrue(network.linked(node.upid, master.upid))
        subscription.close("test")
        network.reactor.advance(0)
        self.assertEqual(self.successResultOf(subscription.closed), "test")
        self.assertEqual(master.lost, [node.upid])


class RegistrationRetryTests(SynchronousTestCase):
    """
    A subscription's registration with the master is a message that may be
    lost (a handler that fails, a connection that breaks): it is sent
    again until the master answers.
    """

    def setUp(self):
        self.network = MemoryNetwork(Clock())
        self.clock = self.network.reactor
        self.master = RecordingPeer(self.network, UPID("master", "127.0.0.1", 5050))
        node = self.network.node(UPID("scheduler-http-x", "127.0.0.1", 0))
        self.request = DummyRequest([b"api", b"v1", b"scheduler"])
        self.request.transport = StringTransport()
        self.subscription = HttpFramework(
            self.clock, self.request, node, self.master.upid,
            mesos_pb2.FrameworkInfo(user="u", name="f"), 15.0, jitter=lambda: 1.0)

    def registrations(self):
        """
        How many registrations the master has received.
        """
        return len(self.master.of(internal.RegisterFrameworkMessage))

    def test_sent_again_until_answered(self):
        """
        Unanswered, the registration goes again after 1 s, then 2 s; once
        the master answers, no more are sent and the stream says
        SUBSCRIBED.
        """
        self.subscription.subscribe()
        self.clock.advance(0)
        self.assertEqual(self.registrations(), 1)
        self.clock.advance(1.0)
        self.assertEqual(self.registrations(), 2)
        self.clock.advance(2.0)
        self.assertEqual(self.registrations(), 3)
        self.answer()
        self.assertEqual(self.subscription.framework_id, "f-1")
        self.assertEqual(b"".join(self.request.written).count(b'"SUBSCRIBED"'), 1)
        self.clock.advance(60.0)
        self.assertEqual(self.registrations(), 3)
        self.subscription.close("test")
        self.clock.advance(0)

    def answer(self):
        """
        The master answers a registration.
        """
        self.master.send(self.subscription.node.upid, internal.FrameworkRegisteredMessage(
            framework_id=mesos_pb2.FrameworkID(value="f-1"),
            master_info=mesos_pb2.MasterInfo(id="m", ip=0, port=5050)))
        self.clock.advance(0)

    def test_one_subscribed_for_two_answers(self):
        """
        A registration sent again before the first answer came is answered
        twice; the stream says SUBSCRIBED once.
        """
        self.subscription.subscribe()
        self.clock.advance(1.0)
        self.assertEqual(self.registrations(), 2)
        self.answer()
        self.answer()
        written = b"".join(self.request.written)
        self.assertEqual(written.count(b'"SUBSCRIBED"'), 1)
        self.subscription.close("test")
        self.clock.advance(0)

    def test_closed_stops_sending(self):
        """
        A subscription closed before the master answered sends no more
        registrations.
        """
        self.subscription.subscribe()
        self.clock.advance(0)
        self.subscription.close("test")
        self.clock.advance(60.0)
        self.assertEqual(self.registrations(), 1)
        self.assertEqual(self.clock.getDelayedCalls(), [])
