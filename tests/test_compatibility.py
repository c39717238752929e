"""
Compatibility with Apache Mesos's clients: requests in the shapes Mesos's
own documentation and tests send (bodies with fields we do not act on,
C{slave_id} where v1 says C{agent_id}, Mesos's query arguments and paths),
replayed against a real master and slave on an in-memory network, and the
answers compared field by field with the ones Mesos documents
(C{docs/scheduler-http-api.md}, C{docs/endpoints/} of Mesos 1.11).
"""

import json
import os

from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.detector import StandaloneDetector
from mesos_tw.master.election import SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master.master import Master
from mesos_tw.master.scheduler_api import SchedulerAPI
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.scheduler_pb2 import Call
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave.executor_api import ExecutorAPI
from mesos_tw.slave.http import SlaveHTTP
from mesos_tw.slave.slave import Slave
from mesos_tw.testing.isolation import FakeIsolator
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.v1 import CallRequest
from mesos_tw.web.v1 import JSON, PROTOBUF

MASTER = UPID("master", "127.0.0.1", 5050)
SLAVE = UPID("slave(1)", "127.0.0.1", 5051)

#: Mesos 1.11's docs/scheduler-http-api.md SUBSCRIBE example, with the
#: FrameworkInfo fields Mesos's own frameworks set (webui_url, principal,
#: labels, capabilities; Marathon sets them all) and a key no Mesos release
#: defines.
SUBSCRIBE = {
    "type": "SUBSCRIBE",
    "subscribe": {
        "framework_info": {
            "user": "foo",
            "name": "Example HTTP Framework",
            "roles": ["test1", "test2"],
            "capabilities": [{"type": "MULTI_ROLE"}, {"type": "PARTITION_AWARE"}],
            "webui_url": "http://framework.example:8080/ui",
            "principal": "example-principal",
            "labels": {"labels": [{"key": "team", "value": "infra"}]},
            "failover_timeout": 60,
            "a_field_of_a_later_release": {"anything": [1, 2]},
        },
        "suppressed_roles": ["test2"],
        "offer_constraints": {
            "role_constraints": {
                "test1": {
                    "groups": [{
                        "attribute_constraints": [{
                            "selector": {"attribute_name": "foo"},
                            "predicate": {"exists": {}},
                        }],
                    }],
                },
            },
        },
    },
}


