"""
Tests for L{mesos_tw.master.registry}: one L{IRemovedSlaves} test suite run
against the in-memory record, the ZooKeeper record on the in-memory
ZooKeeper, and the ZooKeeper record on a real server (where it must outlive
the session that wrote it).
"""

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks, succeed
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from mesos_tw.protocols import mesos_pb2
from mesos_tw.master.registry import (
    IRemovedSlaves,
    MemoryRemovedSlaves,
    ZooKeeperRemovedSlaves,
    removed_path,
)
from mesos_tw.testing.registry import ScriptedRemovedSlaves
from mesos_tw.testing.zookeeper import MemoryZooKeeperServer, next_event
from mesos_tw.testing.zookeeper_server import start_ensemble
from mesos_tw.zookeeper import CONNECTED, ZooKeeperClient


def make_iremovedslaves_tests(fixture):
    """
    A test case class checking an L{IRemovedSlaves}: C{fixture(test)}
    returns a Deferred that fires with C{new_record}, a function making
    records that share one store (in memory: one object; in ZooKeeper: one
    path, each record on a session of its own).
    """

    class IRemovedSlavesTests(TestCase):
        """
        What every record of removed slaves does.
        """

        timeout = 180

        @inlineCallbacks
        def setUp(self):
            self.new_record = yield fixture(self)

        def test_interface(self):
            """
            The record provides L{IRemovedSlaves}.
            """
            self.assertTrue(verifyObject(IRemovedSlaves, self.new_record()))

        @inlineCallbacks
        def test_empty(self):
            """
            A record nothing was written to loads as an empty set.
            """
            self.assertEqual((yield self.new_record().load()), set())

        @inlineCallbacks
        def test_add_then_load(self):
            """
            Ids added (once durable) are in every later load, once each;
            adding an id twice is fine.
            """
            record = self.new_record()
            self.assertIsNone((yield record.add("S1")))
            yield record.add("S2")
            yield record.add("S1")
            self.assertEqual((yield record.load()), {"S1", "S2"})

        @inlineCallbacks
        def test_shared(self):
            """
            What one master writes, another (a later leader) reads.
            """
            yield self.new_record().add("201611251230-2130706433-5050-42-S0")
            self.assertEqual((yield self.new_record().load()),
                             {"201611251230-2130706433-5050-42-S0"})

        @inlineCallbacks
        def test_awkward_ids(self):
            """
            Ids a slave could send with characters znode names cannot hold
            come back unchanged.
            """
            record = self.new_record()
            awkward = {"a/b", "..", ".", "50%", "é"}
            for slave_id in awkward:
                yield record.add(slave_id)
            self.assertEqual((yield record.load()), awkward)

        @inlineCallbacks
        def test_unreachable(self):
            """
            Slaves marked unreachable are read back with their times, by
            another master too; marking again replaces the time; a slave
            marked reachable is gone from the read, and marking one never
            marked is fine.  The removed slaves are a separate record.
            """
            record = self.new_record()
            self.assertEqual((yield record.unreachable()), {})
            self.assertIsNone((yield record.mark_unreachable("S1", 100.5)))
            yield record.mark_unreachable("S2", 7)
            yield record.mark_unreachable("a/b", 8)
            yield record.mark_unreachable("S2", 9)
            self.assertEqual((yield self.new_record().unreachable()),
                             {"S1": 100.5, "S2": 9.0, "a/b": 8.0})
            self.assertIsNone((yield record.mark_reachable("S1")))
            yield record.mark_reachable("never-marked")
            self.assertEqual((yield self.new_record().unreachable()), {"S2": 9.0, "a/b": 8.0})
            self.assertEqual((yield record.load()), set())

        @inlineCallbacks
        def test_unreachable_not_admitted(self):
            """
            A slave marked unreachable is no longer admitted (Mesos's
            MarkSlaveUnreachable); marked reachable again, it is not
            admitted until it is admitted again.
            """
            record = self.new_record()
            info = mesos_pb2.SlaveInfo(hostname="a")
            info.id.value = "S1"
            yield record.admit(info)
            yield record.mark_unreachable("S1", 5)
            self.assertEqual((yield self.new_record().load_admitted()), {})
            yield record.mark_reachable("S1")
            self.assertEqual((yield self.new_record().load_admitted()), {})
            yield record.admit(info)
            self.assertEqual(list((yield self.new_record().load_admitted())), ["S1"])

        @inlineCallbacks
        def test_admitted(self):
            """
            Admitted slaves are read back, by another master, with their
            info; admitting one again replaces its info; a removed one is
            no longer admitted.
            """
            record = self.new_record()
            self.assertEqual((yield record.load_admitted()), {})
            for slave_id, hostname in (("S1", "a"), ("S2", "b"), ("S1", "c"), ("a/b.", "d")):
                info = mesos_pb2.SlaveInfo(hostname=hostname)
                info.id.value = slave_id
                self.assertIsNone((yield record.admit(info)))
            yield record.add("S2")
            admitted = yield self.new_record().load_admitted()
            self.assertEqual({slave_id: info.hostname for slave_id, info in admitted.items()},
                             {"S1": "c", "a/b.": "d"})
            self.assertEqual((yield record.load()), {"S2"})

    return IRemovedSlavesTests


