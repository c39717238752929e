"""
Acceptance tests with a real third-party client: a framework written with
pymesos (Mesos's v1 HTTP scheduler API, from PyPI) runs its command tasks on
``twistd mesos-local``, and on a master that pymesos finds through
ZooKeeper in Mesos's layout; and it runs tasks on an executor written with
pymesos (the v1 HTTP executor API), exchanging framework messages with it.
The executor also runs with its stream to the slave cut while it runs its
tasks, through a proxy that cuts it.
``scripts/test`` installs pymesos (``scripts/install-pymesos``); without it
these tests skip saying so.
"""

import glob
import os
import sys

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import SkipTest, TestCase

from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.processes import ClusterUnavailable, ProcessCluster
from mesos_tw.testing.zookeeper_server import free_port, start_ensemble

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAMEWORK = os.path.join(ROOT, "frameworks", "pymesos_framework.py")

#: How long the framework may take to run its tasks (its default, 60 s, is
#: short for a loaded machine starting executors); within the tests' timeout.
FRAMEWORK_TIMEOUT = "150"

try:
    import pymesos  # noqa: F401
except ImportError:
    PYMESOS_MISSING = "pymesos is not installed (bash scripts/install-pymesos)"
else:
    PYMESOS_MISSING = None


class _ToSlave(Protocol):
    """
    The proxy's connection to the slave, for one executor connection.
    """

    def __init__(self, executor_side):
        self.executor_side = executor_side

    def dataReceived(self, data):
        """
        Pass it on to the executor (or cut).
        """
        self.executor_side.from_slave(data)

    def connectionLost(self, reason):
        """
        The slave closed: so does the executor's side.
        """
        self.executor_side.transport.loseConnection()


class _FromExecutor(Protocol):
    """
    One connection of the executor's, relayed to the slave.
    """

    def __init__(self, proxy):
        self.proxy = proxy
        self.request = b""
        self.received = b""
        self.to_slave = None
        self.waiting = []

    def connectionMade(self):
        """
        Connect to the slave; what comes meanwhile waits.
        """
        d = connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", self.proxy.slave_port),
                            _ToSlave(self))

        def connected(protocol):
            self.to_slave = protocol
            for data in self.waiting:
                protocol.transport.write(data)
            self.waiting = []
            if self.transport.disconnected:
                protocol.transport.loseConnection()

        d.addCallbacks(connected, lambda _: self.transport.loseConnection())

    def dataReceived(self, data):
        """
        Relay the executor's bytes, noting its request.
        """
        self.request += data
        if self.to_slave is None:
            self.waiting.append(data)
        else:
            self.to_slave.transport.write(data)

    def connectionLost(self, reason):
        """
        The executor closed: so does the slave's side.
        """
        if self.to_slave is not None:
            self.to_slave.transport.loseConnection()

    @property
    def subscription(self):
        """
        Whether this connection carries a SUBSCRIBE (its event stream).
        """
        return b'"SUBSCRIBE"' in self.request

    def from_slave(self, data):
        """
        Relay the slave's bytes, unless this is where the proxy cuts.
        """
        proxy = self.proxy
        if self.subscription:
            if self not in proxy.streams:
                proxy.streams.append(self)
            if proxy.cut_at in data and not proxy.cut_done:
                # Cut here: these bytes are lost with the connection.
                proxy.cut_done = True
                self.transport.loseConnection()
                self.to_slave.transport.loseConnection()
                return
        self.received += data
        self.transport.write(data)


class StreamCuttingProxy(Factory):
    """
    A TCP proxy between executors and a slave that cuts the first
    subscription stream on which the slave sends bytes containing
    C{cut_at}, dropping those bytes; everything else passes unchanged.

    @ivar streams: the relayed connections that carried a SUBSCRIBE, in
        the order their first bytes came back; each has the C{request} it
        relayed and the bytes it C{received} from the slave.
    @ivar cut_done: whether the cut happened.
    """

    def __init__(self, slave_port, cut_at):
        self.slave_port = slave_port
        self.cut_at = cut_at
        self.cut_done = False
        self.streams = []

    def buildProtocol(self, address):
        return _FromExecutor(self)


