"""
Tests for L{mesos_tw.executors.default.DefaultExecutor}, the slave's
built-in task group executor: real commands run as child processes on the
real reactor, reporting to a recording driver.
"""

import inspect
import os
import signal

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from mesos_tw.executors.default import DefaultExecutor
from mesos_tw.interface import ExecutorDriver
from mesos_tw.protocols import mesos_pb2
from mesos_tw.slave.fetcher import Fetcher
from mesos_tw.testing.local_cluster import until


class RecordingDriver(ExecutorDriver):
    """
    An L{ExecutorDriver} that records status updates and whether it was
    stopped.
    """

    def __init__(self):
        self.updates = []
        self.statuses = []
        self.stopped = False
        self._waiting = []

    def sendStatusUpdate(self, status):
        """
        Record C{status}; wake those waiting for its task to end, on the
        next turn of the reactor (after the executor has finished handling
        whatever made it send the update, as with a real driver).
        """
        self.updates.append((status.task_id.value, status.state, status.message))
        self.statuses.append(status)
        for wanted, d in list(self._waiting):
            if wanted <= self.ended():
                self._waiting.remove((wanted, d))
                reactor.callLater(0, d.callback, None)
        return mesos_pb2.DRIVER_RUNNING

    def stop(self):
        """
        Record that the executor stopped its driver.
        """
        self.stopped = True
        return mesos_pb2.DRIVER_STOPPED

    def ended(self):
        """
        The ids of the tasks that reached a terminal state.
        """
        return {task_id for task_id, state, _ in self.updates
                if state not in (mesos_pb2.TASK_RUNNING, mesos_pb2.TASK_STARTING,
                                 mesos_pb2.TASK_KILLING)}

    def when_ended(self, *task_ids):
        """
        A Deferred firing once every one of C{task_ids} has ended.
        """
        d = Deferred()
        if set(task_ids) <= self.ended():
            d.callback(None)
        else:
            self._waiting.append((set(task_ids), d))
        return d

    def states(self):
        """
        C{{task id: last state}}.
        """
        return {task_id: state for task_id, state, _ in self.updates}


class HeldFetcher(Fetcher):
    """
    A L{Fetcher} whose fetches all wait until L{release}.
    """

    def __init__(self, reactor):
        Fetcher.__init__(self, reactor)
        self.waiting = []

    def fetch(self, command, directory):
        """
        A Deferred that fires at L{release}.
        """
        d = Deferred()
        self.waiting.append(d)
        return d

    def release(self):
        """
        Let every fetch finish, those that releasing one starts too.
        """
        while self.waiting:
            self.waiting.pop(0).callback(None)


def task(task_id, command):
    """
    A task running C{command}.
    """
    info = mesos_pb2.TaskInfo(name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
                              slave_id=mesos_pb2.SlaveID(value="S1"))
    if command is not None:
        info.command.value = command
    return info


