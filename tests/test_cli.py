"""
Tests for the C{mesos} command line (L{mesos_tw.cli}): how it names
tasks, and, against a running mesos-local, the command itself run as a
process (C{python -m mesos_tw.cli}): execute a command and see its
output, list tasks and slaves, follow a growing log, tear a framework
down, and the exit codes of what goes wrong.
"""

import json
import os
import sys

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SynchronousTestCase, TestCase

from mesos_tw.cli.tasks import Ambiguous, NotFound, find_task
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.protocols import mesos_pb2
from mesos_tw.testing.local_cluster import start_mesos_local, until
from mesos_tw.testing.scheduler import RecordingScheduler


def task(task_id, name="t"):
    """
    A C{mesos.Task}.
    """
    return mesos_pb2.Task(name=name, task_id=mesos_pb2.TaskID(value=task_id),
                          framework_id=mesos_pb2.FrameworkID(value="F"),
                          slave_id=mesos_pb2.SlaveID(value="S"), state=mesos_pb2.TASK_RUNNING)


class FindTaskTests(SynchronousTestCase):
    """
    A task named by id, unique id prefix, or name.
    """

    tasks = [task("web-1", "web"), task("web-12", "web"), task("db-1", "db")]

    def test_exact_id(self):
        """
        An exact id wins over longer ids it prefixes.
        """
        self.assertEqual(find_task(self.tasks, "web-1").task_id.value, "web-1")

    def test_prefix_and_name(self):
        """
        A unique prefix, or a unique name, finds its task.
        """
        self.assertEqual(find_task(self.tasks, "db").task_id.value, "db-1")
        self.assertEqual(find_task([task("x-1", "alone")], "alone").task_id.value, "x-1")

    def test_errors(self):
        """
        Nothing matching is L{NotFound}; several is L{Ambiguous}, naming
        them.
        """
        self.assertRaises(NotFound, find_task, self.tasks, "cache")
        error = self.assertRaises(Ambiguous, find_task, self.tasks, "web")
        self.assertIn("web-1 (framework F), web-12 (framework F)", str(error))


class Follower(ProcessProtocol):
    """
    A C{mesos} process whose output is watched as it comes.

    @ivar ended: fires with its exit code.
    """

    def __init__(self):
        self.out = self.err = b""
        self.ended = Deferred()

    def outReceived(self, data):
        """
        Keep its standard output.
        """
        self.out += data

    def errReceived(self, data):
        """
        Keep its standard error.
        """
        self.err += data

    def processEnded(self, reason):
        """
        It exited.
        """
        self.ended.callback(reason.value.exitCode)


