"""
Leader election on ZooKeeper, in modern Mesos's layout.

Each master contending under C{<path>} creates an ephemeral sequential znode
C{<path>/json.info_<seq>} holding its C{MasterInfo} as JSON; the lowest
sequence number leads.  Tools that read Mesos's layout (pymesos, Mesos's
own CLI) find our leader there too.  Older Mesos masters wrote C{info_<seq>}
znodes holding a binary C{MasterInfo}; the detector reads those as well.

A leader stops acting as one the moment its ZooKeeper connection is
suspended (L{UNCONFIRMED}): while the session lives its znode does too, so
no one else can lead, and if the connection comes back within the session
it carries on; if the session is lost (or cannot be confirmed within the
session timeout, see L{mesos_tw.zookeeper.client}) its term is over.  So
two masters never act as leader at once.
"""

import json

from kazoo.exceptions import NoNodeError
from twisted.logger import Logger
from zope.interface import implementer

from mesos_tw import __version__
from mesos_tw.detector.interfaces import (
    LEADING,
    NOT_LEADING,
    UNCONFIRMED,
    IMasterContender,
    IMasterDetector,
)
from mesos_tw.protocols import mesos_pb2
from mesos_tw.protocols.upid import UPID
from mesos_tw.zookeeper.client import CONNECTED, EXPIRED, SUSPENDED

__all__ = [
    "ZooKeeperContender",
    "ZooKeeperDetector",
    "master_info_json",
    "upid_from_znode",
]

JSON_PREFIX = "json.info_"
PROTOBUF_PREFIX = "info_"


def master_info_json(info):
    """
    A C{MasterInfo} as the JSON Mesos masters write into their znode.
    """
    host = info.pid.rpartition("@")[2].rpartition(":")[0] if info.pid else ""
    return json.dumps({
        "id": info.id,
        "pid": info.pid,
        "ip": info.ip,
        "port": info.port,
        "hostname": info.hostname,
        "version": __version__,
        "address": {"hostname": info.hostname, "ip": host, "port": info.port},
    }, sort_keys=True).encode("utf-8")


def upid_from_znode(name, data):
    """
    The master UPID in a contender's znode.

    @raise ValueError: for data that names no master.
    """
    if name.startswith(JSON_PREFIX):
        try:
            info = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ValueError(f"znode {name} holds no JSON: {error}") from None
        if not isinstance(info, dict):
            raise ValueError(f"znode {name} holds no JSON object")
        if info.get("pid"):
            return UPID.parse(info["pid"])
        address = info.get("address") or {}
        if address.get("ip") and address.get("port"):
            return UPID("master", address["ip"], int(address["port"]))
        raise ValueError(f"znode {name} names no master address")
    info = mesos_pb2.MasterInfo()
    try:
        info.ParseFromString(data)
    except Exception as error:
        raise ValueError(f"znode {name} holds no MasterInfo: {error}") from None
    if not info.pid:
        raise ValueError(f"znode {name} names no master pid")
    return UPID.parse(info.pid)


def _sequence(name):
    prefix = JSON_PREFIX if name.startswith(JSON_PREFIX) else PROTOBUF_PREFIX
    digits = name[len(prefix):]
    return int(digits) if digits.isdigit() else None


def candidates(children):
    """
    The contenders' znode names, lowest sequence (the leader) first.
    """
    named = [(_sequence(c), c) for c in children
             if c.startswith(JSON_PREFIX) or c.startswith(PROTOBUF_PREFIX)]
    return [name for number, name in sorted(n for n in named if n[0] is not None)]


class _Coalesced:
    """
    Runs an asynchronous C{action} so that at most one is in flight: a call
    while one runs makes one more run after it.
    """

    def __init__(self, action):
        self._action = action
        self._running = False
        self._again = False

    def __call__(self, *ignored):
        if self._running:
            self._again = True
            return
        self._running = True
        self._again = False
        d = self._action()
        d.addBoth(self._done)

    def _done(self, result):
        self._running = False
        if self._again:
            self()
        return None


