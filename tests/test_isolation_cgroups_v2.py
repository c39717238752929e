"""
The cgroups isolator on the cgroup v2 (unified) hierarchy.

Most of these run against a fake v2 hierarchy (L{FakeCgroup2Kernel}: a
temporary directory where the test plays the kernel) with real executor
processes: the values written, OOM reported with the memory message,
destruction with C{cgroup.kill} or the freezer, usage, delegation, and
which hierarchy detection picks.  The shared suite also runs on a real v2
hierarchy where one with the memory and cpu controllers is mounted and
delegated, and skips saying so where not; killing a cgroup's processes and
removing it, which needs no controller, runs on the real unified
hierarchy wherever one is mounted and writable.
"""

import itertools
import os
import signal
import subprocess

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.logger import Logger
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from mesos_tw.interface import mesos_pb2
from mesos_tw.isolation._cgroup2 import (
    SLAVE_LEAF,
    CgroupFiles,
    CgroupHierarchyV2,
    cpu_weight,
)
from mesos_tw.isolation._cgroupfs import mounted_hierarchies
from mesos_tw.isolation._hierarchy import (
    CgroupHierarchyV1,
    ICgroup,
    ICgroupHierarchy,
    detect_hierarchy,
)
from mesos_tw.isolation.cgroups import CgroupsIsolator
from mesos_tw.isolation.interface import IsolatorUnavailable
from mesos_tw.resources import Resources
from mesos_tw.testing.cgroupfs import FakeCgroup2Kernel
from mesos_tw.testing.cgroups import remove_cgroup_root, restarted_isolator
from mesos_tw.testing.isolation import make_container, make_iisolator_tests
from mesos_tw.testing.local_cluster import until
from mesos_tw.testing.processes import is_alive

Reason = mesos_pb2.TaskStatus

_roots = itertools.count()

_MB = 1 << 20


def fake_kernel(test, **keywords):
    """
    A L{FakeCgroup2Kernel} in a temporary directory of C{test}'s; after the
    test, no cgroup may be left under the isolators' root C{mesos}.
    """
    kernel = FakeCgroup2Kernel(os.path.abspath(test.mktemp()), **keywords)
    root = os.path.join(kernel.directory(kernel.own), "mesos")

    def nothing_left():
        if os.path.isdir(root):
            left = [entry for entry in os.listdir(root)
                    if os.path.isdir(os.path.join(root, entry))]
            test.assertEqual(left, [], f"cgroups left behind in {root}")

    test.addCleanup(nothing_left)
    return kernel


def fake_isolator(test):
    """
    A L{CgroupsIsolator} on a fresh fake v2 hierarchy.
    """
    return CgroupsIsolator(reactor, root="mesos", hierarchy=fake_kernel(test).hierarchy())


def real_v2_isolator(test):
    """
    A L{CgroupsIsolator} on this machine's v2 hierarchy, with a root of its
    own removed after the test; skips where no unified hierarchy with the
    memory and cpu controllers is mounted and delegated to us.
    """
    if os.geteuid() != 0:
        raise SkipTest("the cgroups isolator needs root")
    hierarchy = detect_hierarchy()
    unavailable = "no cgroup v2 unified hierarchy with the memory and cpu controllers " \
                  "is mounted and delegated to this process"
    if hierarchy.version != 2:
        unified = CgroupHierarchyV2.find()
        found = ("none is mounted" if unified is None else
                 f"its cgroup {unified.base} offers {unified.describe_controllers()}")
        raise SkipTest(f"{unavailable} ({found})")
    try:
        hierarchy.check()
    except IsolatorUnavailable as error:
        raise SkipTest(f"{unavailable} ({error})")
    root = f"mesos_tw_test_{os.getpid()}_{next(_roots)}"
    test.addCleanup(remove_cgroup_root, test, os.path.join(hierarchy.base, root))
    return CgroupsIsolator(reactor, root=root, hierarchy=hierarchy)


