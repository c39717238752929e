"""
Tests for L{mesos_tw.master.registry}: one L{IRemovedSlaves} test suite run
against the in-memory record, the ZooKeeper record on the in-memory
ZooKeeper, and the ZooKeeper record on a real server (where it must outlive
the session that wrote it).
"""

import collections

from twisted.internet import reactor
from twisted.internet.defer import gatherResults, inlineCallbacks, succeed
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from mesos_tw.protocols import mesos_pb2
from mesos_tw.master.registry import (
    IRemovedSlaves,
    MemoryRemovedSlaves,
    ZooKeeperRemovedSlaves,
    admitted_path,
    removed_path,
    shards_path,
    unreachable_path,
)
from mesos_tw.master.registry_shards import SHARDS, Shard, shard_of
from mesos_tw.master.registry_zookeeper import znode_name
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
        def test_removed_not_unreachable(self):
            """
            An unreachable slave recorded as removed (an operator marked it
            gone: Mesos's MarkSlaveGone) is no longer unreachable.
            """
            record = self.new_record()
            yield record.mark_unreachable("S1", 5)
            yield record.mark_unreachable("S2", 6)
            yield record.add("S1")
            self.assertEqual((yield self.new_record().unreachable()), {"S2": 6.0})
            self.assertEqual((yield self.new_record().load()), {"S1"})

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


def slave(slave_id, hostname):
    """
    A C{SlaveInfo} of slave C{slave_id} on C{hostname}.
    """
    info = mesos_pb2.SlaveInfo(hostname=hostname)
    info.id.value = slave_id
    return info


@inlineCallbacks
def write_older_layout(test, client):
    """
    Write, as an earlier version did (a znode per slave), two removed, two
    admitted (one also removed) and one unreachable slave, under C{/mesos}.
    """
    for slave_id in ("S-removed", "a/b."):
        yield client.create(f"{removed_path('/mesos')}/{znode_name(slave_id)}", makepath=True)
    for slave_id in ("S-admitted", "S-removed"):
        yield client.create(f"{admitted_path('/mesos')}/{znode_name(slave_id)}",
                            slave(slave_id, "old").SerializeToString(), makepath=True)
    yield client.create(f"{unreachable_path('/mesos')}/{znode_name('S-away')}", b"7.5",
                        makepath=True)


@inlineCallbacks
def check_older_layout_read(test, record):
    """
    C{record} reads what L{write_older_layout} wrote.
    """
    removed, admitted, unreachable = yield gatherResults(
        [record.load(), record.load_admitted(), record.unreachable()])
    test.assertEqual(removed, {"S-removed", "a/b."})
    test.assertEqual({k: v.hostname for k, v in admitted.items()}, {"S-admitted": "old"})
    test.assertEqual(unreachable, {"S-away": 7.5})