@implementer(IMasterDetector)
class ZooKeeperDetector:
    """
    Finds the leading master under C{path} through an
    L{mesos_tw.zookeeper.IZooKeeper} session.

    @param owns_client: stop (and start) the client with the detector.
    """

    log = Logger()

    def __init__(self, client, path, owns_client=False):
        self.client = client
        self.path = path
        self.owns_client = owns_client
        self.leader = None
        self._listener = None
        self._reported = False
        self._check = _Coalesced(self._look)

    def start(self, listener):
        """
        Watch the contenders and report the leader.
        """
        self._listener = listener
        self.client.add_session_listener(self._session_event)
        if self.owns_client:
            self.client.start()
        elif self.client.state == CONNECTED:
            self._check()

    def stop(self):
        """
        Stop reporting (and close the session if it is ours).
        """
        self._listener = None
        if self.owns_client:
            return self.client.stop()
        return None

    def _session_event(self, event):
        if event == CONNECTED:
            self._check()
        elif event == EXPIRED:
            # Mesos's detector too reports no leader when its session is
            # lost, until a new session finds one.
            self._report(None)

    def _watch(self, event):
        self._check()

    def _look(self):
        d = self.client.get_children(self.path, watch=self._watch)
        d.addCallback(self._children)
        d.addErrback(self._failed)
        return d

    def _children(self, children):
        names = candidates(children)
        if not names:
            self._report(None)
            return None
        leader = names[0]
        d = self.client.get(f"{self.path}/{leader}")
        d.addCallback(lambda data: self._leader_data(leader, data))
        return d

    def _leader_data(self, name, data):
        try:
            upid = upid_from_znode(name, data)
        except ValueError as error:
            self.log.error("Cannot read the leading master from ZooKeeper: {error}",
                           error=str(error))
            self._report(None)
            return
        self._report(upid)

    def _failed(self, failure):
        if failure.check(NoNodeError):
            # No master has contended yet (or the leader's znode went just
            # now): watch for the path and look again.
            d = self.client.exists(self.path, watch=self._watch)
            d.addCallback(lambda exists: self._check() if exists else None)
            d.addErrback(self._failed_again)
            return d
        return self._failed_again(failure)

    def _failed_again(self, failure):
        # A timeout or a connection loss: the next CONNECTED looks again.
        self.log.warn("Cannot read the masters from ZooKeeper: {error}",
                      error=failure.getErrorMessage())
        if self.client.state == CONNECTED:
            self.client.restart()
        return None

    def _report(self, upid):
        if self._reported and upid == self.leader:
            return
        self._reported = True
        self.leader = upid
        self.log.info("Leading master: {leader}", leader=str(upid) if upid else "none")
        if self._listener is not None:
            self._listener(upid)


@implementer(IMasterContender)
class ZooKeeperContender:
    """
    Stands for election under C{path} through an
    L{mesos_tw.zookeeper.IZooKeeper} session.
    """

    log = Logger()

    def __init__(self, client, path, owns_client=False):
        self.client = client
        self.path = path
        self.owns_client = owns_client
        self.znode = None
        self.leadership = NOT_LEADING
        self._info = None
        self._listener = None
        self._creating = False
        self._check = _Coalesced(self._look)

    def contend(self, info, listener):
        """
        Create our znode (when connected) and follow the election.
        """
        self._info = info
        self._listener = listener
        self.client.add_session_listener(self._session_event)
        if self.owns_client:
            self.client.start()
        elif self.client.state == CONNECTED:
            self._enter()

    def withdraw(self):
        """
        Delete our znode (closing the session if it is ours).
        """
        self._listener = None
        self._info = None
        if self.owns_client:
            return self.client.stop()
        if self.znode is not None:
            d = self.client.delete(self.znode)
            d.addErrback(lambda failure: None)
            self.znode = None
            return d
        return None

    def _set(self, leadership):
        if leadership == self.leadership:
            return
        self.leadership = leadership
        self.log.info("Leadership: {leadership}", leadership=leadership)
        if self._listener is not None:
            self._listener(leadership)

    def _session_event(self, event):
        if self._info is None:
            return
        if event == SUSPENDED:
            if self.leadership == LEADING:
                self._set(UNCONFIRMED)
        elif event == EXPIRED:
            self.znode = None
            self._set(NOT_LEADING)
        elif event == CONNECTED:
            if self.znode is None:
                self._enter()
            else:
                self._check()

    def _enter(self):
        if self._creating or self._info is None:
            return
        self._creating = True
        d = self.client.create(f"{self.path}/{JSON_PREFIX}", master_info_json(self._info),
                               ephemeral=True, sequence=True, makepath=True)

        def created(path):
            self._creating = False
            self.znode = path
            self.log.info("Contending as {znode}", znode=path)
            self._check()

        def failed(failure):
            self._creating = False
            # The znode may exist without our knowing its name; only a new
            # session is sure to remove it.
            self.log.warn("Could not enter the election: {error}; starting a new session",
                          error=failure.getErrorMessage())
            self.client.restart()

        d.addCallbacks(created, failed)

    def _watch(self, event):
        self._check()

    def _look(self):
        d = self.client.get_children(self.path, watch=self._watch)
        d.addCallback(self._children)
        d.addErrback(self._failed)
        return d

    def _children(self, children):
        if self.znode is None:
            return
        names = candidates(children)
        ours = self.znode.rpartition("/")[2]
        if ours not in names:
            # Our znode is gone while our session lives (deleted by hand):
            # our term is over; stand again.
            self.znode = None
            self._set(NOT_LEADING)
            self._enter()
        elif names[0] == ours:
            self._set(LEADING)
        else:
            self._set(NOT_LEADING)

    def _failed(self, failure):
        self.log.warn("Cannot read the election from ZooKeeper: {error}",
                      error=failure.getErrorMessage())
        if self.client.state == CONNECTED:
            self.client.restart()
