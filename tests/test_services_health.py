"""
Tests for L{mesos_tw.services.health}: Marathon's own health checks (HTTP,
HTTPS, TCP), run by the service scheduler, on a fake clock with probes the
test answers; the real probe against real servers on this machine; and the
scheduler using several checks per app, as Marathon does.
"""

import http.server
import socket
import ssl
import threading

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from mesos_tw.protocols import mesos_pb2
from mesos_tw.resources import Resources
from mesos_tw.services.apps import InvalidApp, parse_app
from mesos_tw.services.health import MarathonHealthChecks, probe
from mesos_tw.services.instances import Instance
from mesos_tw.services.scheduler import ServiceScheduler
from mesos_tw.services.store import MemoryStore
from mesos_tw.testing.certificates import CertificateAuthority
from mesos_tw.testing.drivers import RecordingSchedulerDriver


def check(protocol="HTTP", **fields):
    """
    A Marathon health check as an app definition holds it (defaults
    filled in).
    """
    [parsed] = parse_app({"id": "/web", "cmd": "serve", "healthChecks": [
        {"protocol": protocol, **fields}]})["healthChecks"]
    return parsed


def instance(task_id="web.1", started_at=0.0):
    """
    A running instance on 127.0.0.1, port 31000.
    """
    return Instance(task_id=task_id, app_id="/web", version="v1", slave_id="S1",
                    host="127.0.0.1", ports=[31000], attributes={}, staged_at=0.0,
                    state="TASK_RUNNING", started_at=started_at)


class ScriptedProbes:
    """
    Probes whose attempts the test answers, in order.

    @ivar attempts: C{(check, host, port, Deferred)} not yet answered.
    """

    def __init__(self):
        self.attempts = []

    def __call__(self, clock, check, host, port):
        d = Deferred()
        self.attempts.append((check, host, port, d))
        return d

    def answer(self, ok, cause=None):
        """
        The oldest attempt ends, passing or failing for C{cause}.
        """
        self.attempts.pop(0)[3].callback((ok, cause))


class MarathonHealthChecksTests(SynchronousTestCase):
    """
    L{MarathonHealthChecks}: when attempts are made, what their results
    mean, and when an instance is to be killed.
    """

    def setUp(self):
        self.clock = Clock()
        self.probes = ScriptedProbes()
        self.changes = []
        self.kills = []
        self.checks = MarathonHealthChecks(
            self.clock, self.changes.append,
            lambda instance, why: self.kills.append((instance.task_id, why)), self.probes)

    def test_attempts_every_interval(self):
        """
        The first attempt comes C{intervalSeconds} after tracking, on the
        instance's host and the port its C{portIndex} names; the next one
        an interval after the last ended.
        """
        web = instance()
        self.checks.track(web, [(0, check(intervalSeconds=5))])
        self.checks.track(web, [(0, check(intervalSeconds=5))])
        self.clock.advance(4.9)
        self.assertEqual(self.probes.attempts, [])
        self.clock.advance(0.1)
        [(_, host, port, _)] = self.probes.attempts
        self.assertEqual((host, port), ("127.0.0.1", 31000))
        self.clock.advance(10)
        self.probes.answer(True)
        self.clock.advance(4.9)
        self.assertEqual(self.probes.attempts, [])
        self.clock.advance(0.1)
        self.assertEqual(len(self.probes.attempts), 1)

    def test_results(self):
        """
        Each result is kept as Marathon's C{healthCheckResults} entry; the
        instance is alive when every check passed last time, not when one
        failed, unknown while one has not answered.
        """
        web = instance()
        self.checks.track(web, [(0, check(intervalSeconds=1, gracePeriodSeconds=0)),
                                (1, check("TCP", intervalSeconds=1, gracePeriodSeconds=0))])
        self.clock.advance(1)
        self.assertIsNone(self.checks.alive("web.1"))
        self.probes.answer(True)
        self.assertIsNone(self.checks.alive("web.1"))
        self.probes.answer(False, "Connection refused")
        self.assertIs(self.checks.alive("web.1"), False)
        [http, tcp] = self.checks.results("web.1")
        self.assertEqual(http, {"taskId": "web.1", "alive": True, "consecutiveFailures": 0,
                                "firstSuccess": "1970-01-01T00:00:01.000Z",
                                "lastSuccess": "1970-01-01T00:00:01.000Z",
                                "lastFailure": None, "lastFailureCause": None})
        self.assertEqual((tcp["alive"], tcp["consecutiveFailures"], tcp["lastFailureCause"]),
                         (False, 1, "Connection refused"))
        self.assertEqual(self.changes, [web, web])
        self.clock.advance(1)
        self.probes.answer(True)
        self.probes.answer(True)
        self.assertIs(self.checks.alive("web.1"), True)

    def test_grace_period(self):
        """
        Failures before the first success, within C{gracePeriodSeconds} of
        the instance's start, are ignored; later ones count.
        """
        self.checks.track(instance(started_at=0), [(0, check(
            intervalSeconds=4, gracePeriodSeconds=10, maxConsecutiveFailures=1))])
        for _ in range(2):
            self.clock.advance(4)
            self.probes.answer(False, "refused")
        self.assertEqual((self.changes, self.kills, self.checks.results("web.1")), ([], [], []))
        self.clock.advance(4)
        self.probes.answer(False, "refused")
        self.assertEqual(self.kills, [("web.1", "HTTP health check failed 1 times in a row: "
                                                "refused")])

    def test_consecutive_failures_kill(self):
        """
        After C{maxConsecutiveFailures} failures in a row the instance is
        to be killed, and checked no more; a success in between starts the
        count again; 0 never kills.
        """
        self.checks.track(instance("web.1"), [(0, check(
            intervalSeconds=1, gracePeriodSeconds=0, maxConsecutiveFailures=2))])
        self.checks.track(instance("web.2"), [(0, check(
            intervalSeconds=1, gracePeriodSeconds=0, maxConsecutiveFailures=0))])
        for ok in (False, True, False):
            self.clock.advance(1)
            self.probes.answer(ok, "refused")
            self.probes.answer(False, "refused")
        self.assertEqual(self.kills, [])
        self.clock.advance(1)
        self.probes.answer(False, "refused")
        self.probes.answer(False, "refused")
        self.assertEqual([task_id for task_id, _ in self.kills], ["web.1"])
        self.clock.advance(1)
        self.assertEqual([host for _, host, _, _ in self.probes.attempts], ["127.0.0.1"])
        self.assertEqual(self.checks.results("web.1"), [])

    def test_timeout(self):
        """
        An attempt that outlives C{timeoutSeconds} fails (and is cancelled).
        """
        self.checks.track(instance(), [(0, check(
            intervalSeconds=1, timeoutSeconds=2, gracePeriodSeconds=0))])
        self.clock.advance(1)
        [(_, _, _, attempt)] = self.probes.attempts
        self.clock.advance(2)
        [result] = self.checks.results("web.1")
        self.assertEqual((result["alive"], attempt.called), (False, True))

    def test_forget_and_stop(self):
        """
        A forgotten instance is checked no more (its attempt under way is
        cancelled, its result ignored); stopping forgets every one.
        """
        self.checks.track(instance("web.1"), [(0, check(intervalSeconds=1))])
        self.checks.track(instance("web.2"), [(0, check(intervalSeconds=1))])
        self.clock.advance(1)
        self.checks.forget("web.1")
        self.assertTrue(self.probes.attempts[0][3].called)
        self.checks.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.changes, [])


