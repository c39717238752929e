"""
End-to-end tests with real processes: ``twistd`` (and ``twist``) running
mesos-local, or a separately started mesos-master and mesos-slave, and the
example frameworks run as their own programs, exactly as a user would.
"""

import os
import sys

import treq
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SkipTest, TestCase

from mesos_tw.testing.local_cluster import until
from mesos_tw.testing.processes import CHECKOUT, FRAMEWORKS, registered_slaves, run_twistd
from mesos_tw.testing.zookeeper_server import free_port



class EndToEndTests(TestCase):
    """
    The daemons and example frameworks as separate processes.
    """

    timeout = 120

    def twistd(self, *argv):
        """
        Run C{twistd --nodaemon <argv>} (ended at cleanup).
        """
        return run_twistd(self, reactor, *argv)

    def wait_for_slaves(self, port, count, daemon):
        """
        Poll the master's state until C{count} slaves are registered; fire
        with it.  Fails at once if C{daemon} exits.
        """
        @inlineCallbacks
        def fetch_state():
            response = yield treq.get(f"http://127.0.0.1:{port}/master/state", persistent=False)
            return response.code, (yield response.content())

        return until(reactor, lambda: registered_slaves(daemon, count, fetch_state),
                     f"{count} slave(s) to register", interval=0.1,
                     details=lambda _: daemon.text())

    @inlineCallbacks
    def run_framework(self, script, port, *args):
        """
        Run an example framework to completion; return its output.
        """
        out, err, code = yield getProcessOutputAndValue(
            sys.executable, [os.path.join(FRAMEWORKS, script), f"127.0.0.1:{port}", *args],
            env=os.environ.copy(), path=CHECKOUT)
        self.assertEqual(code, 0, (out + err).decode(errors="replace"))
        return out.decode()

    @inlineCallbacks
    def test_mesos_local_runs_test_framework(self):
        """
        ``twistd -n mesos-local`` with two slaves runs the classic test
        framework (custom executor, framework messages) to completion.
        """
        port = free_port()
        daemon = self.twistd("mesos-local", "--num_slaves=2", f"--port={port}",
                            f"--work_dir={os.path.abspath(self.mktemp())}",
                            "--resources=cpus:2;mem:512;disk:100;ports:[31000-31010]")
        yield self.wait_for_slaves(port, 2, daemon)
        output = yield self.run_framework("test_framework.py", port)
        self.assertIn("All 5 tasks finished; every framework message arrived intact", output)

    @inlineCallbacks
    def test_separate_master_and_slave(self):
        """
        Separately started ``twistd -n mesos-master`` and ``twistd -n
        mesos-slave`` run the no-executor framework's command tasks.
        """
        port = free_port()
        master = self.twistd("mesos-master", f"--port={port}")
        slave = self.twistd("mesos-slave", f"--master=127.0.0.1:{port}", "--port=0",
                           f"--work_dir={os.path.abspath(self.mktemp())}",
                           "--resources=cpus:1;mem:256;disk:100")
        yield self.wait_for_slaves(port, 1, master)
        self.assertTrue(slave.running)
        output = yield self.run_framework("no_executor_framework.py", port, "--tasks", "3")
        self.assertIn("All 3 command tasks finished", output)

    @inlineCallbacks
    def test_bad_flag_is_one_line(self):
        """
        The console script refuses a malformed --resources with one line on
        stderr naming the flag, and exit status 2.
        """
        script = os.path.join(os.path.dirname(sys.executable), "mesos-slave")
        if not os.path.exists(script):
            raise SkipTest("the mesos-slave console script is not installed next to python")
        out, err, code = yield getProcessOutputAndValue(
            script, ["--master=127.0.0.1:5050", "--resources=cpus"], env=os.environ.copy())
        self.assertEqual(code, 2)
        lines = err.decode().strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        self.assertIn("--resources", lines[0])
