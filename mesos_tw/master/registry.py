"""
The durable record of the slaves the masters admitted, removed, and found
unreachable: the parts of Mesos's registry (its admitted, gone/removed and
C{unreachable} slaves) that we keep.

A leader that removes a slave reports its tasks lost.  If it then dies, the
next leader must still refuse that slave, or tasks already reported lost
would come back to life when it re-registers.  So the leader writes the
slave's id here before it tells anyone of the removal, and every new leader
reads the whole record before it handles anything (see
L{mesos_tw.master.master.Master}).

A leader also records each slave it admits (its C{SlaveInfo}) before it
answers its registration: a new leader then knows which slaves to expect
back, and removes those that do not re-register within
C{--slave_reregister_timeout} (Mesos's C{recoveredSlavesTimeout}).  A
removal takes the slave out of the admitted ones.

Without ZooKeeper there is one master process, and an in-memory record
(L{MemoryRemovedSlaves}) lives as long as it does.  With ZooKeeper the
record is split by slave id into a fixed number of shard znodes under the
masters' election path, C{<path>/registry/shards/<n>}, written in batches
as Mesos's registrar writes its registry (L{ZooKeeperRemovedSlaves}).

An unreachable slave may come back (Mesos 1.x re-admits it); the next
leader reads which slaves were unreachable, and since when, so that one
coming back after a failover is re-admitted as unreachable (its frameworks
hear its tasks again) and reconciliation can answer C{TASK_UNREACHABLE}.
Marking a slave unreachable takes it out of the admitted ones (Mesos's
C{MarkSlaveUnreachable}), and the entry goes when it comes back, or when
the leader prunes it (C{--registry_max_agent_age},
C{--registry_max_agent_count}).
"""

from twisted.internet.defer import succeed
from zope.interface import Interface, implementer

from mesos_tw.master.registry_shards import ShardedRegistrar
from mesos_tw.master.registry_zookeeper import (
    ZooKeeperShards,
    admitted_path,
    removed_path,
    shards_path,
    unreachable_path,
)
from mesos_tw.protocols import mesos_pb2

__all__ = ["IRemovedSlaves", "MemoryRemovedSlaves", "ZooKeeperRemovedSlaves", "admitted_path",
           "removed_path", "shards_path", "unreachable_path"]


class IRemovedSlaves(Interface):
    """
    The ids of the slaves a master removed, kept where the next leader can
    read them.
    """

    def load():
        """
        Read the record.

        @return: a Deferred that fires with the set of removed slave ids.
        """

    def add(slave_id):
        """
        Record that slave C{slave_id} was removed (it is no longer
        admitted, nor unreachable: Mesos's C{MarkSlaveGone}).  Recording an
        id already there succeeds.

        @return: a Deferred that fires with L{None} once the id is durable
            (a later L{load}, by any master, includes it), or fails.
        """

    def admit(info):
        """
        Record that the slave C{info} (a C{SlaveInfo} with its id) was
        admitted.  Admitting it again replaces its info.

        @return: a Deferred that fires with L{None} once durable (a later
            L{load_admitted}, by any master, includes it), or fails.
        """

    def load_admitted():
        """
        Read the admitted slaves that were not removed since.

        @return: a Deferred that fires with C{{slave_id: SlaveInfo}}.
        """

    def unreachable():
        """
        Read which slaves are unreachable.

        @return: a Deferred that fires with C{{slave_id: seconds}}, when each
            was found unreachable.
        """

    def mark_unreachable(slave_id, when):
        """
        Record that slave C{slave_id} was found unreachable at C{when}
        (seconds), and is no longer admitted; marking it again replaces the
        time.

        @return: a Deferred that fires with L{None} once it is durable, or
            fails.
        """

    def mark_reachable(slave_id):
        """
        Forget that slave C{slave_id} was unreachable (it came back, or the
        leader prunes it: L{mesos_tw.master._registry_gc}); a slave not
        marked is fine.

        @return: a Deferred that fires with L{None} once it is durable, or
            fails.
        """


@implementer(IRemovedSlaves)
class MemoryRemovedSlaves:
    """
    The record kept in memory: as durable as the master process.  The
    record of a master without ZooKeeper, and the unit tests' record.

    @ivar ids: the set of removed slave ids.
    @ivar admitted: C{{slave_id: SlaveInfo}} of the admitted ones.
    @ivar unreachable_ids: C{{slave_id: seconds}} of the unreachable ones.
    """

    def __init__(self, ids=(), unreachable=None):
        self.ids = set(ids)
        self.admitted = {}
        self.unreachable_ids = dict(unreachable or {})

    def load(self):
        """
        Fires at once with a copy of the ids.
        """
        return succeed(set(self.ids))

    def add(self, slave_id):
        """
        Adds the id; fires at once.
        """
        self.ids.add(slave_id)
        self.admitted.pop(slave_id, None)
        self.unreachable_ids.pop(slave_id, None)
        return succeed(None)

    def admit(self, info):
        """
        Keeps a copy of C{info}; fires at once.
        """
        stored = mesos_pb2.SlaveInfo()
        stored.CopyFrom(info)
        self.admitted[info.id.value] = stored
        return succeed(None)

    def load_admitted(self):
        """
        Fires at once with a copy of the admitted slaves.
        """
        return succeed(dict(self.admitted))

    def unreachable(self):
        """
        Fires at once with a copy of the unreachable slaves.
        """
        return succeed(dict(self.unreachable_ids))

    def mark_unreachable(self, slave_id, when):
        """
        Records the slave as unreachable, no longer admitted; fires at once.
        """
        self.unreachable_ids[slave_id] = when
        self.admitted.pop(slave_id, None)
        return succeed(None)

    def mark_reachable(self, slave_id):
        """
        Forgets the slave's unreachability; fires at once.
        """
        self.unreachable_ids.pop(slave_id, None)
        return succeed(None)


@implementer(IRemovedSlaves)
class ZooKeeperRemovedSlaves(ShardedRegistrar):
    """
    The record in ZooKeeper, batched as Mesos's registrar batches (one
    write in flight; what arrives meanwhile goes in the next), in
    C{SHARDS} shard znodes under L{shards_path}C{(path)}, reached through
    an L{mesos_tw.zookeeper.IZooKeeper} session (the election's own).  See
    L{mesos_tw.master.registry_shards} and
    L{mesos_tw.master.registry_zookeeper}.  The removed ids are never
    pruned.
    """

    def __init__(self, client, path):
        super().__init__(ZooKeeperShards(client, path))
        self.client = client
        self.path = self.store.path
