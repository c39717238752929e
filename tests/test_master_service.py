"""
Tests for the master's HTTP endpoints (the twistd plugin's are in
C{tests.test_master_tap}).
"""

import json

from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from mesos_tw.testing.web import ProducerRequest

from mesos_tw.master.election import SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master.master import Master
from mesos_tw.master.views import MESSAGE_METRICS, state_document
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.web.json import ITEMS_PER_TURN, TURN, LazyList, LazyValue, stream_json


class MasterHTTPTests(SynchronousTestCase):
    """
    The endpoints, through treq's in-memory client.
    """

    def setUp(self):
        clock = Clock()
        self.master = Master(clock, MemoryNetwork(clock).node(UPID("master", "127.0.0.1", 5050)))
        self.master.start()
        self.addCleanup(self.master.stop)
        self.client = StubTreq(MasterHTTP(SoleMaster(self.master)).resource())

    def get(self, path):
        response = self.successResultOf(self.client.get("http://master" + path))
        return response, self.successResultOf(response.content())

    def test_health(self):
        """
        /health answers 200.
        """
        response, _ = self.get("/health")
        self.assertEqual(response.code, 200)

    def test_state_names(self):
        """
        /master/state, /master/state.json and /state all give the state JSON.
        """
        for path in ("/master/state", "/master/state.json", "/state"):
            response, body = self.get(path)
            self.assertEqual(response.code, 200)
            self.assertEqual(response.headers.getRawHeaders("content-type"), ["application/json"])
            self.assertEqual(json.loads(body)["id"], self.master.id)

    def test_jsonp(self):
        """
        ?jsonp=f wraps the JSON in a call; a bad name is a 400 with a reason.
        """
        _, body = self.get("/master/state?jsonp=show")
        self.assertTrue(body.startswith(b"show({") and body.endswith(b");"))
        response, body = self.get("/master/state?jsonp=alert(1)")
        self.assertEqual(response.code, 400)
        self.assertIn(b"jsonp", body)

    def test_health_paths(self):
        """
        /master/health answers like /health.
        """
        response, _ = self.get("/master/health")
        self.assertEqual(response.code, 200)

    def test_summary_frameworks_slaves(self):
        """
        The summary, frameworks and slaves views have Mesos's top-level keys.
        """
        _, body = self.get("/master/state-summary")
        self.assertEqual(set(json.loads(body)), {"hostname", "cluster", "slaves", "frameworks"})
        _, body = self.get("/master/frameworks")
        self.assertEqual(set(json.loads(body)),
                         {"frameworks", "completed_frameworks", "unregistered_frameworks"})
        _, body = self.get("/master/slaves")
        self.assertEqual(json.loads(body), {"slaves": [], "recovered_slaves": []})

    def test_tasks_arguments(self):
        """
        /master/tasks takes limit, offset and order; bad values are a 400
        naming the argument.
        """
        response, body = self.get("/master/tasks?limit=5&offset=0&order=asc")
        self.assertEqual((response.code, json.loads(body)), (200, {"tasks": []}))
        for query, word in (("limit=x", b"limit"), ("offset=-1", b"offset"), ("order=up", b"order")):
            response, body = self.get("/master/tasks?" + query)
            self.assertEqual(response.code, 400)
            self.assertIn(word, body)

    def test_flags(self):
        """
        /master/flags shows the flags it was given.
        """
        client = StubTreq(MasterHTTP(SoleMaster(self.master), {"flags": {"port": "5050"}}).resource())
        response = self.successResultOf(client.get("http://master/master/flags"))
        body = self.successResultOf(response.content())
        self.assertEqual(json.loads(body), {"flags": {"port": "5050"}})

    def test_redirect(self):
        """
        /master/redirect (and /redirect) send the client to the leader (this
        master) as Mesos does: a protocol-relative C{//hostname:port} that
        scripts append paths to.
        """
        for path in ("/master/redirect", "/redirect", "/master/redirect/"):
            response = self.successResultOf(
                self.client.get("http://master" + path, allow_redirects=False))
            self.assertEqual(response.code, 307)
            self.assertEqual(response.headers.getRawHeaders("location"),
                             [f"//{self.master.info.hostname}:5050"])

    def test_metrics(self):
        """
        /metrics/snapshot uses Mesos's metric names.
        """
        _, body = self.get("/metrics/snapshot")
        metrics = json.loads(body)
        for name in ("master/uptime_secs", "master/elected", "master/slaves_active",
                     "master/tasks_running", "master/cpus_total", "master/mem_percent"):
            self.assertIn(name, metrics)

    def test_unknown_route(self):
        """
        Anything else is a 404.
        """
        response, _ = self.get("/nope")
        self.assertEqual(response.code, 404)


