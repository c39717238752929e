"""
An in-memory ZooKeeper for unit tests: L{MemoryZooKeeperServer} holds the
znodes and sessions, and each L{MemoryZooKeeper} it makes is an
L{mesos_tw.zookeeper.IZooKeeper} session whose requests answer at once and
whose watches fire synchronously.  Tests drive the session's life with
L{MemoryZooKeeper.suspend}, L{MemoryZooKeeper.reconnect} and
L{MemoryZooKeeper.expire}.
"""

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, NotEmptyError, SessionExpiredError
from twisted.internet.defer import Deferred, fail, succeed
from zope.interface import implementer

from mesos_tw.zookeeper.client import CONNECTED, EXPIRED, SUSPENDED, IZooKeeper

__all__ = ["MemoryZooKeeper", "MemoryZooKeeperServer", "next_event"]


class _Event:
    """
    What a watch receives (the fields of kazoo's C{WatchedEvent}).
    """

    def __init__(self, type, path):
        self.type = type
        self.path = path
        self.state = "CONNECTED"


class MemoryZooKeeperServer:
    """
    The znode tree and its watches.
    """

    def __init__(self):
        self.data = {"/": b""}
        self.versions = {"/": 0}
        self.owners = {}
        self.sequences = {}
        self._next_session = 1
        self._watches = {"data": {}, "children": {}}

    def new_session(self):
        """
        A fresh session id.
        """
        session, self._next_session = self._next_session, self._next_session + 1
        return session

    def client(self, session_timeout=10.0):
        """
        A new, not yet started, session.
        """
        return MemoryZooKeeper(self, session_timeout)

    def children(self, path):
        """
        The names of C{path}'s children.
        """
        prefix = path.rstrip("/") + "/"
        return sorted(p[len(prefix):] for p in self.data
                      if p.startswith(prefix) and "/" not in p[len(prefix):] and p != prefix)

    def _fire(self, kind, path, event_type):
        for watch in self._watches[kind].pop(path, []):
            watch(_Event(event_type, path))

    def watch(self, kind, path, watch):
        """
        Call C{watch} once at the next change of C{path}'s data or children.
        """
        if watch is not None:
            watches = self._watches[kind].setdefault(path, [])
            if watch not in watches:
                watches.append(watch)

    def create(self, path, data, session, ephemeral, sequence, makepath):
        """
        Create a znode (see L{MemoryZooKeeper.create}).
        """
        parent = path.rpartition("/")[0] or "/"
        if parent not in self.data:
            if not makepath:
                raise NoNodeError(parent)
            self.create(parent, b"", session, False, False, True)
        if sequence:
            number = self.sequences.get(parent, 0)
            self.sequences[parent] = number + 1
            path = f"{path}{number:010d}"
        if path in self.data:
            raise NodeExistsError(path)
        self.data[path] = data
        self.versions[path] = 0
        if ephemeral:
            self.owners[path] = session
        self._fire("data", path, "CREATED")
        self._fire("children", parent, "CHILD")
        return path

    def set(self, path, data, version=-1):
        """
        Replace a znode's data (only at C{version}, unless -1); its data
        watchers fire.
        """
        if path not in self.data:
            raise NoNodeError(path)
        if version != -1 and version != self.versions[path]:
            raise BadVersionError(path)
        self.data[path] = data
        self.versions[path] += 1
        self._fire("data", path, "CHANGED")

    def delete(self, path):
        """
        Delete a znode without children.
        """
        if path not in self.data:
            raise NoNodeError(path)
        if self.children(path):
            raise NotEmptyError(path)
        del self.data[path]
        del self.versions[path]
        self.owners.pop(path, None)
        self._fire("data", path, "DELETED")
        self._fire("children", path.rpartition("/")[0] or "/", "CHILD")

    def end_session(self, session):
        """
        A session ended: its ephemeral znodes go.
        """
        for path in [p for p, owner in self.owners.items() if owner == session]:
            self.delete(path)


