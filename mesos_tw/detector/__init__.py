"""
Master detection and election: how slaves and scheduler drivers find the
leading master, and how masters become it.

A master specification is C{host:port}, C{master@host:port},
C{zk://[user:password@]host:port[,host:port...]/path}, or C{file:///path}
holding one of those.  Without ZooKeeper there is one master and no
election (L{StandaloneDetector}, L{StandaloneContender}); with it, masters
contend in Mesos's ZooKeeper layout (L{mesos_tw.detector.zookeeper}).
"""

from mesos_tw import constants
from mesos_tw.detector.interfaces import (
    LEADING,
    NOT_LEADING,
    UNCONFIRMED,
    IMasterContender,
    IMasterDetector,
)
from mesos_tw.detector.standalone import StandaloneContender, StandaloneDetector
from mesos_tw.detector.zookeeper import ZooKeeperContender, ZooKeeperDetector
from mesos_tw.protocols.upid import UPID
from mesos_tw.zookeeper import ZooKeeperClient, ZooKeeperURL, ZooKeeperURLError

__all__ = [
    "LEADING",
    "NOT_LEADING",
    "UNCONFIRMED",
    "DetectorError",
    "IMasterContender",
    "IMasterDetector",
    "StandaloneContender",
    "StandaloneDetector",
    "ZooKeeperContender",
    "ZooKeeperDetector",
    "contender_for",
    "detector_for",
    "parse_master_upid",
    "resolve_master",
]


class DetectorError(ValueError):
    """
    A master specification that cannot be used.
    """


def parse_master_upid(text):
    """
    The master UPID in C{host:port} or C{master@host:port}.

    @raise DetectorError: if it is neither.
    """
    text = text.strip()
    if "@" not in text:
        text = "master@" + text
    try:
        return UPID.parse(text)
    except ValueError as error:
        raise DetectorError(f"bad master address: {error}") from None


def _read(path):
    with open(path, encoding="utf-8") as source:
        return source.read()


def resolve_master(spec, read_file=None):
    """
    What a master specification names: a L{UPID} or a L{ZooKeeperURL}.

    @param read_file: reads a local file's text; defaults to opening it.
    @raise DetectorError: for a specification that cannot be used, saying
        why.
    """
    spec = spec.strip()
    if spec.startswith("file://"):
        path = spec[len("file://"):]
        try:
            contents = (read_file or _read)(path)
        except OSError as error:
            raise DetectorError(f"cannot read master file {path!r}: {error.strerror}") from None
        if contents.strip().startswith("file://"):
            raise DetectorError(f"master file {path!r} names another file")
        return resolve_master(contents, read_file)
    if spec.startswith("zk://"):
        try:
            return ZooKeeperURL.parse(spec)
        except ZooKeeperURLError as error:
            raise DetectorError(str(error)) from None
    return parse_master_upid(spec)


def _zookeeper(reactor, url, session_timeout):
    if reactor is None:
        raise DetectorError("a zk:// master needs a reactor to run ZooKeeper on")
    return ZooKeeperClient(reactor, url.hosts, session_timeout, url.credentials)


def detector_for(spec, reactor=None, read_file=None,
                 session_timeout=constants.ZK_SESSION_TIMEOUT):
    """
    A detector for a master specification (text, or what
    L{resolve_master} made of it); a detector already made (the
    simulator's, on its in-memory ZooKeeper) is used as it is.

    @raise DetectorError: for a specification that cannot be used.
    """
    if IMasterDetector.providedBy(spec):
        return spec
    location = resolve_master(spec, read_file) if isinstance(spec, str) else spec
    if isinstance(location, ZooKeeperURL):
        return ZooKeeperDetector(_zookeeper(reactor, location, session_timeout),
                                 location.path, owns_client=True)
    return StandaloneDetector(location)


def contender_for(url, reactor, session_timeout=constants.ZK_SESSION_TIMEOUT):
    """
    A contender and a detector for a master, sharing one ZooKeeper session
    when C{url} (a L{ZooKeeperURL} or L{None}) is given.

    @return: C{(contender, detector, client)}; C{client} is L{None} without
        ZooKeeper, and otherwise must be started and stopped by the caller.
    """
    if url is None:
        return StandaloneContender(), None, None
    client = _zookeeper(reactor, url, session_timeout)
    return ZooKeeperContender(client, url.path), ZooKeeperDetector(client, url.path), client