class FakeV2SuiteTests(make_iisolator_tests(fake_isolator, restarted_isolator)):
    """
    The cgroups isolator passes the shared suite on a fake v2 hierarchy.
    """


class RealV2SuiteTests(make_iisolator_tests(real_v2_isolator, restarted_isolator)):
    """
    The cgroups isolator passes the shared suite on a real v2 hierarchy
    (skipped where none with memory and cpu is mounted and delegated).
    """


class FakeV2IsolatorTests(TestCase):
    """
    What the cgroups isolator writes to, and makes of, a v2 hierarchy
    whose kernel the test plays.
    """

    timeout = 30

    def setUp(self):
        """
        An isolator on a fake v2 hierarchy.
        """
        self.use_kernel(fake_kernel(self))

    def use_kernel(self, kernel, **keywords):
        """
        Run the tests' isolator on C{kernel}.
        """
        self.kernel = kernel
        self.isolator = CgroupsIsolator(reactor, root="mesos", hierarchy=kernel.hierarchy(),
                                        **keywords)
        self.addCleanup(self._destroy)

    def _destroy(self):
        d = self.isolator.destroy("f1", "e1")
        return d.addCallback(lambda _: self.isolator.cleanup("f1", "e1"))

    @inlineCallbacks
    def start(self, command, resources="cpus:0.5;mem:64"):
        """
        Prepare and launch C{command} as executor e1; fires with the
        container's cgroup directory once it is launched.
        """
        container = make_container(self, "e1", command, resources)
        self.sandbox = container.directory
        yield self.isolator.prepare(container)
        yield self.isolator.launch("f1", "e1", {"PATH": os.environ["PATH"]})
        return self.isolator.cgroups_of(container).directory

    def read(self, directory, name):
        """
        A control file's text, stripped.
        """
        with open(os.path.join(directory, name)) as control:
            return control.read().strip()

    def written(self, directory, name):
        """
        Every value written to the control file C{name} of C{directory}.
        """
        path = os.path.relpath(os.path.join(directory, name), self.kernel.mount)
        return [value for written, value in self.kernel.writes if written == path]

    def ready(self):
        """
        Fires once the executor has written C{ready} in its sandbox.
        """
        return until(reactor, lambda: os.path.exists(os.path.join(self.sandbox, "ready")),
                     "the command to be ready")

    @inlineCallbacks
    def destroy_with_children(self):
        """
        Start executor e1 with two children and destroy it; check that
        every process died and its cgroup went. Fires with the cgroup's
        directory.
        """
        directory = yield self.start(
            "sleep 100 & sleep 100 & echo ready > ready.tmp; mv ready.tmp ready; wait")
        yield self.ready()
        pids = self.kernel.members(directory)
        self.assertGreaterEqual(len(pids), 3)
        yield self.isolator.destroy("f1", "e1")
        self.assertEqual([pid for pid in pids if is_alive(pid)], [])
        self.assertFalse(os.path.exists(directory))
        return directory

    @inlineCallbacks
    def test_limits_written(self):
        """
        C{cpu.weight} is the weight for 1024 x cpus shares, C{memory.max}
        the task's C{mem}, swap is off, the kernel OOM-kills the whole
        cgroup, C{cpu.max} is left alone without CFS, the executor is in
        C{cgroup.procs}, and the slave's cgroup
        and the root hand C{cpu}, C{memory} and C{pids} down; an update
        writes the new values.
        """
        directory = yield self.start("exec sleep 100")
        self.assertEqual(self.read(directory, "cpu.weight"), str(1 + (510 * 9999) // 262142))
        self.assertEqual(self.read(directory, "memory.max"), str(64 * _MB))
        self.assertEqual(self.read(directory, "memory.swap.max"), "0")
        self.assertEqual(self.read(directory, "memory.oom.group"), "1")
        self.assertEqual(self.written(directory, "cpu.max"), [])
        [pid] = self.kernel.members(directory)
        self.assertTrue(is_alive(pid))
        for cgroup in (self.kernel.directory("/"), os.path.dirname(directory)):
            self.assertEqual(self.read(cgroup, "cgroup.subtree_control").split(),
                             ["cpu", "memory", "pids"])
        yield self.isolator.update("f1", "e1", Resources.parse("cpus:2;mem:128"))
        self.assertEqual(self.read(directory, "cpu.weight"), str(cpu_weight(2048)))
        self.assertEqual(self.read(directory, "memory.max"), str(128 * _MB))

    @inlineCallbacks
    def test_cfs_quota(self):
        """
        With CFS enabled, C{cpu.max} is cpus x the 100 ms period.
        """
        self.isolator.enable_cfs = True
        directory = yield self.start("exec sleep 100", "cpus:0.5;mem:64")
        self.assertEqual(self.read(directory, "cpu.max"), "50000 100000")

    @inlineCallbacks
    def test_lowered_limit_below_use_is_soft(self):
        """
        A limit below what the cgroup already uses goes to C{memory.high},
        leaving C{memory.max} and the reported limit where they were.
        """
        directory = yield self.start("exec sleep 100", "cpus:0.5;mem:128")
        with open(os.path.join(directory, "memory.current"), "w") as current:
            current.write(str(100 * _MB))
        yield self.isolator.update("f1", "e1", Resources.parse("cpus:0.5;mem:64"))
        self.assertEqual(self.read(directory, "memory.high"), str(64 * _MB))
        self.assertEqual(self.read(directory, "memory.max"), str(128 * _MB))
        statistics = yield self.isolator.usage("f1", "e1")
        self.assertEqual(statistics.mem_limit_bytes, 128 * _MB)

    @inlineCallbacks
    def test_oom_kill_fails_with_the_memory_message(self):
        """
        When the kernel OOM-kills the cgroup (C{memory.events} counts it),
        the termination has REASON_CONTAINER_LIMITATION_MEMORY and says
        the limit was reached and how much was used; the cgroup is removed.
        """
        directory = yield self.start("exec sleep 100")
        [pid] = self.kernel.members(directory)
        self.kernel.oom_kill(directory, used=64 * _MB, anon=63 * _MB, file=1 * _MB)
        termination = yield self.isolator.wait("f1", "e1")
        self.assertEqual(termination.reason, Reason.REASON_CONTAINER_LIMITATION_MEMORY)
        self.assertEqual(termination.message,
                         "Memory limit of 64 MB reached: 64.0 MB used (rss 63.0 MB, cache 1.0 MB)")
        self.assertEqual(os.WTERMSIG(termination.status), signal.SIGKILL)
        self.assertFalse(is_alive(pid))
        self.assertFalse(os.path.exists(directory))

    @inlineCallbacks
    def test_oom_event_destroys(self):
        """
        An OOM kill that leaves the executor alive (the kernel killed
        another of its processes) is heard through C{memory.events}: the
        isolator kills the cgroup with C{cgroup.kill} and the termination
        carries the memory reason.
        """
        directory = yield self.start("exec sleep 100")
        [pid] = self.kernel.members(directory)
        self.kernel.oom_kill(directory, used=64 * _MB, anon=60 * _MB, file=4 * _MB, kill=False)
        termination = yield self.isolator.wait("f1", "e1")
        self.assertEqual(termination.reason, Reason.REASON_CONTAINER_LIMITATION_MEMORY)
        self.assertIn("Memory limit of 64 MB reached: 64.0 MB used", termination.message)
        self.assertEqual(self.written(directory, "cgroup.kill"), ["1"])
        self.assertFalse(is_alive(pid))
        self.assertFalse(os.path.exists(directory))

    @inlineCallbacks
    def test_memory_events_without_oom_kill(self):
        """
        C{memory.events} that counts no OOM kill (the cgroup reached
        C{memory.high}, say) is not taken for an OOM.
        """
        directory = yield self.start("exec sleep 100")
        hierarchy = self.isolator.hierarchy
        cgroup = hierarchy.cgroup(os.path.relpath(directory, hierarchy.base))
        with open(os.path.join(directory, "memory.events"), "w") as events:
            events.write("low 0\nhigh 3\nmax 2\noom 0\noom_kill 0\noom_group_kill 0\n")
        self.assertFalse(cgroup.oom_occurred())
        self.kernel.oom_kill(directory, used=64 * _MB, anon=64 * _MB, file=0, kill=False)
        self.assertTrue(cgroup.oom_occurred())

    @inlineCallbacks
    def test_destroy_with_cgroup_kill(self):
        """
        Destroying an executor with children writes C{cgroup.kill} (no
        freezing), every process dies, and the cgroup is removed once
        C{cgroup.procs} is empty.
        """
        directory = yield self.destroy_with_children()
        self.assertEqual(self.written(directory, "cgroup.kill"), ["1"])
        self.assertEqual(self.written(directory, "cgroup.freeze"), [])

    @inlineCallbacks
    def test_destroy_by_freezing(self):
        """
        Without C{cgroup.kill}, destroying freezes the cgroup, kills every
        process in it, thaws it, and removes it.
        """
        self.use_kernel(fake_kernel(self, kill=False))
        directory = yield self.destroy_with_children()
        self.assertEqual(self.written(directory, "cgroup.freeze"), ["1", "0"])

    @inlineCallbacks
    def test_destroy_when_cgroup_kill_fails(self):
        """
        Where writing C{cgroup.kill} fails, every process is killed one by
        one instead, and the cgroup still goes.
        """
        self.use_kernel(fake_kernel(self))
        kernel_write = self.kernel.write

        def write(path, value):
            if os.path.basename(path) == "cgroup.kill":
                raise PermissionError(1, "Operation not permitted", path)
            kernel_write(path, value)

        self.kernel.write = write
        yield self.destroy_with_children()

    @inlineCallbacks
    def test_usage(self):
        """
        Usage comes from C{cpu.stat} (user and system time, periods,
        throttling) and C{memory.stat} (anon as rss), with the limits.
        """
        directory = yield self.start("exec sleep 100", "cpus:0.25;mem:96")
        with open(os.path.join(directory, "cpu.stat"), "w") as stat:
            stat.write("usage_usec 2000000\nuser_usec 1500000\nsystem_usec 500000\n"
                       "nr_periods 40\nnr_throttled 3\nthrottled_usec 250000\n")
        with open(os.path.join(directory, "memory.stat"), "w") as stat:
            stat.write(f"anon {16 * _MB}\nfile {2 * _MB}\n")
        statistics = yield self.isolator.usage("f1", "e1")
        self.assertEqual(
            (statistics.cpus_user_time_secs, statistics.cpus_system_time_secs,
             statistics.cpus_nr_periods, statistics.cpus_nr_throttled,
             statistics.cpus_throttled_time_secs, statistics.mem_rss_bytes,
             statistics.cpus_limit, statistics.mem_limit_bytes),
            (1.5, 0.5, 40, 3, 0.25, 16 * _MB, 0.25, 96 * _MB))

    @inlineCallbacks
    def test_slave_processes_move_to_a_leaf(self):
        """
        Where the slave's own cgroup holds processes (as a delegated
        service's does), they move to the leaf L{SLAVE_LEAF} so that the
        cgroup can hand its controllers down; containers go next to it.
        """
        kernel = fake_kernel(self, own="/system.slice/slave.service")
        base = kernel.directory(kernel.own)
        kernel.place(base, os.getpid())
        self.use_kernel(kernel)
        directory = yield self.start("exec sleep 100")
        self.assertEqual(kernel.members(base), set())
        self.assertIn(os.getpid(), kernel.members(os.path.join(base, SLAVE_LEAF)))
        self.assertEqual(self.read(base, "cgroup.subtree_control").split(),
                         ["cpu", "memory", "pids"])
        self.assertEqual(os.path.dirname(directory), os.path.join(base, "mesos"))
        self.assertEqual(CgroupHierarchyV2(kernel.mount, kernel.own + "/" + SLAVE_LEAF).base,
                         base)


class _RecordedFiles(CgroupFiles):
    """
    The real cgroup filesystem, recording the name and value of every
    control file written; with C{kill=False}, as on a kernel older than
    C{cgroup.kill}.
    """

    def __init__(self, kill=True):
        self.kill = kill
        self.writes = []

    def exists(self, path):
        """
        Whether C{path} is there (C{cgroup.kill} never, without C{kill}).
        """
        if not self.kill and os.path.basename(path) == "cgroup.kill":
            return False
        return super().exists(path)

    def write(self, path, value):
        """
        Write, and record it.
        """
        super().write(path, value)
        self.writes.append((os.path.basename(path), str(value)))


class RealUnifiedProcessTests(TestCase):
    """
    The v2 code's handling of processes on this machine's real unified
    hierarchy, which needs no controller: C{cgroup.procs}, C{cgroup.kill}
    and C{cgroup.freeze}, and removing the emptied cgroup.  Skipped where
    no unified hierarchy is mounted and writable.
    """

    timeout = 120

    def setUp(self):
        """
        A cgroup root of the test's own below ours in the unified hierarchy.
        """
        if os.geteuid() != 0:
            raise SkipTest("moving processes between cgroups needs root")
        hierarchy = CgroupHierarchyV2.find()
        if hierarchy is None:
            raise SkipTest("no cgroup v2 unified hierarchy is mounted")
        if not os.access(hierarchy.base, os.W_OK):
            raise SkipTest(f"the unified cgroup {hierarchy.base} is not writable")
        self.root = f"mesos_tw_test_{os.getpid()}_{next(_roots)}"
        self.addCleanup(remove_cgroup_root, self, os.path.join(hierarchy.base, self.root))

    @inlineCallbacks
    def kill_a_tree(self, files):
        """
        Put a shell and two children in a new cgroup, kill them all with
        C{kill_all}, and check that none is left and the cgroup is gone.
        """
        hierarchy = CgroupHierarchyV2.find(files=files)
        cgroup = hierarchy.cgroup(os.path.join(self.root, "c1"))
        cgroup.create()
        if files.kill and not cgroup.has("cgroup.kill"):
            raise SkipTest("this kernel has no cgroup.kill (it came in Linux 5.14)")
        # The shell waits until it is in the cgroup, so its children are too.
        shell = subprocess.Popen(["sh", "-c", "read go; sleep 100 & sleep 100 & wait"],
                                 stdin=subprocess.PIPE)
        self.addCleanup(shell.wait)
        self.addCleanup(_kill, shell.pid)
        cgroup.add_process(shell.pid)
        shell.stdin.write(b"go\n")
        shell.stdin.close()
        yield until(reactor, lambda: len(cgroup.processes()) == 3, "three processes in the cgroup")
        pids = cgroup.processes()
        yield cgroup.kill_all(reactor, Logger())
        self.assertEqual(cgroup.processes(), set())
        self.assertEqual([pid for pid in pids if is_alive(pid)], [])
        cgroup.remove()
        self.assertFalse(cgroup.exists())

    @inlineCallbacks
    def test_cgroup_kill(self):
        """
        C{cgroup.kill}, written once, kills every process of the cgroup,
        and it can then be removed.
        """
        files = _RecordedFiles()
        yield self.kill_a_tree(files)
        self.assertEqual([w for w in files.writes if w[0] in ("cgroup.kill", "cgroup.freeze")],
                         [("cgroup.kill", "1")])

    @inlineCallbacks
    def test_freeze_and_kill(self):
        """
        Without C{cgroup.kill}, freezing, killing each process and thawing
        leaves the cgroup empty, and it can then be removed.
        """
        files = _RecordedFiles(kill=False)
        yield self.kill_a_tree(files)
        self.assertEqual([w for w in files.writes if w[0] in ("cgroup.kill", "cgroup.freeze")],
                         [("cgroup.freeze", "1"), ("cgroup.freeze", "0")])


class DetectionTests(SynchronousTestCase):
    """
    Which hierarchy the cgroups isolator picks, and what its check says.
    """

    def test_v1_where_v1_has_cpu_and_memory(self):
        """
        Where the v1 cpu and memory hierarchies are mounted (as on this
        project's machines), detection picks v1: a controller is in one
        hierarchy only, so the unified one cannot offer them.
        """
        mounted = mounted_hierarchies()
        if not {"cpu", "memory"} <= set(mounted):
            raise SkipTest(f"the v1 cpu and memory hierarchies are not both mounted here "
                           f"(mounted: {', '.join(sorted(mounted)) or 'none'})")
        self.assertEqual(detect_hierarchy().version, 1)

    def test_fake_unified_mount_is_v2(self):
        """
        With a unified hierarchy (and no v1 one) whose cgroup of ours
        offers cpu and memory, detection picks v2, below our cgroup.
        """
        kernel = FakeCgroup2Kernel(os.path.abspath(self.mktemp()), own="/slave")
        mounts, cgroup = kernel.proc_files(os.path.dirname(kernel.mount))
        hierarchy = detect_hierarchy(mounts, cgroup, files=kernel)
        self.assertEqual((hierarchy.version, hierarchy.base),
                         (2, os.path.join(kernel.mount, "slave")))
        hierarchy.check()

    def test_unified_without_cpu_and_memory_is_v1(self):
        """
        A unified hierarchy without cpu and memory leaves v1 picked, and
        where v1 is missing too, the check names both.
        """
        kernel = FakeCgroup2Kernel(os.path.abspath(self.mktemp()), controllers=("hugetlb",))
        mounts, cgroup = kernel.proc_files(os.path.dirname(kernel.mount))
        hierarchy = detect_hierarchy(mounts, cgroup, files=kernel)
        self.assertEqual(hierarchy.version, 1)
        with self.assertRaises(IsolatorUnavailable) as raised:
            hierarchy.check()
        self.assertIn("cgroup v1 hierarchies not mounted: cpu", str(raised.exception))
        self.assertIn("the unified (v2) hierarchy offers hugetlb, not both cpu and memory",
                      str(raised.exception))

    def test_not_delegated(self):
        """
        A unified hierarchy whose cgroup of ours we may not write to is
        refused, saying it is not delegated.
        """
        kernel = FakeCgroup2Kernel(os.path.abspath(self.mktemp()), own="/slave",
                                   delegated=False)
        with self.assertRaises(IsolatorUnavailable) as raised:
            kernel.hierarchy().check()
        self.assertIn("is not delegated to the slave", str(raised.exception))

    def test_cpu_weight(self):
        """
        Shares map to weights as 1 + ((shares - 2) x 9999) / 262142: the
        ends of the ranges meet, and one cpu (1024 shares) weighs 39.
        """
        self.assertEqual([cpu_weight(s) for s in (2, 1024, 262144)], [1, 39, 10000])

    def test_interfaces(self):
        """
        Both hierarchies provide L{ICgroupHierarchy} and their cgroups
        L{ICgroup}, so the isolator can use either.
        """
        kernel = FakeCgroup2Kernel(os.path.abspath(self.mktemp()))
        v1 = CgroupHierarchyV1({s: f"/cg/{s}" for s in ("cpu", "cpuacct", "memory", "freezer")}, {})
        for hierarchy in (v1, kernel.hierarchy()):
            self.assertTrue(verifyObject(ICgroupHierarchy, hierarchy))
            self.assertTrue(verifyObject(ICgroup, hierarchy.cgroup("mesos/r1")))


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
