"""
Integration tests: a real master and slaves (mesos-local's service) and a
scheduler driver in this process, talking over loopback TCP, with real
executor processes run by the process isolator.
"""

import os
import sys

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from mesos_tw.interface import mesos_pb2
from mesos_tw.native import MesosSchedulerDriver
from mesos_tw.testing.local_cluster import start_mesos_local, until
from mesos_tw.testing.scheduler import TaskScheduler, command_task

FRAMEWORKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "frameworks")



class LocalClusterTests(TestCase):
    """
    Frameworks running tasks on mesos-local's master and two slaves.
    """

    timeout = 120

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