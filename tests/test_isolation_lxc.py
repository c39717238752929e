"""
The LXC isolator with Debian's C{lxc} tools on the real kernel: the shared
suite, namespaces (a task sees only its own processes), the memory limit
inside the container, and its configuration.  Skipped, with the reason,
where LXC cannot be used (not root, tools not installed, cgroups missing).
"""

import itertools
import os
import sys
from dataclasses import replace

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from mesos_tw.interface import mesos_pb2
from mesos_tw.isolation import lxc as lxc_module
from mesos_tw.isolation._cgroupfs import hierarchy_bases, remove_tree
from mesos_tw.isolation.interface import IsolatorUnavailable
from mesos_tw.isolation.lxc import LXCIsolator, check_lxc, lxc_configuration
from mesos_tw.resources import Resources
from mesos_tw.testing.cgroups import ALLOCATE_200_MB, run_on_local
from mesos_tw.testing.isolation import make_container, make_iisolator_tests, nobody
from mesos_tw.testing.local_cluster import until
from mesos_tw.testing.scheduler import command_task

_roots = itertools.count()


def lxc_root(test):
    """
    A cgroups root of its own for C{test}'s containers, removed after it
    (nothing may be left under it by then); skips the test, with the
    reason, where LXC cannot be used.
    """
    try:
        check_lxc()
    except IsolatorUnavailable as error:
        raise SkipTest(str(error))
    root = f"mesos_tw_lxc_test_{os.getpid()}_{next(_roots)}"

    def remove():
        left = []
        for base in hierarchy_bases():
            directory = os.path.join(base, root)
            if os.path.isdir(directory):
                left.extend(os.path.join(directory, entry) for entry in os.listdir(directory)
                            if os.path.isdir(os.path.join(directory, entry)))
                remove_tree(directory)
        test.assertEqual(left, [], "container cgroups left behind")

    test.addCleanup(remove)
    return root


def make_isolator(test):
    """
    An L{LXCIsolator} with a cgroups root and an LXC path of its own for
    C{test}; no container's directory may be left in the LXC path after it.
    """
    root = lxc_root(test)
    lxcpath = os.path.abspath(test.mktemp())
    test.addCleanup(lambda: test.assertEqual(
        os.listdir(lxcpath) if os.path.isdir(lxcpath) else [], [], "LXC directories left behind"))
    return LXCIsolator(reactor, lxcpath, root=root)


class LXCIsolatorSuiteTests(make_iisolator_tests(make_isolator)):
    """
    The LXC isolator passes the shared suite with real containers.
    """


class LXCIsolatorTests(TestCase):
    """
    What an executor sees and may do inside its container.
    """

    timeout = 180

    def setUp(self):
        """
        An LXC isolator with a cgroups root and an LXC path of its own.
        """
        self.isolator = make_isolator(self)
        self.addCleanup(self._destroy)
        return self.isolator.recover([])

    def _destroy(self):
        d = self.isolator.destroy("f1", "e1")
        return d.addCallback(lambda _: self.isolator.cleanup("f1", "e1"))

    @inlineCallbacks
    def run_to_end(self, command, resources="cpus:0.5;mem:64"):
        """
        Run C{command} as executor e1 until it ends; fires with
        C{(termination, what it printed)}.
        """
        container = make_container(self, "e1", command, resources)
        yield self.isolator.prepare(container)
        yield self.isolator.launch("f1", "e1", {"PATH": os.environ["PATH"], "GREETING": "hello"})
        termination = yield self.isolator.wait("f1", "e1")
        with open(os.path.join(container.directory, "stdout")) as stdout:
            return termination, stdout.read()

    @inlineCallbacks
    def test_sees_only_its_own_processes(self):
        """
        The executor's pid namespace holds only the container's init and
        its own processes; it cannot signal the slave's process; it has
        its own hostname and no network but loopback; it runs in its
        sandbox with the environment it was given.
        """
        termination, output = yield self.run_to_end(
            "echo pids $(cd /proc && echo [0-9]*); "
            f"kill -0 {os.getpid()} 2>/dev/null && echo signal yes || echo signal no; "
            "echo host $(hostname); echo net $(ls /sys/class/net); echo dir $(pwd); "
            "echo greeting $GREETING")
        self.assertEqual(os.WEXITSTATUS(termination.status), 0, output)
        lines = dict(line.split(" ", 1) for line in output.splitlines() if " " in line)
        pids = [int(pid) for pid in lines["pids"].split()]
        self.assertIn(1, pids)
        self.assertLessEqual(len(pids), 4, output)
        self.assertNotIn(os.getpid(), pids)
        self.assertEqual(lines["signal"], "no")
        self.assertTrue(lines["host"].startswith("mesos-"))
        self.assertEqual(lines["net"].split(), ["lo"])
        self.assertEqual(lines["greeting"], "hello")

    @inlineCallbacks
    def test_runs_as_the_containers_user(self):
        """
        A container naming a user runs its command as that user.
        """
        entry = nobody()
        container = replace(make_container(self, "e1", "id -u"), user="nobody")
        yield self.isolator.prepare(container)
        yield self.isolator.launch("f1", "e1", {"PATH": os.environ["PATH"]})
        termination = yield self.isolator.wait("f1", "e1")
        self.assertEqual(os.WEXITSTATUS(termination.status), 0)
        with open(os.path.join(container.directory, "stdout")) as stdout:
            self.assertEqual(stdout.read().strip(), str(entry.pw_uid))

    @inlineCallbacks
    def test_memory_limit_holds_inside(self):
        """
        An executor that allocates 200 MB in a container limited to 64 MB
        is stopped, and its termination says the limit was reached.
        """
        termination, _ = yield self.run_to_end(ALLOCATE_200_MB)
        self.assertEqual(termination.reason,
                         mesos_pb2.TaskStatus.REASON_CONTAINER_LIMITATION_MEMORY)
        self.assertIn("Memory limit of 64 MB reached", termination.message)
        self.assertRegex(termination.message, r"[0-9.]+ MB used")

    @inlineCallbacks
    def test_update_sets_the_limits(self):
        """
        C{lxc-cgroup} sets new limits on a running container.
        """
        container = make_container(self, "e1", f"touch started; exec {sys.executable} -c "
                                   "\"import time; time.sleep(100)\"")
        yield self.isolator.prepare(container)
        yield self.isolator.launch("f1", "e1", {"PATH": os.environ["PATH"]})
        payload = self.isolator.cgroups_of(container)
        yield until(reactor, lambda: os.path.exists(os.path.join(container.directory, "started")),
                    "the command to start")
        yield self.isolator.update("f1", "e1", Resources.parse("cpus:2;mem:256"))
        self.assertEqual(payload.read("cpu", "cpu.shares"), "2048")
        self.assertEqual(payload.read("memory", "memory.limit_in_bytes"), str(256 << 20))