def memory_fixture(test):
    """
    Records sharing one L{MemoryRemovedSlaves}.
    """
    record = MemoryRemovedSlaves()
    return succeed(lambda: record)


def memory_zookeeper_fixture(test):
    """
    L{ZooKeeperRemovedSlaves} records, each on its own session of one
    in-memory ZooKeeper.
    """
    server = MemoryZooKeeperServer()

    def new_record():
        client = server.client()
        client.start()
        return ZooKeeperRemovedSlaves(client, "/mesos")

    return succeed(new_record)


def real_zookeeper_fixture(test):
    """
    L{ZooKeeperRemovedSlaves} records, each on its own session of a real
    ZooKeeper server (skips, saying why, if ZooKeeper is not installed).
    """

    def new_record():
        # Requests may wait 30 s, not the session's 4 s: on a loaded
        # machine a first connection can take seconds.
        client = ZooKeeperClient(reactor, ensemble.hosts, 4.0, request_timeout=30.0)
        test.addCleanup(client.stop)
        client.start()
        return ZooKeeperRemovedSlaves(client, "/mesos")

    def started(result):
        nonlocal ensemble
        ensemble = result
        return new_record

    ensemble = None
    return start_ensemble(test, reactor, size=1).addCallback(started)


class MemoryRemovedSlavesTests(make_iremovedslaves_tests(memory_fixture)):
    """
    The suite against the in-memory record.
    """

    def test_fires_at_once(self):
        """
        The in-memory record answers synchronously, so a master without
        ZooKeeper never waits for it.
        """
        record = MemoryRemovedSlaves({"S0"})
        self.assertIsNone(self.successResultOf(record.add("S1")))
        self.assertEqual(self.successResultOf(record.load()), {"S0", "S1"})


class MemoryZooKeeperRemovedSlavesTests(make_iremovedslaves_tests(memory_zookeeper_fixture)):
    """
    The suite against the ZooKeeper record on the in-memory ZooKeeper.
    """

    def test_layout(self):
        """
        Each id is a persistent znode under C{<path>/registry/removed}, its
        name percent-encoded where a znode name needs it.
        """
        server = MemoryZooKeeperServer()
        client = server.client()
        client.start()
        record = ZooKeeperRemovedSlaves(client, "/mesos/")
        self.successResultOf(record.add("S1"))
        self.successResultOf(record.add("a/b."))
        self.assertEqual(removed_path("/mesos/"), "/mesos/registry/removed")
        self.assertEqual(server.children("/mesos/registry/removed"), ["S1", "a%2Fb%2E"])
        self.assertEqual(server.owners, {})

    def test_survives_the_session(self):
        """
        The record outlives the session that wrote it (its znodes are not
        ephemeral).
        """
        server = MemoryZooKeeperServer()
        client = server.client()
        client.start()
        self.successResultOf(ZooKeeperRemovedSlaves(client, "/mesos").add("S1"))
        self.successResultOf(client.stop())
        other = server.client()
        other.start()
        self.assertEqual(self.successResultOf(ZooKeeperRemovedSlaves(other, "/mesos").load()),
                         {"S1"})

    def test_empty_id_refused(self):
        """
        An empty id, which names no znode, fails the write.
        """
        client = MemoryZooKeeperServer().client()
        client.start()
        self.failureResultOf(ZooKeeperRemovedSlaves(client, "/mesos").add(""), ValueError)

    def test_waits_for_the_session(self):
        """
        A write made while the session is suspended fires only once it is
        made, when the connection comes back.
        """
        client = MemoryZooKeeperServer().client()
        client.start()
        client.suspend()
        d = ZooKeeperRemovedSlaves(client, "/mesos").add("S1")
        self.assertNoResult(d)
        client.reconnect()
        self.assertIsNone(self.successResultOf(d))


class RealZooKeeperRemovedSlavesTests(make_iremovedslaves_tests(real_zookeeper_fixture)):
    """
    The suite against the ZooKeeper record on a real server.
    """

    @inlineCallbacks
    def test_persists_across_instances(self):
        """
        What one record wrote is read by a second one on a new session
        after the first session is closed: the record is persistent.
        """
        first = self.new_record()
        yield first.add("S1")
        yield first.add("S2")
        yield first.client.stop()
        second = self.new_record()
        yield next_event(second.client, CONNECTED)
        self.assertEqual((yield second.load()), {"S1", "S2"})


class ScriptedRemovedSlavesTests(SynchronousTestCase):
    """
    The scripted record unit tests use.
    """

    def test_interface(self):
        """
        It provides L{IRemovedSlaves}.
        """
        self.assertTrue(verifyObject(IRemovedSlaves, ScriptedRemovedSlaves()))

    def test_settled_by_the_test(self):
        """
        Loads and adds wait until the test settles them; a finished add is
        in later loads, a failed one is not.
        """
        record = ScriptedRemovedSlaves({"S0"})
        added, failed = record.add("S1"), record.add("S2")
        self.assertNoResult(added)
        record.finish_add()
        record.fail_add(RuntimeError("no quorum"))
        self.assertIsNone(self.successResultOf(added))
        self.failureResultOf(failed, RuntimeError)
        loaded, broken = record.load(), record.load()
        record.finish_load()
        record.fail_load(RuntimeError("no quorum"))
        self.assertEqual(self.successResultOf(loaded), {"S0", "S1"})
        self.failureResultOf(broken, RuntimeError)
