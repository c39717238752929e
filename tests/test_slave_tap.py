"""
Tests for ``twistd mesos-slave``'s Options, resource detection and
service (L{mesos_tw.slave.tap}, L{mesos_tw.slave.resources}).
"""

import json

import treq
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.testing import MemoryReactorClock
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase, TestCase

from mesos_tw.isolation.process import ProcessIsolator
from mesos_tw.master import tap as master_tap
from mesos_tw.protocols.upid import UPID
from mesos_tw.resources import Resources
from mesos_tw.slave import tap
from mesos_tw.slave.resources import detect_resources
from mesos_tw.testing.local_cluster import until


class OptionsTests(SynchronousTestCase):
    """
    The slave's flags.
    """

    def parse(self, argv, environ=None):
        """
        Parse C{argv} with C{environ} as the environment.
        """
        options = tap.Options(environ=environ or {})
        options.parseOptions(argv)
        return options

    def test_defaults(self):
        """
        Mesos's defaults: port 5051, /tmp/mesos, process isolation, 5 s
        grace period, 1 min registration timeout.
        """
        options = self.parse(["--master=127.0.0.1:5050"])
        self.assertEqual(
            (options["ip"], options["port"], options["work_dir"], options["isolation"],
             options["executor_shutdown_grace_period"], options["executor_registration_timeout"]),
            ("127.0.0.1", 5051, "/tmp/mesos", "process", 5.0, 60.0))
        self.assertEqual(options["master_location"], UPID("master", "127.0.0.1", 5050))
        self.assertIsNone(options["resources"])

    def test_reregistration_timeout(self):
        """
        --executor_reregistration_timeout defaults to Mesos's 2 s, takes a
        Mesos duration, and reaches the slave.
        """
        self.assertEqual(self.parse(["--master=127.0.0.1:5050"])[
            "executor_reregistration_timeout"], 2.0)
        options = self.parse(["--master=127.0.0.1:5050", "--executor_reregistration_timeout=500ms",
                              f"--work_dir={self.mktemp()}", "--resources=cpus:1;mem:64;disk:10"])
        self.assertEqual(options["executor_reregistration_timeout"], 0.5)
        service = tap.makeService(options, MemoryReactorClock())
        service.startService()
        self.assertEqual(service.slave.executor_reregistration_timeout, 0.5)

    def test_isolation_defaults(self):
        """
        The isolators' flags default to Mesos's: cgroups under C{mesos},
        no CFS quota, usage sampled every second; LXC containers share the
        host's network; executors run as the slave's user.
        """
        options = self.parse(["--master=127.0.0.1:5050"])
        self.assertEqual(
            (options["cgroups_root"], options["cgroups_enable_cfs"],
             options["resource_monitoring_interval"], options["lxc_network"],
             options["switch_user"]),
            ("mesos", False, 1.0, "host", False))

    def test_monitoring_interval_positive(self):
        """
        A monitoring interval that is not positive is refused.
        """
        with self.assertRaises(UsageError) as raised:
            self.parse(["--master=127.0.0.1:5050", "--resource_monitoring_interval=0secs"])
        self.assertIn("--resource_monitoring_interval", str(raised.exception))

    def test_flags(self):
        """
        Flags in both spellings and from the environment.
        """
        options = self.parse(
            ["--master", "10.0.0.1:5050", "--resources=cpus:4;mem:2048", "--attributes=rack:r2",
             "--executor-shutdown-grace-period=2secs"],
            {"MESOS_WORK_DIR": "/var/mesos", "MESOS_PORT": "0"})
        self.assertEqual(options["resources"], Resources.parse("cpus:4;mem:2048"))
        self.assertEqual(options["attributes"], {"rack": "r2"})
        self.assertEqual(
            (options["executor_shutdown_grace_period"], options["work_dir"], options["port"]),
            (2.0, "/var/mesos", 0))

    def test_master_required(self):
        """
        Without --master the slave does not start.
        """
        with self.assertRaises(UsageError) as raised:
            self.parse([])
        self.assertIn("--master is required", str(raised.exception))

    def test_bad_values(self):
        """
        Bad values are one-line errors naming the flag.
        """
        for argv, flag in (
            (["--master=nowhere:port"], "--master"),
            (["--master=1.2.3.4:5050", "--port=x"], "--port"),
            (["--master=1.2.3.4:5050", "--resources=cpus:lots"], "--resources"),
            (["--master=1.2.3.4:5050", "--executor_registration_timeout=soon"],
             "--executor_registration_timeout"),
            (["--master=1.2.3.4:5050", "--executor_reregistration_timeout=soon"],
             "--executor_reregistration_timeout"),
        ):
            with self.assertRaises(UsageError) as raised:
                self.parse(argv)
            message = str(raised.exception)
            self.assertIn(flag, message)
            self.assertNotIn("\n", message)

    def test_unknown_isolation(self):
        """
        An unknown isolator is an error listing the known ones.
        """
        with self.assertRaises(UsageError) as raised:
            self.parse(["--master=127.0.0.1:5050", "--isolation=vm"])
        self.assertIn("--isolation", str(raised.exception))
        self.assertRegex(str(raised.exception), r"known: .*\bprocess\b")


