"""
A single master and no election: the default without ZooKeeper.
"""

from zope.interface import implementer

from mesos_tw.detector.interfaces import LEADING, IMasterContender, IMasterDetector

__all__ = ["StandaloneContender", "StandaloneDetector"]


@implementer(IMasterDetector)
class StandaloneDetector:
    """
    A single master at a fixed address.
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


@implementer(IMasterContender)
class StandaloneContender:
    """
    The only master: elected as soon as it contends.
    """

    def __init__(self):
        self._listener = None

    def contend(self, info, listener):
        """
        Lead at once.
        """
        self._listener = listener
        listener(LEADING)

    def withdraw(self):
        """
        Forget the listener.
        """
        self._listener = None