class StreamedStateTests(SynchronousTestCase):
    """
    C{/master/state} is written a few hundred records per turn of the
    reactor, and says the same as C{Master.state()}.
    """

    def setUp(self):
        """
        Build the cluster the tests look at.
        """
        self.clock = Clock()
        network = MemoryNetwork(self.clock)
        self.master = Master(self.clock, network.node(UPID("master", "127.0.0.1", 5050)))
        self.master.start()
        self.addCleanup(self.master.stop)
        scheduler = RecordingPeer(network, UPID("scheduler-1", "127.0.0.1", 0))
        # 40 slaves with 10 tasks each: more items than one turn renders.
        for number in range(40):
            RecordingPeer(network, UPID("slave(1)", f"10.0.0.{number}", 5051)).send(
                self.master.pid, internal.RegisterSlaveMessage(slave=mesos_pb2.SlaveInfo(
                    hostname=f"node-{number}",
                    resources=Resources.parse("cpus:10;mem:1000").to_protobuf())))
        scheduler.send(self.master.pid, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="u", name="many")))
        self.turn()
        for offer in scheduler.last(internal.ResourceOffersMessage).offers:
            tasks = [mesos_pb2.TaskInfo(
                name="t", task_id=mesos_pb2.TaskID(value=f"{offer.slave_id.value}-{n}"),
                slave_id=offer.slave_id, resources=Resources.parse("cpus:1;mem:10").to_protobuf(),
                command=mesos_pb2.CommandInfo(value="true")) for n in range(10)]
            scheduler.send(self.master.pid, internal.LaunchTasksMessage(
                framework_id=offer.framework_id, offer_id=offer.id, tasks=tasks,
                filters=mesos_pb2.Filters(refuse_seconds=3600)))
        self.turn()
        self.assertGreater(len(self.master.slaves) * 11, ITEMS_PER_TURN)
        self.stub = StubTreq(MasterHTTP(SoleMaster(self.master)).resource())

    def turn(self):
        """
        Deliver everything in flight.
        """
        for _ in range(5):
            self.clock.advance(0)

    def test_same_as_state(self):
        """
        The streamed body, once complete, is the master's state.
        """
        response = self.successResultOf(self.stub.get("http://master/master/state"))
        body = response.content()
        for _ in range(100):
            self.clock.advance(0)
            self.stub.flush()
        streamed = json.loads(self.successResultOf(body))
        self.assertEqual({key: value for key, value in streamed.items()
                          if key not in ("flags", "leader_info")}, self.master.state())
        self.assertEqual(len(streamed["frameworks"][0]["tasks"]), 400)

    def test_leader_info_and_flags(self):
        """
        The state also has Mesos's C{leader_info} (this master) and the
        flags that C{/master/flags} shows.
        """
        stub = StubTreq(MasterHTTP(SoleMaster(self.master), {"flags": {"port": "5050"}}).resource())
        body = self.successResultOf(stub.get("http://master/master/state")).content()
        for _ in range(100):
            self.clock.advance(0)
            stub.flush()
        state = json.loads(self.successResultOf(body))
        self.assertEqual(state["flags"], {"port": "5050"})
        self.assertEqual(state["leader_info"], {
            "id": self.master.id, "pid": "master@127.0.0.1:5050", "port": 5050,
            "hostname": self.master.info.hostname})

    def get_streamed(self, path):
        """
        GET C{path}, turning the clock until the body is complete: the
        decoded JSON.
        """
        body = self.successResultOf(self.stub.get("http://master" + path)).content()
        for _ in range(100):
            self.clock.advance(0)
            self.stub.flush()
        return json.loads(self.successResultOf(body))

    def test_other_endpoints_streamed(self):
        """
        /master/frameworks and /master/slaves, streamed too, say what the
        state says; /master/state-summary counts the 400 staged tasks.
        """
        state = self.master.state()
        frameworks = self.get_streamed("/master/frameworks")
        self.assertEqual(frameworks["frameworks"], state["frameworks"])
        self.assertEqual(frameworks["completed_frameworks"], [])
        self.assertEqual(self.get_streamed("/master/slaves")["slaves"], state["slaves"])
        summary = self.get_streamed("/master/state-summary")
        self.assertEqual(len(summary["slaves"]), 40)
        self.assertEqual(summary["frameworks"][0]["TASK_STAGING"], 400)
        self.assertNotIn("tasks", summary["frameworks"][0])

    def test_task_list_order_and_page(self):
        """
        /master/tasks orders every task by launch time (then framework and
        task id), newest first or with C{order=asc} oldest first, and
        returns C{limit} of them from C{offset}.
        """
        tasks = [task for framework in self.master.state()["frameworks"]
                 for task in framework["tasks"]]

        def key(task):
            launched = task["statuses"][0]["timestamp"] if task["statuses"] else 0.0
            return (launched, task["framework_id"], task["id"])

        for order, reverse in (("des", True), ("asc", False)):
            expected = sorted(tasks, key=key, reverse=reverse)[7:12]
            listed = self.get_streamed(f"/master/tasks?limit=5&offset=7&order={order}")
            self.assertEqual(listed["tasks"], expected, order)
        self.assertEqual(self.get_streamed("/master/tasks?offset=398")["tasks"],
                         sorted(tasks, key=key, reverse=True)[398:])

    def test_other_work_runs_between_turns(self):
        """
        Work the master has scheduled runs while the body is being
        written: the body is not complete after the request alone, and a
        call scheduled after it runs before the body completes.
        """
        events = []
        d = self.stub.get("http://master/master/state")
        d.addCallback(lambda response: response.content())
        d.addCallback(lambda body: events.append("body complete"))
        self.clock.callLater(0, events.append, "other work")
        self.assertEqual(events, [])
        while not events or events[-1] != "body complete":
            self.clock.advance(0)
            self.stub.flush()
        self.assertEqual(events, ["other work", "body complete"])

    def test_document_lists_records_of_its_moment(self):
        """
        A task launched after the document is made is not in it, even
        though it is rendered later.
        """
        document = state_document(self.master)
        framework = next(iter(self.master.frameworks.values()))
        record = next(iter(framework.tasks.values()))
        framework.tasks[("late", "late")] = record
        request = ProducerRequest([b"master", b"state"])
        d = stream_json(request, document, self.clock)
        for _ in range(100):
            self.clock.advance(0)
        body = b"".join(request.written) + self.successResultOf(d)
        self.assertEqual(len(json.loads(body)["frameworks"][0]["tasks"]), 400)


