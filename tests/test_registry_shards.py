"""
Tests for L{mesos_tw.master.registry_shards}: the registrar batches as
Mesos's does (one write in flight, what arrives meanwhile in the next
write), completes each operation with its shard's write, fails (never
drops) the operations of a failed write, recovers from one read, and moves
an older layout into the shards.  Driven with a store whose reads and
writes the test settles (L{ScriptedShardStore}).
"""

import hashlib

from kazoo.exceptions import BadVersionError, NodeExistsError
from twisted.trial.unittest import SynchronousTestCase

from mesos_tw.master import registry_shards
from mesos_tw.master.registry_shards import (
    SHARDS,
    RegistryShardError,
    Shard,
    ShardedRegistrar,
    shard_of,
)
from mesos_tw.protocols import mesos_pb2
from mesos_tw.testing.registry import ScriptedShardStore


def info(slave_id, hostname="h"):
    """
    A C{SlaveInfo} of slave C{slave_id}.
    """
    slave = mesos_pb2.SlaveInfo(hostname=hostname)
    slave.id.value = slave_id
    return slave


def same_shard_ids(count):
    """
    C{count} slave ids that fall in one shard.
    """
    found, number = [], 0
    while len(found) < count:
        slave_id = f"S{number}"
        if shard_of(slave_id) == shard_of("S0"):
            found.append(slave_id)
        number += 1
    return found


class RegistrarTestCase(SynchronousTestCase):
    """
    A registrar on a scripted store, recovered (an empty registry).
    """

    def setUp(self):
        self.store = ScriptedShardStore()
        self.registrar = ShardedRegistrar(self.store)
        recovered = self.registrar.load()
        self.store.finish_read()
        self.assertEqual(self.successResultOf(recovered), set())

    def stored(self):
        """
        The durable registry, as a fresh registrar on the store reads it:
        C{(removed, admitted ids, unreachable)}.
        """
        other = ShardedRegistrar(self.store)
        removed, admitted, unreachable = other.load(), other.load_admitted(), other.unreachable()
        self.store.finish_read()
        return (self.successResultOf(removed), set(self.successResultOf(admitted)),
                self.successResultOf(unreachable))


class BatchingTests(RegistrarTestCase):
    """
    One write in flight; what is asked meanwhile goes in the next.
    """

    def test_first_operation_written_at_once(self):
        """
        With nothing in flight an operation is written at once, and fires
        only when its shard is durable.
        """
        d = self.registrar.admit(info("S1"))
        self.assertEqual([(index, version) for index, _, version, _ in self.store.writes],
                         [(shard_of("S1"), None)])
        self.assertNoResult(d)
        self.store.finish_writes()
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(self.stored(), (set(), {"S1"}, {}))

    def test_batched_while_in_flight(self):
        """
        Operations asked while a write is in flight wait, unwritten, and
        are then written together in one batch (one write per shard they
        touch), each firing once its shard is durable, in order within a
        shard.
        """
        first = self.registrar.admit(info("S-first"))
        a, b, c = same_shard_ids(3)
        queued = [self.registrar.admit(info(a)), self.registrar.admit(info(b)),
                  self.registrar.add(c), self.registrar.mark_unreachable("S-other", 12.5),
                  self.registrar.add(a)]
        self.assertEqual(len(self.store.writes), 1)
        self.assertEqual(self.registrar.batches, 1)
        for d in queued:
            self.assertNoResult(d)
        self.store.finish_writes()
        self.successResultOf(first)
        self.assertEqual(self.registrar.batches, 2)
        self.assertEqual(sorted(index for index, _, _, _ in self.store.writes),
                         sorted({shard_of(a), shard_of("S-other")}))
        for d in queued:
            self.assertNoResult(d)
        self.store.finish_writes()
        for d in queued:
            self.assertIsNone(self.successResultOf(d))
        self.assertEqual(self.stored(), ({a, c}, {"S-first", b}, {"S-other": 12.5}))

    def test_failed_batch(self):
        """
        A write that fails fails every operation of its shard (with the
        store's error), none is recorded, the next batch is written, and the
        shard is read again before it is next written.
        """
        self.successResultOf(self._admitted("S0"))
        first = self.registrar.admit(info("S-first"))
        a, b = same_shard_ids(3)[1:]
        queued = [self.registrar.admit(info(a)), self.registrar.add(b)]
        self.store.finish_writes()
        self.store.fail_writes(RuntimeError("no quorum"))
        self.successResultOf(first)
        for d in queued:
            self.failureResultOf(d, RuntimeError)
        self.assertEqual(self.stored(), (set(), {"S0", "S-first"}, {}))
        again = self.registrar.admit(info(a))
        self.assertEqual(self.store.shard_reads, [shard_of(a)])
        self.store.finish_writes()
        self.successResultOf(again)
        self.assertEqual(self.stored(), (set(), {"S0", "S-first", a}, {}))

    def _admitted(self, slave_id):
        d = self.registrar.admit(info(slave_id))
        self.store.finish_writes()
        return d

    def test_not_overwriting_another_master(self):
        """
        A shard another master wrote since we read it is not overwritten:
        our write fails (BadVersionError), and the next one, after reading
        the shard again, keeps the other master's slave.
        """
        a, b = same_shard_ids(2)
        other = ShardedRegistrar(self.store)
        other.load()
        self.store.finish_read()
        self.successResultOf(self._admitted_by(other, a))
        self.failureResultOf(self._admitted(b), BadVersionError, NodeExistsError)
        self.successResultOf(self._admitted(b))
        self.assertEqual(self.stored(), (set(), {a, b}, {}))

    def _admitted_by(self, registrar, slave_id):
        d = registrar.admit(info(slave_id))
        self.store.finish_writes()
        return d

    def test_empty_id_refused(self):
        """
        An empty slave id fails at once, and nothing is written.
        """
        self.failureResultOf(self.registrar.add(""), ValueError)
        self.assertEqual(self.store.writes, [])

    def test_shard_too_large(self):
        """
        A shard that would outgrow a znode is not written: its operations
        fail with an error saying so; other shards are written.
        """
        self.patch(registry_shards, "MAX_SHARD_BYTES", 40)
        unlike = "".join(hashlib.sha256(str(n).encode()).hexdigest() for n in range(4))
        d = self.registrar.admit(info("S1", hostname=unlike))
        failure = self.failureResultOf(d, RegistryShardError)
        self.assertIn("over the 40 a znode holds", str(failure.value))
        self.assertEqual(self.store.writes, [])
        small = self.registrar.add("S2")
        self.store.finish_writes()
        self.successResultOf(small)


