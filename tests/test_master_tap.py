"""
Tests for the master's twistd plugin: its flags (Options), makeService and
the MasterService.
"""

import json

import treq
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.testing import MemoryReactorClock
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase, TestCase

from mesos_tw import local
from mesos_tw.master import tap
from mesos_tw.master.registry import MemoryRemovedSlaves, ZooKeeperRemovedSlaves


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

    def test_slave_reregister_timeout(self):
        """
        C{--slave_reregister_timeout}: Mesos's 10 mins by default, at least
        10 s (a one-line error naming the flag otherwise).
        """
        self.assertEqual(self.parse([])["slave_reregister_timeout"], 600.0)
        self.assertEqual(self.parse(["--slave_reregister_timeout=10secs"])[
            "slave_reregister_timeout"], 10.0)
        with self.assertRaises(UsageError) as raised:
            self.parse(["--slave_reregister_timeout=9secs"])
        self.assertEqual(str(raised.exception),
                         "invalid value for --slave_reregister_timeout: must be at least 10secs")

    def test_registry_gc_flags(self):
        """
        C{--registry_gc_interval}, C{--registry_max_agent_age} and
        C{--registry_max_agent_count}: Mesos's 15 mins, 2 weeks and 102400 by
        default, durations and counts as Mesos writes them; a bad value is
        a one-line error naming the flag.
        """
        options = self.parse([])
        self.assertEqual((options["registry_gc_interval"], options["registry_max_agent_age"],
                          options["registry_max_agent_count"]), (900.0, 1209600.0, 102400))
        options = self.parse(["--registry_gc_interval=1mins", "--registry_max_agent_age=1days"],
                             {"MESOS_REGISTRY_MAX_AGENT_COUNT": "0"})
        self.assertEqual((options["registry_gc_interval"], options["registry_max_agent_age"],
                          options["registry_max_agent_count"]), (60.0, 86400.0, 0))
        for argv, message in (
                (["--registry_gc_interval=0secs"],
                 "invalid value for --registry_gc_interval: must be positive"),
                (["--registry_max_agent_age=often"], "invalid value for "
                 "--registry_max_agent_age: 'often' is not a duration (try 15secs, 1mins, 500ms)"),
                (["--registry_max_agent_count=-1"],
                 "invalid value for --registry_max_agent_count: -1 must not be negative")):
            with self.assertRaises(UsageError) as raised:
                self.parse(argv)
            self.assertEqual(str(raised.exception), message)

    def test_mesos_local_registry_flags(self):
        """
        mesos-local takes the same registry flags, with the same checks.
        """
        options = local.Options(environ={})
        options.parseOptions(["--recovery_slave_removal_limit=10%"])
        self.assertEqual((options["recovery_agent_removal_limit"],
                          options["registry_gc_interval"]), (0.1, 900.0))
        with self.assertRaises(UsageError) as raised:
            local.Options(environ={}).parseOptions(["--registry_gc_interval=0secs"])
        self.assertEqual(str(raised.exception),
                         "invalid value for --registry_gc_interval: must be positive")

    def test_mesos_local_master_checks(self):
        """
        mesos-local refuses what mesos-master refuses, with the same
        one-line errors: a non-positive C{--allocation_interval}, a
        C{--slave_reregister_timeout} under Mesos's 10 s, and a
        C{--log_dir} that is a file.
        """
        log_file = self.mktemp()
        with open(log_file, "w"):
            pass
        for argv in (["--allocation_interval=0secs"], ["--slave_reregister_timeout=9secs"],
                     [f"--log_dir={log_file}"]):
            with self.assertRaises(UsageError) as master:
                self.parse(argv)
            with self.assertRaises(UsageError) as mesos_local:
                local.Options(environ={}).parseOptions(argv)
            self.assertEqual(str(mesos_local.exception), str(master.exception))

    def test_recovery_agent_removal_limit(self):
        """
        C{--recovery_agent_removal_limit}: 100% by default, a percentage
        from 0% to 100% (Mesos's checks), also given by its deprecated name
        C{--recovery_slave_removal_limit}, which the new name overrides.
        """
        self.assertEqual(self.parse([])["recovery_agent_removal_limit"], 1.0)
        self.assertEqual(self.parse(["--recovery_agent_removal_limit=12.5%"])[
            "recovery_agent_removal_limit"], 0.125)
        self.assertEqual(self.parse(["--recovery_slave_removal_limit=50%"])[
            "recovery_agent_removal_limit"], 0.5)
        self.assertEqual(self.parse(["--recovery_slave_removal_limit=50%"],
                                    {"MESOS_RECOVERY_AGENT_REMOVAL_LIMIT": "20%"})[
            "recovery_agent_removal_limit"], 0.2)
        for value, error in (("50", "'50' is missing '%'"),
                             ("x%", "'x%' is not a number followed by '%'"),
                             ("101%", "'101%' must be within [0%-100%]"),
                             ("-1%", "'-1%' must be within [0%-100%]")):
            with self.assertRaises(UsageError) as raised:
                self.parse([f"--recovery_agent_removal_limit={value}"])
            self.assertEqual(str(raised.exception),
                             f"invalid value for --recovery_agent_removal_limit: {error}")

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

    def test_registry(self):
        """
        Without C{--zk} the record of removed slaves is kept in memory;
        with it, in ZooKeeper under the election's path.
        """
        alone = tap.makeService(self.parse(["--port=0"]), MemoryReactorClock())
        alone.startService()
        self.assertIsInstance(alone.registry, MemoryRemovedSlaves)
        replicated = tap.makeService(
            self.parse(["--port=0", "--zk=zk://127.0.0.1:2181/mesos"]), MemoryReactorClock())
        replicated.startService()
        self.assertIsInstance(replicated.registry, ZooKeeperRemovedSlaves)
        self.assertEqual(replicated.registry.path, "/mesos/registry/shards")

    def test_flags_reach_the_master(self):
        """
        The registry pruning and removal limit flags reach each term's
        L{Master}; a removal limit exceeded stops the reactor (twistd
        exits, as Mesos's master does).
        """
        memory = MemoryReactorClock()
        service = tap.makeService(self.parse([
            "--port=0", "--registry_gc_interval=1mins", "--registry_max_agent_age=1hrs",
            "--registry_max_agent_count=7", "--recovery_slave_removal_limit=25%"]), memory)
        service.startService()
        master = service.master
        self.assertEqual((master.registry_gc.interval, master.registry_gc.max_age,
                          master.registry_gc.max_count, master.recovery_removal_limit),
                         (60.0, 3600.0, 7, 0.25))
        master.on_removal_limit("too many slaves missing")
        self.assertTrue(memory.hasStopped)


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