class StreamJSONTests(SynchronousTestCase):
    """
    L{stream_json} on its own.
    """

    def test_turns_and_cancel(self):
        """
        The first turn renders C{items_per_turn} lazy items and schedules
        the next; cancelling (the client went away) leaves nothing
        scheduled, and no more is rendered.
        """
        clock = Clock()
        rendered = []

        def render(item):
            rendered.append(item)
            return {"n": item}

        request = ProducerRequest([b""])
        d = stream_json(request, {"items": LazyList(list(range(10)), render), "x": 1},
                        clock, items_per_turn=3)
        self.assertEqual(rendered, [0, 1, 2])
        self.assertEqual(len(clock.getDelayedCalls()), 1)
        self.assertNoResult(d)
        d.cancel()
        self.failureResultOf(d)
        self.assertEqual(clock.getDelayedCalls(), [])
        clock.advance(1)
        self.assertEqual(rendered, [0, 1, 2])

    def test_whole_document(self):
        """
        The pieces make the same JSON as C{json.dumps} with sorted keys,
        nested lazy lists included, and C{jsonp} wraps it.
        """
        clock = Clock()
        document = {"b": LazyList([1, 2], lambda n: {"inner": LazyList([n] * n, str), "k": n}),
                    "a": [1, {"z": 1, "y": 2}]}
        plain = {"b": [{"inner": ["1"], "k": 1}, {"inner": ["2", "2"], "k": 2}],
                 "a": [1, {"z": 1, "y": 2}]}
        request = ProducerRequest([b""])
        request.args[b"jsonp"] = [b"cb"]
        d = stream_json(request, document, clock, items_per_turn=1)
        for _ in range(10):
            clock.advance(0)
        body = b"".join(request.written) + self.successResultOf(d)
        self.assertEqual(body, b"cb(" + json.dumps(plain, sort_keys=True).encode() + b");")
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-type"),
                         [b"text/javascript"])

    def test_lazy_value_steps(self):
        """
        A lazy value's steps count like lazy items: the reactor gets a turn
        between them, and the value they end with is written in its place.
        """
        clock = Clock()
        steps = []

        def produce():
            for step in range(4):
                steps.append(step)
                yield TURN
            yield {"sum": sum(steps), "items": LazyList([1], str)}

        request = ProducerRequest([b""])
        d = stream_json(request, {"a": LazyValue(produce)}, clock, items_per_turn=2)
        self.assertEqual(steps, [0, 1])
        self.assertNoResult(d)
        clock.advance(0)
        body = b"".join(request.written) + self.successResultOf(d)
        self.assertEqual(json.loads(body), {"a": {"sum": 6, "items": ["1"]}})

    def test_render_error(self):
        """
        An item that cannot be rendered fails the response's Deferred
        instead of leaving the request hanging.
        """
        clock = Clock()
        request = ProducerRequest([b""])
        d = stream_json(request, {"items": LazyList([0, 1], lambda n: 1 / n)}, clock)
        self.failureResultOf(d, ZeroDivisionError)


