"""
The cgroups isolator on this machine's real cgroup v1 hierarchies: the
shared suite, the limits it sets, OOM, complete destruction, usage, and a
task run through mesos-local with C{--isolation=cgroups}.  Skipped, with the
reason, where cgroups cannot be used (not root, hierarchies not mounted).
"""

import os
import sys
from dataclasses import replace

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase, TestCase

from mesos_tw.interface import mesos_pb2
from mesos_tw.isolation import cgroups as cgroups_module
from mesos_tw.isolation._cgroupfs import mounted_hierarchies, own_cgroups
from mesos_tw.isolation._hierarchy import CgroupHierarchyV1
from mesos_tw.isolation.cgroups import SUBSYSTEMS, CgroupsIsolator, check_cgroups
from mesos_tw.isolation.interface import IsolatorUnavailable
from mesos_tw.resources import Resources
from mesos_tw.slave.tap import Options
from mesos_tw.testing.cgroups import (
    ALLOCATE_200_MB,
    cgroups_root,
    restarted_isolator,
    run_on_local,
)
from mesos_tw.testing.isolation import make_container, make_iisolator_tests, nobody
from mesos_tw.testing.local_cluster import until
from mesos_tw.testing.processes import is_alive
from mesos_tw.testing.scheduler import command_task

Reason = mesos_pb2.TaskStatus


def make_isolator(test, **keywords):
    """
    A L{CgroupsIsolator} with a root of its own for C{test}.
    """
    return CgroupsIsolator(reactor, root=cgroups_root(test), **keywords)


class CgroupsIsolatorSuiteTests(make_iisolator_tests(make_isolator, restarted_isolator)):
    """
    The cgroups isolator passes the shared suite on real cgroups.
    """


