"""
Tests for the master's HTTP endpoints and its twistd plugin (Options,
makeService, MasterService).
"""

import json

import treq
from treq.testing import StubTreq
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase, TestCase

from mesos_tw.master import tap
from mesos_tw.master.election import SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master.master import Master
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.network import MemoryNetwork


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
        /master/redirect sends the browser to the leader (this master).
        """
        response = self.successResultOf(
            self.client.get("http://master/master/redirect", allow_redirects=False))
        self.assertEqual(response.code, 307)
        self.assertEqual(response.headers.getRawHeaders("location"),
                         ["http://127.0.0.1:5050/master/state"])

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


class OptionsTests(SynchronousTestCase):
    """
    The master's flags.
    """

    def parse(self, argv, environ=None):
        options = tap.Options(environ=environ or {})
        options.parseOptions(argv)
        return options

    def test_defaults(self):
        """
        Mesos's defaults: port 5050, 1 s allocation, 15 s x 5 pings.
        """
        options = self.parse([])
        self.assertEqual(
            (options["port"], options["allocation_interval"], options["slave_ping_timeout"],
             options["max_slave_ping_timeouts"]),
            (5050, 1.0, 15.0, 5))

    def test_flags(self):
        """
        Flags in both spellings and from the environment.
        """
        options = self.parse(["--slave-ping-timeout=2secs", "--port", "0"],
                             {"MESOS_MAX_SLAVE_PING_TIMEOUTS": "3"})
        self.assertEqual((options["slave_ping_timeout"], options["port"],
                          options["max_slave_ping_timeouts"]), (2.0, 0, 3))

    def test_bad_values(self):
        """
        Bad values are one-line errors naming the flag.
        """
        for argv in (["--port=x"], ["--allocation_interval=soon"], ["--allocation_interval=0"],
                     ["--zk=127.0.0.1:2181"], ["--zk=zk://127.0.0.1:2181"],
                     ["--zk=file:///nonexistent/zk"], ["--zk_session_timeout=0secs"],
                     ["--allocator=fifo"], ["--weights=a"], ["--weights=a=0"], ["--weights=a=x"],
                     ["--roles=,"], ["--offer_timeout=0secs"], ["--offer_timeout=soon"],
                     ["--whitelist=file:///nonexistent/whitelist"]):
            with self.assertRaises(UsageError) as raised:
                self.parse(argv)
            self.assertIn("--", str(raised.exception))

    def test_allocation_flags(self):
        """
        The allocator plugin, role weights and restrictions, the offer
        timeout and the whitelist file.
        """
        path = self.mktemp()
        with open(path, "w", encoding="utf-8") as whitelist:
            whitelist.write("host1\n")
        options = self.parse(["--weights=prod=3,dev=0.5", "--roles=prod,dev",
                              "--offer_timeout=30secs", f"--whitelist=file://{path}"])
        self.assertEqual(
            (options["allocator_factory"].name, options["weights"], options["roles"],
             options["offer_timeout"], options["whitelist_path"]),
            ("hierarchical_drf", {"prod": 3.0, "dev": 0.5}, {"prod", "dev"}, 30.0, path))
        defaults = self.parse([])
        self.assertEqual((defaults["weights"], defaults["roles"], defaults["offer_timeout"],
                          defaults["whitelist_path"]), (None, None, None, None))

    def test_unknown_allocator_lists_installed(self):
        """
        An unknown C{--allocator} names the installed ones.
        """
        with self.assertRaises(UsageError) as raised:
            self.parse(["--allocator=fifo"])
        self.assertIn("hierarchical_drf", str(raised.exception))

    def test_zk(self):
        """
        C{--zk} takes a zk:// URL, with credentials and several servers.
        """
        url = self.parse(["--zk=zk://u:p@127.0.0.1:2181,127.0.0.2:2182/mesos",
                          "--zk_session_timeout=2secs"])
        self.assertEqual(
            (url["zk_url"].hosts, url["zk_url"].path, url["zk_url"].credentials,
             url["zk_session_timeout"]),
            ("127.0.0.1:2181,127.0.0.2:2182", "/mesos", ("u", "p"), 2.0))
        self.assertIsNone(self.parse([])["zk_url"])

    def test_make_service_does_no_io(self):
        """
        makeService only builds the service: nothing listens until started.
        """
        memory = MemoryReactorClock()
        service = tap.makeService(self.parse(["--port=0"]), memory)
        self.assertIsInstance(service, tap.MasterService)
        self.assertEqual(memory.tcpServers, [])
        service.startService()
        self.assertEqual(memory.tcpServers[0][0], 0)
        self.assertEqual(memory.tcpServers[0][3], "127.0.0.1")


class MasterServiceTests(TestCase):
    """
    The service on the real reactor.
    """

    @inlineCallbacks
    def test_serves_health_and_state(self):
        """
        Started on port 0, the master answers /health and /master/state on
        its message port.
        """
        options = tap.Options(environ={})
        options.parseOptions(["--port=0"])
        service = tap.makeService(options, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        port = (yield service.listening).getHost().port
        response = yield treq.get(f"http://127.0.0.1:{port}/health", persistent=False)
        self.assertEqual(response.code, 200)
        yield response.content()
        response = yield treq.get(f"http://127.0.0.1:{port}/master/state", persistent=False)
        state = json.loads((yield response.content()))
        self.assertEqual(state["pid"], f"master@127.0.0.1:{port}")
