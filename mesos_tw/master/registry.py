"""
The durable record of the slaves the master removed: the part of Mesos's
registry (0.19 and later) that we keep.

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
"""

from urllib.parse import quote, unquote

from kazoo.exceptions import NodeExistsError, NoNodeError
from twisted.internet.defer import fail, succeed
from zope.interface import Interface, implementer

__all__ = ["IRemovedSlaves", "MemoryRemovedSlaves", "ZooKeeperRemovedSlaves", "removed_path"]


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


@implementer(IRemovedSlaves)
class MemoryRemovedSlaves:
    """
    The record kept in memory: as durable as the master process.  The
    record of a master without ZooKeeper, and the unit tests' record.

    @ivar ids: the set of removed slave ids.
    """

    def __init__(self, ids=()):
        self.ids = set(ids)

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


def removed_path(path):
    """
    The znode under which masters electing at C{path} record removed slaves.
    """
    return f"{path.rstrip('/')}/registry/removed"


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
    every later leader reads it.  The record is never pruned.
    """

    def __init__(self, client, path):
        self.client = client
        self.path = removed_path(path)

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