class CommandLineTests(TestCase):
    """
    The command against mesos-local.
    """

    timeout = 120

    @inlineCallbacks
    def setUp(self):
        self.cluster, port = yield start_mesos_local(self, reactor)
        self.master = f"127.0.0.1:{port}"

    def mesos(self, *argv, master=None):
        """
        Run C{mesos <argv>}; fires with C{(stdout, stderr, exit code)}.
        """
        env = dict(os.environ, MESOS_MASTER=master or self.master)
        return getProcessOutputAndValue(sys.executable, ["-m", "mesos_tw.cli", *argv],
                                        env=env, reactor=reactor)

    @inlineCallbacks
    def test_execute_and_list(self):
        """
        C{mesos execute} runs the command, prints its output, and exits 0;
        C{ps --all} lists the finished task in a table, C{task list
        --json} as JSON; C{cat} prints its stdout; C{agent list} shows the
        slave.
        """
        out, err, code = yield self.mesos("execute", "--name=hello",
                                          "--command=echo hello from the cluster")
        self.assertEqual((out, code), (b"hello from the cluster\n", 0), err)
        self.assertIn(b"TASK_FINISHED", err)
        out, err, code = yield self.mesos("ps", "--all")
        self.assertEqual(code, 0, err)
        header, rule, row = out.decode().splitlines()
        self.assertEqual(header.split(), ["ID", "NAME", "STATE", "FRAMEWORK", "HOST"])
        self.assertEqual(row.split()[1:3], ["hello", "TASK_FINISHED"])
        out, err, code = yield self.mesos("--json", "task", "list", "--all")
        (listed,) = json.loads(out)
        self.assertEqual((listed["name"], listed["state"]), ("hello", "TASK_FINISHED"))
        out, err, code = yield self.mesos("cat", "hello", "stdout")
        self.assertEqual((out, code), (b"hello from the cluster\n", 0), err)
        out, err, code = yield self.mesos("agent", "list")
        self.assertIn(b"127.0.0.1", out)

    @inlineCallbacks
    def test_failed_task_exit_code(self):
        """
        A command that fails makes C{execute} exit 1, saying how it ended.
        """
        out, err, code = yield self.mesos("execute", "--name=bad", "--command=exit 3")
        self.assertEqual(code, 1)
        self.assertIn(b"TASK_FAILED (Command exited with status 3)", err)

    @inlineCallbacks
    def test_follow_growing_log(self):
        """
        C{task log --follow} prints a log as it grows, to the end, and
        exits when the task has ended.
        """
        flag = os.path.abspath(self.mktemp())
        scheduler = RecordingScheduler(reactor)
        driver = MesosSchedulerDriver(scheduler, mesos_pb2.FrameworkInfo(user="", name="logs"),
                                      self.master, reactor=reactor)
        driver.start()
        self.addCleanup(driver.stop)
        yield until(reactor, lambda: scheduler.framework_id is not None, "registration")
        out_d = self.mesos("execute", "--name=grow", "--no-output",
                           f"--command=echo first; while [ ! -e {flag} ]; do sleep 0.1; done;"
                           " echo second")
        master = self.cluster.master_service.master
        yield until(reactor, lambda: any(
            r.state == mesos_pb2.TASK_RUNNING for f in master.frameworks.values()
            for r in f.tasks.values() if r.task.name == "grow"), "the task to run")
        follower = Follower()
        reactor.spawnProcess(follower, sys.executable,
                             [sys.executable, "-m", "mesos_tw.cli", "task", "log", "grow",
                              "--follow"], env=dict(os.environ, MESOS_MASTER=self.master))
        yield until(reactor, lambda: follower.out == b"first\n", "the first line")
        # The task writes its second line only now.
        open(flag, "w").close()
        code = yield follower.ended
        self.assertEqual((follower.out, code), (b"first\nsecond\n", 0), follower.err)
        _, _, code = yield out_d
        self.assertEqual(code, 0)

    @inlineCallbacks
    def test_teardown(self):
        """
        C{framework teardown} removes a framework: its task is killed and
        its driver told; C{framework list} no longer shows it, C{--all}
        does.
        """
        scheduler = RecordingScheduler(reactor)
        driver = MesosSchedulerDriver(scheduler, mesos_pb2.FrameworkInfo(user="", name="doomed"),
                                      self.master, reactor=reactor)
        driver.start()
        self.addCleanup(driver.abort)
        scheduler.launch("t1")
        yield scheduler.wait(lambda s: s.latest("t1") == "TASK_RUNNING", "t1 to run")
        out, err, code = yield self.mesos("framework", "teardown", scheduler.framework_id)
        self.assertEqual(code, 0, err)
        yield scheduler.wait(lambda s: s.count("error") == 1, "the driver's error")
        out, _, _ = yield self.mesos("framework", "list")
        self.assertNotIn(scheduler.framework_id.encode(), out)
        out, _, _ = yield self.mesos("framework", "list", "--all")
        self.assertIn(b"doomed", out)

    @inlineCallbacks
    def test_errors(self):
        """
        An unknown task exits 4, no reachable master 3, a bad --master 2,
        each with one line saying so.
        """
        out, err, code = yield self.mesos("task", "log", "nothing-like-it")
        self.assertEqual((code, err), (4, b"mesos: no task matches 'nothing-like-it'\n"))
        out, err, code = yield self.mesos("agent", "list", master="127.0.0.1:1")
        self.assertEqual(code, 3)
        self.assertIn(b"cannot reach", err)
        out, err, code = yield self.mesos("agent", "list", master="zk://")
        self.assertEqual(code, 2)
        self.assertIn(b"invalid --master", err)
