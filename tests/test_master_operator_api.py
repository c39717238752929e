"""
Tests for the master's v1 operator API (L{mesos_tw.master.operator_api}),
in memory: a real master on an in-memory network, calls POSTed as
in-memory requests in JSON and protobuf.  The names follow Mesos's
C{MasterAPITest} (src/tests/api_tests.cpp).
"""

import json
import os

from treq.testing import StubTreq

from mesos_tw import __version__
from mesos_tw.master.election import SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master.operator_api import MasterOperatorAPI
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.master_pb2 import Call, Event, Response
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.v1 import CallRequest
from mesos_tw.web.operator import AttachedFiles
from mesos_tw.web.v1 import JSON, PROTOBUF, encode
from mesos_tw.testing.master import (
    MASTER,
    MasterTestCase,
    executor_info,
    slave_info,
    task_info,
)
from mesos_tw.testing.peers import RecordingPeer


class Standby:
    """
    A standby master's leadership: C{leader} leads, we do not.
    """

    master = None
    elected = False
    pid = UPID("master", "127.0.0.1", 5051)

    def __init__(self, leader):
        self.leader = leader


def call(kind, **parts):
    """
    A C{mesos.v1.master.Call} of type C{kind}.
    """
    return Call(type=getattr(Call, kind), **parts)


class OperatorTestCase(MasterTestCase):
    """
    A master with its operator API.
    """

    def setUp(self):
        super().setUp()
        self.files = AttachedFiles()
        self.api = MasterOperatorAPI(self.clock, SoleMaster(self.master),
                                     {"flags": {"port": "5050", "zk": None}}, self.files)

    def post(self, message, media=PROTOBUF, accept=None):
        """
        POST C{message} as C{media} (C{Accept} the same unless told);
        return the request (its C{body} what it was answered, C{result}
        what the API returned: the body, or a Deferred for a stream).
        """
        request = CallRequest(encode(message, media), media, {"Accept": accept or media},
                              path=b"/api/v1")
        body = self.api.handle(request)
        request.body = body if isinstance(body, bytes) else None
        request.result = body
        return request

    def ask(self, kind, **parts):
        """
        The C{Response} to a protobuf call of type C{kind}.
        """
        request = self.post(call(kind, **parts))
        self.assertEqual(request.responseCode or 200, 200, request.body)
        return Response.FromString(request.body)

    def ask_json(self, kind, **parts):
        """
        The JSON answer to a JSON call of type C{kind}.
        """
        request = self.post(call(kind, **parts), media=JSON)
        self.assertEqual(request.responseCode or 200, 200, request.body)
        return json.loads(request.body)