class CgroupsIsolatorTests(TestCase):
    """
    What the cgroups isolator does to real cgroups and processes.
    """

    def setUp(self):
        """
        A cgroups isolator with a root of its own.
        """
        self.isolator = make_isolator(self)
        self.addCleanup(self._destroy)
        return self.isolator.recover([])

    def _destroy(self):
        d = self.isolator.destroy("f1", "e1")
        return d.addCallback(lambda _: self.isolator.cleanup("f1", "e1"))

    def start(self, command, resources="cpus:0.5;mem:64"):
        """
        Prepare and launch C{command} as executor e1; fires with the
        container once it is launched.
        """
        container = make_container(self, "e1", command, resources)
        d = self.isolator.prepare(container)
        d.addCallback(lambda _: self.isolator.launch("f1", "e1", {"PATH": os.environ["PATH"]}))
        return d.addCallback(lambda _: container)

    def cgroup(self, container, subsystem, name=None):
        """
        The directory (or control file C{name}) of the container's cgroup.
        """
        cgroups = self.isolator.cgroups_of(container)
        return cgroups.path(subsystem, name) if name else cgroups.directories[subsystem]

    def read(self, container, subsystem, name):
        """
        A control file of the container's cgroup, as an int.
        """
        with open(self.cgroup(container, subsystem, name)) as control:
            return int(control.read().split()[0])

    @inlineCallbacks
    def test_limits_from_resources(self):
        """
        C{cpu.shares} is 1024 x cpus and the memory limit is C{mem}; both
        follow an update, and the executor runs inside the cgroup.
        """
        container = yield self.start("exec sleep 100")
        self.assertEqual(self.read(container, "cpu", "cpu.shares"), 512)
        self.assertEqual(self.read(container, "memory", "memory.limit_in_bytes"), 64 << 20)
        with open(self.cgroup(container, "freezer", "cgroup.procs")) as procs:
            self.assertEqual(len(procs.read().split()), 1)
        yield self.isolator.update("f1", "e1", Resources.parse("cpus:2;mem:128"))
        self.assertEqual(self.read(container, "cpu", "cpu.shares"), 2048)
        self.assertEqual(self.read(container, "memory", "memory.limit_in_bytes"), 128 << 20)

    @inlineCallbacks
    def test_cfs_quota(self):
        """
        With CFS enabled, the quota is cpus x the period.
        """
        self.isolator.enable_cfs = True
        container = yield self.start("exec sleep 100", "cpus:0.5;mem:64")
        self.assertEqual(self.read(container, "cpu", "cpu.cfs_period_us"), 100000)
        self.assertEqual(self.read(container, "cpu", "cpu.cfs_quota_us"), 50000)

    @inlineCallbacks
    def test_memory_limit_reached(self):
        """
        An executor that allocates 200 MB with a 64 MB limit is destroyed,
        and its termination says the limit was reached and how much was
        used, with REASON_CONTAINER_LIMITATION_MEMORY.
        """
        container = yield self.start(ALLOCATE_200_MB)
        termination = yield self.isolator.wait("f1", "e1")
        self.assertEqual(termination.reason, Reason.REASON_CONTAINER_LIMITATION_MEMORY)
        self.assertIn("Memory limit of 64 MB reached", termination.message)
        self.assertRegex(termination.message, r"[0-9.]+ MB used")
        self.assertFalse(os.path.exists(self.cgroup(container, "memory")))

    @inlineCallbacks
    def test_process_tree_destroyed(self):
        """
        Destroying an executor that forked a tree of children (some in
        sessions of their own) kills every one of them and removes its
        cgroup from every hierarchy.
        """
        # Each subshell says it has started only once it has forked both
        # of its children (the shell itself, then each subshell, could be
        # scheduled late): the tree is whole once all three have said so.
        container = yield self.start(
            "for i in 1 2 3; do (sleep 100 & setsid sleep 100 & : > started-$i; wait) & done; "
            "wait")
        started = [os.path.join(container.directory, f"started-{i}") for i in (1, 2, 3)]
        yield until(reactor, lambda: all(os.path.exists(path) for path in started),
                    "the tree of children to be started")
        with open(self.cgroup(container, "freezer", "cgroup.procs")) as procs:
            pids = [int(pid) for pid in procs.read().split()]
        # The shell, three subshells and their six children.
        self.assertGreaterEqual(len(pids), 10)
        yield self.isolator.destroy("f1", "e1")
        self.assertEqual([pid for pid in pids if is_alive(pid)], [])
        for subsystem in SUBSYSTEMS:
            self.assertFalse(os.path.exists(self.cgroup(container, subsystem)))

    @inlineCallbacks
    def test_exit_removes_the_cgroup(self):
        """
        An executor that exits on its own takes what it left running and
        its cgroup with it.
        """
        container = yield self.start("sleep 100 & echo $! > child")
        termination = yield self.isolator.wait("f1", "e1")
        self.assertEqual(os.WEXITSTATUS(termination.status), 0)
        with open(os.path.join(container.directory, "child")) as child:
            self.assertFalse(is_alive(int(child.read())))
        self.assertFalse(os.path.exists(self.cgroup(container, "freezer")))

    @inlineCallbacks
    def test_runs_as_the_containers_user(self):
        """
        A container naming a user runs, inside its cgroup, as that user.
        """
        entry = nobody()
        container = replace(make_container(self, "e1", "id -u > uid"), user="nobody")
        yield self.isolator.prepare(container)
        yield self.isolator.launch("f1", "e1", {"PATH": os.environ["PATH"]})
        termination = yield self.isolator.wait("f1", "e1")
        self.assertEqual(os.WEXITSTATUS(termination.status), 0)
        with open(os.path.join(container.directory, "uid")) as uid:
            self.assertEqual(uid.read().strip(), str(entry.pw_uid))

    @inlineCallbacks
    def test_usage(self):
        """
        Usage reports the memory the executor holds (after it said it had
        allocated 16 MB) and the limits it was given.
        """
        container = yield self.start(
            f"exec {sys.executable} -c \"import os, time; data = b'x' * (16 << 20); "
            "os.rename(os.open('ready.tmp', os.O_CREAT) and 'ready.tmp', 'ready'); "
            "time.sleep(100)\"", "cpus:0.25;mem:96")
        yield until(reactor, lambda: os.path.exists(os.path.join(container.directory, "ready")),
                    "the task to be ready")
        statistics = yield self.isolator.usage("f1", "e1")
        self.assertEqual(statistics.cpus_limit, 0.25)
        self.assertEqual(statistics.mem_limit_bytes, 96 << 20)
        self.assertGreaterEqual(statistics.mem_rss_bytes, 16 << 20)
        self.assertGreater(statistics.timestamp, 0)
        self.assertLessEqual(statistics.timestamp, reactor.seconds())

    @inlineCallbacks
    def test_recover_destroys_leftovers(self):
        """
        A container a new isolator is told of at recovery (the slave
        restarted) is destroyed: its processes die, its cgroup goes.
        """
        container = yield self.start("exec sleep 100")
        with open(self.cgroup(container, "freezer", "cgroup.procs")) as procs:
            [pid] = [int(p) for p in procs.read().split()]
        successor = CgroupsIsolator(reactor, root=self.isolator.root)
        yield successor.recover([container])
        termination = yield successor.wait("f1", "e1")
        self.assertIn("could not be recovered", termination.message)
        self.assertFalse(is_alive(pid))
        self.assertFalse(os.path.exists(self.cgroup(container, "freezer")))
        yield successor.cleanup("f1", "e1")
        yield self.isolator.wait("f1", "e1")


