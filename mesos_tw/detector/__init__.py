"""
Master detection: how slaves and scheduler drivers find the leading master.

A detector is given a master specification (``host:port``,
``master@host:port``, ``file:///path`` holding one of those, or
``zk://host:port/path``) and reports the leader's UPID, and every change of
leader, to its listener.
"""

from zope.interface import Interface, implementer

from mesos_tw.protocols.upid import UPID

__all__ = [
    "DetectorError",
    "IMasterDetector",
    "StandaloneDetector",
    "detector_for",
    "parse_master_upid",
]


class DetectorError(ValueError):
    """
    A master specification that cannot be used.
    """


class IMasterDetector(Interface):
    """
    Reports the leading master.
    """

    def start(listener):
        """
        Begin detecting; call C{listener(upid)} with the leader's L{UPID}
        now and whenever it changes, or C{listener(None)} when there is none.
        """

    def stop():
        """
        Stop detecting; the listener is not called again.
        """


@implementer(IMasterDetector)
class StandaloneDetector:
    """
    A single master at a fixed address: no election.
    """

    def __init__(self, upid):
        self.upid = upid
        self._listener = None

    def start(self, listener):
        """
        Report the fixed master at once.
        """
        self._listener = listener
        listener(self.upid)

    def stop(self):
        """
        Forget the listener.
        """
        self._listener = None

    def appoint(self, upid):
        """
        Report a new master (used by tests and by C{mesos-local}).
        """
        self.upid = upid
        if self._listener is not None:
            self._listener(upid)


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


def detector_for(spec, read_file=None):
    """
    A detector for the master specification C{spec}.

    @param read_file: reads a local file's text; defaults to opening it.
    @raise DetectorError: for a specification that cannot be used, saying
        why.
    """
    spec = spec.strip()
    if spec.startswith("file://"):
        path = spec[len("file://"):]
        reader = read_file or (lambda p: open(p, encoding="utf-8").read())
        try:
            contents = reader(path)
        except OSError as error:
            raise DetectorError(f"cannot read master file {path!r}: {error.strerror}") from None
        if contents.strip().startswith("file://"):
            raise DetectorError(f"master file {path!r} names another file")
        return detector_for(contents, read_file)
    if spec.startswith("zk://"):
        raise DetectorError(
            "zk:// masters need ZooKeeper support, which this build does not have yet; "
            "give the master as host:port"
        )
    return StandaloneDetector(parse_master_upid(spec))
