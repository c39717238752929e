"""
HTTP authentication of the master's and slave's endpoints (Basic, by
realm), Mesos's C{/master/teardown} (C{TeardownTest}'s credential cases),
the v1 scheduler API's principal check, and executors' secrets on the v1
executor API.
"""

import base64
from types import SimpleNamespace

from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.master.election import SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master.master import Master
from mesos_tw.master.scheduler_api import SchedulerAPI
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.executor_pb2 import Call as ExecutorCall
from mesos_tw.protocols.scheduler_pb2 import Call
from mesos_tw.protocols.upid import UPID
from mesos_tw.slave.executor_api import ExecutorAPI
from mesos_tw.slave.executor_secrets import ExecutorSecrets
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.peers import RecordingPeer
from mesos_tw.testing.v1 import CallRequest
from mesos_tw.web.authentication import guarded, master_realm, slave_realm
from mesos_tw.web.v1 import PROTOBUF, encode

MASTER = UPID("master", "127.0.0.1", 5050)
SCHEDULER = UPID("scheduler-1", "127.0.0.1", 0)
CREDENTIALS = mesos_pb2.Credentials(credentials=[
    mesos_pb2.Credential(principal="ops", secret="ops-secret"),
    mesos_pb2.Credential(principal="fw", secret="fw-secret")])


def basic(principal, secret):
    """
    An C{Authorization} header value for HTTP Basic.
    """
    return "Basic " + base64.b64encode(f"{principal}:{secret}".encode()).decode()


class MasterHTTPAuthenticationTests(SynchronousTestCase):
    """
    A master whose read-only and read-write endpoints ask for credentials,
    with one framework registered.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.master = Master(self.clock, self.network.node(MASTER))
        self.master.start()
        self.addCleanup(self.master.stop)
        scheduler = RecordingPeer(self.network, SCHEDULER)
        scheduler.send(MASTER, internal.RegisterFrameworkMessage(
            framework=mesos_pb2.FrameworkInfo(user="u", name="f", principal="fw")))
        self.clock.advance(0)
        (self.framework_id,) = self.master.frameworks
        resource = guarded(MasterHTTP(SoleMaster(self.master)).resource(), CREDENTIALS,
                           {"readonly", "readwrite"}, "mesos-master", master_realm)
        self.client = StubTreq(resource)

    def request(self, method, path, authorization=None, **kwargs):
        """
        C{(code, headers, body)} of a request.
        """
        headers = {} if authorization is None else {"Authorization": authorization}
        response = self.successResultOf(self.client.request(
            method, "http://master" + path, headers=headers, **kwargs))
        return response.code, response.headers, self.successResultOf(response.content())

    def test_readonly_needs_credentials(self):
        """
        The state without credentials, or with bad ones, is a 401 naming
        the realm and asking for Basic; with good ones a 200.  Health and
        the UI's static files are open.
        """
        code, headers, body = self.request("GET", "/master/state")
        self.assertEqual(code, 401)
        self.assertEqual(headers.getRawHeaders("www-authenticate"),
                         ['Basic realm="mesos-master-readonly"'])
        self.assertIn(b"Authentication required", body)
        for bad in (basic("ops", "wrong"), basic("nobody", "ops-secret"), "Basic !!!",
                    "Bearer ops-secret"):
            code, _, body = self.request("GET", "/master/state", bad)
            self.assertEqual(code, 401, bad)
        self.assertIn(b"Invalid credentials", body)
        self.assertEqual(self.request("GET", "/master/state", basic("ops", "ops-secret"))[0],
                         200)
        self.assertEqual(self.request("GET", "/health")[0], 200)
        self.assertEqual(self.request("GET", "/")[0], 401)

    def test_teardown_bad_credentials(self):
        """
        Mesos's C{TeardownTest.BadCredentials}: a teardown with bad
        credentials is a 401 and the framework stays.
        """
        code, headers, _ = self.request("POST", "/master/teardown", basic("ops", "nope"),
                                        data={"frameworkId": self.framework_id})
        self.assertEqual(code, 401)
        self.assertEqual(headers.getRawHeaders("www-authenticate"),
                         ['Basic realm="mesos-master-readwrite"'])
        self.assertIn(self.framework_id, self.master.frameworks)

    def test_teardown(self):
        """
        An authenticated teardown removes the framework; without an id or
        with an unknown one it is a 400 saying so.
        """
        code, _, body = self.request("POST", "/master/teardown", basic("ops", "ops-secret"))
        self.assertEqual((code, body), (400, b"Missing 'frameworkId' query parameter in the "
                                             b"request body\n"))
        code, _, body = self.request("POST", "/master/teardown", basic("ops", "ops-secret"),
                                     data={"frameworkId": "nope"})
        self.assertEqual((code, body), (400, b"No framework found with specified ID\n"))
        code, _, _ = self.request("POST", "/master/teardown", basic("ops", "ops-secret"),
                                  data={"frameworkId": self.framework_id})
        self.assertEqual(code, 200)
        self.assertEqual(self.master.frameworks, {})


class SchedulerPrincipalTests(SynchronousTestCase):
    """
    With C{--authenticate_http_frameworks}, a v1 framework's calls must be
    authenticated as its C{FrameworkInfo.principal}.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.trusted = {}
        leading = SimpleNamespace(pid=MASTER, trust=self.trusted.__setitem__)
        self.api = SchedulerAPI(self.clock, SoleMaster(leading), self.network.node)

    def subscribe(self, principal, authenticated):
        """
        A SUBSCRIBE of a framework with C{principal}, authenticated as
        C{authenticated} (what the authenticating resource sets).
        """
        call = Call(type=Call.SUBSCRIBE, subscribe=Call.Subscribe(
            framework_info=mesos_pb2.FrameworkInfo(user="u", name="f", principal=principal)))
        request = CallRequest(encode(call, PROTOBUF), PROTOBUF, {"Accept": PROTOBUF})
        request.principal = authenticated
        body = self.api.handle(request)
        return request, body

    def test_mismatched_principal(self):
        """
        A framework authenticated as another principal is a 403 with
        Mesos's message, and nothing subscribes.
        """
        request, body = self.subscribe("fw", "ops")
        self.assertEqual(request.responseCode, 403)
        self.assertIn(b"Authenticated principal 'ops' does not match principal 'fw' set in "
                      b"`FrameworkInfo`", body)
        self.assertEqual((self.api.subscriptions, self.trusted), ({}, {}))

    def test_matching_principal(self):
        """
        The framework's own principal subscribes; the master is told to
        trust the subscription as that principal.
        """
        request, _ = self.subscribe("fw", "fw")
        self.assertEqual(request.responseCode, 200)
        (subscription,) = self.api.subscriptions.values()
        self.assertEqual(self.trusted, {subscription.upid: "fw"})