def web(**fields):
    """
    A one-instance C{/web} with C{fields}.
    """
    return parse_app({"id": "web", "cmd": "serve", "cpus": 0.5, "mem": 64, "instances": 1,
                      **fields})


class SchedulerHealthTests(SynchronousTestCase):
    """
    The scheduler with several health checks per app, as Marathon.
    """

    def setUp(self):
        self.clock = Clock()
        self.driver = RecordingSchedulerDriver()
        self.probes = ScriptedProbes()
        numbers = iter(range(1, 1000))
        self.scheduler = ServiceScheduler(self.clock, MemoryStore(), None,
                                          new_task_id=lambda app_id: f"web.{next(numbers)}",
                                          health_probe=self.probes)
        self.scheduler.registered(self.driver, mesos_pb2.FrameworkID(value="F"),
                                  mesos_pb2.MasterInfo(id="m", ip=0, port=5050))

    def test_at_most_one_mesos_check(self):
        """
        Marathon's rule: any number of HTTP, HTTPS and TCP checks, at most
        one Mesos check (MESOS_HTTP, MESOS_HTTPS, MESOS_TCP, COMMAND).
        """
        web(healthChecks=[{"protocol": "HTTP"}, {"protocol": "TCP"}, {"protocol": "HTTPS"},
                          {"protocol": "MESOS_TCP"}])
        with self.assertRaises(InvalidApp) as raised:
            web(healthChecks=[{"protocol": "MESOS_HTTP"},
                              {"protocol": "COMMAND", "command": {"value": "true"}}])
        self.assertEqual(raised.exception.args[0], [
            {"path": "/", "errors": ["AppDefinition can contain at most one Mesos health check"]}])

    def offer(self):
        """
        Offer a slave on 127.0.0.1 with one port; the tasks launched.
        """
        before = len(self.driver.launched)
        self.scheduler.resourceOffers(self.driver, [mesos_pb2.Offer(
            id=mesos_pb2.OfferID(value="O1"), framework_id=mesos_pb2.FrameworkID(value="F"),
            slave_id=mesos_pb2.SlaveID(value="S1"), hostname="127.0.0.1",
            resources=Resources.parse("cpus:1;mem:128;ports:[31000-31000]").to_protobuf())])
        return [task for _, tasks, _ in self.driver.launched[before:] for task in tasks]

    def launch_and_run(self, checks):
        """
        Create C{/web} with C{checks}, offer it a slave and have its
        instance run; the instance.
        """
        self.scheduler.create(web(healthChecks=checks))
        self.offer()
        self.scheduler.statusUpdate(self.driver, mesos_pb2.TaskStatus(
            task_id=mesos_pb2.TaskID(value="web.1"), state=mesos_pb2.TASK_RUNNING))
        return self.scheduler.apps["/web"].instances["web.1"]

    def test_healthy_when_every_check_passes(self):
        """
        An instance with a Mesos check and two Marathon checks is healthy
        only when all three say so; its task shows every result.
        """
        running = self.launch_and_run([
            {"protocol": "MESOS_TCP", "gracePeriodSeconds": 0},
            {"protocol": "HTTP", "path": "/a", "intervalSeconds": 1, "gracePeriodSeconds": 0},
            {"protocol": "TCP", "intervalSeconds": 1, "gracePeriodSeconds": 0}])
        self.assertIsNone(running.healthy)
        self.clock.advance(1)
        self.assertEqual([(c["protocol"], port) for c, _, port, _ in self.probes.attempts],
                         [("HTTP", 31000), ("TCP", 31000)])
        self.probes.answer(True)
        self.probes.answer(True)
        self.assertIsNone(running.healthy)
        self.scheduler.statusUpdate(self.driver, mesos_pb2.TaskStatus(
            task_id=mesos_pb2.TaskID(value="web.1"), state=mesos_pb2.TASK_RUNNING,
            healthy=True))
        self.assertIs(running.healthy, True)
        results = running.to_json(True)["healthCheckResults"]
        self.assertEqual([r["alive"] for r in results], [True, True, True])
        self.assertEqual(self.scheduler.apps["/web"].counts()["tasksHealthy"], 1)

    def test_failing_marathon_check_kills_and_replaces(self):
        """
        An instance whose Marathon check fails C{maxConsecutiveFailures}
        times in a row is unhealthy, then killed, then replaced.
        """
        running = self.launch_and_run([
            {"protocol": "HTTP", "intervalSeconds": 1, "gracePeriodSeconds": 0,
             "maxConsecutiveFailures": 2}])
        self.clock.advance(1)
        self.probes.answer(False, "HTTP status 500")
        self.assertIs(running.healthy, False)
        self.assertEqual(self.driver.killed, [])
        self.clock.advance(1)
        self.probes.answer(False, "HTTP status 500")
        self.assertEqual(self.driver.killed, ["web.1"])
        self.clock.advance(5)
        self.assertEqual(self.probes.attempts, [])
        self.scheduler.statusUpdate(self.driver, mesos_pb2.TaskStatus(
            task_id=mesos_pb2.TaskID(value="web.1"), state=mesos_pb2.TASK_KILLED))
        self.assertEqual([task.task_id.value for task in self.offer()], ["web.2"])


