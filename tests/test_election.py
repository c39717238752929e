"""
Tests for leader election: one suite for every contender and detector
(standalone, ZooKeeper on the in-memory fake, ZooKeeper on a real server),
then ZooKeeper's own behaviour: failover between contenders, suspended and
expired sessions, Mesos's znode layout.
"""

import json

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.trial.unittest import TestCase
from zope.interface.verify import verifyObject

from mesos_tw.detector import (
    LEADING,
    NOT_LEADING,
    UNCONFIRMED,
    IMasterContender,
    IMasterDetector,
    StandaloneContender,
    StandaloneDetector,
    ZooKeeperContender,
    ZooKeeperDetector,
)
from mesos_tw.detector.zookeeper import master_info_json, upid_from_znode
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.upid import UPID
from mesos_tw.testing.zookeeper import MemoryZooKeeperServer
from mesos_tw.testing.zookeeper_server import start_ensemble
from mesos_tw.zookeeper import ZooKeeperClient


def master_info(port):
    """
    The C{MasterInfo} of a master on loopback C{port}.
    """
    return mesos_pb2.MasterInfo(id=f"master-{port}", ip=0x7F000001, port=port,
                                pid=f"master@127.0.0.1:{port}", hostname="localhost")


def upid(port):
    """
    The UPID of the master on C{port}.
    """
    return UPID("master", "127.0.0.1", port)


class Heard:
    """
    Records what a listener hears; L{next} waits for a given value.
    """

    def __init__(self):
        self.values = []
        self._waiting = []

    def __call__(self, value):
        self.values.append(value)
        for wanted, d in list(self._waiting):
            if wanted == value:
                self._waiting.remove((wanted, d))
                d.callback(value)

    def next(self, wanted):
        """
        Fire when C{wanted} is heard (at once if it was the last value).
        """
        d = Deferred()
        if self.values and self.values[-1] == wanted:
            d.callback(wanted)
        else:
            self._waiting.append((wanted, d))
        return d


class ElectionTestsMixin:
    """
    What every contender and detector pair does.  C{contender()} and
    C{detector(expected)} make them (C{expected}: the UPID a standalone
    detector is configured with).
    """

    def test_interfaces(self):
        """
        They provide L{IMasterContender} and L{IMasterDetector}.
        """
        self.assertTrue(verifyObject(IMasterContender, self.contender()))
        self.assertTrue(verifyObject(IMasterDetector, self.detector(upid(5050))))

    @inlineCallbacks
    def test_lone_contender_leads_and_is_detected(self):
        """
        A single contender is elected, and a detector reports it.
        """
        leadership = Heard()
        self.contender().contend(master_info(5050), leadership)
        yield leadership.next(LEADING)
        heard = Heard()
        self.detector(upid(5050)).start(heard)
        yield heard.next(upid(5050))
        self.assertEqual(leadership.values, [LEADING])


class StandaloneElectionTests(ElectionTestsMixin, TestCase):
    """
    The suite against the standalone contender and detector.
    """

    def contender(self):
        """
        A standalone contender.
        """
        return StandaloneContender()

    def detector(self, expected):
        """
        A standalone detector of C{expected}.
        """
        return StandaloneDetector(expected)


class ZooKeeperElectionTestsMixin(ElectionTestsMixin):
    """
    The suite, and the ZooKeeper election's own behaviour; C{client()}
    makes a started session.
    """

    path = "/mesos"

    def contender(self):
        """
        A contender on a session of its own.
        """
        return ZooKeeperContender(self.client(), self.path)

    def detector(self, expected=None):
        """
        A detector on a session of its own.
        """
        return ZooKeeperDetector(self.client(), self.path)

    @inlineCallbacks
    def test_lowest_sequence_leads_and_failover(self):
        """
        The first of two contenders leads; when it withdraws, the second
        is elected and the detector follows.
        """
        first, second = Heard(), Heard()
        heard = Heard()
        self.detector().start(heard)
        one = self.contender()
        one.contend(master_info(5050), first)
        yield first.next(LEADING)
        yield heard.next(upid(5050))
        two = self.contender()
        two.contend(master_info(5051), second)
        yield one.withdraw()
        yield second.next(LEADING)
        yield heard.next(upid(5051))
        self.assertEqual(first.values, [LEADING])
        self.assertEqual(second.values, [LEADING])

    @inlineCallbacks
    def test_layout(self):
        """
        A contender's znode is C{<path>/json.info_<seq>} holding its
        C{MasterInfo} as Mesos's JSON.
        """
        leadership = Heard()
        contender = self.contender()
        contender.contend(master_info(5050), leadership)
        yield leadership.next(LEADING)
        self.assertEqual(contender.znode, f"{self.path}/json.info_0000000000")
        data = json.loads((yield contender.client.get(contender.znode)))
        self.assertEqual(data["pid"], "master@127.0.0.1:5050")
        self.assertEqual(data["id"], "master-5050")
        self.assertEqual(data["address"], {"hostname": "localhost", "ip": "127.0.0.1",
                                           "port": 5050})

    @inlineCallbacks
    def test_detector_waits_for_first_master(self):
        """
        A detector started before any master contends (the path does not
        exist yet) reports the first one when it comes.
        """
        heard = Heard()
        self.detector().start(heard)
        self.contender().contend(master_info(5052), Heard())
        yield heard.next(upid(5052))

    @inlineCallbacks
    def test_legacy_protobuf_znode(self):
        """
        The detector also reads older Mesos's C{info_<seq>} znodes holding
        a binary C{MasterInfo}.
        """
        client = self.client()
        yield client.create(f"{self.path}/info_", master_info(5053).SerializeToString(),
                            ephemeral=True, sequence=True, makepath=True)
        heard = Heard()
        self.detector().start(heard)
        yield heard.next(upid(5053))


