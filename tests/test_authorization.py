"""
Authorization: Mesos's ACLs, the authorizer suite run against the local
authorizer and one that answers late, and the master's and slave's
enforcement, after Mesos's C{MasterAuthorizationTest} and C{TeardownTest}
(src/tests/master_authorization_tests.cpp, teardown_tests.cpp).
"""

import base64
import json
import os

from treq.testing import StubTreq
from twisted.trial.unittest import SynchronousTestCase
from twisted.python.usage import UsageError

from mesos_tw.authorization.acls import ACLError, parse_acls
from mesos_tw.authorization.interfaces import authorizer_factory
from mesos_tw.authorization.local import LocalAuthorizer
from mesos_tw.detector import StandaloneDetector
from mesos_tw.master import tap as master_tap
from mesos_tw.master.election import SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave.http import SlaveHTTP
from mesos_tw.slave.slave import Slave
from mesos_tw.testing.authorization import (
    LateAuthorizer, late_authorizer, local_authorizer, make_iauthorizer_tests)
from mesos_tw.testing.isolation import FakeIsolator
from mesos_tw.testing.master import MASTER, MasterTestCase, task_info
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.web.authentication import guarded, master_realm, slave_realm

CREDENTIALS = mesos_pb2.Credentials(credentials=[
    mesos_pb2.Credential(principal=name, secret=f"{name}-secret")
    for name in ("ops", "fw", "viewer", "stranger")])

ACLS = {
    "permissive": False,
    "register_frameworks": [
        {"principals": {"values": ["fw"]}, "roles": {"values": ["prod", "*"]}}],
    "run_tasks": [{"principals": {"values": ["fw"]}, "users": {"values": ["alice"]}}],
    "teardown_frameworks": [
        {"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}}],
    "view_frameworks": [{"principals": {"values": ["ops", "viewer"]},
                         "users": {"type": "ANY"}}],
    "view_tasks": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}],
    "view_executors": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}],
    "access_sandboxes": [{"principals": {"values": ["ops"]}, "users": {"values": ["alice"]}}],
    "view_flags": [{"principals": {"values": ["ops"]}, "flags": {"type": "ANY"}}],
    "get_endpoints": [{"principals": {"values": ["ops"]},
                       "paths": {"values": ["/metrics/snapshot", "/monitor/statistics"]}}],
}


def basic(principal):
    """
    HTTP Basic credentials of one of the test principals.
    """
    return {"Authorization": "Basic " + base64.b64encode(
        f"{principal}:{principal}-secret".encode()).decode()}


class LocalAuthorizerTests(make_iauthorizer_tests(local_authorizer)):
    """
    Mesos's local authorizer passes the shared suite.
    """


class LateAuthorizerTests(make_iauthorizer_tests(late_authorizer, settle=LateAuthorizer.release)):
    """
    The late authorizer (the fake that answers only when released) passes
    it too.
    """


class ACLParsingTests(SynchronousTestCase):
    """
    C{--acls} in Mesos's JSON.
    """

    def test_file_and_text(self):
        """
        The JSON itself, a path, or a C{file://} URL.
        """
        text = json.dumps(ACLS)
        path = self.mktemp()
        with open(path, "w") as file:
            file.write(text)
        for value in (text, path, "file://" + path):
            acls = parse_acls(value)
            self.assertFalse(acls.permissive)
            self.assertEqual(len(acls.rules["register_frameworks"]), 1)

    def test_errors(self):
        """
        Each malformed part is named.
        """
        cases = {
            "{": "not JSON",
            "[]": "must be a JSON object",
            '{"permissive": "yes"}': "permissive must be true or false",
            '{"launch_rockets": []}': "unknown action 'launch_rockets'",
            '{"run_tasks": {}}': "run_tasks must be a list",
            '{"run_tasks": [{"principals": {"values": ["a"]}, "roles": {}}]}':
                "run_tasks[0] has unknown field(s) roles",
            '{"run_tasks": [{"principals": {"values": "a"}}]}':
                "run_tasks[0].principals.values must be a list of strings",
            '{"run_tasks": [{"users": {"type": "SOMETIMES"}}]}':
                "run_tasks[0].users.type must be ANY or NONE",
            "/nonexistent/acls.json": "cannot read",
        }
        for text, message in cases.items():
            with self.assertRaises(ACLError) as caught:
                parse_acls(text)
            self.assertIn(message, str(caught.exception), text)

    def test_flags(self):
        """
        C{--acls} and C{--authorizers} on the master: the local authorizer
        with ACLs, none without, a clear error for bad values.
        """
        options = master_tap.Options(environ={})
        options.parseOptions(["--port=0", "--acls=" + json.dumps(ACLS)])
        self.assertIsInstance(options["authorizer"], LocalAuthorizer)
        options = master_tap.Options(environ={})
        options.parseOptions(["--port=0"])
        self.assertIsNone(options["authorizer"])
        for argv, message in ((["--acls={"], "invalid value for --acls: not JSON"),
                              (["--authorizers=opa"], "Authorizer 'opa' not found")):
            with self.assertRaises(UsageError) as caught:
                master_tap.Options(environ={}).parseOptions(["--port=0", *argv])
            self.assertIn(message, str(caught.exception))
        self.assertEqual(authorizer_factory("local").name, "local")


