"""
Integration tests: a real master and slaves (mesos-local's service) and a
scheduler driver in this process, talking over loopback TCP, with real
executor processes run by the process isolator.
"""

import os
import sys

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.trial.unittest import TestCase

from mesos_tw.interface import Scheduler, mesos_pb2
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.resources import Resources
from mesos_tw.testing.local_cluster import start_mesos_local, until

FRAMEWORKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "frameworks")


class TaskScheduler(Scheduler):
    """
    Launches the given tasks on the first offers and records every update;
    C{done} fires when every task has reached a terminal state.
    """

    def __init__(self, make_tasks, count):
        self.make_tasks = make_tasks
        self.count = count
        self.launched = False
        self.updates = []
        self.messages = []
        self.finals = {}
        self.done = Deferred()
        self.on_running = {}

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer.id)
                continue
            self.launched = True
            driver.launchTasks(offer.id, self.make_tasks(offer.slave_id.value))

    def statusUpdate(self, driver, status):
        self.updates.append((status.task_id.value, status.state, status.message))
        if status.state == mesos_pb2.TASK_RUNNING and status.task_id.value in self.on_running:
            self.on_running.pop(status.task_id.value)(driver)
        if status.state not in (mesos_pb2.TASK_STAGING, mesos_pb2.TASK_STARTING,
                                mesos_pb2.TASK_RUNNING):
            self.finals[status.task_id.value] = status
            if len(self.finals) == self.count and not self.done.called:
                self.done.callback(None)

    def frameworkMessage(self, driver, executorId, slaveId, message):
        self.messages.append(message)


def command_task(task_id, slave_id, command, resources="cpus:0.1;mem:32"):
    """
    A command task.
    """
    task = mesos_pb2.TaskInfo(
        name=task_id, task_id=mesos_pb2.TaskID(value=task_id),
        slave_id=mesos_pb2.SlaveID(value=slave_id),
        resources=Resources.parse(resources).to_protobuf())
    task.command.value = command
    return task


class LocalClusterTests(TestCase):
    """
    Frameworks running tasks on mesos-local's master and two slaves.
    """

    timeout = 60

    @inlineCallbacks
    def setUp(self):
        self.work_dir = os.path.abspath(self.mktemp())
        self.cluster, port = yield start_mesos_local(
            self, reactor, slaves=2, resources="cpus:2;mem:512;disk:100;ports:[31000-31010]",
            work_dir=self.work_dir)
        self.master = f"127.0.0.1:{port}"

    @inlineCallbacks
    def run_framework(self, scheduler):
        driver = MesosSchedulerDriver(
            scheduler, mesos_pb2.FrameworkInfo(user="", name="integration"), self.master,
            reactor=reactor)
        driver.start()
        self.addCleanup(driver.stop)
        yield scheduler.done
        return driver

    def outputs_of(self, executor_id):
        """
        What the runs of executor C{executor_id} printed, from their
        sandboxes' C{stdout} files.
        """
        outputs = []
        for root, _, files in os.walk(self.work_dir):
            if "stdout" in files and os.sep + executor_id + os.sep in root + os.sep:
                with open(os.path.join(root, "stdout")) as stdout:
                    outputs.append(stdout.read())
        return outputs

    @inlineCallbacks
    def test_command_tasks(self):
        """
        Command tasks finish, fail with their exit status, or are killed, and
        their output lands in the sandbox.
        """
        scheduler = TaskScheduler(lambda slave: [
            command_task("ok", slave, "echo hello from $MESOS_EXECUTOR_ID"),
            command_task("bad", slave, "exit 3"),
            command_task("slow", slave, "sleep 100"),
        ], 3)
        scheduler.on_running["slow"] = lambda driver: driver.killTask(mesos_pb2.TaskID(value="slow"))
        yield self.run_framework(scheduler)
        finals = {task: (status.state, status.message) for task, status in scheduler.finals.items()}
        self.assertEqual(finals["ok"], (mesos_pb2.TASK_FINISHED, "Command exited with status 0"))
        self.assertEqual(finals["bad"], (mesos_pb2.TASK_FAILED, "Command exited with status 3"))
        self.assertEqual(finals["slow"][0], mesos_pb2.TASK_KILLED)
        self.assertIn("hello from ok\n", self.outputs_of("ok"))

    @inlineCallbacks
    def test_command_task_fetches_its_uris(self):
        """
        A command task's URIs are fetched into its sandbox (made executable
        if asked) before its command runs there; one that cannot be fetched
        fails the task, saying which.
        """
        script = os.path.abspath(self.mktemp())
        with open(script, "w") as out:
            out.write("#!/bin/sh\necho fetched and run\n")

        def tasks(slave):
            runs = command_task("fetches", slave, "./" + os.path.basename(script))
            runs.command.uris.add(value="file://" + script, executable=True)
            missing = command_task("missing", slave, "true")
            missing.command.uris.add(value="file:///no/such/file")
            return [runs, missing]

        scheduler = TaskScheduler(tasks, 2)
        yield self.run_framework(scheduler)
        finals = {task: (status.state, status.message) for task, status in scheduler.finals.items()}
        self.assertEqual(finals["fetches"], (mesos_pb2.TASK_FINISHED, "Command exited with status 0"))
        self.assertEqual(finals["missing"][0], mesos_pb2.TASK_FAILED)
        self.assertIn("cannot fetch 'file:///no/such/file'", finals["missing"][1])
        self.assertIn("fetched and run\n", self.outputs_of("fetches"))

    @inlineCallbacks
    def test_custom_executor_and_framework_messages(self):
        """
        Tasks on the classic test executor finish, and its framework
        messages arrive with their NUL byte.
        """
        executor = mesos_pb2.ExecutorInfo(
            executor_id=mesos_pb2.ExecutorID(value="default"),
            command=mesos_pb2.CommandInfo(
                value=f"{sys.executable} {os.path.join(FRAMEWORKS, 'test_executor.py')}"))

        def tasks(slave):
            made = []
            for number in range(3):
                task = command_task(str(number), slave, "")
                task.ClearField("command")
                task.executor.CopyFrom(executor)
                made.append(task)
            return made

        scheduler = TaskScheduler(tasks, 3)
        yield self.run_framework(scheduler)
        self.assertEqual({s.state for s in scheduler.finals.values()}, {mesos_pb2.TASK_FINISHED})
        yield until(reactor, lambda: len(scheduler.messages) == 3, "three framework messages")
        self.assertEqual(scheduler.messages, [b"data with a \0 byte"] * 3)

    @inlineCallbacks
    def test_invalid_task_gets_error(self):
        """
        A task asking for more than the offer has gets TASK_ERROR saying why,
        and nothing runs.
        """
        scheduler = TaskScheduler(
            lambda slave: [command_task("big", slave, "true", "cpus:64;mem:32")], 1)
        yield self.run_framework(scheduler)
        status = scheduler.finals["big"]
        self.assertEqual(status.state, mesos_pb2.TASK_ERROR)
        self.assertIn("more resources", status.message)

    @inlineCallbacks
    def test_state_endpoint_counts(self):
        """
        After tasks finish, the master's state counts them.
        """
        scheduler = TaskScheduler(lambda slave: [command_task("a", slave, "true")], 1)
        yield self.run_framework(scheduler)
        state = self.cluster.master_service.master.state()
        self.assertEqual(state["finished_tasks"], 1)
        self.assertEqual(len(state["slaves"]), 2)