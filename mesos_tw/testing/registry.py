"""
A record of removed slaves, and a store of registry shards, whose reads and
writes the test answers: for unit tests of what the master, and the
batching registrar, do while the record is slow or failing.
"""

from kazoo.exceptions import BadVersionError, NodeExistsError
from twisted.internet.defer import Deferred, succeed

from mesos_tw.master.registry import MemoryRemovedSlaves

__all__ = ["ScriptedRemovedSlaves", "ScriptedShardStore"]


class ScriptedRemovedSlaves(MemoryRemovedSlaves):
    """
    An L{IRemovedSlaves<mesos_tw.master.registry.IRemovedSlaves>} (as
    L{MemoryRemovedSlaves}, which declares it) whose every L{load} and
    L{add} waits until the test settles it; what a settled one does, and
    everything else, is the in-memory record's.

    Admissions are recorded at once (L{admitted}, a copy of each
    C{SlaveInfo}) unless L{held_admissions} is a list (then they wait
    there, C{(info, Deferred)}, for the test to fire, and are not
    recorded); L{load_admitted} fires at once with every admission
    recorded: the constructor's C{ids} do not leave any out, only a
    finished L{add} removes one.  The unreachable marks are not scripted:
    they settle at once.

    @ivar loads: the unsettled loads' Deferreds, oldest first.
    @ivar adds: the unsettled adds, C{(slave_id, Deferred)}, oldest first.
    """

    def __init__(self, ids=(), unreachable=None):
        super().__init__(ids, unreachable)
        self.loads = []
        self.adds = []
        self.held_admissions = None

    def admit(self, info):
        """
        Recorded at once, or held in L{held_admissions}.
        """
        if self.held_admissions is not None:
            d = Deferred()
            self.held_admissions.append((info, d))
            return d
        return super().admit(info)

    def load(self):
        """
        A Deferred the test settles with L{finish_load} or L{fail_load}.
        """
        d = Deferred()
        self.loads.append(d)
        return d

    def add(self, slave_id):
        """
        A Deferred the test settles with L{finish_add} or L{fail_add}.
        """
        d = Deferred()
        self.adds.append((slave_id, d))
        return d

    def finish_load(self):
        """
        The oldest load fires with what the in-memory record holds.
        """
        super().load().chainDeferred(self.loads.pop(0))

    def fail_load(self, error):
        """
        The oldest load fails with C{error}.
        """
        self.loads.pop(0).errback(error)

    def finish_add(self):
        """
        The oldest add is made durable as the in-memory record makes it,
        and fires.
        """
        slave_id, d = self.adds.pop(0)
        super().add(slave_id).chainDeferred(d)

    def fail_add(self, error):
        """
        The oldest add fails with C{error}; nothing is recorded.
        """
        self.adds.pop(0)[1].errback(error)


class ScriptedShardStore:
    """
    A shard store for L{mesos_tw.master.registry_shards.ShardedRegistrar}
    whose whole-registry reads and shard writes wait until the test
    settles them; a single shard's read answers at once.

    @ivar stored: C{{index: (data, version)}}, the durable shards.
    @ivar legacy: the L{Shard} an older layout holds, or L{None}.
    @ivar reads: the unsettled reads' Deferreds, oldest first.
    @ivar writes: the unsettled writes, C{(index, data, version,
        Deferred)}, oldest first.
    @ivar shard_reads: the indices read one by one, in order.
    @ivar legacy_forgotten: how many times the older layout was deleted.
    """

    def __init__(self):
        self.stored = {}
        self.legacy = None
        self.reads = []
        self.writes = []
        self.shard_reads = []
        self.legacy_forgotten = 0

    def read(self):
        """
        A Deferred the test settles with L{finish_read} or L{fail_read}.
        """
        d = Deferred()
        self.reads.append(d)
        return d

    def finish_read(self):
        """
        The oldest read fires with what is stored.
        """
        self.reads.pop(0).callback((dict(self.stored), self.legacy))

    def fail_read(self, error):
        """
        The oldest read fails with C{error}.
        """
        self.reads.pop(0).errback(error)

    def read_shard(self, index):
        """
        Fires at once with shard C{index}'s C{(data, version)}, or L{None}.
        """
        self.shard_reads.append(index)
        return succeed(self.stored.get(index))

    def write(self, index, data, version):
        """
        A Deferred the test settles with L{finish_writes} or L{fail_writes}.
        """
        d = Deferred()
        self.writes.append((index, data, version, d))
        return d

    def finish_writes(self):
        """
        Every unsettled write is made durable, and fires, if the shard is
        still at the version it was written at (else it fails as
        ZooKeeper's would, with C{BadVersionError}, or C{NodeExistsError}).
        """
        writes, self.writes = self.writes, []
        for index, data, version, d in writes:
            current = self.stored.get(index)
            if version is None and current is not None:
                d.errback(NodeExistsError(str(index)))
            elif version is not None and (current is None or current[1] != version):
                d.errback(BadVersionError(str(index)))
            else:
                self.stored[index] = (data, 0 if version is None else version + 1)
                d.callback(None)

    def fail_writes(self, error):
        """
        Every unsettled write fails with C{error}; nothing is stored.
        """
        writes, self.writes = self.writes, []
        for _, _, _, d in writes:
            d.errback(error)

    def forget_legacy(self):
        """
        The older layout is deleted at once.
        """
        self.legacy = None
        self.legacy_forgotten += 1
        return succeed(None)
