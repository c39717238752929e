"""
The health checks' loop interface (L{mesos_tw.checks.loops}) on a Twisted
reactor, for the default executor.
"""

import selectors

from zope.interface import implementer
from twisted.internet.interfaces import IReadDescriptor, IWriteDescriptor

__all__ = ["ReactorLoop"]


@implementer(IReadDescriptor, IWriteDescriptor)
class _Watch:
    """
    A file descriptor the reactor watches for a check.
    """

    def __init__(self, fileobj, callback):
        self.fileobj = fileobj
        self.callback = callback

    def fileno(self):
        return self.fileobj if isinstance(self.fileobj, int) else self.fileobj.fileno()

    def doRead(self):
        self.callback()

    doWrite = doRead

    def connectionLost(self, reason):
        """
        The reactor stops watching; the check's own timeout ends it.
        """

    def logPrefix(self):
        return "health check"


class ReactorLoop:
    """
    Timers and watches on C{reactor} (an C{IReactorTime} and
    C{IReactorFDSet}).
    """

    def __init__(self, reactor):
        self.reactor = reactor
        self._watches = {}

    def seconds(self):
        """
        The reactor's time.
        """
        return self.reactor.seconds()

    def call_later(self, delay, function, *args):
        """
        Call C{function(*args)} in C{delay} seconds.
        """
        return self.reactor.callLater(max(delay, 0.0), function, *args)

    def watch(self, fileobj, events, callback):
        """
        Call C{callback()} whenever C{fileobj} is ready for C{events}.
        """
        watch = _Watch(fileobj, callback)
        self._watches[fileobj] = (watch, events)
        if events & selectors.EVENT_READ:
            self.reactor.addReader(watch)
        if events & selectors.EVENT_WRITE:
            self.reactor.addWriter(watch)

    def watching(self):
        """
        How many descriptors are watched (a cancelled check's command is,
        until it has been reaped).
        """
        return len(self._watches)

    def unwatch(self, fileobj):
        """
        Stop watching C{fileobj}.
        """
        watch, events = self._watches.pop(fileobj, (None, 0))
        if events & selectors.EVENT_READ:
            self.reactor.removeReader(watch)
        if events & selectors.EVENT_WRITE:
            self.reactor.removeWriter(watch)