class MasterAuthorizationTests(MasterTestCase):
    """
    Mesos's C{MasterAuthorizationTest}: registrations and launches under
    ACLs.
    """

    def setUp(self):
        super().setUp()
        self.master.authorizer = LocalAuthorizer(parse_acls(json.dumps(ACLS)))

    def register(self, principal="fw", role=None, name="scheduler-1"):
        """
        A recording scheduler registering with C{principal} and C{role}.
        """
        scheduler = RecordingPeer(self.network, UPID(name, "127.0.0.1", 0))
        info = mesos_pb2.FrameworkInfo(user="alice", name=name, principal=principal)
        if role is not None:
            info.role = role
        scheduler.send(MASTER, internal.RegisterFrameworkMessage(framework=info))
        self.turn()
        return scheduler

    def test_authorized_role(self):
        """
        A principal allowed the role registers.
        """
        scheduler = self.register(role="prod")
        self.assertEqual(len(scheduler.of(internal.FrameworkRegisteredMessage)), 1)

    def test_unauthorized_role(self):
        """
        A role the ACLs do not allow the principal is refused with an error
        saying so, and nothing registers.
        """
        scheduler = self.register(role="dev")
        self.assertEqual(scheduler.last(internal.FrameworkErrorMessage).message,
                         "Not authorized to register framework with roles { dev }")
        self.assertEqual(self.master.frameworks, {})
        stranger = self.register(principal="stranger", name="scheduler-2")
        self.assertEqual(len(stranger.of(internal.FrameworkErrorMessage)), 1)

    def launch_as(self, user):
        """
        Register a slave and the framework, and launch one task as C{user}
        (the framework's user when L{None}).
        """
        slave, slave_id = self.add_slave()
        scheduler = self.register()
        framework_id = scheduler.last(internal.FrameworkRegisteredMessage).framework_id.value
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        task = task_info("t1", slave_id)
        if user is not None:
            task.command.user = user
        self.launch(scheduler, framework_id, offer, [task])
        return slave, scheduler

    def test_authorized_task(self):
        """
        A task run as a user the principal may use reaches its slave.
        """
        slave, scheduler = self.launch_as(None)
        self.assertEqual(slave.last(internal.RunTaskMessage).task.task_id.value, "t1")
        self.assertEqual(self.updates(scheduler), [])

    def test_unauthorized_task(self):
        """
        A task run as another user ends TASK_ERROR with
        REASON_TASK_UNAUTHORIZED and a message naming the user; the slave
        never hears of it and the offer's resources are offered again.
        """
        slave, scheduler = self.launch_as("root")
        self.assertEqual(slave.of(internal.RunTaskMessage), [])
        update = scheduler.last(internal.StatusUpdateMessage).update.status
        self.assertEqual((update.state, update.reason),
                         (mesos_pb2.TASK_ERROR, mesos_pb2.TaskStatus.REASON_TASK_UNAUTHORIZED))
        self.assertIn("Not authorized to launch task t1", update.message)
        self.assertIn("under user 'root'", update.message)
        offers = len(scheduler.of(internal.ResourceOffersMessage))
        self.clock.advance(6)
        self.turn()
        self.assertGreater(len(scheduler.of(internal.ResourceOffersMessage)), offers)

    def test_late_authorizer(self):
        """
        With an authorizer that answers late, the launch waits for it, and
        then goes as it says.
        """
        late = LateAuthorizer(parse_acls(json.dumps(ACLS)))
        self.master.authorizer = late
        slave, slave_id = self.add_slave()
        scheduler = self.register()
        late.release()
        self.turn()
        framework_id = scheduler.last(internal.FrameworkRegisteredMessage).framework_id.value
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, framework_id, offer, [task_info("t1", slave_id)])
        self.assertEqual(slave.of(internal.RunTaskMessage), [])
        late.release()
        self.turn()
        self.assertEqual(len(slave.of(internal.RunTaskMessage)), 1)