class DefaultExecutorTests(TestCase):
    """
    Task groups run as processes, standing or falling together.
    """

    timeout = 120

    def setUp(self):
        self.sandbox = os.path.abspath(self.mktemp())
        os.makedirs(self.sandbox)
        self.driver = RecordingDriver()
        self.executor = DefaultExecutor(reactor, self.sandbox, {"PATH": os.environ["PATH"]},
                                        kill_grace_period=1.0)

    def test_driver_fake_is_an_executor_driver(self):
        """
        The recording driver is an L{ExecutorDriver}, as the executor
        expects, and the methods it fakes take what the interface's take
        (so is the held fetcher a L{Fetcher}): the fakes cannot drift from
        what the executor calls.
        """
        self.assertIsInstance(self.driver, ExecutorDriver)
        for fake, real, name in [(RecordingDriver, ExecutorDriver, "sendStatusUpdate"),
                                 (RecordingDriver, ExecutorDriver, "stop"),
                                 (HeldFetcher, Fetcher, "fetch")]:
            self.assertEqual(inspect.signature(getattr(fake, name)),
                             inspect.signature(getattr(real, name)), f"{fake.__name__}.{name}")

    async def test_group_runs_in_task_sandboxes(self):
        """
        Each task runs in its own sandbox (named by MESOS_SANDBOX, holding
        its output), reports STARTING, RUNNING then FINISHED, and the executor stops
        once none is left.
        """
        self.executor.launchTaskGroup(self.driver, [
            task("a", 'echo "a in $MESOS_SANDBOX"'), task("b", "pwd")])
        await self.driver.when_ended("a", "b")
        self.assertEqual(self.driver.states(), {"a": mesos_pb2.TASK_FINISHED,
                                                "b": mesos_pb2.TASK_FINISHED})
        self.assertEqual([state for task_id, state, _ in self.driver.updates if task_id == "a"],
                         [mesos_pb2.TASK_STARTING, mesos_pb2.TASK_RUNNING,
                          mesos_pb2.TASK_FINISHED])
        a_sandbox = os.path.join(self.sandbox, "tasks", "a")
        with open(os.path.join(a_sandbox, "stdout")) as output:
            self.assertEqual(output.read(), f"a in {a_sandbox}\n")
        with open(os.path.join(self.sandbox, "tasks", "b", "stdout")) as output:
            self.assertEqual(os.path.realpath(output.read().strip()),
                             os.path.realpath(os.path.join(self.sandbox, "tasks", "b")))
        self.assertTrue(self.driver.stopped)

    async def test_failed_task_kills_its_group(self):
        """
        A task that fails gets the exit status in its message; the rest of
        its group is killed, another group runs on.
        """
        self.executor.launchTaskGroup(self.driver, [task("fails", "exit 3"),
                                                    task("sleeper", "sleep 60")])
        self.executor.launchTaskGroup(self.driver, [task("other", "sleep 60")])
        await self.driver.when_ended("fails", "sleeper")
        states = self.driver.states()
        self.assertEqual((states["fails"], states["sleeper"]),
                         (mesos_pb2.TASK_FAILED, mesos_pb2.TASK_KILLED))
        self.assertIn("exited with status 3", dict(
            (t, m) for t, _, m in self.driver.updates)["fails"])
        self.assertEqual(states["other"], mesos_pb2.TASK_RUNNING)
        self.assertFalse(self.driver.stopped)
        self.executor.killTask(self.driver, mesos_pb2.TaskID(value="other"))
        await self.driver.when_ended("other")
        self.assertEqual(self.driver.states()["other"], mesos_pb2.TASK_KILLED)
        self.assertTrue(self.driver.stopped)

    async def test_kill_escalates_to_sigkill(self):
        """
        A task that ignores SIGTERM is killed with SIGKILL after the grace
        period.
        """
        # Ignored signals stay ignored in children: the task's shell is
        # born deaf to SIGTERM, with no race against its start.
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            self.executor.launchTaskGroup(self.driver, [task("stubborn", "sleep 60")])
        finally:
            signal.signal(signal.SIGTERM, previous)
        process = self.executor.running["stubborn"].process
        self.executor.killTask(self.driver, mesos_pb2.TaskID(value="stubborn"))
        await self.driver.when_ended("stubborn")
        self.assertEqual(self.driver.states()["stubborn"], mesos_pb2.TASK_KILLED)
        self.assertEqual(process.returncode, -signal.SIGKILL)

    async def test_uris_fetched_into_task_sandbox(self):
        """
        A task's URIs are fetched into its own sandbox before its command
        runs there; a URI that cannot be fetched fails the group, saying
        which, before any of its tasks starts.
        """
        script = os.path.join(self.sandbox, "script.sh")
        with open(script, "w") as out:
            out.write("#!/bin/sh\necho fetched\n")
        runs = task("runs", "./script.sh")
        runs.command.uris.add(value="file://" + script, executable=True)
        self.executor.launchTaskGroup(self.driver, [runs])
        await self.driver.when_ended("runs")
        self.assertEqual(self.driver.states()["runs"], mesos_pb2.TASK_FINISHED)
        with open(os.path.join(self.sandbox, "tasks", "runs", "stdout")) as output:
            self.assertEqual(output.read(), "fetched\n")

        broken = task("broken", "true")
        broken.command.uris.add(value="file:///no/such/file")
        self.executor.launchTaskGroup(self.driver, [task("first", "sleep 60"), broken])
        await self.driver.when_ended("first", "broken")
        updates = {t: (state, message) for t, state, message in self.driver.updates}
        self.assertEqual(updates["first"], (mesos_pb2.TASK_FAILED,
                                            "Task broken of the group could not be fetched"))
        self.assertEqual(updates["broken"][0], mesos_pb2.TASK_FAILED)
        self.assertIn("cannot fetch 'file:///no/such/file'", updates["broken"][1])
        self.assertEqual(self.executor.running, {})

    def test_kill_while_fetching(self):
        """
        A kill of a task whose group is still being fetched stops the whole
        group from starting: its tasks end TASK_KILLED, and the executor,
        with nothing left, stops.
        """
        fetcher = self.executor.fetcher = HeldFetcher(reactor)
        self.executor.launchTaskGroup(self.driver, [task("a", "sleep 60"), task("b", "sleep 60")])
        self.executor.killTask(self.driver, mesos_pb2.TaskID(value="b"))
        self.assertFalse(self.driver.stopped)
        fetcher.release()
        self.assertEqual(self.driver.states(), {"a": mesos_pb2.TASK_KILLED,
                                                "b": mesos_pb2.TASK_KILLED})
        self.assertEqual(self.executor.running, {})
        self.assertTrue(self.driver.stopped)

    def test_task_without_command_fails_the_group(self):
        """
        A group with a task without a command does not start at all: every
        task fails, saying which one lacked it.
        """
        self.executor.launchTaskGroup(self.driver, [task("a", "sleep 60"), task("b", None)])
        self.assertEqual(self.driver.states(), {"a": mesos_pb2.TASK_FAILED,
                                                "b": mesos_pb2.TASK_FAILED})
        self.assertIn("b of the group have no command", self.driver.updates[0][2])
        self.assertEqual(self.executor.running, {})
        self.assertTrue(self.driver.stopped)

    async def test_shutdown_kills_everything(self):
        """
        A shutdown kills every task at once.
        """
        self.executor.launchTaskGroup(self.driver, [task("a", "sleep 60")])
        self.executor.launchTaskGroup(self.driver, [task("b", "sleep 60")])
        self.executor.shutdown(self.driver)
        await self.driver.when_ended("a", "b")
        self.assertEqual(self.driver.states(), {"a": mesos_pb2.TASK_KILLED,
                                                "b": mesos_pb2.TASK_KILLED})

    def test_kill_unknown_task_is_ignored(self):
        """
        Killing a task that is not running here changes nothing.
        """
        self.executor.killTask(self.driver, mesos_pb2.TaskID(value="nope"))
        self.assertEqual(self.driver.updates, [])


