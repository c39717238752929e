"""
Tests for the launcher (L{mesos_tw.isolation.launcher} and the process it
runs, L{mesos_tw.executors.launcher}) through the process isolator, with
real processes: a command executor forked by the launcher is in its own
container (session, sandbox, environment, mark), runs its task against a
real slave connection, and a launcher that dies is started again without
losing a launch.
"""

import os
import re
import signal
import uuid
from dataclasses import replace

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.trial.unittest import TestCase
from zope.interface import implementer

from mesos_tw.isolation._containers import CONTAINER_VARIABLE
from mesos_tw.isolation.cgroups import CgroupsIsolator
from mesos_tw.isolation.interface import LaunchError
from mesos_tw.isolation.launcher import Launcher
from mesos_tw.isolation.process import ProcessIsolator
from mesos_tw.protocols import messages_pb2 as internal
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.network import IMessageReceiver, MessageNode
from mesos_tw.protocols.upid import UPID
from mesos_tw.slave.paths import executor_run_directory
from mesos_tw.testing.cgroups import cgroups_root
from mesos_tw.testing.isolation import make_container
from mesos_tw.testing.local_cluster import until
from mesos_tw.testing.processes import is_alive


@implementer(IMessageReceiver)
class SlaveEnd:
    """
    The slave's end of executors' connections: records what they send and
    acknowledges status updates as the slave does.
    """

    def __init__(self):
        self.received = []
        self.lost = []
        self.node = None

    def message_received(self, sender, message):
        """
        Keep C{message}; acknowledge an update.
        """
        self.received.append((sender, message))
        if isinstance(message, internal.StatusUpdateMessage):
            update = message.update
            self.node.send(sender, internal.StatusUpdateAcknowledgementMessage(
                slave_id=mesos_pb2.SlaveID(value="S1"), framework_id=update.framework_id,
                task_id=update.status.task_id, uuid=update.uuid))

    def peer_lost(self, upid):
        """
        Keep the lost peer.
        """
        self.lost.append(upid)

    def of(self, cls):
        """
        C{(sender, message)} of the messages of type C{cls}.
        """
        return [(s, m) for s, m in self.received if isinstance(m, cls)]


def _proc_field(pid, name):
    with open(f"/proc/{pid}/{name}", "rb") as f:
        return f.read()


