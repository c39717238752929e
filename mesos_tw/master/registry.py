"""
The durable record of the slaves the master removed, and of those it found
unreachable: the parts of Mesos's registry (its C{gone}/removed slaves and
its C{unreachable} list, 1.1 and later) that we keep.

A leader that removes a slave reports its tasks lost.  If it then dies, the
next leader must still refuse that slave, or tasks already reported lost
would come back to life when it re-registers.  So the leader writes the
slave's id here before it tells anyone of the removal, and every new leader
reads the whole record before it handles anything (see
L{mesos_tw.master.master.Master}).

Without ZooKeeper there is one master process, and an in-memory record
(L{MemoryRemovedSlaves}) lives as long as it does.  With ZooKeeper each id
is a persistent znode C{<path>/registry/removed/<slave id>} under the
masters' election path (L{ZooKeeperRemovedSlaves}).

An unreachable slave may come back (Mesos 1.x re-admits it); the next
leader reads which slaves were unreachable, and since when, so that one
coming back after a failover is re-admitted as unreachable (its frameworks
hear its tasks again) and reconciliation can answer C{TASK_UNREACHABLE}.
Those entries are C{<path>/registry/unreachable/<slave id>} znodes holding
the time, and leave when the slave comes back.
"""

from urllib.parse import quote, unquote

from kazoo.exceptions import NodeExistsError, NoNodeError
from twisted.internet.defer import fail, gatherResults, succeed
from zope.interface import Interface, implementer

__all__ = ["IRemovedSlaves", "MemoryRemovedSlaves", "ZooKeeperRemovedSlaves", "removed_path",
           "unreachable_path"]


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
        Record that slave C{slave_id} was removed.  Recording an id already
        there succeeds.

        @return: a Deferred that fires with L{None} once the id is durable
            (a later L{load}, by any master, includes it), or fails.
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
        (seconds); marking it again replaces the time.

        @return: a Deferred that fires with L{None} once it is durable, or
            fails.
        """

    def mark_reachable(slave_id):
        """
        Forget that slave C{slave_id} was unreachable (it came back); a
        slave not marked is fine.

        @return: a Deferred that fires with L{None} once it is durable, or
            fails.
        """


@implementer(IRemovedSlaves)
class MemoryRemovedSlaves:
    """
    The record kept in memory: as durable as the master process.  The
    record of a master without ZooKeeper, and the unit tests' record.

    @ivar ids: the set of removed slave ids.
    @ivar unreachable_ids: C{{slave_id: seconds}} of the unreachable ones.
    """

    def __init__(self, ids=(), unreachable=None):
        self.ids = set(ids)
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
        return succeed(None)

    def unreachable(self):
        """
        Fires at once with a copy of the unreachable slaves.
        """
        return succeed(dict(self.unreachable_ids))

    def mark_unreachable(self, slave_id, when):
        """
        Records the slave as unreachable; fires at once.
        """
        self.unreachable_ids[slave_id] = when
        return succeed(None)

    def mark_reachable(self, slave_id):
        """
        Forgets the slave's unreachability; fires at once.
        """
        self.unreachable_ids.pop(slave_id, None)
        return succeed(None)


def removed_path(path):
    """
    The znode under which masters electing at C{path} record removed slaves.
    """
    return f"{path.rstrip('/')}/registry/removed"


def unreachable_path(path):
    """
    The znode under which masters electing at C{path} record unreachable
    slaves.
    """
    return f"{path.rstrip('/')}/registry/unreachable"


def _seconds(data):
    """
    The time an unreachable slave's znode holds; 0 when it holds no number
    (a slave still unreachable, since some unknown time, rather than a
    registry no leader can read).
    """
    try:
        return float(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return 0.0


def _znode_name(slave_id):
    # Slave ids come from slaves too (re-registration): any character that
    # is not safe in a znode name, "." included, is percent-encoded.
    return quote(slave_id, safe="").replace(".", "%2E")


@implementer(IRemovedSlaves)
class ZooKeeperRemovedSlaves:
    """
    The record in ZooKeeper: one persistent, empty znode per removed slave
    under L{removed_path}C{(path)}, reached through an
    L{mesos_tw.zookeeper.IZooKeeper} session (the election's own).

    A write is acknowledged by a quorum of the ensemble before it fires, so
    every later leader reads it.  The record of removed slaves is never
    pruned; an unreachable slave's znode (under L{unreachable_path}, holding
    the time as text) goes when it comes back.
    """

    def __init__(self, client, path):
        self.client = client
        self.path = removed_path(path)
        self.unreachable_path = unreachable_path(path)

    def load(self):
        """
        Fires with the ids of the znodes under our path (none if it does
        not exist yet).
        """
        d = self.client.get_children(self.path)

        def missing(failure):
            failure.trap(NoNodeError)
            return []

        d.addErrback(missing)
        return d.addCallback(lambda names: {unquote(name) for name in names})

    def add(self, slave_id):
        """
        Create the slave's znode, and its parents if needed.
        """
        if not slave_id:
            return fail(ValueError("cannot record a slave with an empty id"))
        d = self.client.create(f"{self.path}/{_znode_name(slave_id)}", makepath=True)

        def present(failure):
            failure.trap(NodeExistsError)

        d.addErrback(present)
        return d.addCallback(lambda _: None)

    def unreachable(self):
        """
        Fires with the slaves named under our unreachable path and the
        times their znodes hold (a znode deleted meanwhile is left out).
        """
        d = self.client.get_children(self.unreachable_path)

        def missing(failure):
            failure.trap(NoNodeError)
            return []

        def read(names):
            found = {}
            reads = []
            for name in names:
                r = self.client.get(f"{self.unreachable_path}/{name}")
                r.addCallback(lambda data, slave_id=unquote(name):
                              found.__setitem__(slave_id, _seconds(data)))
                r.addErrback(lambda failure: failure.trap(NoNodeError))
                reads.append(r)
            return gatherResults(reads, consumeErrors=True).addCallback(lambda _: found)

        return d.addErrback(missing).addCallback(read)

    def mark_unreachable(self, slave_id, when):
        """
        Create (or overwrite) the slave's znode under the unreachable path.
        """
        if not slave_id:
            return fail(ValueError("cannot record a slave with an empty id"))
        path = f"{self.unreachable_path}/{_znode_name(slave_id)}"
        data = repr(float(when)).encode("ascii")
        d = self.client.create(path, data, makepath=True)

        def present(failure):
            failure.trap(NodeExistsError)
            return self.client.set(path, data)

        d.addErrback(present)
        return d.addCallback(lambda _: None)

    def mark_reachable(self, slave_id):
        """
        Delete the slave's znode under the unreachable path, if there.
        """
        d = self.client.delete(f"{self.unreachable_path}/{_znode_name(slave_id)}")
        d.addErrback(lambda failure: failure.trap(NoNodeError))
        return d.addCallback(lambda _: None)
