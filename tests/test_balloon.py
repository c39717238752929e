"""
The balloon framework (C{frameworks/balloon_framework.py}) run as its own
program against mesos-local: with C{--isolation=cgroups} on this machine's
real kernel its task fails with the memory-limit message (skipped, with the
reason, where cgroups cannot be used); with the process isolator nothing
stops the balloon and the framework says so.
"""

import os
import sys

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from mesos_tw.testing.cgroups import cgroups_root
from mesos_tw.testing.local_cluster import start_mesos_local

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BALLOON = os.path.join(ROOT, "frameworks", "balloon_framework.py")


class BalloonFrameworkTests(TestCase):
    """
    C{python frameworks/balloon_framework.py <master>} against mesos-local.
    """

    timeout = 120

    @inlineCallbacks
    def start_local(self, *flags):
        """
        A one-slave mesos-local started with C{flags}, stopped (its
        executors killed) after the test; fires with the master's address.
        """
        _, port = yield start_mesos_local(self, reactor, *flags,
                                          resources="cpus:2;mem:1024;disk:100")
        return f"127.0.0.1:{port}"

    def run_balloon(self, *argv):
        """
        Run the framework to its end: fires with its exit code and output.
        """
        d = getProcessOutputAndValue(sys.executable, [BALLOON, *argv], env=os.environ.copy(),
                                     path=ROOT)
        return d.addCallback(lambda result: (result[2], (result[0] + result[1]).decode()))

    @inlineCallbacks
    def test_cgroups_memory_limit_fails_the_task(self):
        """
        With C{--isolation=cgroups} the balloon (64 MB task, 32 MB
        executor) is stopped on its way to 256 MB: the task ends
        TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY and the
        isolator's message, the framework prints both and exits 0, and no
        cgroup is left behind (checked by the cgroups root's cleanup).
        """
        master = yield self.start_local("--isolation=cgroups",
                                        f"--cgroups_root={cgroups_root(self)}")
        code, output = yield self.run_balloon(master, "--task_mem", "64", "--balloon_limit", "256",
                                              "--step_seconds", "0.2")
        self.assertEqual(code, 0, output)
        self.assertIn("Task balloon is in state TASK_FAILED (REASON_CONTAINER_LIMITATION_MEMORY): "
                      "Memory limit of 96 MB reached", output)
        self.assertIn("The balloon was stopped by its memory limit: Memory limit of 96 MB reached",
                      output)
        self.assertNotIn("TASK_FINISHED", output)

    @inlineCallbacks
    def test_process_isolator_does_not_stop_it(self):
        """
        The process isolator enforces no memory: the balloon reaches its
        full size, the task finishes saying so, and the framework exits 1
        naming the problem.
        """
        master = yield self.start_local("--isolation=process")
        code, output = yield self.run_balloon(master, "--task_mem", "32", "--balloon_limit", "96",
                                              "--step_seconds", "0")
        self.assertEqual(code, 1, output)
        self.assertIn("Task balloon is in state TASK_FINISHED: The balloon reached its full 96 MB",
                      output)
        self.assertIn("PROBLEM: no memory limit stopped the balloon", output)

    @inlineCallbacks
    def test_balloon_that_cannot_outgrow_its_task_refused(self):
        """
        A balloon limit within the task's and executor's memory is refused
        with one line saying why, and exit status 2, before any connection.
        """
        code, output = yield self.run_balloon("127.0.0.1:1", "--task_mem", "64",
                                              "--balloon_limit", "96")
        self.assertEqual(code, 2, output)
        self.assertIn("--balloon_limit (96 MB) must exceed the task's and its executor's memory",
                      output)
        code, output = yield self.run_balloon("127.0.0.1:1", "--task_mem", "0")
        self.assertEqual(code, 2, output)
        self.assertIn("--task_mem: must be positive, not 0", output)