class MasterAPITests(OperatorTestCase):
    """
    The calls, one by one, as Mesos's MasterAPITest has them.
    """

    def test_get_health(self):
        """
        GetHealth: healthy.
        """
        self.assertEqual(self.ask("GET_HEALTH").get_health.healthy, True)

    def test_get_flags(self):
        """
        GetFlags: the master's flags, by name.
        """
        flags = self.ask("GET_FLAGS").get_flags.flags
        self.assertEqual([(f.name, f.value) for f in flags], [("port", "5050"), ("zk", "")])

    def test_get_version(self):
        """
        GetVersion: our version.
        """
        self.assertEqual(self.ask("GET_VERSION").get_version.version_info.version, __version__)

    def test_get_metrics(self):
        """
        GetMetrics: the snapshot, C{master/elected} among them.
        """
        metrics = {m.name: m.value for m in self.ask("GET_METRICS").get_metrics.metrics}
        self.assertEqual(metrics["master/elected"], 1.0)
        self.assertIn("master/uptime_secs", metrics)

    def test_logging_level(self):
        """
        SET_LOGGING_LEVEL sets the level GET_LOGGING_LEVEL reports, for the
        duration asked.
        """
        self.assertEqual(self.ask("GET_LOGGING_LEVEL").get_logging_level.level, 0)
        self.post(call("SET_LOGGING_LEVEL", set_logging_level=Call.SetLoggingLevel(
            level=2, duration=mesos_pb2.DurationInfo(nanoseconds=10 * 10**9))))
        self.assertEqual(self.ask("GET_LOGGING_LEVEL").get_logging_level.level, 2)
        self.clock.advance(10)
        self.assertEqual(self.ask("GET_LOGGING_LEVEL").get_logging_level.level, 0)

    def test_get_agents(self):
        """
        GetAgents: each slave with its info, resources and state, in JSON
        with Mesos's v1 names.
        """
        _, slave_id = self.add_slave()
        (agent,) = self.ask_json("GET_AGENTS")["get_agents"]["agents"]
        self.assertEqual((agent["agent_info"]["id"], agent["agent_info"]["hostname"],
                          agent["active"], agent["pid"]),
                         ({"value": slave_id}, "host1", True, "slave(1)@127.0.0.1:5051"))
        self.assertEqual(sorted(r["name"] for r in agent["total_resources"]), ["cpus", "mem"])

    def test_get_frameworks(self):
        """
        GetFrameworks: registered frameworks, active and connected.
        """
        _, framework_id = self.add_framework()
        (framework,) = self.ask("GET_FRAMEWORKS").get_frameworks.frameworks
        self.assertEqual((framework.framework_info.id.value, framework.active,
                          framework.connected), (framework_id, True, True))

    def test_get_tasks(self):
        """
        GetTasks lists a running task with its states; after it finishes
        it is among the completed tasks.
        """
        slave, slave_id, scheduler, framework_id = self.running_task()
        tasks = self.ask("GET_TASKS").get_tasks
        (task,) = tasks.tasks
        self.assertEqual((task.task_id.value, task.state, [s.state for s in task.statuses]),
                         ("t1", mesos_pb2.TASK_RUNNING,
                          [mesos_pb2.TASK_STAGING, mesos_pb2.TASK_RUNNING]))
        self.report(slave, slave_id, framework_id, "t1", mesos_pb2.TASK_FINISHED)
        tasks = self.ask("GET_TASKS").get_tasks
        self.assertEqual(([t.task_id.value for t in tasks.tasks],
                          [t.task_id.value for t in tasks.completed_tasks]), ([], ["t1"]))

    def test_get_executors(self):
        """
        GetExecutors lists the executor a task was launched on, with its
        slave.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer, [
            task_info("t1", slave_id, executor=executor_info("e1"))])
        (executor,) = self.ask("GET_EXECUTORS").get_executors.executors
        self.assertEqual((executor.executor_info.executor_id.value, executor.agent_id.value),
                         ("e1", slave_id))

    def test_get_state(self):
        """
        GetState: tasks, executors, frameworks and agents in one answer.
        """
        _, slave_id, _, framework_id = self.running_task()
        state = self.ask("GET_STATE").get_state
        self.assertEqual(([t.task_id.value for t in state.get_tasks.tasks],
                          [f.framework_info.id.value for f in state.get_frameworks.frameworks],
                          [a.agent_info.id.value for a in state.get_agents.agents]),
                         (["t1"], [framework_id], [slave_id]))

    def test_get_roles_and_weights(self):
        """
        GetRoles lists the roles in use with their weights; UPDATE_WEIGHTS
        changes a weight, which GetWeights and GetRoles then report.
        """
        _, framework_id = self.add_framework()
        self.post(call("UPDATE_WEIGHTS", update_weights=Call.UpdateWeights(weight_infos=[
            mesos_pb2.WeightInfo(role="*", weight=2.5)])))
        (role,) = self.ask("GET_ROLES").get_roles.roles
        self.assertEqual((role.name, role.weight, [f.value for f in role.frameworks]),
                         ("*", 2.5, [framework_id]))
        self.assertEqual([(w.role, w.weight) for w in self.ask("GET_WEIGHTS").get_weights
                          .weight_infos], [("*", 2.5)])

    def test_bad_weight(self):
        """
        A weight that is not positive is a 400 saying so.
        """
        request = self.post(call("UPDATE_WEIGHTS", update_weights=Call.UpdateWeights(
            weight_infos=[mesos_pb2.WeightInfo(role="dev", weight=0)])))
        self.assertEqual(request.responseCode, 400)
        self.assertIn(b"must be positive", request.body)

    def test_get_master(self):
        """
        GetMaster: the master's info and start time.
        """
        answer = self.ask("GET_MASTER").get_master
        self.assertEqual((answer.master_info.id, answer.start_time),
                         (self.master.id, self.master.start_time))

    def test_teardown(self):
        """
        Teardown: the framework is removed, its scheduler told, its tasks
        killed on its slaves; an unknown one is a 400.
        """
        slave, _, scheduler, framework_id = self.running_task()
        self.ask_teardown = self.post(call("TEARDOWN", teardown=Call.Teardown(
            framework_id=mesos_pb2.FrameworkID(value=framework_id))))
        self.turn()
        self.assertEqual(self.ask_teardown.responseCode, 200)
        self.assertEqual(self.master.frameworks, {})
        self.assertEqual(scheduler.last(internal.FrameworkErrorMessage).message,
                         "Framework has been removed")
        self.assertEqual(slave.last(internal.ShutdownFrameworkMessage).framework_id.value,
                         framework_id)
        again = self.post(call("TEARDOWN", teardown=Call.Teardown(
            framework_id=mesos_pb2.FrameworkID(value=framework_id))))
        self.assertEqual(again.responseCode, 400)

    def test_read_file(self):
        """
        ReadFile: part of an attached file and its size; LIST_FILES lists
        it; a path not attached is a 404.
        """
        directory = self.mktemp()
        os.makedirs(directory)
        with open(os.path.join(directory, "log"), "wb") as file:
            file.write(b"body")
        self.files.attach(directory, "/master")
        answer = self.ask("READ_FILE", read_file=Call.ReadFile(path="/master/log", offset=1,
                                                               length=2)).read_file
        self.assertEqual((answer.size, answer.data), (4, b"od"))
        (info,) = self.ask("LIST_FILES", list_files=Call.ListFiles(path="/master"))\
            .list_files.file_infos
        self.assertEqual((info.path, info.size), ("/master/log", 4))
        missing = self.post(call("READ_FILE", read_file=Call.ReadFile(path="/nowhere",
                                                                      offset=0)))
        self.assertEqual(missing.responseCode, 404)

    def test_unserved_call(self):
        """
        A call the master does not serve is a 400 naming it.
        """
        request = self.post(call("GET_QUOTA"), media=JSON)
        self.assertEqual(request.responseCode, 400)
        self.assertIn(b"GET_QUOTA is not served by the master", request.body)

    def test_not_acceptable(self):
        """
        An C{Accept} allowing neither encoding is a 406.
        """
        request = self.post(call("GET_HEALTH"), accept="text/html")
        self.assertEqual(request.responseCode, 406)

    def test_standby_redirects(self):
        """
        A standby answers a 307 to the leader's C{/api/v1}, or a 503 while
        none is known.
        """
        self.api.leadership = Standby(UPID("master", "10.0.0.7", 5050))
        request = self.post(call("GET_HEALTH"))
        self.assertEqual((request.responseCode, request.responseHeaders.getRawHeaders(
            b"location")), (307, [b"http://10.0.0.7:5050/api/v1"]))
        self.api.leadership = Standby(None)
        self.assertEqual(self.post(call("GET_HEALTH")).responseCode, 503)


class SubscribeTests(OperatorTestCase):
    """
    The SUBSCRIBE stream, as MasterAPITest's Subscribe, FrameworksEvent
    and Heartbeat have it.
    """

    def subscribe(self, media=PROTOBUF):
        """
        Subscribe; return the request whose stream collects the events.
        """
        request = self.post(call("SUBSCRIBE"), media=media)
        self.assertEqual(request.responseCode, 200)
        return request

    def kinds(self, request):
        """
        The types of the events so far.
        """
        return [Event.Type.Name(e.type) for e in request.events(Event.FromString)]

    def test_subscribe(self):
        """
        SUBSCRIBED carries the whole state, a HEARTBEAT follows at once;
        then a task launched and run is TASK_ADDED and TASK_UPDATED.
        """
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework()
        request = self.subscribe()
        subscribed = request.events(Event.FromString)[0].subscribed
        self.assertEqual(([a.agent_info.id.value for a in subscribed.get_state.get_agents.agents],
                          subscribed.heartbeat_interval_seconds), ([slave_id], 15.0))
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer, [task_info("t1", slave_id)])
        self.report(slave, slave_id, framework_id, "t1", mesos_pb2.TASK_RUNNING)
        events = request.events(Event.FromString)
        self.assertEqual(self.kinds(request),
                         ["SUBSCRIBED", "HEARTBEAT", "TASK_ADDED", "TASK_UPDATED"])
        self.assertEqual((events[2].task_added.task.state, events[3].task_updated.state,
                          events[3].task_updated.framework_id.value),
                         (mesos_pb2.TASK_STAGING, mesos_pb2.TASK_RUNNING, framework_id))

    def test_agents_and_frameworks_events(self):
        """
        A slave joining and leaving is AGENT_ADDED and AGENT_REMOVED; a
        framework registering, disconnecting and being torn down is
        FRAMEWORK_ADDED, FRAMEWORK_UPDATED and FRAMEWORK_REMOVED.
        """
        request = self.subscribe(media=JSON)
        slave, slave_id = self.add_slave()
        scheduler, framework_id = self.add_framework(failover_timeout=60)
        self.network.crash(scheduler.upid)
        self.turn()
        self.master.remove_framework(self.master.frameworks[framework_id], "test")
        self.master.remove_slave(self.master.slaves[slave_id], "test")
        self.turn()
        events = request.events(json.loads)
        self.assertEqual([e["type"] for e in events], [
            "SUBSCRIBED", "HEARTBEAT", "AGENT_ADDED", "FRAMEWORK_ADDED", "FRAMEWORK_UPDATED",
            "FRAMEWORK_REMOVED", "AGENT_REMOVED"])
        self.assertEqual(events[4]["framework_updated"]["framework"]["active"], False)
        self.assertEqual(events[6]["agent_removed"]["agent_id"], {"value": slave_id})

    def test_tasks_of_a_reregistering_slave(self):
        """
        A slave the master does not know (it leads since a failover)
        re-registers with a running task: subscribers get TASK_ADDED for
        it, then AGENT_ADDED, in the order of Mesos's C{addSlave}.
        """
        request = self.subscribe()
        slave = RecordingPeer(self.network, UPID("slave(1)", "127.0.0.1", 5051))
        task = internal.Task(
            name="t", task_id=mesos_pb2.TaskID(value="t1"),
            framework_id=mesos_pb2.FrameworkID(value="F-before"),
            slave_id=mesos_pb2.SlaveID(value="S-before"), state=mesos_pb2.TASK_RUNNING,
            resources=slave_info("cpus:1;mem:128").resources)
        slave.send(MASTER, internal.ReregisterSlaveMessage(
            slave_id=mesos_pb2.SlaveID(value="S-before"), slave=slave_info(), tasks=[task]))
        self.turn()
        events = request.events(Event.FromString)
        self.assertEqual(self.kinds(request), ["SUBSCRIBED", "HEARTBEAT", "TASK_ADDED",
                                               "AGENT_ADDED"])
        self.assertEqual((events[2].task_added.task.task_id.value,
                          events[2].task_added.task.state), ("t1", mesos_pb2.TASK_RUNNING))

    def test_heartbeat(self):
        """
        A HEARTBEAT every 15 s.
        """
        request = self.subscribe()
        self.clock.advance(15)
        self.clock.advance(15)
        self.assertEqual(self.kinds(request),
                         ["SUBSCRIBED", "HEARTBEAT", "HEARTBEAT", "HEARTBEAT"])

    def test_stream_ends_with_term(self):
        """
        When the master stops leading the stream ends (the subscriber
        subscribes again with the new leader).
        """
        request = self.subscribe()
        self.master.stop()
        self.assertEqual(self.successResultOf(request.result), b"")
        self.assertEqual(self.api.subscriptions, [])


class LegacyEndpointTests(OperatorTestCase):
    """
    Mesos's older endpoints: C{/master/teardown}, C{/master/roles},
    C{/master/weights}.
    """

    def setUp(self):
        super().setUp()
        self.http = StubTreq(MasterHTTP(SoleMaster(self.master)).resource())

    def fetch(self, method, path, **kwargs):
        """
        C{(code, body)} of a request to the master's app.
        """
        response = self.successResultOf(self.http.request(method, "http://master" + path,
                                                          **kwargs))
        return response.code, self.successResultOf(response.content())

    def test_teardown(self):
        """
        POST C{/master/teardown} with C{frameworkId} removes it; without it,
        or for an unknown one, a 400 says why.
        """
        _, framework_id = self.add_framework()
        code, _ = self.fetch("POST", "/master/teardown", data={"frameworkId": framework_id})
        self.assertEqual((code, self.master.frameworks), (200, {}))
        code, body = self.fetch("POST", "/master/teardown", data={"frameworkId": framework_id})
        self.assertEqual(code, 400)
        self.assertIn(b"No framework found with specified ID", body)
        self.assertEqual(self.fetch("POST", "/master/teardown")[0], 400)

    def test_roles_and_weights(self):
        """
        C{/master/roles} lists roles with their frameworks; C{PUT
        /master/weights} sets weights that C{/master/weights} reports.
        """
        _, framework_id = self.add_framework()
        code, _ = self.fetch("PUT", "/master/weights",
                             data=json.dumps([{"role": "*", "weight": 3}]))
        self.assertEqual(code, 200)
        self.assertEqual(json.loads(self.fetch("GET", "/master/weights")[1]),
                         [{"role": "*", "weight": 3.0}])
        roles = json.loads(self.fetch("GET", "/master/roles")[1])["roles"]
        self.assertEqual([(r["name"], r["weight"], r["frameworks"]) for r in roles],
                         [("*", 3.0, [framework_id])])
        code, body = self.fetch("PUT", "/master/weights", data=b"[{\"role\": \"x\"}]")
        self.assertEqual(code, 400)
