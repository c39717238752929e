"""
Tests for L{mesos_tw.detector}: reading master specifications.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from mesos_tw.detector import (
    DetectorError,
    IMasterDetector,
    StandaloneDetector,
    ZooKeeperDetector,
    detector_for,
    resolve_master,
)
from mesos_tw.protocols.upid import UPID
from mesos_tw.zookeeper import ZooKeeperURL

MASTER = UPID("master", "127.0.0.1", 5050)


class DetectorForTests(SynchronousTestCase):
    """
    Tests for L{detector_for}.
    """

    def test_host_port(self):
        """
        C{host:port} and C{master@host:port} give a standalone detector.
        """
        for spec in ["127.0.0.1:5050", "master@127.0.0.1:5050", " 127.0.0.1:5050\n"]:
            detector = detector_for(spec)
            self.assertIsInstance(detector, StandaloneDetector)
            self.assertEqual(detector.upid, MASTER)

    def test_file(self):
        """
        C{file://} reads the specification from a file.
        """
        files = {"/etc/mesos/master": "127.0.0.1:5050\n"}
        detector = detector_for("file:///etc/mesos/master", read_file=files.__getitem__)
        self.assertEqual(detector.upid, MASTER)

    def test_missing_file(self):
        """
        A file that cannot be read is a clear error.
        """

        def missing(path):
            raise FileNotFoundError(2, "No such file or directory")

        with self.assertRaises(DetectorError) as raised:
            detector_for("file:///nope", read_file=missing)
        self.assertIn("cannot read master file", str(raised.exception))

    def test_zookeeper(self):
        """
        C{zk://} (also through a file) gives a ZooKeeper detector watching
        the URL's path; it needs a reactor to run on.
        """
        files = {"/etc/mesos/zk": "zk://127.0.0.1:2181,127.0.0.1:2182/mesos\n"}
        detector = detector_for("file:///etc/mesos/zk", reactor=Clock(),
                                read_file=files.__getitem__)
        self.assertIsInstance(detector, ZooKeeperDetector)
        self.assertEqual(detector.path, "/mesos")
        self.assertEqual(detector.client.hosts, "127.0.0.1:2181,127.0.0.1:2182")
        self.assertIsInstance(resolve_master("zk://h:1/p"), ZooKeeperURL)
        with self.assertRaises(DetectorError) as raised:
            detector_for("zk://127.0.0.1:2181/mesos")
        self.assertIn("reactor", str(raised.exception))

    def test_bad_zookeeper_url(self):
        """
        A malformed C{zk://} URL says what is wrong with it.
        """
        with self.assertRaises(DetectorError) as raised:
            detector_for("zk://127.0.0.1/mesos", reactor=Clock())
        self.assertIn("not host:port", str(raised.exception))

    def test_garbage(self):
        """
        Something that is no address is refused.
        """
        self.assertRaises(DetectorError, detector_for, "not a master")


class StandaloneDetectorTests(SynchronousTestCase):
    """
    Tests for L{StandaloneDetector}.
    """

    def test_interface(self):
        """
        It provides L{IMasterDetector}.
        """
        self.assertTrue(verifyObject(IMasterDetector, StandaloneDetector(MASTER)))

    def test_reports_at_start_and_on_appoint(self):
        """
        The listener hears the master at start and when a new one is
        appointed, and not after stop.
        """
        heard = []
        detector = StandaloneDetector(MASTER)
        detector.start(heard.append)
        other = UPID("master", "127.0.0.1", 6060)
        detector.appoint(other)
        detector.stop()
        detector.appoint(MASTER)
        self.assertEqual(heard, [MASTER, other])
