"""
Tests for sandbox garbage collection, after Mesos's C{GarbageCollectorTest}
(the collector alone, on a fake clock) and
C{GarbageCollectorIntegrationTest} (a slave collecting its sandboxes).
"""

import os

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.protocols import mesos_pb2
from mesos_tw.slave import paths
from mesos_tw.slave.files import FileAccessError, SandboxFiles
from mesos_tw.slave.gc import GarbageCollector, max_age
from mesos_tw.testing.recovery import SlaveRecoveryTestCase
from mesos_tw.testing.slave import SLAVE

WEEK = 7 * 24 * 3600.0


class GarbageCollectorTests(SynchronousTestCase):
    """
    The collector alone (GarbageCollectorTest).
    """

    def setUp(self):
        self.clock = Clock()
        self.root = os.path.abspath(self.mktemp())
        self.gc = GarbageCollector(self.clock)

    def directory(self, name):
        """
        A directory with a file in it.
        """
        path = os.path.join(self.root, name)
        os.makedirs(path)
        with open(os.path.join(path, "stdout"), "w") as file:
            file.write("x")
        return path

    def test_schedule(self):
        """
        Paths go when their time comes, not before (Schedule).
        """
        first, second = self.directory("a"), self.directory("b")
        removed = [self.gc.schedule(10, first), self.gc.schedule(20, second)]
        self.clock.advance(9.9)
        self.assertTrue(os.path.exists(first))
        self.clock.advance(0.1)
        self.assertFalse(os.path.exists(first))
        self.assertTrue(os.path.exists(second))
        self.clock.advance(10)
        self.assertFalse(os.path.exists(second))
        self.assertEqual([self.successResultOf(d) for d in removed], [True, True])
        self.assertTrue(self.gc.was_collected(os.path.join(first, "stdout")))

    def test_unschedule(self):
        """
        An unscheduled path stays (Unschedule).
        """
        path = self.directory("a")
        removed = self.gc.schedule(10, path)
        self.assertTrue(self.gc.unschedule(path))
        self.assertFalse(self.successResultOf(removed))
        self.clock.advance(20)
        self.assertTrue(os.path.exists(path))
        self.assertFalse(self.gc.unschedule(path))

    def test_unschedule_above(self):
        """
        A new run unschedules the scheduled directories that hold it and
        nothing else (not a sibling whose name starts like one of them).
        """
        framework = self.directory("framework")
        run = os.path.join(framework, "executors", "e", "runs", "r")
        sibling = self.directory("framework-2")
        unrelated = self.directory("other")
        kept = [self.gc.schedule(10, framework + os.sep), self.gc.schedule(10, framework)]
        removed = [self.gc.schedule(10, sibling), self.gc.schedule(10, unrelated)]
        self.gc.unschedule_above(run)
        self.assertEqual([self.successResultOf(d) for d in kept], [False, False])
        self.assertEqual(set(self.gc.scheduled()), {sibling, unrelated})
        self.clock.advance(10)
        self.assertEqual([self.successResultOf(d) for d in removed], [True, True])
        self.assertTrue(os.path.exists(framework))

    def test_earlier_unscheduled(self):
        """
        Unscheduling the path due first does not delay the next one, and
        a path scheduled sooner than those waiting is removed on its time.
        """
        first, second, third = (self.directory(name) for name in "abc")
        self.gc.schedule(10, first)
        self.gc.schedule(20, second)
        self.gc.unschedule(first)
        self.gc.schedule(5, third)
        self.clock.advance(5)
        self.assertFalse(os.path.exists(third))
        self.clock.advance(15)
        self.assertFalse(os.path.exists(second))
        self.assertTrue(os.path.exists(first))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_prune(self):
        """
        Pruning removes at once what is due within the given time, and
        nothing else (Prune).
        """
        soon, later = self.directory("a"), self.directory("b")
        self.gc.schedule(100, soon)
        self.gc.schedule(1000, later)
        self.gc.prune(200)
        self.assertFalse(os.path.exists(soon))
        self.assertTrue(os.path.exists(later))

    def test_in_use_kept(self):
        """
        A path in use when its time comes is kept.
        """
        path = self.directory("a")
        gc = GarbageCollector(self.clock, in_use=lambda p: p == path)
        removed = gc.schedule(1, path)
        self.clock.advance(1)
        self.assertTrue(os.path.exists(path))
        self.assertFalse(self.successResultOf(removed))

    def test_max_age(self):
        """
        Mesos's formula: gc_delay * max(0, 1 - headroom - usage).
        """
        self.assertEqual(max_age(WEEK, 0.1, 0.4), WEEK * 0.5)
        self.assertEqual(max_age(WEEK, 0.1, 0.95), 0.0)


