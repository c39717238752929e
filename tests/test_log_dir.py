"""
Tests for C{--log_dir}: the node's log written to a file
(L{mesos_tw.logdir}) and served through the files API as Mesos serves it,
C{/files/read?path=/master/log} on the master and C{/slave/log} on the
slave.
"""

import json
import os

import treq
from treq.testing import StubTreq
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import Clock
from twisted.logger import Logger, LogPublisher
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase, TestCase

from mesos_tw.detector import StandaloneDetector
from mesos_tw.logdir import LogDirectory
from mesos_tw.master import tap as master_tap
from mesos_tw.master.election import SoleMaster
from mesos_tw.master.http import MasterHTTP
from mesos_tw.master.master import Master
from mesos_tw.resources import Resources
from mesos_tw.slave import tap as slave_tap
from mesos_tw.slave.http import SlaveHTTP
from mesos_tw.slave.slave import Slave
from mesos_tw.testing.isolation import FakeIsolator
from mesos_tw.testing.master import MASTER
from mesos_tw.testing.network import MemoryNetwork
from mesos_tw.testing.slave import SLAVE


class LogDirectoryTests(SynchronousTestCase):
    """
    L{LogDirectory} on a publisher of the test's own.
    """

    def test_writes_while_started(self):
        """
        Events published while started are in the file (the directory is
        made if need be); after C{stop} they are not.
        """
        publisher = LogPublisher()
        log = Logger(observer=publisher, namespace="test")
        directory = os.path.join(self.mktemp(), "logs")
        logs = LogDirectory(directory, "mesos-master.log", publisher)
        logs.start()
        log.info("Elected leading master {pid}", pid="master@127.0.0.1:5050")
        logs.stop()
        log.info("after the stop")
        with open(logs.path) as file:
            text = file.read()
        self.assertIn("Elected leading master master@127.0.0.1:5050", text)
        self.assertNotIn("after the stop", text)
        self.assertEqual(logs.path, os.path.join(directory, "mesos-master.log"))

    def test_not_a_directory(self):
        """
        C{--log_dir} naming a file is refused, naming the flag.
        """
        path = self.mktemp()
        with open(path, "w"):
            pass
        for options in (master_tap.Options(environ={}), slave_tap.Options(environ={})):
            argv = [f"--log_dir={path}"]
            if isinstance(options, slave_tap.Options):
                argv.append("--master=127.0.0.1:5050")
            with self.assertRaises(UsageError) as raised:
                options.parseOptions(argv)
            self.assertIn("--log_dir", str(raised.exception))


class FilesAPILogTests(SynchronousTestCase):
    """
    The log through the files API of a master and a slave, in memory.
    """

    def setUp(self):
        self.log_file = self.mktemp()
        with open(self.log_file, "w") as file:
            file.write("I1206 master log line\n")
        clock = Clock()
        network = MemoryNetwork(clock)
        master = Master(clock, network.node(MASTER))
        self.master = StubTreq(MasterHTTP(SoleMaster(master), log_file=self.log_file,
                                          reactor=clock).resource())
        self.bare_master = StubTreq(MasterHTTP(SoleMaster(master)).resource())
        slave = Slave(clock, network.node(SLAVE), StandaloneDetector(MASTER),
                      FakeIsolator(clock), os.path.abspath(self.mktemp()),
                      Resources.parse("cpus:1;mem:128"), python="python3",
                      environ={"PATH": "/bin"})
        self.slave = StubTreq(SlaveHTTP(slave, log_file=self.log_file).resource())
        self.clock = clock

    def get(self, client, path):
        """
        GET C{path}: the status and the body.
        """
        response = self.successResultOf(client.get("http://node" + path))
        if path.startswith("/files/download"):
            self.clock.advance(0)
            self.clock.advance(0)
        return response.code, self.successResultOf(response.content())

    def test_master_log(self):
        """
        C{/files/read?path=/master/log} gives Mesos's C{{data, offset}} of
        the log file; C{offset=-1} its size; C{.json} and download work too.
        """
        code, body = self.get(self.master, "/files/read?path=/master/log&offset=0")
        self.assertEqual((code, json.loads(body)),
                         (200, {"data": "I1206 master log line\n", "offset": 0}))
        code, body = self.get(self.master, "/files/read.json?path=/master/log&offset=-1")
        self.assertEqual(json.loads(body), {"data": "", "offset": 22})
        code, body = self.get(self.master, "/files/download?path=/master/log")
        self.assertEqual((code, body), (200, b"I1206 master log line\n"))

    def test_slave_log(self):
        """
        C{/files/read?path=/slave/log} on the slave gives its log file.
        """
        code, body = self.get(self.slave, "/files/read?path=/slave/log&offset=6&length=6")
        self.assertEqual((code, json.loads(body)), (200, {"data": "master", "offset": 6}))

    def test_other_paths(self):
        """
        A master serves nothing else through the files API (a 404 saying
        what it can read), and without C{--log_dir} not even its log.
        """
        code, body = self.get(self.master, "/files/read?path=/etc/passwd")
        self.assertEqual(code, 404)
        self.assertIn(b"/master/log", body)
        code, body = self.get(self.bare_master, "/files/read?path=/master/log")
        self.assertEqual(code, 404)


class MasterLogDirTests(TestCase):
    """
    C{mesos-master --log_dir} on the real reactor.
    """

    @inlineCallbacks
    def test_serves_its_log(self):
        """
        A master started with C{--log_dir} writes its log there, and serves
        it as C{/master/log}: its election is in it.
        """
        directory = os.path.join(self.mktemp(), "log")
        options = master_tap.Options(environ={})
        options.parseOptions(["--port=0", f"--log_dir={directory}"])
        service = master_tap.makeService(options, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        port = (yield service.listening).getHost().port
        base = f"http://127.0.0.1:{port}/files/read?path=/master/log&offset=0"
        response = yield treq.get(base, persistent=False)
        self.assertEqual(response.code, 200)
        answer = json.loads((yield response.content()))
        self.assertTrue(os.path.isfile(os.path.join(directory, "mesos-master.log")))
        self.assertIn(f"master@127.0.0.1:{port}", answer["data"])
