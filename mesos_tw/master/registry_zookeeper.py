"""
Where the registry's shards (L{mesos_tw.master.registry_shards}) live in
ZooKeeper: one persistent znode per shard, C{<path>/registry/shards/<n>}
(C{n} from 0 to C{SHARDS - 1}; a shard with no slave yet has no znode),
under the masters' election path.

Earlier versions kept one znode per slave instead:
C{<path>/registry/removed/<id>} (empty), C{<path>/registry/admitted/<id>}
(its C{SlaveInfo}) and C{<path>/registry/unreachable/<id>} (the time, as
text), the ids percent-encoded.  A new leader still reads that I{legacy}
layout, moves it into the shards and deletes it (once: then it is gone).
"""

from urllib.parse import quote, unquote

from kazoo.exceptions import NoNodeError, NotEmptyError
from twisted.internet.defer import gatherResults
from twisted.logger import Logger

from mesos_tw.master.registry_shards import Shard
from mesos_tw.protocols import mesos_pb2

__all__ = ["ZooKeeperShards", "admitted_path", "removed_path", "shards_path",
           "unreachable_path", "znode_name"]

_log = Logger()


def shards_path(path):
    """
    The znode under which masters electing at C{path} keep the registry's
    shards.
    """
    return f"{path.rstrip('/')}/registry/shards"


def removed_path(path):
    """
    The legacy layout's znode of removed slaves (one child per slave).
    """
    return f"{path.rstrip('/')}/registry/removed"


def admitted_path(path):
    """
    The legacy layout's znode of admitted slaves (one child per slave).
    """
    return f"{path.rstrip('/')}/registry/admitted"


def unreachable_path(path):
    """
    The legacy layout's znode of unreachable slaves (one child per slave).
    """
    return f"{path.rstrip('/')}/registry/unreachable"


def znode_name(slave_id):
    """
    The legacy layout's znode name for C{slave_id}: percent-encoded where a
    znode name cannot hold a character ("." included).
    """
    return quote(slave_id, safe="").replace(".", "%2E")


class ZooKeeperShards:
    """
    The shard store of L{mesos_tw.master.registry_shards.ShardedRegistrar}
    on an L{mesos_tw.zookeeper.IZooKeeper} session (the election's own).
    A write is acknowledged by a quorum of the ensemble before it fires,
    so every later leader reads it.
    """

    def __init__(self, client, path):
        self.client = client
        self.path = shards_path(path)
        self.legacy_paths = (removed_path(path), admitted_path(path), unreachable_path(path))

    def _shard_path(self, index):
        return f"{self.path}/{index}"

    def read(self):
        """
        Read every shard and the legacy layout, all requests at once; fires
        with C{({index: (data, version)}, legacy Shard or None)}.
        """
        d = gatherResults([self._read_shards(), self._read_legacy()], consumeErrors=True)
        return d.addCallback(tuple).addErrback(_first_error)

    def _read_shards(self):
        def read(names):
            indices = [int(name) for name in names if name.isdigit()]
            reads = [self.read_shard(index) for index in indices]
            return gatherResults(reads, consumeErrors=True).addCallback(
                lambda values: {index: value for index, value in zip(indices, values)
                                if value is not None})

        return self._children(self.path).addCallback(read)

    def read_shard(self, index):
        """
        Fires with shard C{index}'s C{(data, version)}, or L{None}.
        """
        d = self.client.get_versioned(self._shard_path(index))
        d.addErrback(lambda failure: failure.trap(NoNodeError) and None)
        return d

    def write(self, index, data, version):
        """
        Store shard C{index}: create it if C{version} is L{None} (failing
        if it exists), else replace it if it is still at C{version}.
        """
        if version is None:
            d = self.client.create(self._shard_path(index), data, makepath=True)
        else:
            d = self.client.set(self._shard_path(index), data, version)
        return d.addCallback(lambda _: None)

    # The legacy layout.

    def _read_legacy(self):
        """
        Fires with a L{Shard} of everything the legacy layout holds, or
        L{None} if it holds nothing.
        """
        removed, admitted, unreachable = self.legacy_paths
        d = gatherResults([self._children(removed), self._read_all(admitted),
                           self._read_all(unreachable)], consumeErrors=True)

        def found(results):
            names, admitted_data, unreachable_data = results
            if not (names or admitted_data or unreachable_data):
                return None
            return Shard(_parsed(admitted_data),
                         {unquote(name): _seconds(data)
                          for name, data in unreachable_data.items()},
                         {unquote(name) for name in names})

        return d.addCallback(found)

    def _read_all(self, path):
        """
        Fires with C{{name: data}} of C{path}'s children (one deleted
        meanwhile is left out).
        """
        def read(names):
            reads = [self.client.get(f"{path}/{name}").addErrback(
                lambda failure: failure.trap(NoNodeError) and None) for name in names]
            return gatherResults(reads, consumeErrors=True).addCallback(
                lambda values: {name: value for name, value in zip(names, values)
                                if value is not None})

        return self._children(path).addCallback(read)

    def forget_legacy(self):
        """
        Delete the legacy layout's znodes (its content is in the shards).
        """
        def delete_children(names, path):
            deletes = [self._delete(f"{path}/{name}") for name in names]
            return gatherResults(deletes, consumeErrors=True).addCallback(
                lambda _: self._delete(path))

        d = gatherResults([self._children(path).addCallback(delete_children, path)
                           for path in self.legacy_paths], consumeErrors=True)
        return d.addCallback(lambda _: None).addErrback(_first_error)

    def _delete(self, path):
        d = self.client.delete(path)
        # Gone already, or (a parent) given a child meanwhile by a master
        # of the earlier version: the next leader moves that one.
        d.addErrback(lambda failure: failure.trap(NoNodeError, NotEmptyError) and None)
        return d

    def _children(self, path):
        d = self.client.get_children(path)
        d.addErrback(lambda failure: failure.trap(NoNodeError) and [])
        return d


def _first_error(failure):
    """
    The failure inside a C{gatherResults} failure.
    """
    while hasattr(failure.value, "subFailure"):
        failure = failure.value.subFailure
    return failure


def _seconds(data):
    """
    The time a legacy unreachable znode holds; 0 when it holds no number.
    """
    try:
        return float(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return 0.0


def _parsed(data_by_name):
    """
    C{{slave_id: SlaveInfo}} of the legacy admitted znodes; one that does
    not parse is left out, with a logged error.
    """
    admitted = {}
    for name, value in data_by_name.items():
        info = mesos_pb2.SlaveInfo()
        try:
            info.ParseFromString(value)
        except Exception as error:  # noqa: BLE001 - protobuf's DecodeError, and worse
            _log.error("Ignoring admitted slave {slave_id} in the registry's older layout: "
                       "its SlaveInfo does not parse ({error})", slave_id=unquote(name),
                       error=error)
            continue
        admitted[unquote(name)] = info
    return admitted