def _descriptors(pid):
    """
    What each descriptor process C{pid} holds open links to, by number.
    """
    links = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            links[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return links


def _cwd(pid):
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


class LauncherTests(TestCase):
    """
    Command executors forked by the launcher, through the process isolator.
    """

    @inlineCallbacks
    def setUp(self):
        self.slave = SlaveEnd()
        self.node = self.slave.node = MessageNode(
            reactor, UPID("slave(1)", "127.0.0.1", 0), self.slave)
        yield self.node.listen(TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1"))
        self.addCleanup(self.node.stop)
        self.launcher = Launcher(reactor)
        self.isolator = self.make_isolator()
        self.addCleanup(self.isolator.stop)
        yield self.isolator.recover([])
        self.launched = []

    def make_isolator(self):
        """
        The isolator the launcher works for.
        """
        return ProcessIsolator(reactor, launcher=self.launcher)

    def successor(self, work_dir):
        """
        A new isolator where this one works, as a restarted slave's
        (whose work directory is C{work_dir}).
        """
        return ProcessIsolator(reactor, work_dir=work_dir)

    def start(self, executor_id, variables=None, work_dir=None):
        """
        Prepare and launch the command executor C{executor_id} (with a
        run id and a sandbox as a slave working in C{work_dir} makes them,
        if given).

        @return: C{(container, Deferred of its pid)}.
        """
        container = replace(make_container(self, executor_id, "not run: forked"),
                            builtin="command")
        if work_dir is not None:
            run_id = str(uuid.uuid4())
            container = replace(container, run_id=run_id, directory=executor_run_directory(
                work_dir, "S1", container.framework_id, executor_id, run_id))
            os.makedirs(container.directory)
        environment = {"PATH": os.environ["PATH"], "MESOS_SLAVE_PID": str(self.node.upid),
                       "MESOS_FRAMEWORK_ID": container.framework_id,
                       "MESOS_EXECUTOR_ID": executor_id, "MESOS_DIRECTORY": container.directory}
        environment.update(variables or {})
        self.launched.append(executor_id)
        self.addCleanup(self.isolator.destroy, container.framework_id, executor_id)
        d = self.isolator.prepare(container)
        d.addCallback(lambda _: self.isolator.launch(container.framework_id, executor_id,
                                                     environment))
        return container, d

    def registered_from(self, executor_id):
        """
        The UPID of executor C{executor_id}'s registration, if it came.
        """
        for sender, message in self.slave.of(internal.RegisterExecutorMessage):
            if message.executor_id.value == executor_id:
                return sender
        return None

    def run_task(self, executor, command):
        """
        Send the registered C{executor} a task of C{command}.
        """
        task = mesos_pb2.TaskInfo(name="t", task_id=mesos_pb2.TaskID(value="t1"),
                                  slave_id=mesos_pb2.SlaveID(value="S1"))
        task.command.value = command
        self.node.send(executor, internal.ExecutorRegisteredMessage(
            executor_info=mesos_pb2.ExecutorInfo(executor_id=mesos_pb2.ExecutorID(value="x"),
                                                 command=mesos_pb2.CommandInfo(value="x")),
            framework_id=mesos_pb2.FrameworkID(value="f1"),
            framework_info=mesos_pb2.FrameworkInfo(user="u", name="n"),
            slave_id=mesos_pb2.SlaveID(value="S1"), slave_info=mesos_pb2.SlaveInfo(hostname="h")))
        self.node.send(executor, internal.RunTaskMessage(
            framework_id=mesos_pb2.FrameworkID(value="f1"),
            framework=mesos_pb2.FrameworkInfo(user="u", name="n"), pid="s@h:1", task=task))

    def states(self):
        """
        The task states the executors reported, in order.
        """
        return [m.update.status.state for _, m in self.slave.of(internal.StatusUpdateMessage)]

    @inlineCallbacks
    def test_forked_executor_is_in_its_container(self):
        """
        The forked command executor leads its own session, runs in its
        sandbox with its own environment and the run's mark, is the pid the
        isolator reports, is not the launcher's interpreter started anew,
        holds none of the launcher's descriptors (only its standard ones,
        its own selector and its connection to the slave), has the
        launcher's signal handlers back at their defaults (SIGPIPE stays
        ignored, as in any Python program), and runs its task with its output in the sandbox; it exits 0 once
        its updates are acknowledged, and the isolator reports that.
        """
        container, launching = self.start("e1", {"TASK_VARIABLE": "forty-two"})
        pid = yield launching
        yield until(reactor, lambda: self.registered_from("e1"), "the executor to register")
        stat = _proc_field(pid, "stat")
        fields = stat[stat.rindex(b")") + 2:].split()
        self.assertEqual((int(fields[2]), int(fields[3])), (pid, pid))
        self.assertEqual(int(fields[1]), self.launcher.pid)
        self.assertEqual(os.readlink(f"/proc/{pid}/cwd"), os.path.realpath(container.directory))
        status = dict(line.split(":", 1) for line in
                      _proc_field(pid, "status").decode().splitlines())
        ignored, caught = int(status["SigIgn"], 16), int(status["SigCgt"], 16)
        self.assertEqual([bool(ignored & 1 << (number - 1)) for number in
                          (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE)], [False, False, True])
        self.assertFalse(caught & 1 << (signal.SIGCHLD - 1))
        self.assertEqual(
            sorted(re.sub(r"\[\d+\]", "", link) for link in _descriptors(pid).values()),
            sorted([os.devnull, os.path.realpath(os.path.join(container.directory, "stdout")),
                    os.path.realpath(os.path.join(container.directory, "stderr")),
                    "anon_inode:[eventpoll]", "socket:"]))
        self.run_task(self.registered_from("e1"), "echo $TASK_VARIABLE $MESOS_CONTAINER_ID; pwd")
        termination = yield self.isolator.wait("f1", "e1")
        self.assertEqual(termination.status, 0)
        self.assertEqual(self.states(), [mesos_pb2.TASK_STARTING, mesos_pb2.TASK_RUNNING,
                                         mesos_pb2.TASK_FINISHED])
        with open(os.path.join(container.directory, "stdout")) as stdout:
            self.assertEqual(stdout.read().split(),
                             ["forty-two", container.run_id,
                              os.path.realpath(container.directory)])

    @inlineCallbacks
    def test_task_leftovers_are_killed(self):
        """
        A process the task leaves behind in a session of its own is killed
        before the executor exits: it exits with nothing of its container
        left.
        """
        container, launching = self.start("e1")
        yield launching
        yield until(reactor, lambda: self.registered_from("e1"), "the executor to register")
        marker = os.path.join(container.directory, "leftover.pid")
        self.run_task(self.registered_from("e1"),
                      f"setsid sh -c 'echo $$ > {marker}; exec sleep 100' & sleep 0.2")
        termination = yield self.isolator.wait("f1", "e1")
        self.assertEqual(termination.status, 0)
        with open(marker) as f:
            leftover = int(f.read())
        self.assertFalse(os.path.exists(f"/proc/{leftover}")
                         and b"Z" not in _proc_field(leftover, "stat").split(b") ")[1][:1])

    @inlineCallbacks
    def test_destroyed_while_launching(self):
        """
        An executor destroyed before the launcher has answered (a kill
        mid-launch) ends at once, and the child forked for it meanwhile is
        killed: its launch fails.
        """
        container, launching = self.start("e1")
        yield self.isolator.destroy("f1", "e1")
        termination = yield self.isolator.wait("f1", "e1")
        self.assertIn("Destroyed before it was launched", termination.message)
        yield self.assertFailure(launching, LaunchError)
        yield until(reactor, lambda: not [
            entry for entry in os.listdir("/proc") if entry.isdigit()
            and _cwd(entry) == os.path.realpath(container.directory)],
            "the forked child to be gone")

    @inlineCallbacks
    def test_crashed_launcher_is_started_again(self):
        """
        A launcher killed outright is started again; the executor it had
        started lives on (its end is still reported, its wait status
        unknown), and a new launch works.
        """
        _, launching = self.start("e1")
        first = yield launching
        old = self.launcher.pid
        os.kill(old, signal.SIGKILL)
        yield until(reactor, lambda: self.launcher.pid not in (None, old),
                    "a new launcher to start")
        self.assertEqual(self.launcher.starts, 2)
        os.kill(first, 0)
        _, launching = self.start("e2")
        second = yield launching
        self.assertNotEqual(second, first)
        yield self.isolator.destroy("f1", "e1")
        termination = yield self.isolator.wait("f1", "e1")
        self.assertIsNone(termination.status)

    @inlineCallbacks
    def test_launch_during_restart_is_not_lost(self):
        """
        Launches asked for as the launcher dies (one it may never have
        read, one while no launcher runs) are made by the next launcher.
        """
        _, launching = self.start("e1")
        yield launching
        old = self.launcher.pid
        os.kill(old, signal.SIGKILL)
        _, in_flight = self.start("e2")
        yield until(reactor, lambda: self.launcher.pid is None, "the launcher's end to be seen")
        _, meanwhile = self.start("e3")
        pids = [(yield in_flight), (yield meanwhile)]
        self.assertNotEqual(self.launcher.pid, old)
        yield until(reactor, lambda: self.registered_from("e2") and self.registered_from("e3"),
                    "both executors to register")
        self.assertEqual(len(self.slave.of(internal.RegisterExecutorMessage)), 3)
        for pid in pids:
            os.kill(pid, 0)


    @inlineCallbacks
    def test_recovery_kills_forked_orphan(self):
        """
        A restarted slave's isolator, told of no container, kills the
        executor a launcher forked for a run the slave did not checkpoint
        (an orphan), although C{/proc} shows that executor with the
        launcher's environment, without its run's mark.
        """
        work_dir = os.path.abspath(self.mktemp())
        _, launching = self.start("e1", work_dir=work_dir)
        pid = yield launching
        yield until(reactor, lambda: self.registered_from("e1"), "the executor to register")
        self.assertNotIn(CONTAINER_VARIABLE.encode(), _proc_field(pid, "environ"))
        successor = self.successor(work_dir)
        self.addCleanup(successor.stop)
        yield successor.recover([])
        self.assertFalse(is_alive(pid))


class CgroupsLauncherTests(LauncherTests):
    """
    The same, through the cgroups isolator (on real cgroup v1 hierarchies,
    skipped where there are none): the forked executor is in its run's
    cgroup before it runs anything.
    """

    def make_isolator(self):
        """
        A cgroups isolator with a root of its own.
        """
        self.root = cgroups_root(self)
        return CgroupsIsolator(reactor, root=self.root, launcher=self.launcher)

    def successor(self, work_dir):
        """
        A new cgroups isolator on the same root.
        """
        return CgroupsIsolator(reactor, root=self.root)

    @inlineCallbacks
    def test_forked_executor_is_in_its_cgroup(self):
        """
        The executor, and the task it runs, are in the run's cgroup in
        every hierarchy.
        """
        container, launching = self.start("e1")
        pid = yield launching
        yield until(reactor, lambda: self.registered_from("e1"), "the executor to register")
        lines = _proc_field(pid, "cgroup").decode().splitlines()
        wanted = f"/{self.root}/{container.run_id}"
        for subsystem in ("memory", "cpuacct", "freezer"):
            [line] = [line for line in lines if subsystem in line.split(":")[1].split(",")]
            self.assertTrue(line.endswith(wanted), line)
        self.run_task(self.registered_from("e1"), "cat /proc/self/cgroup")
        termination = yield self.isolator.wait("f1", "e1")
        yield self.isolator.cleanup("f1", "e1")
        self.assertEqual(termination.status, 0)
        with open(os.path.join(container.directory, "stdout")) as stdout:
            self.assertIn(wanted, stdout.read())