class CountingClient:
    """
    An L{IZooKeeper} wrapper counting the requests made through it.
    """

    def __init__(self, client):
        self.client = client
        self.requests = collections.Counter()

    def __getattr__(self, name):
        attribute = getattr(self.client, name)
        if name in ("get", "get_versioned", "get_children", "create", "set", "delete"):
            def counted(*args, **kwargs):
                self.requests[name] += 1
                return attribute(*args, **kwargs)

            return counted
        return attribute


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
        The record is shard znodes under C{<path>/registry/shards}, named by
        number, each a zlib-compressed C{RegistryShard} of the slaves whose
        ids hash to it; persistent.
        """
        server = MemoryZooKeeperServer()
        client = server.client()
        client.start()
        record = ZooKeeperRemovedSlaves(client, "/mesos/")
        self.successResultOf(record.add("S1"))
        self.successResultOf(record.add("a/b."))
        self.successResultOf(record.admit(slave("S2", "b")))
        self.assertEqual(shards_path("/mesos/"), "/mesos/registry/shards")
        self.assertEqual(server.children("/mesos/registry"), ["shards"])
        self.assertEqual(sorted(server.children("/mesos/registry/shards"), key=int),
                         sorted({str(shard_of(i)) for i in ("S1", "a/b.", "S2")}, key=int))
        shard = Shard.decode(server.data[f"/mesos/registry/shards/{shard_of('S2')}"])
        self.assertEqual(shard.admitted["S2"].hostname, "b")
        self.assertIn("a/b.", Shard.decode(
            server.data[f"/mesos/registry/shards/{shard_of('a/b.')}"]).removed)
        self.assertEqual(server.owners, {})

    def test_one_read(self):
        """
        A new leader reads the record with a bounded number of requests
        (the shards, and the older layout's three parents), however many
        slaves it holds.
        """
        server = MemoryZooKeeperServer()
        writer = ZooKeeperRemovedSlaves(server.client(), "/mesos")
        writer.client.start()
        for number in range(500):
            self.successResultOf(writer.admit(slave(f"S{number}", "h")))
        counting = CountingClient(server.client())
        counting.start()
        record = ZooKeeperRemovedSlaves(counting, "/mesos")
        # Answers arrive later than the three reads are asked, as from a
        # server: the session is away until they all are.
        counting.client.suspend()
        reads = [record.load(), record.load_admitted(), record.unreachable()]
        counting.client.reconnect()
        self.assertEqual(len(self.successResultOf(reads[1])), 500)
        self.assertEqual(counting.requests["get_children"], 4)
        self.assertEqual(counting.requests["get_versioned"], SHARDS)
        self.assertEqual(counting.requests["get"], 0)

    def test_older_layout_moved(self):
        """
        A record written by an earlier version (a znode per slave) is read,
        moved into the shards, and deleted.
        """
        server = MemoryZooKeeperServer()
        client = server.client()
        client.start()
        write_older_layout(self, client)
        record = ZooKeeperRemovedSlaves(client, "/mesos")
        check_older_layout_read(self, record)
        self.assertEqual(server.children("/mesos/registry"), ["shards"])

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
    def test_older_layout_moved(self):
        """
        A record written by an earlier version (a znode per slave) is read,
        moved into the shards, and deleted, on a real server.
        """
        record = self.new_record()
        yield write_older_layout(self, record.client)
        yield check_older_layout_read(self, record)
        self.assertEqual(sorted((yield record.client.get_children("/mesos/registry"))),
                         ["shards"])
        self.assertEqual((yield self.new_record().load()), {"S-removed", "a/b."})

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


class SettledAtOnce(ScriptedRemovedSlaves):
    """
    A scripted record whose test settles each load and add as soon as it
    is asked for.
    """

    def load(self):
        loaded = super().load()
        self.finish_load()
        return loaded

    def add(self, slave_id):
        added = super().add(slave_id)
        self.finish_add()
        return added


def settled_scripted_fixture(test):
    """
    Records sharing one L{SettledAtOnce}.
    """
    record = SettledAtOnce()
    return succeed(lambda: record)


class SettledScriptedRemovedSlavesTests(make_iremovedslaves_tests(settled_scripted_fixture)):
    """
    The suite against the scripted record, settled at once: what a settled
    load or add does is what every record does.
    """


class ScriptedRemovedSlavesTests(SynchronousTestCase):
    """
    The scripted record unit tests use.
    """

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

    def test_finished_add_removes_admission_and_mark(self):
        """
        A finished add takes the slave out of the admitted and the
        unreachable ones, as every record's add does; a failed add, or one
        not yet settled, leaves them.
        """
        record = ScriptedRemovedSlaves(unreachable={"S1": 5.0, "S2": 6.0})
        for slave_id in ("S1", "S2"):
            record.admit(mesos_pb2.SlaveInfo(id=mesos_pb2.SlaveID(value=slave_id),
                                             hostname=slave_id))
        added, failed = record.add("S1"), record.add("S2")
        self.assertEqual(set(self.successResultOf(record.load_admitted())), {"S1", "S2"})
        record.finish_add()
        record.fail_add(RuntimeError("no quorum"))
        self.assertIsNone(self.successResultOf(added))
        self.failureResultOf(failed, RuntimeError)
        self.assertEqual(set(self.successResultOf(record.load_admitted())), {"S2"})
        self.assertEqual(self.successResultOf(record.unreachable()), {"S2": 6.0})

    def test_held_admission(self):
        """
        With L{held_admissions} a list, an admission waits there for the
        test to fire it, and is not recorded.
        """
        record = ScriptedRemovedSlaves()
        record.held_admissions = []
        info = mesos_pb2.SlaveInfo(id=mesos_pb2.SlaveID(value="S1"), hostname="h")
        admitted = record.admit(info)
        self.assertNoResult(admitted)
        self.assertEqual(record.held_admissions, [(info, admitted)])
        record.held_admissions.pop()[1].callback(None)
        self.assertEqual(self.successResultOf(record.load_admitted()), {})