@implementer(IZooKeeper)
class MemoryZooKeeper:
    """
    A session on a L{MemoryZooKeeperServer}.  Requests made while it is
    suspended wait for L{reconnect}.
    """

    def __init__(self, server, session_timeout=10.0):
        self.server = server
        self.session_timeout = session_timeout
        self.state = SUSPENDED
        self.session = None
        self.stopped = False
        self._listeners = []
        self._waiting = []

    def start(self):
        """
        Connect with a new session.
        """
        self.session = self.server.new_session()
        self._notify(CONNECTED)

    def add_session_listener(self, listener):
        """
        Call C{listener(event)} with every later session event.
        """
        self._listeners.append(listener)

    def _notify(self, event):
        self.state = event
        for listener in list(self._listeners):
            listener(event)

    # Test controls.

    def suspend(self):
        """
        The connection drops; the session lives on at the server.
        """
        self._notify(SUSPENDED)

    def reconnect(self):
        """
        The connection comes back within the session.
        """
        self._notify(CONNECTED)
        waiting, self._waiting = self._waiting, []
        for d, action in waiting:
            self._answer(d, action)

    def expire(self):
        """
        The server expires the session (its ephemeral znodes go); a new
        session follows at once.

        Requests made while the session's znodes go (by watches that their
        deletion fires) fail, as a real server fails an expired session's
        requests: they must not create znodes the dead session would own.
        """
        session, self.session = self.session, None
        self.state = EXPIRED
        self.server.end_session(session)
        waiting, self._waiting = self._waiting, []
        self._notify(EXPIRED)
        for d, _ in waiting:
            d.errback(SessionExpiredError())
        if not self.stopped:
            self.start()

    # IZooKeeper.

    def restart(self):
        """
        Abandon the session for a new one (nothing more if the session is
        already expiring: a new one follows).
        """
        if self.state != EXPIRED:
            self.expire()

    def stop(self):
        """
        Close the session: its ephemeral znodes go.
        """
        self.stopped = True
        self._listeners = []
        session, self.session = self.session, None
        # Requests made while its znodes go fail, as on a closed session.
        self.state = EXPIRED
        if session is not None:
            self.server.end_session(session)
        return succeed(None)

    def _answer(self, d, action):
        try:
            result = action()
        except Exception as error:
            d.errback(error)
        else:
            d.callback(result)

    def _request(self, action):
        if self.state == CONNECTED:
            try:
                return succeed(action())
            except Exception as error:
                return fail(error)
        if self.state == EXPIRED:
            return fail(SessionExpiredError())
        d = Deferred()
        self._waiting.append((d, action))
        return d

    def create(self, path, data=b"", ephemeral=False, sequence=False, makepath=False):
        """
        Create a znode; fires with its path.
        """
        return self._request(lambda: self.server.create(
            path, data, self.session, ephemeral, sequence, makepath))

    def get(self, path, watch=None):
        """
        Fires with the znode's data.
        """

        def get():
            if path not in self.server.data:
                raise NoNodeError(path)
            self.server.watch("data", path, watch)
            return self.server.data[path]

        return self._request(get)

    def get_versioned(self, path):
        """
        Fires with the znode's data and data version.
        """

        def get_versioned():
            if path not in self.server.data:
                raise NoNodeError(path)
            return self.server.data[path], self.server.versions[path]

        return self._request(get_versioned)

    def get_children(self, path, watch=None):
        """
        Fires with the znode's children.
        """

        def get_children():
            if path not in self.server.data:
                raise NoNodeError(path)
            self.server.watch("children", path, watch)
            return self.server.children(path)

        return self._request(get_children)

    def exists(self, path, watch=None):
        """
        Fires with whether the znode exists.
        """

        def exists():
            self.server.watch("data", path, watch)
            return path in self.server.data

        return self._request(exists)

    def delete(self, path):
        """
        Delete a znode.
        """
        return self._request(lambda: self.server.delete(path))

    def set(self, path, data, version=-1):
        """
        Replace a znode's data (its data watchers fire), only at
        C{version} unless -1.
        """

        return self._request(lambda: self.server.set(path, data, version))


def next_event(client, wanted):
    """
    A Deferred that fires at C{client}'s next session event C{wanted} (at
    once if it is the current state).
    """
    d = Deferred()
    if client.state == wanted:
        d.callback(wanted)
        return d
    client.add_session_listener(lambda event: event == wanted and not d.called and d.callback(event))
    return d
