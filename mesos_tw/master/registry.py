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
(L{MemoryRemovedSlaves}) lives as long as it does.  With ZooKeeper each
removed id is a persistent znode C{<path>/registry/removed/<slave id>}
under the masters' election path, and each admitted slave one
C{<path>/registry/admitted/<slave id>} holding its C{SlaveInfo}
(L{ZooKeeperRemovedSlaves}).

An unreachable slave may come back (Mesos 1.x re-admits it); the next
leader reads which slaves were unreachable, and since when, so that one
coming back after a failover is re-admitted as unreachable (its frameworks
hear its tasks again) and reconciliation can answer C{TASK_UNREACHABLE}.
Those entries are C{<path>/registry/unreachable/<slave id>} znodes holding
the time; marking a slave unreachable takes it out of the admitted ones
(Mesos's C{MarkSlaveUnreachable}), and the entry goes when it comes back.
"""

from urllib.parse import quote, unquote

from kazoo.exceptions import NodeExistsError, NoNodeError
from twisted.internet.defer import fail, gatherResults, succeed
from twisted.logger import Logger
from zope.interface import Interface, implementer

from mesos_tw.protocols import mesos_pb2

__all__ = ["IRemovedSlaves", "MemoryRemovedSlaves", "ZooKeeperRemovedSlaves", "admitted_path",
           "removed_path", "unreachable_path"]


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
        admitted).  Recording an id already there succeeds.

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


_log = Logger()


def removed_path(path):
    """
    The znode under which masters electing at C{path} record removed slaves.
    """
    return f"{path.rstrip('/')}/registry/removed"


def admitted_path(path):
    """
    The znode under which masters electing at C{path} record admitted
    slaves.
    """
    return f"{path.rstrip('/')}/registry/admitted"


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
    every later leader reads it.  The removed ids are never pruned; an
    admitted slave's znode (under L{admitted_path}C{(path)}, holding its
    C{SlaveInfo}) is deleted once its removal, or its unreachability, is
    recorded; an unreachable slave's znode (under L{unreachable_path},
    holding the time as text) goes when it comes back.
    """

    def __init__(self, client, path):
        self.client = client
        self.path = removed_path(path)
        self.admitted_path = admitted_path(path)
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
        # Only then is it no longer admitted (a removed id wins on load,
        # so a crash between the two writes leaves it removed).
        d.addCallback(lambda _: self.client.delete(
            f"{self.admitted_path}/{_znode_name(slave_id)}"))
        d.addErrback(lambda failure: failure.trap(NoNodeError))
        return d.addCallback(lambda _: None)

    def admit(self, info):
        """
        Create (or overwrite) the slave's admitted znode with its info.
        """
        slave_id = info.id.value
        if not slave_id:
            return fail(ValueError("cannot admit a slave with an empty id"))
        path = f"{self.admitted_path}/{_znode_name(slave_id)}"
        data = info.SerializeToString()
        d = self.client.create(path, data, makepath=True)

        def present(failure):
            failure.trap(NodeExistsError)
            return self.client.set(path, data)

        d.addErrback(present)
        return d.addCallback(lambda _: None)

    def load_admitted(self):
        """
        Fires with the info in every admitted znode whose id is not also
        removed; a znode that does not parse is left out.
        """
        d = gatherResults([self._children(self.admitted_path), self.load()],
                          consumeErrors=True)

        def read(results):
            names, removed = results
            wanted = [name for name in names if unquote(name) not in removed]
            reads = [self.client.get(f"{self.admitted_path}/{name}").addErrback(
                lambda failure: failure.trap(NoNodeError) and None) for name in wanted]
            return gatherResults(reads, consumeErrors=True).addCallback(
                lambda values: _parsed(wanted, values))

        d.addCallback(read)
        return d

    def unreachable(self):
        """
        Fires with the slaves named under our unreachable path and the
        times their znodes hold (a znode deleted meanwhile is left out).
        """
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

        return self._children(self.unreachable_path).addCallback(read)

    def mark_unreachable(self, slave_id, when):
        """
        Create (or overwrite) the slave's znode under the unreachable path,
        then delete its admitted znode.
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
        # Only then is it no longer admitted (as a removal).
        d.addCallback(lambda _: self.client.delete(
            f"{self.admitted_path}/{_znode_name(slave_id)}"))
        d.addErrback(lambda failure: failure.trap(NoNodeError))
        return d.addCallback(lambda _: None)

    def mark_reachable(self, slave_id):
        """
        Delete the slave's znode under the unreachable path, if there.
        """
        d = self.client.delete(f"{self.unreachable_path}/{_znode_name(slave_id)}")
        d.addErrback(lambda failure: failure.trap(NoNodeError))
        return d.addCallback(lambda _: None)

    def _children(self, path):
        d = self.client.get_children(path)
        d.addErrback(lambda failure: failure.trap(NoNodeError) and [])
        return d


def _parsed(names, values):
    """
    C{{slave_id: SlaveInfo}} of the admitted znodes C{names} read as
    C{values} (their data, or L{None} if gone meanwhile).
    """
    admitted = {}
    for name, value in zip(names, values):
        if value is None:
            continue
        info = mesos_pb2.SlaveInfo()
        try:
            info.ParseFromString(value)
        except Exception as error:  # noqa: BLE001 - protobuf's DecodeError, and worse
            _log.error("Ignoring admitted slave {slave_id} in the registry: its SlaveInfo "
                       "does not parse ({error})", slave_id=unquote(name), error=error)
            continue
        admitted[unquote(name)] = info
    return admitted