class LXCTaskTests(TestCase):
    """
    Tasks on mesos-local with C{--isolation=lxc}.
    """

    timeout = 180

    def run_tasks(self, make_tasks, count):
        """
        Run C{make_tasks(slave_id)} on mesos-local with LXC isolation.
        """
        return run_on_local(self, ["--isolation=lxc", f"--cgroups_root={lxc_root(self)}"],
                            make_tasks, count)

    @inlineCallbacks
    def test_task_sees_only_its_container(self):
        """
        A command task finishes in its container, where the only processes
        are the container's init, its executor and its own; a task that
        allocates 200 MB with 64 MB fails with the memory message.
        """
        scheduler = yield self.run_tasks(lambda slave: [
            command_task("ps", slave, "echo pids $(cd /proc && echo [0-9]*)", "cpus:0.5;mem:128"),
            command_task("hog", slave, ALLOCATE_200_MB, "cpus:0.5;mem:64"),
        ], 2)
        self.assertEqual(scheduler.finals["ps"].state, mesos_pb2.TASK_FINISHED,
                         scheduler.finals["ps"].message)
        hog = scheduler.finals["hog"]
        self.assertEqual((hog.state, hog.reason),
                         (mesos_pb2.TASK_FAILED,
                          mesos_pb2.TaskStatus.REASON_CONTAINER_LIMITATION_MEMORY))
        self.assertIn("Memory limit of 64 MB reached", hog.message)
        work_dir = os.path.dirname(os.path.dirname(self.mktemp()))
        outputs = []
        for directory, _, files in os.walk(work_dir):
            if "stdout" in files and os.sep + "ps" + os.sep in directory + os.sep:
                with open(os.path.join(directory, "stdout")) as stdout:
                    outputs.extend(line for line in stdout if line.startswith("pids "))
        [line] = outputs
        pids = [int(pid) for pid in line.split()[1:]]
        self.assertIn(1, pids)
        self.assertLessEqual(len(pids), 6, line)


class ConfigurationTests(SynchronousTestCase):
    """
    The configuration given to C{lxc-execute}.
    """

    def test_lines(self):
        """
        No network but loopback, proc, sys and cgroup mounted as Mesos's
        module did, limits from the resources, the sandbox as working
        directory, and the environment.
        """
        text = lxc_configuration("mesos-r1", "mesos/mesos-r1", "/sandbox",
                                 {"A": "1", "BAD": "two\nlines"}, Resources.parse("cpus:0.5;mem:64"))
        lines = text.splitlines()
        for expected in ["lxc.uts.name = mesos-r1", "lxc.net.0.type = empty",
                         "lxc.mount.auto = proc:mixed sys:ro cgroup:mixed",
                         "lxc.cgroup.dir = mesos/mesos-r1", "lxc.cgroup.cpu.shares = 512",
                         f"lxc.cgroup.memory.limit_in_bytes = {64 << 20}",
                         "lxc.init.cwd = /sandbox", "lxc.environment = A=1"]:
            self.assertIn(expected, lines)
        self.assertNotIn("BAD", text)

    def test_host_network(self):
        """
        Sharing the host's network, the container keeps the host's sysfs
        (a fresh one cannot be mounted there).
        """
        lines = lxc_configuration("n", "d", "/s", {}, Resources(), network="host").splitlines()
        self.assertIn("lxc.net.0.type = none", lines)
        self.assertIn("lxc.mount.auto = proc:mixed cgroup:mixed", lines)

    def test_tools_missing(self):
        """
        Without LXC's tools, the check names them and the package.
        """
        self.patch(lxc_module.os, "geteuid", lambda: 0)
        with self.assertRaises(IsolatorUnavailable) as raised:
            check_lxc(which=lambda tool: None)
        self.assertIn("lxc-execute", str(raised.exception))
        self.assertIn("apt-get install lxc", str(raised.exception))
