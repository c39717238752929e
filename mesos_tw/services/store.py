"""
Where the service scheduler's state lives: in memory for a single instance,
or in ZooKeeper (one znode of JSON, C{<path>/state}), where every instance
of a highly available deployment finds it when it becomes the leader.
"""

import json

from kazoo.exceptions import NoNodeError
from twisted.internet.defer import succeed
from zope.interface import Interface, implementer

__all__ = ["IStateStore", "MemoryStore", "ZooKeeperStore"]


class IStateStore(Interface):
    """
    The service scheduler's saved state: a JSON-able object.
    """

    def load():
        """
        @return: a Deferred firing with the saved state, or L{None}.
        """

    def save(state):
        """
        Replace the saved state; a Deferred firing once it is durable.
        """


@implementer(IStateStore)
class MemoryStore:
    """
    The state in memory (as durable as the process).
    """

    def __init__(self, state=None):
        self.state = state

    def load(self):
        """
        Fires at once with the state.
        """
        return succeed(self.state)

    def save(self, state):
        """
        Keeps a copy (through JSON, as ZooKeeper's store would).
        """
        self.state = json.loads(json.dumps(state))
        return succeed(None)


@implementer(IStateStore)
class ZooKeeperStore:
    """
    The state as JSON in the znode C{<path>/state}, through an
    L{mesos_tw.zookeeper.IZooKeeper} session.  Saves go one at a time, in
    order; the last one wins.
    """

    def __init__(self, client, path):
        self.client = client
        self.path = path.rstrip("/") + "/state"
        self._writing = None
        self._next = None

    def load(self):
        """
        Fires with the saved state (L{None} if nothing was saved yet).
        """
        d = self.client.get(self.path)

        def missing(failure):
            failure.trap(NoNodeError)
            return None

        d.addCallbacks(lambda data: json.loads(data.decode("utf-8")), missing)
        return d

    def save(self, state):
        """
        Write C{state} once the write in flight (if any) is done.
        """
        data = json.dumps(state, sort_keys=True).encode("utf-8")
        if self._writing is not None:
            self._next = data
            return succeed(None)
        return self._write(data)

    def _write(self, data):
        d = self._writing = self.client.set(self.path, data)

        def absent(failure):
            failure.trap(NoNodeError)
            return self.client.create(self.path, data, makepath=True)

        d.addErrback(absent)

        def written(result):
            self._writing = None
            if self._next is not None:
                data, self._next = self._next, None
                return self._write(data)
            return result

        d.addBoth(written)
        return d