class PymesosTests(TestCase):
    """
    pymesos's scheduler driver against our master.
    """

    timeout = 240

    def setUp(self):
        if PYMESOS_MISSING:
            raise SkipTest(PYMESOS_MISSING)

    @inlineCallbacks
    def run_framework(self, master, *arguments):
        """
        Run the pymesos framework to the end; return its output.
        """
        out, err, code = yield getProcessOutputAndValue(
            sys.executable, [FRAMEWORK, master, "--tasks", "3", "--timeout", FRAMEWORK_TIMEOUT,
                             *arguments],
            env=os.environ.copy(), path=ROOT)
        output = (out + err).decode(errors="replace")
        self.assertEqual(code, 0, output)
        return output

    @inlineCallbacks
    def start_mesos_local(self, *flags):
        """
        Start mesos-local with one slave (and C{flags}); returns its
        master's address.  C{self.slave_pid} is then the slave's UPID and
        C{self.work_dir} its work directory.
        """
        try:
            cluster = ProcessCluster(reactor, self.mktemp(), None)
        except ClusterUnavailable as error:
            raise SkipTest(str(error)) from None
        self.addCleanup(cluster.stop)
        port = free_port()
        self.work_dir = os.path.abspath(self.mktemp())
        daemon = cluster.spawn(
            "mesos-local", "mesos-local", f"--port={port}", "--num_slaves=1",
            f"--work_dir={self.work_dir}", "--resources=cpus:2;mem:512;disk:100", *flags)
        cluster.masters[port] = daemon
        _, state = yield cluster.wait_for(lambda p, s: len(s["slaves"]) == 1,
                                          "the slave to register")
        self.slave_pid = UPID.parse(state["slaves"][0]["pid"])
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
    def test_pymesos_executor_stream_cut(self):
        """
        pymesos's executor reaches the slave through a proxy that cuts its
        event stream where the framework's first answer (``finish <task>``)
        comes, while the executor runs its tasks; that answer is lost with
        the stream.  The executor (the same process: one run directory)
        subscribes again and the slave takes it back: the new stream opens
        with SUBSCRIBED, and every task's TASK_RUNNING and TASK_FINISHED
        reach the framework, none lost or failed.
        """
        master = yield self.start_mesos_local("--executor_reregistration_timeout=30secs")
        proxy = StreamCuttingProxy(self.slave_pid.port, b'"type":"MESSAGE"')
        port = yield TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(proxy)
        self.addCleanup(port.stopListening)
        output = yield self.run_framework(
            master, "--executor",
            f"--executor-env=MESOS_AGENT_ENDPOINT=127.0.0.1:{port.getHost().port}")
        self.assertIn("All 3 tasks finished; reconciliation answered", output)
        self.assertTrue(proxy.cut_done)
        self.assertGreaterEqual(len(proxy.streams), 2)
        after = proxy.streams[1].received
        self.assertIn(b"200 OK", after.split(b"\r\n", 1)[0])
        self.assertIn(b'"type":"SUBSCRIBED"', after)
        self.assertNotIn(b'"type":"SHUTDOWN"', after.split(b'"type":"SUBSCRIBED"')[0])
        for task in range(3):
            for state in ("TASK_RUNNING", "TASK_FINISHED"):
                self.assertRegex(output, f"Task pymesos-{task}-\\w+ is {state}")
        self.assertNotRegex(output, "is TASK_(LOST|FAILED|KILLED|ERROR)")
        (run,) = glob.glob(os.path.join(self.work_dir, "slave-0", "slaves", "*", "frameworks",
                                        "*", "executors", "*", "runs", "*-*"))
        with open(os.path.join(run, "stderr"), encoding="utf-8", errors="replace") as stderr:
            said = stderr.read()
        self.assertIn("Subscribed again", said)

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
