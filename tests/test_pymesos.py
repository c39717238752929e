"""
Acceptance tests with a real third-party client: a framework written with
pymesos (Mesos's v1 HTTP scheduler API, from PyPI) runs its command tasks on
``twistd mesos-local``, and on a master that pymesos finds through
ZooKeeper in Mesos's layout; and it runs tasks on an executor written with
pymesos (the v1 HTTP executor API), exchanging framework messages with it.
``scripts/test`` installs pymesos (``scripts/install-pymesos``); without it
these tests skip saying so.
"""

import os
import sys

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SkipTest, TestCase

from mesos_tw.testing.processes import ClusterUnavailable, ProcessCluster
from mesos_tw.testing.zookeeper_server import free_port, start_ensemble

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAMEWORK = os.path.join(ROOT, "frameworks", "pymesos_framework.py")

try:
    import pymesos  # noqa: F401
except ImportError:
    PYMESOS_MISSING = "pymesos is not installed (bash scripts/install-pymesos)"
else:
    PYMESOS_MISSING = None


class PymesosTests(TestCase):
    """
    pymesos's scheduler driver against our master.
    """

    timeout = 120

    def setUp(self):
        if PYMESOS_MISSING:
            raise SkipTest(PYMESOS_MISSING)

    @inlineCallbacks
    def run_framework(self, master, *arguments):
        """
        Run the pymesos framework to the end; return its output.
        """
        out, err, code = yield getProcessOutputAndValue(
            sys.executable, [FRAMEWORK, master, "--tasks", "3", *arguments],
            env=os.environ.copy(), path=ROOT)
        output = (out + err).decode(errors="replace")
        self.assertEqual(code, 0, output)
        return output

    @inlineCallbacks
    def start_mesos_local(self):
        """
        Start mesos-local with one slave; returns its master's address.
        """
        try:
            cluster = ProcessCluster(reactor, self.mktemp(), None)
        except ClusterUnavailable as error:
            raise SkipTest(str(error)) from None
        self.addCleanup(cluster.stop)
        port = free_port()
        daemon = cluster.spawn(
            "mesos-local", "mesos-local", f"--port={port}", "--num_slaves=1",
            f"--work_dir={os.path.abspath(self.mktemp())}", "--resources=cpus:2;mem:512;disk:100")
        cluster.masters[port] = daemon
        yield cluster.wait_for(lambda p, s: len(s["slaves"]) == 1, "the slave to register")
        return f"127.0.0.1:{port}"

    @inlineCallbacks
    def test_mesos_local(self):
        """
        On mesos-local, pymesos subscribes, launches three command tasks,
        sees them finish (acknowledging each update) and gets answers to
        an implicit reconciliation.
        """
        master = yield self.start_mesos_local()
        output = yield self.run_framework(master)
        self.assertIn("All 3 tasks finished; reconciliation answered", output)

    @inlineCallbacks
    def test_pymesos_executor(self):
        """
        On mesos-local, pymesos's framework launches three tasks on
        pymesos's executor (frameworks/pymesos_executor.py), which the
        slave starts with Mesos's environment and which subscribes to the
        v1 executor API: each task's TASK_RUNNING arrives, the executor's
        framework message for it arrives, the framework's answer reaches
        the executor, whose TASK_FINISHED then arrives.
        """
        master = yield self.start_mesos_local()
        output = yield self.run_framework(master, "--executor")
        self.assertIn("All 3 tasks finished; reconciliation answered", output)
        self.assertIn("Framework messages from the executor for all 3 tasks", output)

    @inlineCallbacks
    def test_found_through_zookeeper(self):
        """
        pymesos reads our masters' ZooKeeper znodes (Mesos's json.info_
        layout) to find the leader, and runs its tasks there.
        """
        ensemble = yield start_ensemble(self, reactor, size=1)
        url = ensemble.url("/mesos")
        try:
            cluster = ProcessCluster(reactor, self.mktemp(), url, "4secs")
        except ClusterUnavailable as error:
            raise SkipTest(str(error)) from None
        self.addCleanup(cluster.stop)
        cluster.start_master()
        cluster.start_master()
        cluster.start_slave()
        yield cluster.wait_for(lambda p, s: len(s["slaves"]) == 1, "the slave to register")
        output = yield self.run_framework(url)
        self.assertIn("All 3 tasks finished; reconciliation answered", output)

    @inlineCallbacks
    def test_task_group_on_the_default_executor(self):
        """
        pymesos's framework launches its three tasks as one task group
        (ACCEPT with LAUNCH_GROUP) on the DEFAULT executor: the slave runs
        its built-in default executor, whose tasks all finish.
        """
        master = yield self.start_mesos_local()
        output = yield self.run_framework(master, "--group")
        self.assertIn("All 3 tasks finished; reconciliation answered", output)

    @inlineCallbacks
    def test_task_group_on_the_pymesos_executor(self):
        """
        The task group goes to pymesos's executor (a CUSTOM one) as one
        LAUNCH_GROUP event; its tasks run and exchange framework messages
        as single tasks do.
        """
        master = yield self.start_mesos_local()
        output = yield self.run_framework(master, "--group", "--executor")
        self.assertIn("All 3 tasks finished; reconciliation answered", output)
        self.assertIn("Framework messages from the executor for all 3 tasks", output)