class ExecutorSecretTests(SynchronousTestCase):
    """
    With C{--authenticate_http_executors}, an executor's calls need its own
    token.
    """

    def setUp(self):
        self.clock = Clock()
        self.network = MemoryNetwork(self.clock)
        self.secrets = ExecutorSecrets(b"k" * 32)
        slave = SimpleNamespace(
            pid=UPID("slave(1)", "127.0.0.1", 5051), id="S1", executor_secrets=self.secrets,
            frameworks={"F1": SimpleNamespace(executors={
                "e1": SimpleNamespace(run_id="r1"), "e2": SimpleNamespace(run_id="r2")})})
        self.api = ExecutorAPI(self.clock, slave, self.network.node)

    def call(self, authorization):
        """
        An UPDATE-less MESSAGE call of executor e1 with C{authorization}.
        """
        call = ExecutorCall(type=ExecutorCall.MESSAGE,
                            framework_id=mesos_pb2.FrameworkID(value="F1"),
                            executor_id=mesos_pb2.ExecutorID(value="e1"),
                            message=ExecutorCall.Message(data=b"hi"))
        headers = {} if authorization is None else {"Authorization": authorization}
        request = CallRequest(encode(call, PROTOBUF), PROTOBUF, headers,
                              path=b"/api/v1/executor")
        body = self.api.handle(request)
        return request.responseCode, request.responseHeaders, body

    def test_tokens(self):
        """
        No token, or another executor's, is a 401 asking for a Bearer token;
        its own token gets past authentication (to the next check: it has
        not subscribed, a 403).
        """
        code, headers, body = self.call(None)
        self.assertEqual(code, 401)
        self.assertEqual(headers.getRawHeaders(b"www-authenticate"),
                         [b'Bearer realm="mesos-agent-executor"'])
        self.assertIn(b"needs executor e1's token", body)
        other = self.secrets.token("F1", "e2")
        self.assertEqual(self.call("Bearer " + other)[0], 401)
        own = self.secrets.token("F1", "e1")
        self.assertEqual(self.call("Bearer " + own)[0], 403)

    def test_token_is_stable_and_distinct(self):
        """
        A key makes the same token for an executor each time, different
        ones for different executors or keys.
        """
        self.assertEqual(self.secrets.token("F1", "e1"), self.secrets.token("F1", "e1"))
        self.assertNotEqual(self.secrets.token("F1", "e1"), self.secrets.token("F1", "e2"))
        self.assertNotEqual(ExecutorSecrets().token("F1", "e1"), self.secrets.token("F1", "e1"))


class RealmTests(SynchronousTestCase):
    """
    Which endpoints are in which realm.
    """

    def test_realms(self):
        """
        Health, the redirect, the version and static files are open; the
        v1 scheduler API is the frameworks'; teardown read-write; the rest
        read-only.  On a slave the v1 executor API uses executors' tokens.
        """
        self.assertEqual(
            [master_realm(p) for p in (b"/health", b"/master/redirect", b"/static/a.css",
                                       b"/api/v1/scheduler", b"/master/teardown",
                                       b"/master/state", b"/slaves/S1/browse")],
            [None, None, None, "framework", "readwrite", "readonly", "readonly"])
        self.assertEqual(
            [slave_realm(p) for p in (b"/health", b"/api/v1/executor", b"/files/download",
                                      b"/slave(1)/state")],
            [None, None, "readonly", "readonly"])