class RecoveryTests(RegistrarTestCase):
    """
    A recovering master reads the whole registry once.
    """

    def test_one_read(self):
        """
        The reads a recovering master asks together (removed, admitted,
        unreachable) are one read of the store, whatever the number of
        slaves, and fire only once it does.
        """
        for number in range(200):
            self.registrar.admit(info(f"S{number}"))
            self.store.finish_writes()
        self.registrar.add("S7")
        self.registrar.mark_unreachable("S8", 3.0)
        self.store.finish_writes()
        self.store.finish_writes()
        new = ShardedRegistrar(self.store)
        reads = [new.load(), new.load_admitted(), new.unreachable()]
        self.assertEqual(len(self.store.reads), 1)
        for d in reads:
            self.assertNoResult(d)
        self.store.finish_read()
        removed, admitted, unreachable = [self.successResultOf(d) for d in reads]
        self.assertEqual(removed, {"S7"})
        self.assertEqual(set(admitted), {f"S{n}" for n in range(200)} - {"S7", "S8"})
        self.assertEqual(admitted["S3"].hostname, "h")
        self.assertEqual(unreachable, {"S8": 3.0})
        self.assertLessEqual(len(self.store.stored), SHARDS)

    def test_read_waits_for_writes_asked_before(self):
        """
        A read asked after operations comes after their write, and sees it;
        operations asked after the read wait for it.
        """
        first = self.registrar.admit(info("S1"))
        read = self.registrar.load_admitted()
        later = self.registrar.add("S1")
        self.assertEqual(self.store.reads, [])
        self.store.finish_writes()
        self.successResultOf(first)
        self.assertEqual(len(self.store.reads), 1)
        self.assertEqual(self.store.writes, [])
        self.store.finish_read()
        self.assertEqual(list(self.successResultOf(read)), ["S1"])
        self.store.finish_writes()
        self.successResultOf(later)
        self.assertEqual(self.stored(), ({"S1"}, set(), {}))

    def test_failed_read(self):
        """
        A read that fails fails every read asked with it; the next is tried.
        """
        reads = [self.registrar.load(), self.registrar.unreachable()]
        self.store.fail_read(RuntimeError("no quorum"))
        for d in reads:
            self.failureResultOf(d, RuntimeError)
        again = self.registrar.load()
        self.store.finish_read()
        self.assertEqual(self.successResultOf(again), set())

    def test_unparsable_shard(self):
        """
        A shard that does not parse fails the read, saying so (the
        registry is not silently emptied).
        """
        self.store.stored[3] = (b"not zlib", 0)
        d = self.registrar.load()
        self.store.finish_read()
        self.assertIn("does not parse", str(self.failureResultOf(d, RegistryShardError).value))

    def test_legacy_layout_moved(self):
        """
        What the older layout holds is moved into the shards (the shards
        win for a slave both know), the older layout is deleted, and only
        then does the read fire.
        """
        self.successResultOf(self._admit_now("S-new"))
        self.store.legacy = Shard({"S1": info("S1"), "S-new": info("S-new", "stale")},
                                  {"S2": 5.0}, {"S3"})
        new = ShardedRegistrar(self.store)
        reads = [new.load(), new.load_admitted(), new.unreachable()]
        self.store.finish_read()
        for d in reads:
            self.assertNoResult(d)
        self.assertEqual(self.store.legacy_forgotten, 0)
        self.store.finish_writes()
        self.assertEqual(self.store.legacy_forgotten, 1)
        removed, admitted, unreachable = [self.successResultOf(d) for d in reads]
        self.assertEqual((removed, unreachable), ({"S3"}, {"S2": 5.0}))
        self.assertEqual({k: v.hostname for k, v in admitted.items()}, {"S1": "h", "S-new": "h"})
        self.assertEqual(self.stored(), ({"S3"}, {"S1", "S-new"}, {"S2": 5.0}))

    def _admit_now(self, slave_id):
        d = self.registrar.admit(info(slave_id))
        self.store.finish_writes()
        return d


class ShardTests(SynchronousTestCase):
    """
    A shard's stored form.
    """

    def test_round_trip(self):
        """
        A shard decodes to what was encoded.
        """
        shard = Shard({"S1": info("S1", "a")}, {"S2": 1733456789.123456}, {"S3", "é/."})
        decoded = Shard.decode(shard.encode())
        self.assertEqual({k: v.hostname for k, v in decoded.admitted.items()}, {"S1": "a"})
        self.assertEqual(decoded.unreachable, {"S2": 1733456789.123456})
        self.assertEqual(decoded.removed, {"S3", "é/."})

    def test_shard_of_is_stable(self):
        """
        A slave's shard is a fixed function of its id (the stored layout
        depends on it), within range.
        """
        self.assertEqual(shard_of("201611251230-2130706433-5050-42-S0"), 31)
        self.assertTrue(all(0 <= shard_of(f"S{n}") < SHARDS for n in range(1000)))