class MemoryZooKeeperElectionTests(ZooKeeperElectionTestsMixin, TestCase):
    """
    The ZooKeeper election on the in-memory fake, where the tests control
    the sessions.
    """

    def setUp(self):
        self.server = MemoryZooKeeperServer()

    def client(self):
        """
        A started fake session.
        """
        client = self.server.client()
        client.start()
        return client

    @inlineCallbacks
    def test_suspended_leader_pauses_then_resumes(self):
        """
        A leader whose connection is suspended is UNCONFIRMED at once, and
        LEADING again when it reconnects within its session.
        """
        leadership = Heard()
        contender = self.contender()
        contender.contend(master_info(5050), leadership)
        yield leadership.next(LEADING)
        contender.client.suspend()
        self.assertEqual(leadership.values, [LEADING, UNCONFIRMED])
        contender.client.reconnect()
        self.assertEqual(leadership.values, [LEADING, UNCONFIRMED, LEADING])

    @inlineCallbacks
    def test_expired_leader_steps_down_and_stands_again(self):
        """
        A leader whose session expires is NOT_LEADING; the other contender
        leads, and the old one stands again behind it.
        """
        first, second = Heard(), Heard()
        one, two = self.contender(), self.contender()
        one.contend(master_info(5050), first)
        two.contend(master_info(5051), second)
        yield first.next(LEADING)
        one.client.suspend()
        one.client.expire()
        self.assertEqual(first.values, [LEADING, UNCONFIRMED, NOT_LEADING])
        self.assertEqual(second.values, [LEADING])
        self.assertEqual(one.znode, f"{self.path}/json.info_0000000002")
        yield two.withdraw()
        self.assertEqual(first.values[-1], LEADING)

    @inlineCallbacks
    def test_detector_reports_none_on_expiry(self):
        """
        A detector whose own session expires reports no leader, then the
        leader again from its new session.
        """
        self.contender().contend(master_info(5050), Heard())
        heard = Heard()
        detector = self.detector()
        detector.start(heard)
        yield heard.next(upid(5050))
        detector.client.expire()
        self.assertEqual(heard.values, [upid(5050), None, upid(5050)])

    def test_malformed_leader_data(self):
        """
        A leader znode that names no master reports no leader, with the
        reason logged, rather than a crash.
        """
        client = self.client()
        client.create(f"{self.path}/json.info_", b"{not json", sequence=True, makepath=True)
        heard = Heard()
        self.detector().start(heard)
        self.assertEqual(heard.values, [None])
        self.assertRaises(ValueError, upid_from_znode, "json.info_1", b"[]")
        self.assertRaises(ValueError, upid_from_znode, "json.info_1", b'{"id": "x"}')
        self.assertEqual(upid_from_znode("json.info_1", master_info_json(master_info(1))),
                         upid(1))


class RealZooKeeperElectionTests(ZooKeeperElectionTestsMixin, TestCase):
    """
    The ZooKeeper election on a real ZooKeeper server.
    """

    timeout = 180

    @inlineCallbacks
    def setUp(self):
        # Sessions of Mesos's default 10 s (a tick of 500 ms allows them):
        # a request made before the first connection waits for it up to
        # the session timeout, and on a loaded machine connecting took
        # more than 2 s.  No test here waits for a session to expire.
        self.ensemble = yield start_ensemble(self, reactor, size=1, tick_ms=500)

    def client(self):
        """
        A started session, stopped at cleanup.
        """
        client = ZooKeeperClient(reactor, self.ensemble.hosts, session_timeout=10.0)
        self.addCleanup(client.stop)
        client.start()
        return client