class GarbageCollectorIntegrationTests(SlaveRecoveryTestCase):
    """
    A slave collecting its sandboxes (GarbageCollectorIntegrationTest).
    """

    def ended_executor(self):
        """
        Run t1 on e1, finish it (acknowledged) and end e1; return e1's
        record.
        """
        executor = self.running_task()
        self.send_update(executor, "t1", mesos_pb2.TASK_FINISHED, b"f" * 16)
        self.acknowledge("t1", b"f" * 16)
        record = self.slave.frameworks["F1"].executors["e1"]
        self.isolator.exit("F1", "e1", 0)
        executor.node.disconnect(SLAVE)
        self.turn()
        return record

    def test_exited_executor(self):
        """
        An ended executor's sandbox and checkpointed run go within
        --gc_delay (at an empty disk, the headroom alone makes that 90% of
        it, at the next disk check); the files API then says the sandbox
        was collected (ExitedExecutor).
        """
        record = self.ended_executor()
        run = paths.run_meta_directory(self.work_dir, "S1", "F1", "e1", record.run_id)
        self.clock.advance(0.9 * self.slave.gc_delay - self.slave.disk_watch_interval)
        self.assertTrue(os.path.isdir(record.directory))
        self.clock.advance(self.slave.disk_watch_interval)
        self.assertFalse(os.path.exists(record.directory))
        self.assertFalse(os.path.exists(run))
        files = SandboxFiles(self.work_dir, self.slave.gc.was_collected)
        error = self.assertRaises(FileAccessError, files.read,
                                  os.path.join(record.directory, "stdout"), 0, 10)
        self.assertEqual(error.code, 404)
        self.assertIn("garbage collected", str(error))

    def test_exited_framework(self):
        """
        A framework that has left the slave has its directories collected
        (ExitedFramework).
        """
        self.ended_executor()
        framework = os.path.join(self.work_dir, "slaves", "S1", "frameworks", "F1")
        self.assertIn(framework, self.slave.gc.scheduled())
        self.clock.advance(self.slave.gc_delay + 1)
        self.assertFalse(os.path.exists(framework))
        self.assertFalse(os.path.exists(
            paths.framework_meta_directory(self.work_dir, "S1", "F1")))

    def test_disk_usage(self):
        """
        As the disk fills, older sandboxes go sooner (DiskUsage): at 85%
        with a headroom of 10%, what is older than 5% of gc_delay goes at
        the next disk check.
        """
        usage = [0.0]
        self.crash()
        self.slave = self.start_slave(disk_usage=lambda path: usage[0])
        record = self.ended_executor()
        self.clock.advance(0.1 * self.slave.gc_delay)
        self.assertTrue(os.path.isdir(record.directory))
        usage[0] = 0.85
        self.clock.advance(self.slave.disk_watch_interval)
        self.assertFalse(os.path.exists(record.directory))

    def test_restart(self):
        """
        The schedule survives a restart: the new slave schedules an ended
        run's sandbox by its age (Restart), and never a live one's.
        """
        record = self.ended_executor()
        self.run_task("t2", executor_id="e2")
        executor = self.executor_registers("e2", "executor-2")
        live = self.slave.frameworks["F1"].executors["e2"].directory
        os.utime(record.directory, (0, self.clock.seconds()))
        self.clock.advance(100)
        self.restart()
        scheduled = self.slave.gc.scheduled()
        self.assertEqual(scheduled[record.directory], self.slave.gc_delay)
        self.assertNotIn(live, scheduled)
        self.reregister_executor(executor, tasks=("t2",), executor_id="e2")
        self.clock.advance(self.slave.gc_delay - 100)
        self.assertFalse(os.path.exists(record.directory))
        self.assertTrue(os.path.isdir(live))

    def test_new_run_unschedules_framework(self):
        """
        A framework that comes back before its directories are collected
        keeps them: the new run's directories are unscheduled.
        """
        self.ended_executor()
        framework = os.path.join(self.work_dir, "slaves", "S1", "frameworks", "F1")
        self.assertIn(framework, self.slave.gc.scheduled())
        self.run_task("t3", executor_id="e3")
        self.executor_registers("e3", "executor-3")
        self.assertNotIn(framework, self.slave.gc.scheduled())
        self.clock.advance(self.slave.gc_delay + 1)
        self.assertTrue(os.path.isdir(self.slave.frameworks["F1"].executors["e3"].directory))