def kill_policy(seconds):
    """
    A C{KillPolicy} with a grace period of C{seconds}.
    """
    return mesos_pb2.KillPolicy(
        grace_period=mesos_pb2.DurationInfo(nanoseconds=int(seconds * 1e9)))


class DefaultExecutorHealthAndKillTests(TestCase):
    """
    Health checks per task, kill policies and TASK_KILLING in the default
    executor (real processes on the real reactor).
    """

    timeout = 120

    def setUp(self):
        self.sandbox = os.path.abspath(self.mktemp())
        os.makedirs(self.sandbox)
        self.driver = RecordingDriver()
        self.executor = DefaultExecutor(reactor, self.sandbox, {"PATH": os.environ["PATH"]})
        # A check stopped with its task kills its command, which is reaped
        # in a later turn: the test is over only once it has been.
        self.addCleanup(lambda: until(reactor, lambda: not self.executor.loop.watching(),
                                      "every cancelled check's command to be reaped"))

    def statuses_of(self, task_id):
        """
        The statuses sent for C{task_id}, in order.
        """
        return [status for status in self.driver.statuses if status.task_id.value == task_id]

    async def test_unhealthy_task_is_killed(self):
        """
        Each task has its own checker: a task whose check keeps failing is
        reported unhealthy at each failure, the second of which kills it
        (its final update unhealthy too), and its group with it; a healthy
        one is reported healthy.
        """
        def checked(task_id, command):
            info = task(task_id, "sleep 60")
            info.health_check.CopyFrom(mesos_pb2.HealthCheck(
                type=mesos_pb2.HealthCheck.COMMAND, delay_seconds=0, interval_seconds=0.05,
                grace_period_seconds=0, consecutive_failures=2,
                command=mesos_pb2.CommandInfo(value=command)))
            return info

        self.executor.launchTaskGroup(self.driver, [checked("sick", "exit 1"),
                                                    task("partner", "sleep 60")])
        self.executor.launchTaskGroup(self.driver, [checked("well", "exit 0")])
        await self.driver.when_ended("sick", "partner")
        sick = self.statuses_of("sick")
        self.assertEqual([(s.state, s.healthy if s.HasField("healthy") else None)
                          for s in sick],
                         [(mesos_pb2.TASK_STARTING, None), (mesos_pb2.TASK_RUNNING, None),
                          (mesos_pb2.TASK_RUNNING, False), (mesos_pb2.TASK_RUNNING, False),
                          (mesos_pb2.TASK_KILLED, False)])
        self.assertEqual(sick[2].reason,
                         mesos_pb2.TaskStatus.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED)
        self.assertEqual(self.driver.states()["partner"], mesos_pb2.TASK_KILLED)
        self.assertIn(True, [s.healthy for s in self.statuses_of("well") if s.HasField("healthy")])
        self.executor.shutdown(self.driver)
        await self.driver.when_ended("well")

    async def test_task_killing_capability(self):
        """
        TaskKillingCapability: a framework with TASK_KILLING_STATE hears
        TASK_KILLING before TASK_KILLED; without it (the other tests), not.
        """
        self.executor.registered(self.driver, None, mesos_pb2.FrameworkInfo(
            user="u", name="n", capabilities=[mesos_pb2.FrameworkInfo.Capability(
                type=mesos_pb2.FrameworkInfo.Capability.TASK_KILLING_STATE)]), None)
        self.executor.launchTaskGroup(self.driver, [task("a", "sleep 60")])
        self.executor.killTask(self.driver, mesos_pb2.TaskID(value="a"))
        await self.driver.when_ended("a")
        self.assertEqual([s.state for s in self.statuses_of("a")][-2:],
                         [mesos_pb2.TASK_KILLING, mesos_pb2.TASK_KILLED])

    async def test_kill_policy(self):
        """
        A task deaf to SIGTERM, launched with a 100 s grace period, is
        SIGKILLed at once by a kill whose policy says 0 s (were the task's
        used, the test would time out).
        """
        stubborn = task("stubborn", "sleep 60")
        stubborn.kill_policy.CopyFrom(kill_policy(100))
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            self.executor.launchTaskGroup(self.driver, [stubborn])
        finally:
            signal.signal(signal.SIGTERM, previous)
        process = self.executor.running["stubborn"].process
        self.executor.killTaskWithPolicy(self.driver, mesos_pb2.TaskID(value="stubborn"),
                                         kill_policy(0))
        await self.driver.when_ended("stubborn")
        self.assertEqual(process.returncode, -signal.SIGKILL)
