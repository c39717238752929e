"""
Timers for the thousands of emulated slaves of one process, on one reactor
timer (L{TimerHeap}).

Each emulated slave keeps a timer per running task and one for its next
registration attempt: 10,000 slaves put 20,000 and more into the
reactor's own heap, whose entries compare in Python (C{DelayedCall.__lt__}):
in a failover, when every slave sets and cancels timers within a second
or two, that comparison was a tenth of the emulating process's time.  Here
the entries are tuples that compare in C, and the reactor holds one timer,
for the earliest.
"""

import itertools
from heapq import heappop, heappush

from twisted.internet.error import AlreadyCalled, AlreadyCancelled
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

__all__ = ["TimerHeap"]

_ROUNDING = 1e-9


@implementer(IReactorTime)
class TimerHeap:
    """
    C{callLater} and C{seconds} for many timers, on C{reactor}'s clock and
    one of its timers.
    """

    log = Logger()

    def __init__(self, reactor):
        self._reactor = reactor
        self._heap = []
        self._sequence = itertools.count()
        self._next = None

    def seconds(self):
        """
        The reactor's time.
        """
        return self._reactor.seconds()

    def callLater(self, delay, callable, *args, **kw):
        """
        Call C{callable(*args, **kw)} in C{delay} seconds.

        @return: an L{IDelayedCall} (C{cancel}, C{active}, C{getTime}).
        """
        timer = _Timer(self, self._reactor.seconds() + delay, callable, args, kw)
        heappush(self._heap, (timer.time, next(self._sequence), timer))
        if self._next is None or timer.time < self._next.getTime():
            self._schedule(timer.time)
        return timer

    def getDelayedCalls(self):
        """
        The timers not yet called or cancelled.
        """
        return [timer for _, _, timer in self._heap if timer.active()]

    def _schedule(self, time):
        if self._next is not None:
            self._next.cancel()
        self._next = self._reactor.callLater(max(0.0, time - self._reactor.seconds()),
                                             self._fire)

    def _fire(self):
        self._next = None
        # The reactor's own sum (its now plus our delay) may land a rounding
        # error short of the time asked for.
        now = self._reactor.seconds() + _ROUNDING
        heap = self._heap
        while heap and (heap[0][0] <= now or not heap[0][2].active()):
            timer = heappop(heap)[2]
            if timer.active():
                timer.fire()
        if heap:
            self._schedule(heap[0][0])


@implementer(IDelayedCall)
class _Timer:
    """
    One timer of a L{TimerHeap}; a cancelled one stays in the heap until
    its time comes or it reaches the top.
    """

    __slots__ = ("_heap", "time", "_call", "_args", "_kw", "_state")

    def __init__(self, heap, time, call, args, kw):
        self._heap = heap
        self.time = time
        self._call = call
        self._args = args
        self._kw = kw
        self._state = None

    def getTime(self):
        """
        When it is (or was) due, in the reactor's seconds.
        """
        return self.time

    def active(self):
        """
        Whether it is neither called nor cancelled.
        """
        return self._state is None

    def cancel(self):
        """
        Do not call it.

        @raise AlreadyCalled: if it was called.
        @raise AlreadyCancelled: if it was cancelled.
        """
        if self._state == "called":
            raise AlreadyCalled()
        if self._state == "cancelled":
            raise AlreadyCancelled()
        self._state = "cancelled"
        self._call = self._args = self._kw = None

    def delay(self, seconds):
        """
        Not supported: emulated slaves cancel and set timers anew.
        """
        raise NotImplementedError("a TimerHeap timer cannot be delayed")

    def reset(self, seconds):
        """
        Not supported (see L{delay}).
        """
        raise NotImplementedError("a TimerHeap timer cannot be reset")

    def fire(self):
        """
        Call it now (its failure is logged, as the reactor logs a timer's).
        """
        call, args, kw = self._call, self._args, self._kw
        self._state = "called"
        self._call = self._args = self._kw = None
        try:
            call(*args, **kw)
        except Exception:
            self._heap.log.failure("A timer's call failed")