class MetricsTests(SynchronousTestCase):
    """
    The message, task and allocator metrics of C{/metrics/snapshot}, with a
    slave and a scheduler talking to the master over an in-memory network.
    """

    def setUp(self):
        """
        Build the cluster the tests look at.
        """
        self.clock = Clock()
        network = MemoryNetwork(self.clock)
        self.master = Master(self.clock, network.node(UPID("master", "127.0.0.1", 5050)))
        self.master.start()
        self.addCleanup(self.master.stop)
        self.client = StubTreq(MasterHTTP(SoleMaster(self.master)).resource())
        self.slave = RecordingPeer(network, UPID("slave(1)", "127.0.0.1", 5051))
        self.scheduler = RecordingPeer(network, UPID("scheduler-1", "127.0.0.1", 0))

    def turn(self):
        """
        Deliver everything in flight.
        """
        for _ in range(5):
            self.clock.advance(0)

    def metrics(self):
        """
        The metrics snapshot, decoded.
        """
        response = self.successResultOf(self.client.get("http://master/metrics/snapshot"))
        return json.loads(self.successResultOf(response.content()))

    def register(self):
        """
        Register a 4-CPU slave and a framework in role C{batch}; return
        the offer it gets.
        """
        self.slave.send(self.master.pid, internal.RegisterSlaveMessage(slave=mesos_pb2.SlaveInfo(
            hostname="node-a", resources=Resources.parse("cpus:4;mem:1024").to_protobuf())))
        self.scheduler.send(self.master.pid, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="u", name="metrics", role="batch")))
        self.turn()
        return self.scheduler.last(internal.ResourceOffersMessage).offers[0]

    def test_every_message_metric(self):
        """
        Every C{master/messages_*} name is reported, at zero before any
        message arrives, as are the dropped messages.
        """
        metrics = self.metrics()
        for name in MESSAGE_METRICS.values():
            self.assertEqual(metrics[f"master/messages_{name}"], 0, name)
        self.assertEqual(metrics["master/dropped_messages"], 0)

    def test_messages_counted(self):
        """
        Each message the master receives counts under its Mesos name; one
        it has no handler for counts as dropped.
        """
        offer = self.register()
        self.scheduler.send(self.master.pid, internal.ReviveOffersMessage(
            framework_id=offer.framework_id))
        self.scheduler.send(self.master.pid, internal.FrameworkRegisteredMessage())
        self.turn()
        metrics = self.metrics()
        self.assertEqual(metrics["master/messages_register_slave"], 1)
        self.assertEqual(metrics["master/messages_register_framework"], 1)
        self.assertEqual(metrics["master/messages_revive_offers"], 1)
        self.assertEqual(metrics["master/messages_launch_tasks"], 0)
        self.assertEqual(metrics["master/dropped_messages"], 1)

    def test_allocation_runs(self):
        """
        C{allocator/mesos/allocation_runs} counts one run per allocation
        interval.
        """
        before = self.metrics()["allocator/mesos/allocation_runs"]
        for _ in range(3):
            self.clock.advance(self.master.allocation_interval)
        self.assertEqual(self.metrics()["allocator/mesos/allocation_runs"], before + 3)

    def test_allocator_resources_and_role_share(self):
        """
        The allocator's totals, what is offered or allocated, and the
        role's dominant share follow an offer and then a launch that takes
        one CPU of four and gives the rest back.
        """
        offer = self.register()
        metrics = self.metrics()
        self.assertEqual(metrics["allocator/mesos/resources/cpus/total"], 4.0)
        self.assertEqual(metrics["allocator/mesos/resources/cpus/offered_or_allocated"], 4.0)
        self.assertEqual(metrics["allocator/mesos/roles/batch/shares/dominant"], 1.0)
        task = mesos_pb2.TaskInfo(
            name="t", task_id=mesos_pb2.TaskID(value="t"), slave_id=offer.slave_id,
            resources=Resources.parse("cpus:1;mem:128").to_protobuf(),
            command=mesos_pb2.CommandInfo(value="true"))
        self.scheduler.send(self.master.pid, internal.LaunchTasksMessage(
            framework_id=offer.framework_id, offer_id=offer.id, tasks=[task],
            filters=mesos_pb2.Filters(refuse_seconds=3600)))
        self.turn()
        metrics = self.metrics()
        self.assertEqual(metrics["master/messages_launch_tasks"], 1)
        self.assertEqual(metrics["allocator/mesos/resources/cpus/offered_or_allocated"], 1.0)
        self.assertEqual(metrics["allocator/mesos/roles/batch/shares/dominant"], 0.25)
        self.assertEqual(metrics["master/cpus_used"], 1.0)
        self.assertEqual(metrics["master/cpus_percent"], 0.25)
        self.assertEqual(metrics["master/mem_used"], 128.0)
        self.assertEqual(metrics["master/tasks_staging"], 1)
        self.assertEqual(metrics["master/tasks_starting"], 0)