class DetectResourcesTests(SynchronousTestCase):
    """
    Mesos's resource detection, with the machine's figures injected.
    """

    def detect(self, given=None, cpus=8, memory=16384, disk=100000):
        """
        Detect with C{cpus} cores, C{memory} MB and C{disk} MB free.
        """
        return detect_resources("/unused", given, cpu_count=lambda: cpus,
                                memory_megabytes=lambda: memory, disk_free=lambda: disk)

    def test_large_machine(self):
        """
        cpus = cores; 1 GB of memory and 5 GB of disk are left to the
        system; ports 31000-32000.
        """
        self.assertEqual(self.detect(), Resources.parse(
            "cpus:8;mem:15360;disk:94880;ports:[31000-32000]"))

    def test_small_machine(self):
        """
        With 2 GB of memory or 10 GB of disk or less, half is offered.
        """
        resources = self.detect(cpus=1, memory=2048, disk=10240)
        self.assertEqual((resources.scalar("mem"), resources.scalar("disk")), (1024.0, 5120.0))

    def test_given_win(self):
        """
        Resources given on the command line are kept; only missing ones are
        detected.
        """
        resources = self.detect(Resources.parse("cpus:2;ports:[5000-5001]"))
        self.assertEqual(resources, Resources.parse(
            "cpus:2;mem:15360;disk:94880;ports:[5000-5001]"))


class MakeServiceTests(SynchronousTestCase):
    """
    makeService builds; startService binds.
    """

    def test_make_service_does_no_io(self):
        """
        makeService only builds the service: nothing listens until it starts,
        then the port and interface are the flags'.
        """
        memory = MemoryReactorClock()
        options = tap.Options(environ={})
        options.parseOptions(["--master=127.0.0.1:5050", "--port=5999",
                              f"--work_dir={self.mktemp()}", "--resources=cpus:1;mem:64;disk:10"])
        service = tap.makeService(options, memory)
        self.assertIsInstance(service, tap.SlaveService)
        self.assertIsNone(service.slave)
        self.assertEqual(memory.tcpServers, [])
        service.startService()
        self.assertEqual((memory.tcpServers[0][0], memory.tcpServers[0][3]), (5999, "127.0.0.1"))
        self.assertIsInstance(service.slave.isolator, ProcessIsolator)
        self.assertEqual(service.slave.resources.scalar("cpus"), 1.0)


class SlaveServiceTests(TestCase):
    """
    The service on the real reactor, with a real master.
    """

    @inlineCallbacks
    def test_registers_and_serves_state(self):
        """
        Started on port 0, the slave registers with the master, and answers
        /health and its state on its message port, its UPID naming the
        bound port.
        """
        master_options = master_tap.Options(environ={})
        master_options.parseOptions(["--port=0"])
        master = master_tap.makeService(master_options, reactor)
        master.startService()
        self.addCleanup(master.stopService)
        master_port = (yield master.listening).getHost().port

        options = tap.Options(environ={})
        options.parseOptions([f"--master=127.0.0.1:{master_port}", "--port=0",
                              f"--work_dir={self.mktemp()}",
                              "--resources=cpus:1;mem:64;disk:10;ports:[31000-31001]"])
        service = tap.makeService(options, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        port = (yield service.listening).getHost().port
        yield until(reactor, lambda: service.slave.id is not None, "the slave to register")

        response = yield treq.get(f"http://127.0.0.1:{port}/health", persistent=False)
        self.assertEqual(response.code, 200)
        yield response.content()
        response = yield treq.get(f"http://127.0.0.1:{port}/slave(1)/state", persistent=False)
        state = json.loads((yield response.content()))
        self.assertEqual((state["pid"], state["id"]),
                         (f"slave(1)@127.0.0.1:{port}", service.slave.id))
        self.assertEqual(state["resources"]["cpus"], 1)
        self.assertEqual(list(master.master.slaves), [service.slave.id])