class MasterEndpointAuthorizationTests(MasterTestCase):
    """
    Reads and teardowns under ACLs, through the HTTP endpoints with Basic
    authentication (Mesos's C{FilterStateEndpoint} and C{TeardownTest}).
    """

    def setUp(self):
        super().setUp()
        authorizer = LocalAuthorizer(parse_acls(json.dumps(ACLS)))
        self.master.authorizer = authorizer
        self.add_slave()
        scheduler = RecordingPeer(self.network, UPID("scheduler-1", "127.0.0.1", 0))
        scheduler.send(MASTER, internal.RegisterFrameworkMessage(framework=mesos_pb2.FrameworkInfo(
            user="alice", name="f", principal="fw")))
        self.turn()
        self.framework_id = scheduler.last(internal.FrameworkRegisteredMessage).framework_id.value
        offer = scheduler.last(internal.ResourceOffersMessage).offers[0]
        self.launch(scheduler, self.framework_id, offer,
                    [task_info("t1", offer.slave_id.value)])
        self.client = StubTreq(guarded(
            MasterHTTP(SoleMaster(self.master), {"flags": {"port": "5050"}},
                       authorizer=authorizer).resource(),
            CREDENTIALS, {"readonly", "readwrite"}, "mesos-master", master_realm))

    def get(self, path, principal, method="GET", **kwargs):
        """
        C{(code, body)} of a request as C{principal}.
        """
        response = self.successResultOf(self.client.request(
            method, "http://master" + path, headers=basic(principal), **kwargs))
        return response.code, self.successResultOf(response.content())

    def test_filter_state_endpoint(self):
        """
        The state shows each principal only what the ACLs let it see: all
        of it to ops, the framework without tasks or executors to viewer,
        no framework to fw.
        """
        def seen(principal):
            code, body = self.get("/master/state", principal)
            self.assertEqual(code, 200)
            return [(f["id"], len(f["tasks"])) for f in json.loads(body)["frameworks"]]

        self.assertEqual(seen("ops"), [(self.framework_id, 1)])
        self.assertEqual(seen("viewer"), [(self.framework_id, 0)])
        self.assertEqual(seen("fw"), [])
        for path in ("/master/frameworks", "/master/state-summary"):
            self.assertEqual(json.loads(self.get(path, "fw")[1])["frameworks"], [])
        self.assertEqual(json.loads(self.get("/master/tasks", "viewer")[1])["tasks"], [])
        self.assertEqual(len(json.loads(self.get("/master/tasks", "ops")[1])["tasks"]), 1)

    def test_flags_metrics_and_sandboxes(self):
        """
        The flags and the metrics are a 403 saying so for principals the
        ACLs do not name.
        """
        self.assertEqual(self.get("/master/flags", "ops")[0], 200)
        self.assertEqual(self.get("/master/flags", "fw"),
                         (403, b"Not authorized to view flags\n"))
        self.assertEqual(self.get("/metrics/snapshot", "ops")[0], 200)
        self.assertEqual(self.get("/metrics/snapshot", "fw")[0], 403)

    def test_teardown_good_and_bad_acls(self):
        """
        Mesos's C{TeardownTest.GoodACLs} and C{BadACLs}: ops may tear the
        framework down; fw may not (403), and the framework stays.
        """
        code, _ = self.get("/master/teardown", "fw", method="POST",
                           data={"frameworkId": self.framework_id})
        self.assertEqual(code, 403)
        self.assertIn(self.framework_id, self.master.frameworks)
        code, _ = self.get("/master/teardown", "ops", method="POST",
                           data={"frameworkId": self.framework_id})
        self.assertEqual(code, 200)
        self.assertEqual(self.master.frameworks, {})


class SlaveEndpointAuthorizationTests(SynchronousTestCase):
    """
    The slave's sandboxes, flags and statistics under ACLs.
    """

    def setUp(self):
        from twisted.internet.task import Clock

        from mesos_tw.testing.network import MemoryNetwork

        clock = Clock()
        work_dir = os.path.abspath(self.mktemp())
        self.sandbox = os.path.join(work_dir, "slaves", "S1", "frameworks", "F1", "executors",
                                    "e1", "runs", "r1")
        os.makedirs(self.sandbox)
        with open(os.path.join(self.sandbox, "stdout"), "w") as file:
            file.write("hello\n")
        slave = Slave(clock, MemoryNetwork(clock).node(UPID("slave(1)", "127.0.0.1", 5051)),
                      StandaloneDetector(MASTER), FakeIsolator(clock), work_dir,
                      Resources.parse("cpus:1;mem:64"))
        self.client = StubTreq(guarded(
            SlaveHTTP(slave, authorizer=LocalAuthorizer(parse_acls(json.dumps(ACLS)))).resource(),
            CREDENTIALS, {"readonly"}, "mesos-agent", slave_realm))

    def get(self, path, principal):
        """
        The status of a GET as C{principal}.
        """
        response = self.successResultOf(self.client.get("http://slave" + path,
                                                        headers=basic(principal)))
        self.successResultOf(response.content())
        return response.code

    def test_sandbox_flags_statistics(self):
        """
        A sandbox of a framework the slave does not know is asked about as
        any user: ops may not read it (its rule names alice), nor may fw;
        flags and statistics are ops's alone.
        """
        stdout = f"{self.sandbox}/stdout"
        self.assertEqual(self.get(f"/files/read?path={stdout}", "fw"), 403)
        self.assertEqual(self.get(f"/files/download?path={stdout}", "fw"), 403)
        self.assertEqual(self.get(f"/files/browse?path={self.sandbox}", "fw"), 403)
        self.assertEqual(self.get("/slave(1)/flags", "ops"), 200)
        self.assertEqual(self.get("/slave(1)/flags", "fw"), 403)
        self.assertEqual(self.get("/monitor/statistics", "ops"), 200)
        self.assertEqual(self.get("/monitor/statistics", "fw"), 403)