class Handler(http.server.BaseHTTPRequestHandler):
    """
    Answers C{/ok} with 200, anything else with 503.
    """

    def do_GET(self):
        self.send_response(200 if self.path == "/ok" else 503)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class ProbeTests(TestCase):
    """
    L{probe} against real servers on this machine, on the real reactor.
    """

    def serve(self, context=None):
        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        if context is not None:
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return server.server_address[1]

    async def test_http(self):
        """
        HTTP: 200 passes, 503 fails naming the status.
        """
        port = self.serve()
        self.assertEqual(await probe(reactor, check(path="/ok"), "127.0.0.1", port),
                         (True, None))
        self.assertEqual(await probe(reactor, check(path="/down"), "127.0.0.1", port),
                         (False, "HTTP status 503"))

    async def test_https_any_certificate(self):
        """
        HTTPS: a server whose certificate the scheduler does not trust
        passes (Marathon does not check it).
        """
        cert_file, key_file = CertificateAuthority(self.mktemp()).issue("task")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        port = self.serve(context)
        self.assertEqual(await probe(reactor, check("HTTPS", path="/ok"), "127.0.0.1", port),
                         (True, None))

    async def test_tcp(self):
        """
        TCP: a listening port passes; a closed one fails (the connection
        error).
        """
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        self.addCleanup(listener.close)
        self.assertEqual(await probe(reactor, check("TCP"), "127.0.0.1",
                                     listener.getsockname()[1]), (True, None))
        # Bound but not listening, and held so that nothing else takes the
        # port meanwhile: connections to it are refused.
        closed = socket.socket()
        self.addCleanup(closed.close)
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        with self.assertRaises(ConnectionRefusedError):
            await probe(reactor, check("TCP"), "127.0.0.1", port)