class MesosClientTestCase(SynchronousTestCase):
    """
    A master (with the v1 scheduler API and its HTTP app) and one slave
    (fake isolator) on an in-memory network, and helpers that speak to them
    as Mesos's clients do.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = network = MemoryNetwork(self.clock)
        self.master = Master(self.clock, network.node(MASTER), cluster="compat")
        self.master.start()
        self.addCleanup(self.master.stop)
        self.slave = Slave(
            self.clock, network.node(SLAVE), StandaloneDetector(MASTER), FakeIsolator(self.clock),
            os.path.abspath(self.mktemp()), Resources.parse("cpus:4;mem:2048;disk:1000"),
            hostname="node-a", python="python3", environ={"PATH": "/bin"})
        self.slave.start()
        self.addCleanup(self.slave.stop)
        self.turn()
        leadership = SoleMaster(self.master)
        self.api = SchedulerAPI(self.clock, leadership, network.node)
        self.slave_client = StubTreq(SlaveHTTP(self.slave, {"flags": {"port": "5051"}}).resource())
        self.client = StubTreq(MasterHTTP(
            leadership, scheduler_api=self.api, slave_http=self.slave_client).resource())

    def turn(self):
        """
        Deliver everything in flight.
        """
        for _ in range(5):
            self.clock.advance(0)

    def post(self, body, stream_id=None):
        """
        POST C{body} (a JSON-able value) to C{/api/v1/scheduler} as JSON;
        the request, which keeps what it was answered.
        """
        headers = {"Accept": JSON}
        if stream_id is not None:
            headers["Mesos-Stream-Id"] = stream_id
        request = CallRequest(json.dumps(body).encode(), JSON, headers)
        answer = self.api.handle(request)
        if isinstance(answer, bytes):
            request.write(answer)
        self.turn()
        return request

    def subscribe(self, body=SUBSCRIBE):
        """
        SUBSCRIBE with C{body}; the request (its stream), the stream id and
        the framework id.
        """
        request = self.post(body)
        self.assertEqual(request.responseCode or 200, 200, b"".join(request.written))
        subscribed = request.events(json.loads)[0]
        self.assertEqual(subscribed["type"], "SUBSCRIBED")
        stream_id = request.responseHeaders.getRawHeaders(b"mesos-stream-id")[0].decode()
        return request, stream_id, subscribed["subscribed"]["framework_id"]["value"]

    def get_json(self, path, client=None):
        """
        GET C{path} from the master (or C{client}): its status and its JSON
        body.
        """
        client = self.client if client is None else client
        response = self.successResultOf(client.get("http://node" + path))
        body = self.successResultOf(response.content())
        self.assertEqual(response.headers.getRawHeaders(b"content-type")[0].split(b";")[0],
                         b"application/json", body)
        return response.code, json.loads(body)


class SubscribeTests(MesosClientTestCase):
    """
    Mesos's documented SUBSCRIBE, with what Mesos's frameworks add to it.
    """

    def test_documented_subscribe_accepted(self):
        """
        The documented SUBSCRIBE (roles, capabilities, suppressed roles,
        offer constraints, and a key no release defines) subscribes: the
        stream starts with SUBSCRIBED, as Mesos documents it.
        """
        request, stream_id, framework_id = self.subscribe()
        subscribed = request.events(json.loads)[0]["subscribed"]
        self.assertEqual(subscribed["heartbeat_interval_seconds"], 15)
        self.assertEqual(subscribed["framework_id"], {"value": framework_id})
        self.assertLessEqual(len(stream_id), 128)

    def test_accepted_fields_shown_in_state(self):
        """
        The fields accepted and not acted on are shown where Mesos shows
        them: C{webui_url}, C{capabilities}, C{principal} and C{labels} in
        C{/master/state}'s framework object (and its C{/frameworks}).
        """
        _, _, framework_id = self.subscribe()
        for path in ("/master/state", "/master/frameworks"):
            _, state = self.get_json(path)
            [framework] = [f for f in state["frameworks"] if f["id"] == framework_id]
            self.assertEqual(
                {key: framework[key] for key in (
                    "webui_url", "capabilities", "principal", "labels", "failover_timeout")},
                {"webui_url": "http://framework.example:8080/ui",
                 "capabilities": [{"type": "MULTI_ROLE"}, {"type": "PARTITION_AWARE"}],
                 "principal": "example-principal",
                 "labels": [{"key": "team", "value": "infra"}],
                 "failover_timeout": 60})
            self.assertEqual((framework["recovered"], framework["connected"]), (False, True))

    def test_webui_url_in_the_ui(self):
        """
        The framework's page links its C{webui_url}.
        """
        _, _, framework_id = self.subscribe()
        response = self.successResultOf(
            self.client.get(f"http://master/ui/frameworks/{framework_id}"))
        page = self.successResultOf(response.content()).decode()
        self.assertIn('<a id="webui-url" href="http://framework.example:8080/ui">', page)

    def test_without_optional_fields(self):
        """
        A framework that gives none of them has Mesos's defaults in the
        state: an empty C{webui_url} and C{capabilities}, no C{principal}
        or C{labels}.
        """
        _, _, framework_id = self.subscribe({"type": "SUBSCRIBE", "subscribe": {
            "framework_info": {"user": "foo", "name": "bare"}}})
        _, state = self.get_json("/master/state")
        [framework] = [f for f in state["frameworks"] if f["id"] == framework_id]
        self.assertEqual((framework["webui_url"], framework["capabilities"]), ("", []))
        self.assertNotIn("principal", framework)
        self.assertNotIn("labels", framework)


def documented_accept(framework_id, offer, task_ids):
    """
    Mesos 1.11's documented ACCEPT (docs/scheduler-http-api.md) of
    C{offer}, one task per id of C{task_ids}, with the fields Mesos's
    clients add: C{allocation_info} on resources, a C{slave_id} beside the
    C{agent_id} (older clients), a MESOS container without an image,
    labels, a kill policy and a health check.  (The example's C{limits}, a
    string where Mesos's proto has a C{Value.Scalar}, is left out: Mesos's
    own parser refuses it, as ours does.)
    """
    def task(task_id):
        return {
            "name": "My Task",
            "task_id": {"value": task_id},
            "agent_id": offer["agent_id"],
            "slave_id": offer["agent_id"],
            "executor": {
                "command": {"shell": True, "value": "sleep 1000"},
                "executor_id": {"value": f"{task_id}-executor"},
            },
            "resources": [
                {"allocation_info": {"role": "engineering"}, "name": "cpus", "role": "*",
                 "type": "SCALAR", "scalar": {"value": 1.0}},
                {"allocation_info": {"role": "engineering"}, "name": "mem", "role": "*",
                 "type": "SCALAR", "scalar": {"value": 128.0}},
            ],
            "container": {"type": "MESOS", "mesos": {}},
            "labels": {"labels": [{"key": "tier", "value": "web"}]},
            "kill_policy": {"grace_period": {"nanoseconds": 5000000000}},
            "health_check": {"type": "COMMAND", "command": {"value": "true"}},
        }

    return {
        "framework_id": {"value": framework_id},
        "type": "ACCEPT",
        "accept": {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH",
                            "launch": {"task_infos": [task(t) for t in task_ids]}}],
            "filters": {"refuse_seconds": 5.0},
        },
    }


class ImageTests(MesosClientTestCase):
    """
    What Mesos's containerizers would run from an image.
    """

    def test_image_is_task_error(self):
        """
        A task asking for a Docker image gets TASK_ERROR saying images are
        not supported, while the call itself is accepted (202) and the
        task beside it without an image is launched.
        """
        stream, stream_id, framework_id = self.subscribe()
        [offer] = [event for event in stream.events(json.loads)
                   if event["type"] == "OFFERS"][0]["offers"]["offers"]
        call = documented_accept(framework_id, offer, ["docker-task", "plain-task"])
        task = call["accept"]["operations"][0]["launch"]["task_infos"][0]
        task["container"] = {"type": "DOCKER", "docker": {"image": "library/nginx"}}
        answer = self.post(call, stream_id)
        self.assertEqual(answer.responseCode, 202)
        [update] = [event["update"]["status"] for event in stream.events(json.loads)
                    if event["type"] == "UPDATE"]
        self.assertEqual((update["task_id"], update["state"], update["source"],
                          update["reason"]),
                         ({"value": "docker-task"}, "TASK_ERROR", "SOURCE_MASTER",
                          "REASON_TASK_INVALID"))
        self.assertIn("container images are not supported", update["message"])
        self.assertEqual(sorted(self.slave.frameworks[framework_id].executors),
                         ["plain-task-executor"])


class LaunchedTestCase(MesosClientTestCase):
    """
    A framework subscribed as Mesos's docs show, with tasks launched by the
    documented ACCEPT.
    """

    task_ids = ("task-a", "task-b", "task-c")

    def setUp(self):
        super().setUp()
        self.stream, self.stream_id, self.framework_id = self.subscribe()
        [offer] = [event for event in self.stream.events(json.loads)
                   if event["type"] == "OFFERS"][0]["offers"]["offers"]
        accepted = self.post(documented_accept(self.framework_id, offer, self.task_ids),
                             self.stream_id)
        self.assertEqual(accepted.responseCode, 202, b"".join(accepted.written))
        self.slave_id = offer["agent_id"]["value"]


class AcceptTests(LaunchedTestCase):
    """
    The documented ACCEPT, with what clients add to it.
    """

    def test_launched(self):
        """
        The tasks reach the slave, their MESOS container without an image
        ignored (they run as if it were absent); none got TASK_ERROR.
        """
        updates = [event for event in self.stream.events(json.loads)
                   if event["type"] == "UPDATE"]
        self.assertEqual(updates, [])
        executors = self.slave.frameworks[self.framework_id].executors
        self.assertEqual(sorted(executors), [f"{t}-executor" for t in self.task_ids])

    def test_task_shows_accepted_fields(self):
        """
        A task's labels, container and health check (accepted, not acted
        on) are in its JSON as Mesos's C{Task} writer shows them (with the
        defaults Mesos's C{JSON::Protobuf} fills in); its fields otherwise
        are Mesos's.
        """
        _, answer = self.get_json("/tasks?task_id=task-a")
        [task] = answer["tasks"]
        self.assertEqual(
            {key: task[key] for key in ("id", "name", "framework_id", "executor_id",
                                        "slave_id", "state", "labels", "container",
                                        "health_check")},
            {"id": "task-a", "name": "My Task", "framework_id": self.framework_id,
             "executor_id": "task-a-executor", "slave_id": self.slave_id,
             "state": "TASK_STAGING", "labels": [{"key": "tier", "value": "web"}],
             "container": {"type": "MESOS", "mesos": {}},
             # Mesos's JSON::Protobuf writes unset fields with a default.
             "health_check": {"type": "COMMAND", "command": {"value": "true", "shell": True},
                              "delay_seconds": 15.0, "interval_seconds": 10.0,
                              "timeout_seconds": 20.0, "consecutive_failures": 3,
                              "grace_period_seconds": 10.0}})
        self.assertEqual(task["resources"], {"cpus": 1.0, "mem": 128.0})
        self.assertEqual([status["state"] for status in task["statuses"]], ["TASK_STAGING"])


class EndpointAliasTests(LaunchedTestCase):
    """
    Mesos serves each of its master's endpoints at C{/master/<name>} and at
    the root, with or without a trailing slash, all the same JSON.
    """

    def test_root_aliases(self):
        """
        C{/<name>}, C{/<name>/} and C{/master/<name>/} answer exactly as
        C{/master/<name>} for every read-only endpoint Mesos aliases.
        """
        for name in ("state", "state-summary", "frameworks", "slaves", "tasks", "flags"):
            code, expected = self.get_json(f"/master/{name}")
            self.assertEqual(code, 200, name)
            for path in (f"/{name}", f"/{name}/", f"/master/{name}/"):
                self.assertEqual(self.get_json(path), (200, expected), path)

    def test_slave_root_aliases(self):
        """
        The slave's C{/slave(1)/<name>} endpoints are at the root too, with
        or without a trailing slash.
        """
        for name in ("state", "flags"):
            expected = self.get_json(f"/slave(1)/{name}", self.slave_client)
            self.assertEqual(expected[0], 200)
            for path in (f"/{name}", f"/{name}/", f"/slave(1)/{name}/"):
                self.assertEqual(self.get_json(path, self.slave_client), expected, path)

    def test_metrics_trailing_slash(self):
        """
        C{/metrics/snapshot/} is the snapshot (libprocess ignores the
        slash).
        """
        code, snapshot = self.get_json("/metrics/snapshot/")
        self.assertEqual((code, snapshot["master/tasks_staging"]), (200, 3))

    def test_limit_minus_one_is_all(self):
        """
        C{/tasks?limit=-1}, as Mesos's CLI sends it, lists every task;
        C{limit=2} two of them.
        """
        _, every = self.get_json("/tasks?limit=-1")
        _, two = self.get_json("/master/tasks?limit=2")
        self.assertEqual(sorted(task["id"] for task in every["tasks"]), list(self.task_ids))
        self.assertEqual(len(two["tasks"]), 2)

    def test_task_filters(self):
        """
        C{task_id} and C{framework_id} keep only the tasks they name.
        """
        _, by_task = self.get_json("/tasks?task_id=task-b")
        _, by_framework = self.get_json(f"/tasks?framework_id={self.framework_id}&limit=-1")
        _, other = self.get_json("/tasks?framework_id=another")
        self.assertEqual([task["id"] for task in by_task["tasks"]], ["task-b"])
        self.assertEqual(len(by_framework["tasks"]), 3)
        self.assertEqual(other, {"tasks": []})

    def test_slave_and_framework_filters(self):
        """
        C{/slaves?slave_id=} and C{/frameworks?framework_id=} show only the
        one they name (none for an unknown id), as Mesos's do.
        """
        _, slaves = self.get_json(f"/slaves?slave_id={self.slave_id}")
        _, none = self.get_json("/slaves?slave_id=unknown")
        _, frameworks = self.get_json(f"/frameworks?framework_id={self.framework_id}")
        _, no_frameworks = self.get_json("/frameworks?framework_id=unknown")
        self.assertEqual([slave["id"] for slave in slaves["slaves"]], [self.slave_id])
        self.assertEqual(none["slaves"], [])
        self.assertEqual([f["id"] for f in frameworks["frameworks"]], [self.framework_id])
        self.assertEqual(no_frameworks["frameworks"], [])

    def test_ui_pages_moved(self):
        """
        The UI's list pages live under C{/ui/}, so C{/frameworks} and
        C{/slaves} are Mesos's JSON; the dashboard stays at C{/}.
        """
        for path in ("/ui/frameworks", "/ui/slaves", "/ui/offers", "/"):
            response = self.successResultOf(self.client.get("http://master" + path))
            self.assertEqual(response.code, 200, path)
            self.assertEqual(response.headers.getRawHeaders(b"content-type")[0].split(b";")[0],
                             b"text/html", path)


class ContainerStatusTests(LaunchedTestCase):
    """
    The container status the slave adds to updates, where Mesos shows it.
    """

    def setUp(self):
        super().setUp()
        executor = RecordingPeer(self.network, UPID("executor-a", "127.0.0.1", 0))
        executor.send(SLAVE, internal.RegisterExecutorMessage(
            framework_id=mesos_pb2.FrameworkID(value=self.framework_id),
            executor_id=mesos_pb2.ExecutorID(value="task-a-executor")))
        self.turn()
        executor.send(SLAVE, internal.StatusUpdateMessage(update=internal.StatusUpdate(
            framework_id=mesos_pb2.FrameworkID(value=self.framework_id),
            executor_id=mesos_pb2.ExecutorID(value="task-a-executor"), timestamp=2.0,
            uuid=b"running-a", status=mesos_pb2.TaskStatus(
                task_id=mesos_pb2.TaskID(value="task-a"), state=mesos_pb2.TASK_RUNNING))))
        self.turn()
        run_id = self.slave.frameworks[self.framework_id].executors["task-a-executor"].run_id
        self.expected = {"container_id": {"value": run_id},
                         "network_infos": [{"ip_addresses": [{"ip_address": "127.0.0.1"}]}]}

    def test_in_the_update_event(self):
        """
        The v1 UPDATE event's status has it (with C{agent_id}, v1's name).
        """
        [update] = [event["update"]["status"] for event in self.stream.events(json.loads)
                    if event["type"] == "UPDATE"]
        self.assertEqual((update["state"], update["container_status"], update["agent_id"]),
                         ("TASK_RUNNING", self.expected, {"value": self.slave_id}))

    def test_in_the_state(self):
        """
        The task's statuses in C{/master/state} and C{/tasks} show it, as
        Mesos's do.
        """
        _, tasks = self.get_json("/tasks?task_id=task-a")
        _, state = self.get_json("/state")
        [framework] = state["frameworks"]
        [in_state] = [task for task in framework["tasks"] if task["id"] == "task-a"]
        for task in (tasks["tasks"][0], in_state):
            self.assertEqual([status["state"] for status in task["statuses"]],
                             ["TASK_STAGING", "TASK_RUNNING"])
            self.assertEqual(task["statuses"][-1]["container_status"], self.expected)
            self.assertNotIn("container_status", task["statuses"][0])


class ExecutorAPITests(LaunchedTestCase):
    """
    An HTTP executor speaking to the slave as Mesos 1.11's
    docs/executor-http-api.md shows, with fields we do not act on.
    """

    def setUp(self):
        super().setUp()
        self.executor_api = ExecutorAPI(self.clock, self.slave, self.network.node)
        self.ids = {"executor_id": {"value": "task-a-executor"},
                    "framework_id": {"value": self.framework_id}}

    def executor_post(self, body):
        """
        POST C{body} to the slave's C{/api/v1/executor} as JSON; the request.
        """
        request = CallRequest(json.dumps(body).encode(), JSON, {"Accept": JSON},
                              b"/api/v1/executor")
        answer = self.executor_api.handle(request)
        if isinstance(answer, bytes):
            request.write(answer)
        self.turn()
        return request

    def test_documented_subscribe_and_update(self):
        """
        The documented SUBSCRIBE (with a key no release defines) gets
        SUBSCRIBED, naming the run as its container, and the task; the
        documented UPDATE (base64 uuid, C{SOURCE_EXECUTOR}) is accepted
        (202) and reaches the framework as an UPDATE with the container
        status.
        """
        stream = self.executor_post(dict(self.ids, type="SUBSCRIBE", subscribe={
            "unacknowledged_tasks": [], "unacknowledged_updates": [],
            "a_later_field": True}))
        events = stream.events(json.loads)
        run_id = self.slave.frameworks[self.framework_id].executors["task-a-executor"].run_id
        self.assertEqual([event["type"] for event in events], ["SUBSCRIBED", "LAUNCH"])
        self.assertEqual(events[0]["subscribed"]["container_id"], {"value": run_id})
        self.assertEqual(events[1]["launch"]["task"]["task_id"], {"value": "task-a"})
        update = self.executor_post(dict(self.ids, type="UPDATE", update={"status": {
            "executor_id": {"value": "task-a-executor"}, "source": "SOURCE_EXECUTOR",
            "state": "TASK_RUNNING", "task_id": {"value": "task-a"},
            "uuid": "ZDhlMTgzNGEtMDFlNS00YjlhLTk2MmQtOTFkNTdlOWIyZjg2",
            "check_status": {"type": "COMMAND", "command": {"exit_code": 0}}}}))
        self.assertEqual(update.responseCode, 202, b"".join(update.written))
        [status] = [event["update"]["status"] for event in self.stream.events(json.loads)
                    if event["type"] == "UPDATE"]
        self.assertEqual((status["task_id"], status["state"], status["source"]),
                         ({"value": "task-a"}, "TASK_RUNNING", "SOURCE_EXECUTOR"))
        self.assertEqual(status["container_status"]["container_id"], {"value": run_id})

    def test_bad_enum_still_refused(self):
        """
        Leniency stops at what Mesos refuses too: a state no release
        defines is a 400 naming its path.
        """
        self.executor_post(dict(self.ids, type="SUBSCRIBE", subscribe={}))
        update = self.executor_post(dict(self.ids, type="UPDATE", update={"status": {
            "state": "TASK_SLEEPING", "task_id": {"value": "task-a"}, "uuid": "dTE="}}))
        self.assertEqual(update.responseCode, 400)
        self.assertIn(b"update.status.state: mesos.TaskState has no value 'TASK_SLEEPING'",
                      b"".join(update.written))


class ProtobufLeniencyTests(MesosClientTestCase):
    """
    The same leniency for binary protobuf bodies, as Mesos's protobuf
    parsing keeps unknown fields aside.
    """

    def test_unknown_field_number_ignored(self):
        """
        A SUBSCRIBE whose FrameworkInfo carries a field number no release
        defines subscribes.
        """
        call = Call(type=Call.SUBSCRIBE, subscribe=Call.Subscribe(
            framework_info=mesos_pb2.FrameworkInfo(user="foo", name="binary")))
        # Call.subscribe (3) > Subscribe.framework_info (1) > field 999 (varint 1).
        extra = b"\xb8\x3e\x01"
        info = call.subscribe.framework_info.SerializeToString() + extra
        subscribe = b"\x0a" + bytes([len(info)]) + info
        data = b"\x10\x01" + b"\x1a" + bytes([len(subscribe)]) + subscribe
        request = CallRequest(data, PROTOBUF, {"Accept": JSON})
        self.api.handle(request)
        self.turn()
        self.assertEqual(request.events(json.loads)[0]["type"], "SUBSCRIBED")