class CgroupsTaskTests(TestCase):
    """
    Tasks on mesos-local with C{--isolation=cgroups}.
    """

    timeout = 180

    def run_tasks(self, make_tasks, count):
        """
        Run C{make_tasks(slave_id)} on mesos-local with cgroups isolation.
        """
        return run_on_local(self, ["--isolation=cgroups", f"--cgroups_root={cgroups_root(self)}"],
                            make_tasks, count)

    @inlineCallbacks
    def test_memory_hog_fails_with_the_memory_message(self):
        """
        A task asking for 64 MB that allocates 200 MB ends TASK_FAILED with
        REASON_CONTAINER_LIMITATION_MEMORY and a message saying the memory
        limit was reached and how much was used; a well-behaved task next to
        it finishes.
        """
        scheduler = yield self.run_tasks(lambda slave: [
            command_task("hog", slave, ALLOCATE_200_MB, "cpus:0.5;mem:64"),
            command_task("ok", slave, "true", "cpus:0.5;mem:128"),
        ], 2)
        hog = scheduler.finals["hog"]
        self.assertEqual((hog.state, hog.reason),
                         (mesos_pb2.TASK_FAILED, Reason.REASON_CONTAINER_LIMITATION_MEMORY))
        self.assertIn("Memory limit of 64 MB reached", hog.message)
        self.assertIn("MB used", hog.message)
        self.assertEqual(scheduler.finals["ok"].state, mesos_pb2.TASK_FINISHED)



class CgroupFilesTests(SynchronousTestCase):
    """
    Reading where the hierarchies are mounted and which cgroups we are in.
    """

    def write(self, text):
        """
        A temporary file holding C{text}.
        """
        path = self.mktemp()
        with open(path, "w") as written:
            written.write(text)
        return path

    def test_mounted_hierarchies(self):
        """
        Each v1 subsystem maps to its mount point, co-mounted ones to the
        same; v2 and named hierarchies and other filesystems are left out.
        """
        mounts = self.write(
            "proc /proc proc rw,nosuid 0 0\n"
            "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,relatime,cpu,cpuacct 0 0\n"
            "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n"
            "cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0\n"
            "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n")
        self.assertEqual(mounted_hierarchies(mounts), {
            "cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
            "memory": "/sys/fs/cgroup/memory"})

    def test_own_cgroups(self):
        """
        Each subsystem maps to the cgroup we are in within its hierarchy.
        """
        cgroup = self.write("4:memory:/jobs/slave1\n2:cpu,cpuacct:/\n0::/\n")
        self.assertEqual(own_cgroups(cgroup),
                         {"memory": "/jobs/slave1", "cpu": "/", "cpuacct": "/"})

    def test_under_our_own_cgroup(self):
        """
        A container's cgroup is placed under ours in each hierarchy.
        """
        isolator = CgroupsIsolator(None, root="mesos", hierarchy=CgroupHierarchyV1(
            {s: f"/cg/{s}" for s in SUBSYSTEMS}, {"memory": "/jobs/slave1"}))
        container = make_container(self, "e1", "true", run_id="r1")
        directories = isolator.cgroups_of(container).directories
        self.assertEqual(directories["memory"], "/cg/memory/jobs/slave1/mesos/r1")
        self.assertEqual(directories["cpu"], "/cg/cpu/mesos/r1")


class CheckTests(SynchronousTestCase):
    """
    A slave that cannot use cgroups refuses to start, saying why.
    """

    def test_not_root(self):
        """
        Without root, the check says so.
        """
        self.patch(cgroups_module.os, "geteuid", lambda: 1000)
        with self.assertRaises(IsolatorUnavailable) as raised:
            check_cgroups(CgroupHierarchyV1({}, {}))
        self.assertIn("needs root", str(raised.exception))

    def test_hierarchy_missing(self):
        """
        A hierarchy that is not mounted is named.
        """
        self.patch(cgroups_module.os, "geteuid", lambda: 0)
        mounted = {"cpu": "/c", "cpuacct": "/c", "freezer": "/f"}
        with self.assertRaises(IsolatorUnavailable) as raised:
            check_cgroups(CgroupHierarchyV1(mounted, {}))
        self.assertIn("not mounted: memory", str(raised.exception))

    def test_slave_refuses_to_start(self):
        """
        C{--isolation=cgroups} without root is a one-line usage error that
        names the isolator and what is missing.
        """
        self.patch(cgroups_module.os, "geteuid", lambda: 1000)
        options = Options(environ={})
        with self.assertRaises(usage.UsageError) as raised:
            options.parseOptions(["--master=127.0.0.1:5050", "--isolation=cgroups"])
        message = str(raised.exception)
        self.assertIn("--isolation=cgroups cannot work here", message)
        self.assertIn("needs root", message)
        self.assertNotIn("\n", message)


